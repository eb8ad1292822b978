import type { Migration } from './migration.js';

/**
 * Migration 2: projections.
 *
 * - `projection_checkpoints`: where each projection stands in the global log, as the pair that
 *   orders it (`transaction_id`, `global_position`; `0, 0` is the start of the log). A row is
 *   moved only by compare-and-set, in the same transaction as the read model's writes.
 * - `projection_dead_letters`: events whose handler kept failing, parked so the projection could
 *   go on: the event as it was read (JSON, with its positions as text), the error, the number of
 *   attempts and the time. Listed per projection in the order they were parked (`id`).
 *
 * The lease that keeps one runner active per projection is a session advisory lock and needs no
 * table.
 */
export const projectionsMigration: Migration = {
  version: 2,
  name: 'projections',
  sql: (s) => `
CREATE TABLE ${s}.projection_checkpoints (
  projection           text        PRIMARY KEY CHECK (projection ~ '^[a-zA-Z0-9_.:-]{1,100}$'),
  transaction_id       xid8        NOT NULL DEFAULT '0',
  global_position      bigint      NOT NULL DEFAULT 0 CHECK (global_position >= 0),
  last_event_timestamp timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ${s}.projection_dead_letters (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  projection      text        NOT NULL,
  event_id        text        NOT NULL,
  event_type      text        NOT NULL,
  aggregate_id    text        NOT NULL,
  transaction_id  xid8        NOT NULL,
  global_position bigint      NOT NULL,
  event           jsonb       NOT NULL,
  error_name      text,
  error_message   text        NOT NULL,
  error_stack     text,
  attempts        integer     NOT NULL CHECK (attempts >= 0),
  failed_at       timestamptz NOT NULL
);

CREATE INDEX projection_dead_letters_projection_idx ON ${s}.projection_dead_letters (projection, id);
`,
};
