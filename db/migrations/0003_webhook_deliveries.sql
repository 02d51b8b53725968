-- Provider webhook deliveries already acted on, by idempotency key ("openai:<webhook-id>",
-- "openrouter:<X-OpenRouter-Idempotency-Key>"), so a retried delivery does nothing twice.
-- Pruned by age (bot/webhooks/receiver.py): longer than providers keep retrying (OpenAI: 72 h).
CREATE TABLE webhook_deliveries (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    job_id INTEGER,
    received_at REAL NOT NULL
);
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);
