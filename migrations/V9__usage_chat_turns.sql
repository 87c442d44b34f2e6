-- The chat limit counts turns (one assistant answer each), and is named after them: `chatTurnsPerMonth`.
-- The monthly usage history follows.
ALTER TABLE usage_periods RENAME COLUMN chat_messages TO chat_turns;
