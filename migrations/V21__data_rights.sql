-- Issue 18, landing 3: data rights (erasure of an account).
--
-- An erased account keeps its row as a tombstone until the purge (SOFT_DELETE_RETENTION_DAYS, 30 by
-- default): no name, no password, and instead of the address a one-way digest of it, so the address
-- cannot be registered again until the row is purged (shared/src/repo/erasure.rs).
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- The member whose request recorded an idempotency key (the response replayed may hold what they
-- wrote): an erasure purges their records. Set from the scoped transaction's user (studio_user()).
ALTER TABLE idempotency_keys ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX idempotency_keys_user_id_idx ON idempotency_keys (user_id) WHERE user_id IS NOT NULL;
