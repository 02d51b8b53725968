-- What the provider charged for a job whose reservation was refunded although its video was
-- rendered upstream (download failed, expired, undeliverable): the member gets their quota back,
-- but the server's and the bot's monthly spend count this amount. NULL: nothing was charged.
ALTER TABLE quota_ledger ADD COLUMN charged_usd REAL;
