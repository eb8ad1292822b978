import type { PgRow } from '../driver/pg-client.js';

/**
 * What bounds the readable end of the global log (the horizon):
 * - `'database'`: the unfinished transactions of the store's database only;
 * - `'cluster'`: the unfinished transactions of the whole server (`pg_snapshot_xmin`), the
 *   fallback where the first is not possible (PGlite, a role that cannot read
 *   `pg_stat_activity`, `horizon: 'cluster'` in the options).
 *
 * @category Stores
 */
export type HorizonScope = 'database' | 'cluster';

/** The cluster-wide horizon: the oldest transaction still running anywhere on the server. */
const CLUSTER_HORIZON = 'pg_snapshot_xmin(pg_current_snapshot())';

/**
 * The top-level transaction ids (32-bit) that are known to run in ANOTHER database: the
 * `backend_xid` of sessions connected to another database, and prepared transactions of another
 * database. A session never changes its database, so an id found here can never be a writer of
 * this database's events (see {@link DATABASE_HORIZON} for the one race and why it is harmless).
 */
const FOREIGN_XIDS =
  'SELECT a.backend_xid FROM pg_catalog.pg_stat_activity a ' +
  'WHERE a.backend_xid IS NOT NULL AND a.datname <> current_database() ' +
  'UNION ALL SELECT p.transaction FROM pg_catalog.pg_prepared_xacts p WHERE p.database <> current_database()';

/**
 * The per-database horizon, one scalar subquery evaluated once per statement (an InitPlan, so
 * the log index still bounds the scan with it). It is the statement snapshot's `xmin` computed
 * over the snapshot's in-progress ids (`pg_snapshot_xip`) minus those known to belong to
 * another database; with none left, the snapshot's `xmax`.
 *
 * Why no event is ever skipped. Let S be the statement's snapshot, the one the scan of
 * `events` uses; `pg_current_snapshot()` returns it. Take an event written by transaction T of
 * this database, with top-level id t (the `transaction_id` default) below the horizon H.
 * - H ≤ xmax(S), so t < xmax(S): T had its id when S was taken.
 * - If T was still running when S was taken, t is in xip(S) (on a primary every running
 *   top-level id below xmax is; subtransactions only add ids above their parent's). H is the
 *   minimum of xip(S) minus the foreign ids, so t < H means t was dropped as foreign: some
 *   session of another database (or a prepared transaction of another database) showed t.
 *   A session is connected to one database for life and a prepared transaction keeps its
 *   database, and ids are not reused while both are alive (they are 2^32 apart, which
 *   wraparound protection forbids), so that cannot be T. The one way a row of
 *   `pg_stat_activity` can pair a database with a foreign id is a reused backend slot: the
 *   view copies a slot's status (with its database) and reads the slot's transaction id a
 *   moment later; if the session exited in between and a session of this database took the
 *   slot and an id, that id is paired with the old database. But the view is read during the
 *   statement, after S (this needs a fresh statistics snapshot: `pg_stat_activity` is
 *   captured once per transaction, so the statement must be its own transaction or the first
 *   in its transaction to read the view, as the store's reads are), and the new session got
 *   its id after the copy, hence after S: at or above xmax(S), never in xip(S).
 * - So T had finished when S was taken: S shows T's rows if it committed and hides them if it
 *   aborted, for good. Every transaction that finishes later has an id in xip(S) that is not
 *   foreign (so at least H) or at least xmax(S) ≥ H: its events sort after the horizon.
 * Nothing here depends on when the views are read relative to one another: ids are only ever
 * removed from the minimum when proven foreign, and a foreign id missed (a transaction that is
 * preparing, a session whose role hides its row, a session without a database) only lowers H
 * towards today's `pg_snapshot_xmin`. On a standby the snapshot lists running ids elsewhere
 * (and the primary's sessions are not in the view), so there the cluster horizon is used.
 */
