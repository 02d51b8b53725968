-- PostgreSQL twin of db/migrations/0003_webhook_deliveries.sql (same tables, same columns).
-- Provider webhook deliveries already acted on, by idempotency key ("openai:<webhook-id>",
-- "openrouter:<X-OpenRouter-Idempotency-Key>"), so a retried delivery does nothing twice.
-- Pruned by age (bot/webhooks/receiver.py): longer than providers keep retrying (OpenAI: 72 h).
CREATE TABLE webhook_deliveries (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    job_id BIGINT,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);
