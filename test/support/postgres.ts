/**
 * A PostgreSQL for a test file, with a fresh schema of its own.
 *
 * - `DATABASE_URL` set: a `pg.Pool` on that server, a random schema, dropped (CASCADE) after
 *   the file. While the file runs it holds a session advisory lock, so test files that use this
 *   helper run one at a time on the server: the global log's visibility rule is cluster-wide
 *   (one file's open transactions hold back another file's readers), so sharing the server
 *   between files at once would make log assertions depend on timing.
 * - `DATABASE_URL` unset: an in-process PGlite (one per file, created once; it takes a few
 *   seconds), wrapped with `pgliteAsPool`. Tests that need several connections check
 *   `hasServer` and use `describeWithServer` / `it.skipIf(!hasServer)` so they report plainly
 *   that they were skipped for want of a server.
 *
 * @example
 * ```ts
 * const db = usePostgres();                  // registers beforeAll/afterAll
 * it('appends', async () => {
 *   const store = new PostgresEventStore({ pool: db.pool, registry, schema: db.schema });
 * });
 * describeWithServer('races', () => { ... }); // real server only
 * ```
 */
import { migrate, type PgPool, pgliteAsPool } from 'annals/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect } from 'vitest';

/** The server's connection string, when one is configured. */
export const databaseUrl: string | undefined = process.env.DATABASE_URL || undefined;

/** True when `DATABASE_URL` is set: tests run on a real server. */
export const hasServer: boolean = databaseUrl !== undefined;

/** Why server-only tests are skipped, for their titles. */
export const NO_SERVER_REASON = 'SKIPPED: needs a real PostgreSQL server and DATABASE_URL is unset';

/** What a test file gets. Read the fields inside tests or hooks, not at collection time. */
export interface PostgresTestDatabase {
  /** A `pg.Pool` on the server, or the PGlite adapter. */
  readonly pool: PgPool;
  /** The file's own schema (already migrated unless `migrate: false`). */
  readonly schema: string;
  /** Opens another `pg.Pool` on the server (server only); it is ended after the file. */
  newPool(maxConnections?: number): pg.Pool;
}

/** Options of {@link usePostgres}. */
export interface UsePostgresOptions {
  /**
   * Run every migration in the file's schema before the tests.
   * @defaultValue true
   */
  readonly migrate?: boolean;
  /**
   * Connections of the server pool.
   * @defaultValue 20
   */
  readonly maxConnections?: number;
  /**
   * The file's tests all need a server: without one, set nothing up (no PGlite is started).
   * @defaultValue false
   */
  readonly serverOnly?: boolean;
}

const EXCLUSIVE_LOCK_KEY = 0x616e6e74; // "annt": annals test files on one server
/** How long a file waits for the server; override with ANNALS_TEST_LOCK_WAIT_MS. */
const LOCK_WAIT_MS = Number(process.env.ANNALS_TEST_LOCK_WAIT_MS ?? 300_000);
const SETUP_TIMEOUT_MS = LOCK_WAIT_MS + 60_000;
const TEARDOWN_STEP_MS = 10_000;

/** Takes the exclusive test lock on `client`, waiting for other files (of any run on this server). */
async function lockServer(client: pg.Client, file: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let nextNote = Date.now() + 30_000;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      EXCLUSIVE_LOCK_KEY,
    ]);
    if (rows[0]?.locked) return;
    if (Date.now() > deadline || Date.now() > nextNote) {
      const holder = await client.query<{ name: string; pid: number }>(
        `SELECT a.application_name AS name, a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.objid = $1 AND l.granted`,
        [EXCLUSIVE_LOCK_KEY],
      );
      const who =
        holder.rows.map((row) => `${row.name || '(unnamed)'} [pid ${row.pid}]`).join(', ') || 'nobody';
      if (Date.now() > deadline) {
        throw new Error(
          `${file}: waited ${LOCK_WAIT_MS} ms for the test server; it is held by ${who}. Test files that use usePostgres() run one at a time on a server.`,
        );
      }
      console.warn(`${file}: waiting for the test server, held by ${who}`);
      nextNote = Date.now() + 30_000;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs a teardown step; a failing or hanging step must not keep the server locked. */
async function step(name: string, run: () => Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${TEARDOWN_STEP_MS} ms`)),
          TEARDOWN_STEP_MS,
        );
      }),
    ]);
  } catch (error) {
    console.warn(
      `usePostgres teardown: ${name} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers `beforeAll`/`afterAll` that provide a database with a fresh schema for this file.
 */
export function usePostgres(options: UsePostgresOptions = {}): PostgresTestDatabase {
  const schema = `annals_test_${Math.random().toString(36).slice(2, 10)}`;
  let pool: PgPool | undefined;
  let lockClient: pg.Client | undefined;
  let closePglite: (() => Promise<void>) | undefined;
  const extraPools: pg.Pool[] = [];

  beforeAll(async () => {
    if (options.serverOnly && !databaseUrl) return;
    if (databaseUrl) {
      const file = (expect.getState().testPath ?? 'a test file').replace(`${process.cwd()}/`, '');
      lockClient = new pg.Client({
        connectionString: databaseUrl,
        application_name: `annals-test-lock ${file}`.slice(0, 63),
      });
      lockClient.on('error', () => undefined);
      await lockClient.connect();
      await lockServer(lockClient, file);
      const serverPool = new pg.Pool({ connectionString: databaseUrl, max: options.maxConnections ?? 20 });
      serverPool.on('error', () => undefined); // backends killed on purpose by fault tests
      pool = serverPool;
    } else {
      const { PGlite } = await import('@electric-sql/pglite');
      const db = await PGlite.create();
      closePglite = () => db.close();
      pool = pgliteAsPool(db);
    }
    if (options.migrate ?? true) await migrate(pool, { schema });
  }, SETUP_TIMEOUT_MS);

  afterAll(
    async () => {
      try {
        await step('ending extra pools', () => Promise.all(extraPools.map((extra) => extra.end())));
        if (pool && databaseUrl) {
          const serverPool = pool;
          await step('dropping the schema', () =>
            serverPool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`),
          );
          await step('ending the pool', async () => serverPool.end?.());
        }
        if (closePglite) await step('closing PGlite', closePglite);
      } finally {
        // Whatever failed above, the next file must get the server.
        const client = lockClient;
        if (client) {
          await step('unlocking', () => client.query('SELECT pg_advisory_unlock($1)', [EXCLUSIVE_LOCK_KEY]));
          await step('closing the lock connection', () => client.end());
        }
      }
    },
    5 * TEARDOWN_STEP_MS + 10_000,
  );

  return {
    get pool(): PgPool {
      if (!pool) throw new Error('usePostgres: the database is not ready (use it inside tests or hooks)');
      return pool;
    },
    schema,
    newPool(maxConnections = 10): pg.Pool {
      if (!databaseUrl) throw new Error(`usePostgres.newPool: ${NO_SERVER_REASON}`);
      const extra = new pg.Pool({ connectionString: databaseUrl, max: maxConnections });
      extra.on('error', () => undefined);
      extraPools.push(extra);
      return extra;
    },
  };
}

/** `describe` for tests that need a real server; without one it is skipped with a plain reason. */
export function describeWithServer(name: string, fn: () => void): void {
  describe.skipIf(!hasServer)(hasServer ? name : `${name} (${NO_SERVER_REASON})`, fn);
}
