import { fnv1a32 } from '../driver/identifier.js';
import type { NamedSql } from './event-store-sql.js';

/**
 * The statement that writes a group of coalesced single-event appends (see
 * `append-coalescer.ts`) in one round trip and one commit.
 *
 * @internal
 * @module
 */

/**
 * One INSERT for many single-event appends of different streams. Each row carries its own
 * expectation: a base version, and whether the event goes right after it (`exact`,
 * `no_stream`: guarded by the existence of the base version) or after the stream's last
 * version, which must be at least the base (`any`: 0, `stream_exists`: 1). A row whose
 * expectation fails is not written; the rows not returned are decided one by one by the caller.
 *
 * With `skipTaken` (the default), `ON CONFLICT DO NOTHING` also skips a row whose version or
 * event id is taken (by a concurrent writer, or stored earlier), so one conflict never fails the
 * others. Without it the statement fails as a whole on such a row (a unique violation, nothing
 * written), and costs the server less per row: the coalescer sends it first and, when it fails,
 * sends the group again with `skipTaken`. Rows are inserted in `aggregate_id` order, so two groups (of this process
 * or another) that wait on each other's uncommitted rows always wait in the same direction and
 * cannot deadlock.
 *
 * One parameter, `$1`: the appends as one JSON array of rows `[aggregate id, base version,
 * at base, event id, aggregate type, type, schema version, payload, metadata, timestamp]`
 * (`pg` sends it as it is, where ten arrays would have every element escaped on the way out and
 * parsed from an array literal on the way in; payload and metadata are parsed once, with it).
 *
 * Returns one row: `transaction_id`, the writing transaction (null when nothing was written), and
 * `written`, the written events as JSON text `[[event id, version, global position as text], ...]`
 * (null when nothing was written). One row of two columns instead of a row per event: the client
 * parses one JSON text instead of a result row per event.
 *
 * With `notify`, the statement also sends a NOTIFY on the channel `$2` (with an empty payload),
 * delivered when its transaction commits: the store's announcement of committed appends
 * (see `append-announcer.ts`) rides on a group instead of taking a statement of its own.
 *
 * With `allAtBase`, every row of the group goes right after its base version (`exact`,
 * `no_stream`: what a repository sends), and the statement leaves out the look-up of a stream's
 * last version that the other modes need: a lateral subquery set up for every row even when it is
 * not used, which cost the server about a tenth of the statement (docs/benchmarks.md, "Seventh
 * pass"). Rows that do not go at their base must not be sent to it.
 */
export function appendGroupSql(
  schema: string,
  {
    notify = false,
    skipTaken = true,
    allAtBase = false,
  }: { readonly notify?: boolean; readonly skipTaken?: boolean; readonly allAtBase?: boolean } = {},
): NamedSql {
  const events = `${schema}.events`;
  const text =
    `WITH written AS (INSERT INTO ${events} ` +
    '(aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp") ' +
    `SELECT u.aggregate_id, u.aggregate_type, ${allAtBase ? 'u.base' : 'l.last'} + 1, u.event_id, u.type, u.schema_version, ` +
    'u.payload, u.metadata, u.ts ' +
    'FROM (SELECT e.r->>0 AS aggregate_id, (e.r->>1)::integer AS base, (e.r->>2)::boolean AS at_base, ' +
    'e.r->>3 AS event_id, e.r->>4 AS aggregate_type, e.r->>5 AS type, (e.r->>6)::integer AS schema_version, ' +
    'e.r->7 AS payload, e.r->8 AS metadata, (e.r->>9)::timestamptz AS ts ' +
    'FROM jsonb_array_elements($1::jsonb) AS e(r)) AS u ' +
    // OFFSET 0 keeps both probes as per-row index look-ups: flattened, the planner may turn them
    // into a hash over a sequential scan of the whole table, and keep that cached plan forever.
    (allAtBase
      ? ''
      : 'CROSS JOIN LATERAL (SELECT CASE WHEN u.at_base THEN u.base ' +
        `ELSE coalesce((SELECT max(x.version) FROM ${events} x WHERE x.aggregate_id = u.aggregate_id), 0) END AS last ` +
        'OFFSET 0) l ') +
    `LEFT JOIN LATERAL (SELECT true AS found FROM ${events} x WHERE u.at_base AND u.base > 0 ` +
    'AND x.aggregate_id = u.aggregate_id AND x.version = u.base OFFSET 0) p ON true ' +
    (allAtBase
      ? 'WHERE u.at_base AND (u.base = 0 OR p.found) '
      : 'WHERE CASE WHEN u.at_base THEN u.base = 0 OR p.found ELSE l.last >= u.base END ') +
    'ORDER BY u.aggregate_id ' +
    `${skipTaken ? 'ON CONFLICT DO NOTHING ' : ''}` +
    'RETURNING event_id, version, global_position, transaction_id) ' +
    'SELECT (array_agg(w.transaction_id))[1]::text AS transaction_id, ' +
    'json_agg(json_build_array(w.event_id, w.version, w.global_position::text))::text AS written ' +
    `${notify ? ", pg_notify($2, '') AS notified " : ''}` +
    'FROM written w';
  return { name: `annals_append_group_${fnv1a32(text).toString(16).padStart(8, '0')}`, text };
}
