import { InvalidArgumentError, StoreUnavailableError } from 'annals';
import { migrate } from './migrate.js';
import type { PgPool } from './pg-client.js';
import { type PGliteLike, pgliteAsPool } from './pglite-pool.js';
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store.js';

/** Options of {@link createPostgresEventStore}. */
export interface CreatePostgresEventStoreOptions
  extends Omit<PostgresEventStoreOptions, 'pool' | 'ownsPool'> {
  /** A libpq connection string, such as `postgres://user@host:5432/db`. */
  readonly connectionString: string;
  /**
   * The most connections the store's `pg.Pool` opens (one more is held while anyone listens
   * with `onAppended`).
   * @defaultValue 10
   */
  readonly maxConnections?: number;
  /**
   * Run {@link migrate} for the schema before returning the store.
   * @defaultValue true
   */
  readonly migrate?: boolean;
  /**
   * Told about errors of idle pooled connections (the pool drops them and reconnects).
   * @defaultValue ignore them
   */
  readonly onPoolError?: (error: Error) => void;
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
 * Creates a store on a new `pg.Pool` for a connection string, migrates its schema (unless
 * `migrate: false`) and returns it. The store owns the pool: `close()` ends it. The `pg`
 * package is loaded only here, so it stays an optional peer dependency.
 *
 * @example
 * ```ts
 * const store = await createPostgresEventStore({ connectionString: process.env.DATABASE_URL!, registry });
 * // ...
 * await store.close();
 * ```
 */
export async function createPostgresEventStore(
  options: CreatePostgresEventStoreOptions,
): Promise<PostgresEventStore> {
  const {
    connectionString,
    maxConnections = 10,
    migrate: runMigrations = true,
    onPoolError,
    ...rest
  } = options ?? ({} as CreatePostgresEventStoreOptions);
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new InvalidArgumentError('createPostgresEventStore needs a `connectionString`');
  }
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    throw new InvalidArgumentError('maxConnections must be an integer >= 1');
  }
  const pg = await loadPg();
  const pool = new pg.Pool({ connectionString, max: maxConnections });
  // Without a listener, an error of an idle connection would crash the process.
  pool.on('error', (error) => onPoolError?.(error));
  try {
    const store = new PostgresEventStore({ ...rest, pool, ownsPool: true });
    if (runMigrations) await store.migrate();
    return store;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
}

/** Options of {@link createPGliteEventStore}. */
export interface CreatePGliteEventStoreOptions extends Omit<PostgresEventStoreOptions, 'pool' | 'ownsPool'> {
  /**
   * Run {@link migrate} for the schema before returning the store.
   * @defaultValue true
   */
  readonly migrate?: boolean;
  /**
   * Close the PGlite instance when the store is closed.
   * @defaultValue false
   */
  readonly closeDatabase?: boolean;
}

/**
 * Creates a store on an in-process PGlite instance (see {@link pgliteAsPool}) and migrates its
 * schema (unless `migrate: false`). The same adapter as on a server, with no server.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * const store = await createPGliteEventStore(await PGlite.create(), { registry, closeDatabase: true });
 * ```
 */
export async function createPGliteEventStore(
  db: PGliteLike,
  options: CreatePGliteEventStoreOptions,
): Promise<PostgresEventStore> {
  if (!db || typeof db.query !== 'function' || typeof db.exec !== 'function') {
    throw new InvalidArgumentError('createPGliteEventStore needs a PGlite instance');
  }
  const {
    migrate: runMigrations = true,
    closeDatabase = false,
    ...rest
  } = options ?? ({} as CreatePGliteEventStoreOptions);
  const pool = pgliteAsPool(db, { closeOnEnd: closeDatabase });
  const store = new PostgresEventStore({ ...rest, pool, ownsPool: true });
  if (runMigrations) await migrate(pool, { schema: store.schema });
  return store;
}

async function loadPg(): Promise<PgModule> {
  const name = 'pg';
  let loaded: { default?: PgModule } & Partial<PgModule>;
  try {
    loaded = (await import(name)) as typeof loaded;
  } catch (error) {
    throw new StoreUnavailableError('createPostgresEventStore needs the `pg` package: npm install pg', {
      cause: error,
    });
  }
  const pg = loaded.Pool ? (loaded as PgModule) : loaded.default;
  if (!pg?.Pool) throw new StoreUnavailableError('the `pg` package has no Pool export');
  return pg;
}
