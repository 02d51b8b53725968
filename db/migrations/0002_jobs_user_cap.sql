-- The member's cap on concurrent upstream jobs, recorded when they asked (role tiers and the
-- manager bypass applied then); admission honours it. NULL: no cap.
ALTER TABLE jobs ADD COLUMN user_cap INTEGER;
