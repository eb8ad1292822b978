/**
 * `annals/postgres`: the PostgreSQL event store, on a `pg.Pool` or on an in-process PGlite
 * instance, with versioned migrations, one-round-trip appends, caller-held transactions and a
 * global log that never skips an event. See docs/postgres.md.
 *
 * The drivers are optional peer dependencies, typed here by shape: install `pg` for a server,
 * `@electric-sql/pglite` for the embedded database.
 *
 * @packageDocumentation
 */

export {
  type CreatePGliteEventStoreOptions,
  type CreatePostgresEventStoreOptions,
  createPGliteEventStore,
  createPostgresEventStore,
} from './create-store.js';
export {
  appendedChannel,
  assertIdentifier,
  DEFAULT_SCHEMA,
  IDENTIFIER_PATTERN,
  quoteIdentifier,
  quoteLiteral,
  resolveSchemaName,
} from './identifier.js';
export { assertLogPosition } from './log-position-param.js';
export { type MigrateOptions, type MigrateResult, migrate } from './migrate.js';
export { type Migration, type MigrationContext, migrations } from './migrations/index.js';
export type {
  PgNamedStatement,
  PgNotification,
  PgPool,
  PgPoolClient,
  PgQueryable,
  PgQueryResult,
  PgRow,
} from './pg-client.js';
export {
  isConnectionError,
  SQLSTATE_CONCURRENCY,
  SQLSTATE_DUPLICATE_EVENT,
  toStoreError,
} from './pg-errors.js';
export { type PGliteLike, type PGlitePool, type PGlitePoolOptions, pgliteAsPool } from './pglite-pool.js';
export {
  PostgresCommandLog,
  type PostgresCommandLogOptions,
  type PostgresTransactionRunner,
} from './postgres-command-log.js';
export {
  type PostgresAppendOptions,
  PostgresEventStore,
  type PostgresEventStoreOptions,
  type PostgresLoadOptions,
} from './postgres-event-store.js';
export {
  type PostgresProcessedEventOptions,
  PostgresProcessedEventStore,
  type PostgresProcessedEventStoreOptions,
} from './postgres-processed-event-store.js';
export {
  type PostgresLeaseMode,
  type PostgresProjectionContext,
  PostgresProjectionStore,
  type PostgresProjectionStoreOptions,
} from './postgres-projection-store.js';
export { PostgresSnapshotStore, type PostgresSnapshotStoreOptions } from './postgres-snapshot-store.js';
export { type ProjectionLeaseHolder, projectionLeaseKey } from './projection-lease.js';
export type { PostgresTransaction } from './transaction.js';
