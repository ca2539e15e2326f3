-- +goose Up
-- At most one row: this installation's random id, made by the first
-- `heed serve`. It prefixes ARI channel ids so two installations never
-- collide on a shared Asterisk.
CREATE TABLE installation (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    id         text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'attorney', 'paralegal')),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Server-side web sessions (alexedwards/scs pgxstore layout).
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

CREATE TABLE contact_lists (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_by bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id           bigserial PRIMARY KEY,
    list_id      bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    name         text NOT NULL,
    phone        text NOT NULL,
    state        text NOT NULL DEFAULT '',
    zip          text NOT NULL DEFAULT '',
    external_ref text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (list_id, phone)
);

CREATE TABLE campaigns (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    purpose        text NOT NULL CHECK (purpose IN ('informational', 'telemarketing', 'debt_collection', 'solicitation')),
    list_id        bigint NOT NULL REFERENCES contact_lists (id),
    message_text   text NOT NULL,
    -- A recorded message (a file in the media directory, without extension)
    -- played instead of the text read by text-to-speech.
    message_audio  text NOT NULL DEFAULT '',
    caller_id      text NOT NULL,
    status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'paused', 'completed', 'cancelled')),
    max_concurrent integer NOT NULL DEFAULT 10 CHECK (max_concurrent BETWEEN 1 AND 500),
    ring_seconds   integer NOT NULL DEFAULT 25 CHECK (ring_seconds BETWEEN 20 AND 120),
    -- Each start bumps the generation; a run job for an older generation stops.
    generation     bigint NOT NULL DEFAULT 0,
    created_by     bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz
);

-- One row per contact a campaign must reach; the pacing loop's work queue.
CREATE TABLE campaign_targets (
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id      bigint NOT NULL REFERENCES contacts (id),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dialing', 'done')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_targets_due_idx ON campaign_targets (campaign_id, next_attempt_at) WHERE state = 'pending';

-- Every attempt, allowed or not, with the decision that governed it. The row
-- is written before any call is originated.
CREATE TABLE attempts (
    id            bigserial PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id    bigint NOT NULL REFERENCES contacts (id),
    attempt_no    integer NOT NULL,
    phone         text NOT NULL,
    caller_id     text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('allow', 'deny', 'defer')),
    decided_until timestamptz,
    reasons       text[] NOT NULL DEFAULT '{}',
    pack          text NOT NULL DEFAULT '',
    consent_id    bigint,
    decision_input jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL CHECK (status IN ('blocked', 'deferred', 'originating', 'ringing', 'answered', 'ended')),
    outcome       text NOT NULL DEFAULT '' CHECK (outcome IN ('', 'blocked', 'deferred', 'answered', 'busy', 'no_answer', 'failed', 'unknown')),
    hangup_cause  integer,
    dtmf          text NOT NULL DEFAULT '',
    channel_id    text NOT NULL DEFAULT '',
    asterisk      text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    originated_at timestamptz,
    answered_at   timestamptz,
    ended_at      timestamptz,
    UNIQUE (campaign_id, contact_id, attempt_no)
);
CREATE INDEX attempts_campaign_idx ON attempts (campaign_id, id);
CREATE INDEX attempts_phone_idx ON attempts (phone, created_at);

-- The firm's internal do-not-call list. Entries are never deleted; a removal
-- is recorded in removed_at.
CREATE TABLE dnc_internal (
    id         bigserial PRIMARY KEY,
    phone      text NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now(),
    added_by   bigint REFERENCES users (id),
    method     text NOT NULL,
    source     text NOT NULL DEFAULT '',
    removed_at timestamptz
);
CREATE INDEX dnc_internal_phone_idx ON dnc_internal (phone) WHERE removed_at IS NULL;

-- Consent records are append-only; a correction is a new record.
CREATE TABLE consents (
    id            bigserial PRIMARY KEY,
    phone         text NOT NULL,
    contact_id    bigint REFERENCES contacts (id),
    kind          text NOT NULL CHECK (kind IN ('pec', 'pewc')),
    scope         text NOT NULL CHECK (scope IN ('informational', 'telemarketing', 'debt_collection', 'solicitation')),
    channel       text NOT NULL CHECK (channel IN ('voice', 'text')),
    obtained_at   timestamptz NOT NULL,
    source        text NOT NULL,
    evidence      text NOT NULL DEFAULT '',
    evidence_hash text NOT NULL DEFAULT '',
    captured_by   bigint REFERENCES users (id),
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consents_phone_idx ON consents (phone);

CREATE TABLE revocations (
    id          bigserial PRIMARY KEY,
    phone       text NOT NULL,
    revoked_at  timestamptz NOT NULL,
    method      text NOT NULL,
    source      text NOT NULL DEFAULT '',
    recorded_by bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revocations_phone_idx ON revocations (phone);

-- +goose Down
DROP TABLE installation, revocations, consents, dnc_internal, attempts, campaign_targets, campaigns, contacts, contact_lists, sessions, api_tokens, users;
