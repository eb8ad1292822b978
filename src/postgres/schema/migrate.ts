import { InvalidArgumentError } from '../../core.js';
import { isConnectionError, toStoreError } from '../driver/errors.js';
import { appendedChannel, quoteIdentifier, quoteLiteral, resolveSchemaName } from '../driver/identifier.js';
import type { PgPool, PgPoolClient, PgQueryable } from '../driver/pg-client.js';
import { watchConnection } from '../driver/transaction.js';
import type { Migration, MigrationContext } from './migrations/index.js';
import { migrations as allMigrations } from './migrations/index.js';

/**
 * Options of {@link migrate}.
 *
 * @category Setup
 */
export interface MigrateOptions {
  /**
   * The PostgreSQL schema to create or bring up to date.
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
  /**
   * The migrations to run. Only for tests of the migration runner itself.
   * @defaultValue every migration of this release
   * @internal
   */
  readonly migrations?: readonly Migration[];
}

/**
 * What {@link migrate} did.
 *
 * @category Setup
 */
export interface MigrateResult {
  /** The schema migrated. */
  readonly schema: string;
  /** The versions this call applied, in order; empty when the schema was up to date. */
  readonly applied: readonly number[];
  /** The schema's version afterwards: the highest version recorded. */
  readonly version: number;
}

/** First key of the advisory lock that serialises migrations ("anna" in ASCII). */
export const MIGRATION_LOCK_CLASS = 0x616e6e61;

/**
 * Creates the schema, or brings it up to date: runs every migration not yet recorded in
 * `<schema>.migrations`, in version order, all in ONE transaction under a transaction-level
 * advisory lock keyed by the schema name. Any number of processes may call it at once: one
 * applies the migrations, the others wait for the lock and then find nothing to do. If a
 * migration fails, nothing of this call is kept.
 *
 * Pass a pool (a connection is checked out and released) or a connection you checked out
 * yourself (`pool.connect()`), not one inside a transaction of yours.
 *
 * Throws {@link InvalidArgumentError} for an invalid schema name (before connecting) and
 * {@link annals!StoreUnavailableError} or {@link annals!StoreFailedError} when the database fails.
 *
 * @example
 * ```ts
 * await migrate(pool, { schema: 'billing' });
 * ```
 *
 * @category Setup
 */
export async function migrate(
  db: PgPool | PgPoolClient,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const schemaName = resolveSchemaName(options.schema);
  const schema = quoteIdentifier('schema', schemaName);
  const list = options.migrations ?? allMigrations;
  assertMigrationList(list);
  const context: MigrationContext = {
    schemaName,
    appendedChannelLiteral: quoteLiteral(appendedChannel(schemaName)),
  };

  const ownConnection = !isPoolClient(db);
  let client: PgPoolClient;
  try {
    client = ownConnection ? await (db as PgPool).connect() : (db as PgPoolClient);
  } catch (error) {
    throw toStoreError(error, 'migrate: connect');
  }
  const watch = ownConnection ? watchConnection(client) : undefined;
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const applied = await runPending(client, schema, context, list);
      await client.query('COMMIT');
      return { schema: schemaName, applied: applied.applied, version: applied.version };
    } catch (error) {
      await rollback(client).catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    }
  } catch (error) {
    if (isConnectionError(error)) broken = error instanceof Error ? error : new Error(String(error));
    throw toStoreError(error, `migrate schema "${schemaName}"`);
  } finally {
    if (ownConnection) {
      if (broken) client.release(broken);
      else watch?.release();
    }
  }
}

async function runPending(
  client: PgQueryable,
  schema: string,
  context: MigrationContext,
  list: readonly Migration[],
): Promise<{ applied: number[]; version: number }> {
  await client.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [
    MIGRATION_LOCK_CLASS,
    `annals.migrate:${context.schemaName}`,
  ]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${schema}.migrations (
       version    integer     PRIMARY KEY,
       name       text        NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.migrations`);
  const done = new Set(rows.map((row) => Number(row.version)));
  const applied: number[] = [];
  for (const migration of list) {
    if (done.has(migration.version)) continue;
    await client.query(migration.sql(schema, context));
    await client.query(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [
      migration.version,
      migration.name,
    ]);
    applied.push(migration.version);
    done.add(migration.version);
  }
  return { applied, version: Math.max(0, ...done) };
}

async function rollback(client: PgQueryable): Promise<void> {
  await client.query('ROLLBACK');
}

function isPoolClient(db: PgPool | PgPoolClient): db is PgPoolClient {
  return typeof (db as PgPoolClient).release === 'function';
}

/** Throws {@link InvalidArgumentError} unless the versions are 1, 2, 3, ... in order. */
export function assertMigrationList(list: readonly Migration[]): void {
  list.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new InvalidArgumentError(
        `migration "${migration.name}" has version ${migration.version}; expected ${index + 1} (versions are consecutive from 1)`,
      );
    }
  });
}
