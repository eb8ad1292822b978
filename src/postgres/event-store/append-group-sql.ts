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
 * version, which must be at least the base (`any`: 0, `stream_exists`: 1). `ON CONFLICT DO NOTHING`
 * skips a row whose version or event id is taken (by a concurrent writer, or stored earlier),
 * so one failed expectation never fails the others; the rows not returned are decided one by
 * one by the caller. Rows are inserted in `aggregate_id` order, so two groups (of this process
 * or another) that wait on each other's uncommitted rows always wait in the same direction and
 * cannot deadlock.
 *
 * One parameter, `$1`: the appends as one JSON array of rows `[aggregate id, base version,
 * at base, event id, aggregate type, type, schema version, payload, metadata, timestamp]`
 * (`pg` sends it as it is, where ten arrays would have every element escaped on the way out and
 * parsed from an array literal on the way in; payload and metadata are parsed once, with it). Returns one row per written event:
 * `event_id`, `next_version`, `position`, `transaction_id`.
 */
export function appendGroupSql(schema: string): NamedSql {
  const events = `${schema}.events`;
  const text =
    `INSERT INTO ${events} ` +
    '(aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp") ' +
    'SELECT u.aggregate_id, u.aggregate_type, l.last + 1, u.event_id, u.type, u.schema_version, ' +
    'u.payload, u.metadata, u.ts ' +
    'FROM (SELECT e.r->>0 AS aggregate_id, (e.r->>1)::integer AS base, (e.r->>2)::boolean AS at_base, ' +
    'e.r->>3 AS event_id, e.r->>4 AS aggregate_type, e.r->>5 AS type, (e.r->>6)::integer AS schema_version, ' +
    'e.r->7 AS payload, e.r->8 AS metadata, (e.r->>9)::timestamptz AS ts ' +
    'FROM jsonb_array_elements($1::jsonb) AS e(r)) AS u ' +
    // OFFSET 0 keeps both probes as per-row index look-ups: flattened, the planner may turn them
    // into a hash over a sequential scan of the whole table, and keep that cached plan forever.
    'CROSS JOIN LATERAL (SELECT CASE WHEN u.at_base THEN u.base ' +
    `ELSE coalesce((SELECT max(x.version) FROM ${events} x WHERE x.aggregate_id = u.aggregate_id), 0) END AS last ` +
    'OFFSET 0) l ' +
    `LEFT JOIN LATERAL (SELECT true AS found FROM ${events} x WHERE u.at_base AND u.base > 0 ` +
    'AND x.aggregate_id = u.aggregate_id AND x.version = u.base OFFSET 0) p ON true ' +
    'WHERE CASE WHEN u.at_base THEN u.base = 0 OR p.found ELSE l.last >= u.base END ' +
    'ORDER BY u.aggregate_id ' +
    'ON CONFLICT DO NOTHING ' +
    'RETURNING event_id, version AS next_version, global_position::text AS position, transaction_id::text AS transaction_id';
  return { name: `annals_append_group_${fnv1a32(text).toString(16).padStart(8, '0')}`, text };
}
