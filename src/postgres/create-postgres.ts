import { type AnnalsLogger, type EventRegistry, InvalidArgumentError, StoreFailedError } from '../core.js';
import { DEFAULT_SCHEMA, resolveSchemaName } from './driver/identifier.js';
import type { PgPool } from './driver/pg-client.js';
import { type PGliteLike, pgliteAsPool } from './driver/pglite-pool.js';
import { PostgresEventStore, type PostgresEventStoreOptions } from './event-store/postgres-event-store.js';
import { PostgresCommandLog, type PostgresCommandLogOptions } from './idempotency/postgres-command-log.js';
import { PostgresProcessedEventStore } from './idempotency/postgres-processed-event-store.js';
import {
  PostgresProjectionStore,
  type PostgresProjectionStoreOptions,
} from './projections/postgres-projection-store.js';
import { type MigrateResult, migrate } from './schema/migrate.js';
import { PostgresSnapshotStore } from './snapshots/postgres-snapshot-store.js';

/**
 * Options of {@link createPostgres}. Give exactly one of `connectionString`, `pool` and
 * `pglite`.
 *
 * @category Setup
 */
export interface CreatePostgresOptions {
  /**
   * A libpq connection string (`postgres://user@host:5432/db`): the factory opens a `pg.Pool`
   * (the `pg` package must be installed) and `close()` ends it.
   */
  readonly connectionString?: string;
  /** A pool you opened (a `pg.Pool`, or anything of the {@link PgPool} shape). `close()` leaves it open. */
  readonly pool?: PgPool;
  /**
   * An in-process PGlite instance (`await PGlite.create()`). `close()` closes it only with
   * `closeDatabase: true`.
   */
  readonly pglite?: PGliteLike;
  /** The event definitions and upcasters the event store encodes and decodes with. */
  readonly registry: EventRegistry;
  /**
   * The schema that holds every table; it is validated (letters, digits, `_`, `$`).
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
  /**
   * Run the migrations before returning (in one transaction, under an advisory lock).
   * @defaultValue true
   */
  readonly migrate?: boolean;
  /**
   * With `connectionString`: the most connections the pool opens.
   * @defaultValue 10
   */
  readonly maxConnections?: number;
  /**
   * With `connectionString`: told about errors of idle pooled connections (the pool drops them
   * and reconnects).
   * @defaultValue ignore them
   */
  readonly onPoolError?: (error: Error) => void;
  /**
   * With `pglite`: close the PGlite instance in `close()`.
   * @defaultValue false
   */
  readonly closeDatabase?: boolean;
  /**
   * Where the stores log (the event store's LISTEN/NOTIFY failures).
   * @defaultValue the default logger (`setDefaultLogger` of `annals`)
   */
  readonly logger?: AnnalsLogger;
  /** Further options of the event store. */
  readonly eventStore?: Omit<PostgresEventStoreOptions, 'pool' | 'registry' | 'schema' | 'ownsPool'>;
  /** Further options of the projection store (leases). */
  readonly projections?: Omit<PostgresProjectionStoreOptions, 'pool' | 'schema'>;
  /** Further options of the command log (`ttlHours`, `lockTimeoutMs`). */
  readonly commands?: Omit<PostgresCommandLogOptions, 'store' | 'pool'>;
}

/**
 * Every PostgreSQL store of annals on one pool and one schema; returned by {@link createPostgres}.
 *
 * @category Setup
 */
export interface PostgresStores {
  /** The pool every store uses. */
  readonly pool: PgPool;
  /** The schema that holds every table. */
  readonly schema: string;
  /** The event store. */
  readonly eventStore: PostgresEventStore;
  /** Checkpoints, dead letters and leases of projections. */
  readonly projectionStore: PostgresProjectionStore;
  /** De-duplicates commands in the transaction of their append. */
  readonly commandLog: PostgresCommandLog;
  /** Records which events a consumer has processed. */
  readonly processedEvents: PostgresProcessedEventStore;
  /** Snapshots of aggregates. */
  readonly snapshotStore: PostgresSnapshotStore;
  /** Applies the migrations that are missing (idempotent; safe from several processes at once). */
  migrate(): Promise<MigrateResult>;
  /**
   * Stops the event store's notification listener, and ends the pool when the factory opened it
   * (`connectionString`) or the PGlite instance with `closeDatabase: true`. Idempotent.
   */
  close(): Promise<void>;
}