const DATABASE_HORIZON =
  '(SELECT CASE WHEN pg_is_in_recovery() THEN pg_snapshot_xmin(s.snap) ELSE coalesce(' +
  '(SELECT min(x.xid) FROM pg_snapshot_xip(s.snap) AS x(xid) ' +
  `WHERE x.xid::xid NOT IN (${FOREIGN_XIDS})), pg_snapshot_xmax(s.snap)) END ` +
  'FROM (SELECT pg_current_snapshot() AS snap) s)';

/**
 * The condition that a horizon `horizon` (an `xid8` expression) was read too low: it is below
 * `xmax` (the statement snapshot's, an `xid8` expression) and its transaction is no longer in
 * progress. The per-database horizon reads `pg_stat_activity` after the snapshot, so a
 * transaction of another database that ended in between can bound it for that one read; a
 * caller that must include every committed event reads again (see `HEAD_ATTEMPTS` in
 * event-store-sql.ts).
 */
export function horizonEndedSql(horizon: string, xmax: string): string {
  return `(${horizon} < ${xmax} AND pg_xact_status(${horizon}) <> 'in progress')`;
}

/** The SQL expression (an `xid8`) of the horizon: events whose `transaction_id` is below it are readable. */
export function horizonExpression(scope: HorizonScope): string {
  return scope === 'database' ? DATABASE_HORIZON : CLUSTER_HORIZON;
}

/**
 * Run once per store to choose the scope: the database horizon is used when it can be computed
 * (any error here with SQLSTATE 42501 means the role may not read the views) and the server is
 * not PGlite (one backend: there are no other sessions to ignore).
 */
export const HORIZON_PROBE = `SELECT version() LIKE '%PGlite%' AS embedded, ${DATABASE_HORIZON}::text AS horizon`;

/** A row of {@link HORIZON_PROBE}. */
export interface HorizonProbeRow extends PgRow {
  embedded: boolean;
  horizon: string;
}

/**
 * The horizon now, the first id never assigned yet (`xmax`), how many committed events sort at
 * or after the horizon, and whether the horizon's transaction had already ended (`ended`): then
 * the horizon was read too low, as `head()`'s can be (see `HEAD_ATTEMPTS` in
 * event-store-sql.ts), and the read should be made again.
 */
export function horizonStateSql(events: string, scope: HorizonScope): string {
  return (
    'SELECT h.horizon::text AS horizon, s.xmax::text AS xmax, ' +
    `(SELECT count(*) FROM ${events} e WHERE e.transaction_id >= h.horizon)::text AS held_back, ` +
    `${horizonEndedSql('h.horizon', 's.xmax')} AS ended ` +
    `FROM (SELECT ${horizonExpression(scope)} AS horizon) h, ` +
    '(SELECT pg_snapshot_xmax(pg_current_snapshot()) AS xmax) s'
  );
}

/** A row of {@link horizonStateSql}. */
export interface HorizonStateRow extends PgRow {
  horizon: string;
  xmax: string;
  held_back: string;
  ended: boolean;
}

/**
 * The session or prepared transaction whose top-level id is `$1` (an xid8 as text): pid (null
 * for a prepared transaction), database, application (a prepared transaction's gid), when its
 * transaction started (prepared), and its age in milliseconds by the server's clock.
 */
export const HORIZON_HOLDER =
  'SELECT t.pid, t.database, t.application, t.prepared, t.since, ' +
  '(extract(epoch FROM clock_timestamp() - t.since) * 1000)::float8 AS age_ms FROM (' +
  'SELECT a.pid, a.datname::text AS database, a.application_name AS application, false AS prepared, ' +
  'a.xact_start AS since FROM pg_catalog.pg_stat_activity a WHERE a.backend_xid = $1::text::xid8::xid ' +
  'UNION ALL SELECT NULL, p.database::text, p.gid, true, p.prepared FROM pg_catalog.pg_prepared_xacts p ' +
  'WHERE p.transaction = $1::text::xid8::xid) t LIMIT 1';

/** A row of {@link HORIZON_HOLDER}. */
export interface HorizonHolderRow extends PgRow {
  pid: number | null;
  database: string | null;
  application: string | null;
  prepared: boolean;
  since: Date | string | null;
  age_ms: number | null;
}
