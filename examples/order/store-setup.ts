/**
 * Opens the Order example's stores on PostgreSQL with one call of `createPostgres`: in process on
 * PGlite (no server needed), or on a server when a connection string is given. Either way the
 * same adapter, the same SQL.
 */
import { createPostgres, type PostgresStores, quoteIdentifier } from 'annals/postgres';
import { orderRegistry } from './upcasters.js';

/** What {@link openOrderStores} returns: every store on one pool, and where the data lives. */
export interface OrderStores extends PostgresStores {
  /** Where the data lives, for the example's output. */
  readonly description: string;
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
  /**
   * Drop the schema on a server first, so the run starts empty. The projection worker keeps it
   * (`false`): it only creates what is missing.
   * @defaultValue `true`
   */
  readonly fresh?: boolean;
}

/** Opens a migrated schema (fresh unless `fresh: false`) and every store on it. */
export async function openOrderStores(options: OpenOrderStoresOptions = {}): Promise<OrderStores> {
  const schema = options.schema ?? 'annals_example';
  const registry = orderRegistry();
  if (options.databaseUrl) {
    if (options.fresh ?? true) await dropSchema(options.databaseUrl, schema);
    const stores = await createPostgres({
      connectionString: options.databaseUrl,
      registry,
      schema,
      maxConnections: 5,
    });
    const host = new URL(options.databaseUrl).host;
    return { ...stores, description: `PostgreSQL server at ${host}, schema ${schema}` };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const stores = await createPostgres({
    pglite: await PGlite.create(),
    registry,
    schema,
    closeDatabase: true,
  });
  return { ...stores, description: 'PostgreSQL on PGlite, in process' };
}

/** Every run starts from an empty schema on a server. */
async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  // Loaded here, so that the example runs on PGlite without the pg package.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier('schema', schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** The read model's schema when it has a database of its own (`READ_MODEL_DATABASE_URL`). */
export const readModelSchema = (schema: string) => `${schema}_read_model`;
