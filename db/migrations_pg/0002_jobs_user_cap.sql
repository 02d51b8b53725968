-- PostgreSQL twin of db/migrations/0002_jobs_user_cap.sql (same tables, same columns).
-- The member's cap on concurrent upstream jobs, recorded when they asked (role tiers and the
-- manager bypass applied then); admission honours it. NULL: no cap.
ALTER TABLE jobs ADD COLUMN user_cap BIGINT;
