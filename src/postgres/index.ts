/**
 * `annals/postgres`: the PostgreSQL stores of annals on a `pg.Pool` or on an in-process PGlite
 * instance: the event store (one-round-trip appends, caller-held transactions, a global log that
 * never skips an event), the projection store, the command log, processed events and snapshots,
 * with versioned migrations. Start with {@link createPostgres}; see docs/postgres.md.
 *
 * The drivers are optional peer dependencies, typed here by shape: install `pg` for a server,
 * `@electric-sql/pglite` for the embedded database.
 *
 * @packageDocumentation
 * @module annals/postgres
 */

export { type CreatePostgresOptions, createPostgres, type PostgresStores } from './create-postgres.js';
export { DEFAULT_SCHEMA, quoteIdentifier } from './driver/identifier.js';
export type {
  PgNamedStatement,
  PgNotification,
  PgPool,
  PgPoolClient,
  PgQueryable,
  PgQueryResult,
  PgRow,
} from './driver/pg-client.js';
export {
  type PGliteLike,
  type PGlitePool,
  type PGlitePoolOptions,
  pgliteAsPool,
} from './driver/pglite-pool.js';
export type { PostgresTransaction } from './driver/transaction.js';
export type { HorizonScope } from './event-store/horizon-sql.js';
export {
  type PostgresAppendOptions,
  PostgresEventStore,
  type PostgresEventStoreOptions,
  type PostgresLoadOptions,
} from './event-store/postgres-event-store.js';
export {
  PostgresCommandLog,
  type PostgresCommandLogOptions,
  type PostgresTransactionRunner,
} from './idempotency/postgres-command-log.js';
export {
  type PostgresProcessedEventOptions,
  PostgresProcessedEventStore,
  type PostgresProcessedEventStoreOptions,
} from './idempotency/postgres-processed-event-store.js';
export {
  type PostgresLeaseMode,
  type PostgresProjectionContext,
  PostgresProjectionStore,
  type PostgresProjectionStoreOptions,
} from './projections/postgres-projection-store.js';
export type { ProjectionLeaseHolder } from './projections/projection-lease.js';
export { type MigrateOptions, type MigrateResult, migrate } from './schema/migrate.js';
export {
  PostgresSnapshotStore,
  type PostgresSnapshotStoreOptions,
} from './snapshots/postgres-snapshot-store.js';
