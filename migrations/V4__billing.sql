-- Billing: each workspace's Stripe customer and subscription, and every Stripe event applied (at most once).

ALTER TABLE workspaces
    ADD COLUMN stripe_customer_id text,
    ADD COLUMN stripe_subscription_id text,
    ADD COLUMN billing_status text NOT NULL DEFAULT 'none'
        CHECK (billing_status IN ('none', 'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused')),
    ADD COLUMN current_period_end timestamptz,
    -- `created` of the last subscription event applied: an older event changes nothing (events arrive out of order)
    ADD COLUMN billing_event_at timestamptz;
CREATE UNIQUE INDEX workspaces_stripe_customer_key ON workspaces (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX workspaces_stripe_subscription_idx ON workspaces (stripe_subscription_id);

CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    created      timestamptz NOT NULL,
    workspace_id uuid REFERENCES workspaces (id) ON DELETE SET NULL,
    outcome      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_workspace_id_idx ON stripe_events (workspace_id);
