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
 * expectation: `$2` the base version and `$3` whether the event goes right after that version
 * (`exact`, `no_stream`: guarded by the existence of version `$2`) or after the stream's last
 * version, which must be at least `$2` (`any`: 0, `stream_exists`: 1). `ON CONFLICT DO NOTHING`
 * skips a row whose version or event id is taken (by a concurrent writer, or stored earlier),
 * so one failed expectation never fails the others; the rows not returned are decided one by
 * one by the caller. Rows are inserted in `aggregate_id` order, so two groups (of this process
 * or another) that wait on each other's uncommitted rows always wait in the same direction and
 * cannot deadlock.
 *
 * Parameters (arrays of equal length): `$1` aggregate ids, `$2` base versions, `$3` at-base
 * flags, `$4` event ids, `$5` aggregate types, `$6` types, `$7` schema versions, `$8` payloads
 * and `$9` metadata (JSON text), `$10` timestamps. Returns one row per written event:
 * `event_id`, `next_version`, `position`, `transaction_id`.
 */
export function appendGroupSql(schema: string): NamedSql {
  const events = `${schema}.events`;
  const text =
    `INSERT INTO ${events} ` +
    '(aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp") ' +
    'SELECT u.aggregate_id, u.aggregate_type, l.last + 1, u.event_id, u.type, u.schema_version, ' +
    'u.payload::jsonb, u.metadata::jsonb, u.ts ' +
    'FROM unnest($1::text[], $2::integer[], $3::boolean[], $4::text[], $5::text[], $6::text[], ' +
    '$7::integer[], $8::text[], $9::text[], $10::timestamptz[]) ' +
    'AS u(aggregate_id, base, at_base, event_id, aggregate_type, type, schema_version, payload, metadata, ts) ' +
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
