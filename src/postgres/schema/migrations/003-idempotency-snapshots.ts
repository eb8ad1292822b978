import type { Migration } from './migration.js';

/**
 * Migration 3: command de-duplication, processed events and snapshots.
 *
 * - `processed_commands`: one row per processed command id, written in the same transaction as
 *   the command's events by {@link PostgresCommandLog}. `aggregate_id` is the stream the command
 *   appended to (NULL when it appended nothing); `result` is what the command's work returned,
 *   as JSON. Rows past `expires_at` count as absent and are deleted by `purgeExpired()` (indexed).
 * - `processed_events`: which events each consumer has handled ({@link PostgresProcessedEventStore}).
 * - `snapshots`: the latest snapshot of each aggregate ({@link PostgresSnapshotStore}).
 */
export const idempotencySnapshotsMigration: Migration = {
  version: 3,
  name: 'idempotency-snapshots',
  sql: (s) => `
CREATE TABLE ${s}.processed_commands (
  command_id   text        PRIMARY KEY,
  aggregate_id text,
  result       jsonb       NOT NULL,
  processed_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);

CREATE INDEX processed_commands_expires_at_idx ON ${s}.processed_commands (expires_at);

CREATE TABLE ${s}.processed_events (
  consumer     text        NOT NULL,
  event_id     text        NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

CREATE TABLE ${s}.snapshots (
  aggregate_id            text        PRIMARY KEY,
  aggregate_type          text        NOT NULL,
  version                 integer     NOT NULL CHECK (version >= 1),
  snapshot_schema_version integer     NOT NULL CHECK (snapshot_schema_version >= 1),
  state                   jsonb       NOT NULL,
  created_at              timestamptz NOT NULL
);
`,
};
