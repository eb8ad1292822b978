import type { Migration } from './migration.js';

/**
 * Migration 1: the event store.
 *
 * - `events`: the events. The unique index on `(aggregate_id, version)` is the streams'
 *   concurrency guard: a version is written once, and every append writes the versions right
 *   after one that is stored (so a stream has no gaps). `event_id` is the primary key (the
 *   idempotency key). `global_position` numbers the events in insertion order;
 *   `transaction_id` is the writing transaction's id, and the global log is ordered by
 *   `(transaction_id, global_position)` and read only below the oldest running transaction
 *   (`pg_snapshot_xmin`), so readers never skip an event that commits late.
 * - `append_events(...)`: the whole append in one call (one round trip), for appends inside a
 *   caller's transaction and for the store's slow path (after a conflict or a stored event id):
 *   idempotency by event id, the expected-version check against the stream's last version, the
 *   insert, and (unless `p_notify` is false) a NOTIFY. Conflicts are raised with SQLSTATE
 *   `ZA001` (DETAIL: the actual version); an event id stored elsewhere with `ZA002` (DETAIL:
 *   the event id). The store's autocommit appends usually skip it: they are one plain INSERT
 *   (see event-store-sql.ts).
 */
export const eventStoreMigration: Migration = {
  version: 1,
  name: 'event-store',
  sql: (s, { appendedChannelLiteral }) => `
CREATE TABLE ${s}.events (
  global_position bigint      GENERATED ALWAYS AS IDENTITY,
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
  CONSTRAINT events_event_id_key PRIMARY KEY (event_id),
  CONSTRAINT events_stream_version_key UNIQUE (aggregate_id, version)
);

-- The global log's order; readers page through it with a row comparison on this pair.
-- (global_position is unique by its identity sequence, so no index of its own is needed.)
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
  v_found        integer;
  v_same         boolean;
  v_last_version integer;
  v_first_found  text;
  v_attempt      integer := 0;
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

  -- Appends through this function take turns per stream (a transaction-level advisory lock,
  -- held until the transaction ends), so they lose a race only to the store's one-shot fast
  -- path. Then each round: look for stored event ids, read the stream's version (its highest stored
  -- version; each statement of a function takes a new snapshot, so this is what has committed),
  -- check the expectation and insert the versions after it. A concurrent append that wrote one
  -- of those versions (or one of these event ids) first fails the insert on the unique index;
  -- the insert's subtransaction is rolled back and the next round sees why. The subtransaction
  -- keeps that error from aborting a caller's transaction.
  IF v_count > 0 THEN
    PERFORM pg_advisory_xact_lock(1634627187, hashtext(p_aggregate_id));  -- 1634627187: 'anns'
  END IF;
  LOOP
    v_attempt := v_attempt + 1;
    IF v_attempt > 100 THEN
      -- Reachable when the caller's snapshot cannot see what a concurrent append committed
      -- (REPEATABLE READ or SERIALIZABLE): the caller must retry.
      RAISE EXCEPTION USING ERRCODE = '40001',
        MESSAGE = 'annals: the stream was written concurrently; retry the append';
    END IF;

    IF v_count > 0 THEN
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

    -- The stream's version: its last event's (a backward scan of the stream's index).
    SELECT coalesce(max(x.version), 0) INTO v_current FROM ${s}.events x WHERE x.aggregate_id = p_aggregate_id;
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

    BEGIN
      WITH inserted AS (
        INSERT INTO ${s}.events
          (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
        SELECT p_aggregate_id, u.aggregate_type, v_current + u.ord::integer, u.event_id, u.type,
               u.schema_version, u.payload::jsonb, u.metadata::jsonb, u.ts
          FROM unnest(p_event_ids, p_aggregate_types, p_types, p_schema_versions, p_payloads, p_metadata, p_timestamps)
               WITH ORDINALITY AS u(event_id, aggregate_type, type, schema_version, payload, metadata, ts, ord)
         ORDER BY u.ord
        RETURNING version, global_position, transaction_id
      )
      SELECT array_agg(i.global_position::text ORDER BY i.version), min(i.transaction_id::text)
        INTO positions, transaction_id
        FROM inserted i;
      EXIT;
    EXCEPTION WHEN unique_violation THEN
      -- A concurrent append wrote one of these versions or event ids first: the next round
      -- finds out which (a conflict, a retry of a stored append, or simply the next version).
      NULL;
    END;
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
