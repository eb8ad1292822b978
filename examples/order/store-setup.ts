/**
 * Opens the Order example's stores on PostgreSQL: in process on PGlite (no server needed), or on
 * a server when a connection string is given. Either way the same adapter, the same SQL.
 */
import {
  migrate,
  type PgPool,
  PostgresEventStore,
  PostgresProjectionStore,
  pgliteAsPool,
  quoteIdentifier,
} from 'annals/postgres';
import { orderRegistry } from './upcasters.js';

/** What {@link openOrderStores} returns. */
export interface OrderStores {
  /** Where the data lives, for the example's output. */
  readonly description: string;
  /** The schema holding the event store, the projection tables and `order_read`. */
  readonly schema: string;
  /** The connections; with PGlite, the one pool object every store shares. */
  readonly pool: PgPool;
  readonly eventStore: PostgresEventStore;
  readonly projectionStore: PostgresProjectionStore;
  /** Closes the stores and the database connections. */
  close(): Promise<void>;
}

/** Options of {@link openOrderStores}. */
export interface OpenOrderStoresOptions {
  /** A server's connection string; without one, an in-process PGlite database is used. */
  readonly databaseUrl?: string | undefined;
  /**
   * The schema. On a server it is dropped and created again, so every run starts empty.
   * @defaultValue `'annals_example'`
   */
  readonly schema?: string;
}

/** Opens a fresh, migrated schema and the stores on it. */
export async function openOrderStores(options: OpenOrderStoresOptions = {}): Promise<OrderStores> {
  const schema = options.schema ?? 'annals_example';
  const opened = options.databaseUrl ? await openServer(options.databaseUrl, schema) : await openPGlite();
  const { pool } = opened;
  try {
    await migrate(pool, { schema });
  } catch (error) {
    await opened.end();
    throw error;
  }
  const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema });
  const projectionStore = new PostgresProjectionStore({ pool, schema });
  return {
    description: opened.description,
    schema,
    pool,
    eventStore,
    projectionStore,
    close: async () => {
      await eventStore.close();
      await opened.end();
    },
  };
}

interface OpenedDatabase {
  readonly description: string;
  readonly pool: PgPool;
  end(): Promise<void>;
}

async function openPGlite(): Promise<OpenedDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pool = pgliteAsPool(await PGlite.create(), { closeOnEnd: true });
  return { description: 'PostgreSQL on PGlite, in process', pool, end: () => pool.end() };
}

async function openServer(databaseUrl: string, schema: string): Promise<OpenedDatabase> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
  pool.on('error', () => undefined); // an idle connection that breaks is replaced by the pool
  try {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier('schema', schema)} CASCADE`);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const host = new URL(databaseUrl).host;
  return {
    description: `PostgreSQL server at ${host}, schema ${schema}`,
    pool: pool as unknown as PgPool,
    end: () => pool.end(),
  };
}
