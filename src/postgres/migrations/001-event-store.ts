import type { Migration } from './migration.js';

/**
 * Migration 1: the event store.
 *
 * - `streams`: one row per aggregate with its current version; appends lock it.
 * - `events`: the events. `global_position` numbers them in insertion order;
 *   `transaction_id` is the writing transaction's id, and the global log is ordered by
 *   `(transaction_id, global_position)` and read only below the oldest running transaction
 *   (`pg_snapshot_xmin`), so readers never skip an event that commits late.
 * - `append_events(...)`: the whole append in one call (one round trip): idempotency by event
 *   id, the expected-version check and the stream's new version (checked and written in one
 *   statement, or under the stream's row lock), the insert, and (unless `p_notify` is false) a
 *   NOTIFY. Conflicts are raised with SQLSTATE
 *   `ZA001` (DETAIL: the actual version); an event id stored elsewhere with `ZA002` (DETAIL:
 *   the event id).
 */
export const eventStoreMigration: Migration = {
  version: 1,
  name: 'event-store',
  sql: (s, { appendedChannelLiteral }) => `
CREATE TABLE ${s}.streams (
  aggregate_id   text    PRIMARY KEY,
  aggregate_type text    NOT NULL,
  version        integer NOT NULL CHECK (version >= 0)
);

CREATE TABLE ${s}.events (
  global_position bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  aggregate_id    text        NOT NULL,
  aggregate_type  text        NOT NULL,
  version         integer     NOT NULL CHECK (version >= 1),
  event_id        text        NOT NULL,
  type            text        NOT NULL,
  schema_version  integer     NOT NULL,
  payload         jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  "timestamp"     timestamptz NOT NULL,
  CONSTRAINT events_event_id_key UNIQUE (event_id),
  CONSTRAINT events_stream_version_key UNIQUE (aggregate_id, version)
);

-- The global log's order; readers page through it with a row comparison on this pair.
CREATE INDEX events_log_order_idx ON ${s}.events (transaction_id, global_position);

CREATE FUNCTION ${s}.append_events(
  p_aggregate_id     text,
  p_expected_mode    text,      -- 'any' | 'no_stream' | 'stream_exists' | 'exact'
  p_expected_version bigint,    -- the version for 'exact', else NULL
  p_event_ids        text[],
  p_aggregate_types  text[],
  p_types            text[],
  p_schema_versions  integer[],
  p_payloads         text[],    -- JSON text
  p_metadata         text[],    -- JSON text
  p_timestamps       timestamptz[],
  p_notify           boolean DEFAULT true,
  p_optimistic       boolean DEFAULT false,
  OUT duplicate      boolean,   -- true: every id was stored by one earlier append; nothing written
  OUT next_version   integer,   -- the stream's version after the append
  OUT transaction_id text,      -- the writing transaction (of the earlier append when duplicate)
  OUT positions      text[]     -- global positions, in the order of the events
)
LANGUAGE plpgsql
AS $append$
#variable_conflict use_column
DECLARE
  v_count        integer := coalesce(cardinality(p_event_ids), 0);
  v_current      integer;
  v_exists       boolean;
  v_found        integer;
  v_same         boolean;
  v_last_version integer;
  v_first_found  text;
  v_attempt      integer := 0;
  v_new_stream   boolean;
BEGIN
  IF p_expected_mode IS NULL
     OR p_expected_mode NOT IN ('any', 'no_stream', 'stream_exists', 'exact')
     OR (p_expected_mode = 'exact' AND (p_expected_version IS NULL OR p_expected_version < 0)) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'annals: invalid expected version';
  END IF;
  IF coalesce(cardinality(p_aggregate_types), 0) <> v_count
     OR coalesce(cardinality(p_types), 0) <> v_count
     OR coalesce(cardinality(p_schema_versions), 0) <> v_count
     OR coalesce(cardinality(p_payloads), 0) <> v_count
     OR coalesce(cardinality(p_metadata), 0) <> v_count
     OR coalesce(cardinality(p_timestamps), 0) <> v_count THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'annals: append arrays differ in length';
  END IF;

  -- Round 1 is the fast path and takes no explicit lock: one statement checks the expected
  -- version, moves the stream on and inserts the events (racing appends queue on the stream's
  -- row and re-check the condition against the committed version). Later rounds lock the stream
  -- row first, so their duplicate and version checks see everything committed before them
  -- (each statement of a function takes a new snapshot).
  --
  -- p_optimistic skips round 1's duplicate check: a stored event id then fails the insert on
  -- the unique index (SQLSTATE 23505, events_event_id_key) and the caller, whose statement
  -- was rolled back as a whole, runs it again without p_optimistic. Only for a call that is
  -- its own transaction: inside a larger one that error would abort the caller's transaction.
  LOOP
    v_attempt := v_attempt + 1;
    IF v_attempt > 4 THEN
      -- Only reachable when the caller's snapshot cannot see a committed stream row
      -- (REPEATABLE READ or SERIALIZABLE): the caller must retry.
      RAISE EXCEPTION USING ERRCODE = '40001',
        MESSAGE = 'annals: the stream was created concurrently; retry the append';
    END IF;

    IF v_attempt > 1 OR v_count = 0 THEN
      IF v_count = 0 THEN
        -- An empty append only checks the expected version.
        SELECT s.version INTO v_current FROM ${s}.streams s WHERE s.aggregate_id = p_aggregate_id;
      ELSE
        SELECT s.version INTO v_current FROM ${s}.streams s WHERE s.aggregate_id = p_aggregate_id FOR UPDATE;
      END IF;
      v_exists := FOUND;
      v_current := coalesce(v_current, 0);
    END IF;

    IF v_count > 0 AND (v_attempt > 1 OR NOT p_optimistic) THEN
      -- Idempotency: are any of these event ids stored already? (A probe of the unique index
      -- per id. In the general case OFFSET 0 keeps the planner from turning the probes into a
      -- hash join over a sequential scan, which a plan cached while the table was small would keep.)
      IF v_count = 1 THEN
        SELECT x.aggregate_id = p_aggregate_id, x.version, x.event_id, x.transaction_id::text,
               ARRAY[x.global_position::text]
          INTO v_same, v_last_version, v_first_found, transaction_id, positions
          FROM ${s}.events x WHERE x.event_id = p_event_ids[1];
        v_found := CASE WHEN FOUND THEN 1 ELSE 0 END;
      ELSE
        SELECT count(*)::integer INTO v_found
          FROM unnest(p_event_ids) AS g(id)
          CROSS JOIN LATERAL (SELECT 1 FROM ${s}.events x WHERE x.event_id = g.id OFFSET 0) e;
        IF v_found > 0 THEN
          -- The same append: all found, in this stream, one transaction, consecutive versions.
          SELECT count(*) = v_count
                   AND bool_and(e.aggregate_id = p_aggregate_id)
                   AND min(e.transaction_id::text::bigint) = max(e.transaction_id::text::bigint)
                   AND min(e.version - g.ord) = max(e.version - g.ord),
                 (array_agg(e.version ORDER BY g.ord DESC))[1],
                 (array_agg(e.event_id ORDER BY g.ord))[1],
                 min(e.transaction_id::text),
                 array_agg(e.global_position::text ORDER BY g.ord)
            INTO v_same, v_last_version, v_first_found, transaction_id, positions
            FROM unnest(p_event_ids) WITH ORDINALITY AS g(id, ord)
            CROSS JOIN LATERAL (
              SELECT x.aggregate_id, x.transaction_id, x.version, x.event_id, x.global_position
                FROM ${s}.events x WHERE x.event_id = g.id OFFSET 0
            ) e;
        END IF;
      END IF;
      IF v_found > 0 THEN
        IF v_same THEN
          -- A retry of an append that is stored: its original result, nothing written.
          duplicate := true;
          next_version := v_last_version;
          RETURN;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'ZA002', DETAIL = v_first_found,
          MESSAGE = format('annals: event id %s is stored in another stream or another append', v_first_found);
      END IF;
    END IF;

    IF v_attempt > 1 OR v_count = 0 THEN
      IF NOT (CASE p_expected_mode
                WHEN 'any' THEN true
                WHEN 'no_stream' THEN v_current = 0
                WHEN 'stream_exists' THEN v_current > 0
                ELSE v_current = p_expected_version END) THEN
        RAISE EXCEPTION USING ERRCODE = 'ZA001', DETAIL = v_current::text,
          MESSAGE = format('annals: concurrency conflict on %s: expected %s, actual %s',
                           p_aggregate_id, coalesce(p_expected_version::text, p_expected_mode), v_current);
      END IF;
      IF v_count = 0 THEN
        duplicate := false;
        next_version := v_current;
        positions := ARRAY[]::text[];
        RETURN;
      END IF;
      v_new_stream := NOT v_exists;
    ELSE
      v_new_stream := p_expected_mode = 'no_stream' OR (p_expected_mode = 'exact' AND p_expected_version = 0);
    END IF;

    -- The write, in one statement: the stream's row (created, or moved on if its version still
    -- satisfies the expectation) and the events. No stream row written, no events written; then
    -- the next round finds out why under the lock.
    v_current := NULL;
    IF v_new_stream AND v_count = 1 THEN
      WITH s AS (
        INSERT INTO ${s}.streams (aggregate_id, aggregate_type, version)
        VALUES (p_aggregate_id, p_aggregate_types[1], 1)
        ON CONFLICT (aggregate_id) DO NOTHING
        RETURNING 0 AS v0
      )
      INSERT INTO ${s}.events
        (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
      SELECT p_aggregate_id, p_aggregate_types[1], s.v0 + 1, p_event_ids[1], p_types[1],
             p_schema_versions[1], p_payloads[1]::jsonb, p_metadata[1]::jsonb, p_timestamps[1]
        FROM s
      RETURNING version - 1, ARRAY[global_position::text], transaction_id::text
        INTO v_current, positions, transaction_id;
    ELSIF v_count = 1 THEN
      WITH s AS (
        UPDATE ${s}.streams s SET version = s.version + 1
         WHERE s.aggregate_id = p_aggregate_id
           AND (CASE p_expected_mode
                  WHEN 'any' THEN true
                  WHEN 'stream_exists' THEN s.version > 0
                  ELSE s.version = p_expected_version END)
        RETURNING s.version - 1 AS v0
      )
      INSERT INTO ${s}.events
        (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
      SELECT p_aggregate_id, p_aggregate_types[1], s.v0 + 1, p_event_ids[1], p_types[1],
             p_schema_versions[1], p_payloads[1]::jsonb, p_metadata[1]::jsonb, p_timestamps[1]
        FROM s
      RETURNING version - 1, ARRAY[global_position::text], transaction_id::text
        INTO v_current, positions, transaction_id;
    ELSIF v_new_stream THEN
      WITH s AS (
        INSERT INTO ${s}.streams (aggregate_id, aggregate_type, version)
        VALUES (p_aggregate_id, p_aggregate_types[1], v_count)
        ON CONFLICT (aggregate_id) DO NOTHING
        RETURNING 0 AS v0
      ), inserted AS (
        INSERT INTO ${s}.events
          (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
        SELECT p_aggregate_id, u.aggregate_type, s.v0 + u.ord::integer, u.event_id, u.type,
               u.schema_version, u.payload::jsonb, u.metadata::jsonb, u.ts
          FROM s, unnest(p_event_ids, p_aggregate_types, p_types, p_schema_versions, p_payloads, p_metadata, p_timestamps)
               WITH ORDINALITY AS u(event_id, aggregate_type, type, schema_version, payload, metadata, ts, ord)
         ORDER BY u.ord
        RETURNING version, global_position, transaction_id
      )
      SELECT min(i.version) - 1, array_agg(i.global_position::text ORDER BY i.version), min(i.transaction_id::text)
        INTO v_current, positions, transaction_id
        FROM inserted i;
    ELSE
      WITH s AS (
        UPDATE ${s}.streams s SET version = s.version + v_count
         WHERE s.aggregate_id = p_aggregate_id
           AND (CASE p_expected_mode
                  WHEN 'any' THEN true
                  WHEN 'stream_exists' THEN s.version > 0
                  ELSE s.version = p_expected_version END)
        RETURNING s.version - v_count AS v0
      ), inserted AS (
        INSERT INTO ${s}.events
          (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
        SELECT p_aggregate_id, u.aggregate_type, s.v0 + u.ord::integer, u.event_id, u.type,
               u.schema_version, u.payload::jsonb, u.metadata::jsonb, u.ts
          FROM s, unnest(p_event_ids, p_aggregate_types, p_types, p_schema_versions, p_payloads, p_metadata, p_timestamps)
               WITH ORDINALITY AS u(event_id, aggregate_type, type, schema_version, payload, metadata, ts, ord)
         ORDER BY u.ord
        RETURNING version, global_position, transaction_id
      )
      SELECT min(i.version) - 1, array_agg(i.global_position::text ORDER BY i.version), min(i.transaction_id::text)
        INTO v_current, positions, transaction_id
        FROM inserted i;
    END IF;
    EXIT WHEN v_current IS NOT NULL;
  END LOOP;

  IF p_notify THEN
    -- Delivered to listeners when (and only if) the transaction commits. PostgreSQL serialises
    -- the commits of notifying transactions, so the store passes false for its own appends and
    -- announces them after the commit instead.
    PERFORM pg_notify(${appendedChannelLiteral}, '');
  END IF;

  duplicate := false;
  next_version := v_current + v_count;
END
$append$;
`,
};