interface PgModule {
  Pool: new (config: {
    connectionString: string;
    max: number;
  }) => PgPool & {
    on(event: 'error', listener: (error: Error) => void): unknown;
    end(): Promise<void>;
  };
}

/**
 * Opens every PostgreSQL store of annals on one pool and one schema: the event store, the
 * projection store, the command log, processed events and snapshots, migrated unless
 * `migrate: false`. Connect with a connection string, a pool of yours, or an in-process PGlite
 * instance. The separate classes remain for those who compose them by hand.
 *
 * @example
 * ```ts
 * import { AggregateRepository } from 'annals';
 * import { createPostgres } from 'annals/postgres';
 *
 * const pg = await createPostgres({ connectionString: process.env.DATABASE_URL!, registry });
 * const orders = new AggregateRepository(pg.eventStore, {
 *   create: (id) => new Order(id),
 *   commands: pg.commandLog,
 * });
 * // ...
 * await pg.close();
 * ```
 *
 * @category Setup
 */
export async function createPostgres(options: CreatePostgresOptions): Promise<PostgresStores> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'createPostgres needs options: { connectionString | pool | pglite, registry }',
    );
  }
  const sources = [options.connectionString, options.pool, options.pglite].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    throw new InvalidArgumentError(
      `createPostgres needs exactly one of \`connectionString\`, \`pool\` and \`pglite\`; got ${sources.length}`,
    );
  }
  const schema = resolveSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const { pool, end } = await openPool(options);
  try {
    const eventStore = new PostgresEventStore({
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...options.eventStore,
      pool,
      registry: options.registry,
      schema,
    });
    const stores: PostgresStores = {
      pool,
      schema,
      eventStore,
      projectionStore: new PostgresProjectionStore({ ...options.projections, pool, schema }),
      commandLog: new PostgresCommandLog({ ...options.commands, store: eventStore, pool }),
      processedEvents: new PostgresProcessedEventStore({ pool, schema }),
      snapshotStore: new PostgresSnapshotStore({ pool, schema }),
      migrate: () => migrate(pool, { schema }),
      close: once(async () => {
        await eventStore.close();
        await end();
      }),
    };
    if (options.migrate !== false) await stores.migrate();
    return stores;
  } catch (error) {
    await end().catch(() => undefined);
    throw error;
  }
}

async function openPool(options: CreatePostgresOptions): Promise<{ pool: PgPool; end(): Promise<void> }> {
  if (options.pool !== undefined) {
    const { pool } = options;
    if (typeof pool?.query !== 'function' || typeof pool.connect !== 'function') {
      throw new InvalidArgumentError('createPostgres: `pool` must be a pg.Pool (query and connect)');
    }
    return { pool, end: async () => undefined };
  }
  if (options.pglite !== undefined) {
    const db = options.pglite;
    if (typeof db?.query !== 'function' || typeof db.exec !== 'function') {
      throw new InvalidArgumentError('createPostgres: `pglite` must be a PGlite instance');
    }
    const pool = pgliteAsPool(db, { closeOnEnd: options.closeDatabase === true });
    return { pool, end: () => pool.end() };
  }
  const { connectionString, maxConnections = 10, onPoolError } = options;
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new InvalidArgumentError('createPostgres: `connectionString` must be a non-empty string');
  }
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    throw new InvalidArgumentError('createPostgres: `maxConnections` must be an integer >= 1');
  }
  const pg = await loadPg();
  const pool = new pg.Pool({ connectionString, max: maxConnections });
  // Without a listener, an error of an idle connection would crash the process.
  pool.on('error', (error) => onPoolError?.(error));
  return { pool, end: () => pool.end() };
}

function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= close();
    return closing;
  };
}

async function loadPg(): Promise<PgModule> {
  const name = 'pg';
  let loaded: { default?: PgModule } & Partial<PgModule>;
  try {
    loaded = (await import(name)) as typeof loaded;
  } catch (error) {
    throw new StoreFailedError(
      'createPostgres with a connectionString needs the `pg` package: npm install pg',
      {
        cause: error,
      },
    );
  }
  const pg = loaded.Pool ? (loaded as PgModule) : loaded.default;
  if (!pg?.Pool) throw new StoreFailedError('the `pg` package has no Pool export');
  return pg;
}
