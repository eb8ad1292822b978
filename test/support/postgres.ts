/**
 * A PostgreSQL for a test file, with a fresh schema of its own.
 *
 * - `DATABASE_URL` set: a database of the file's own on that server (`annals_test_<time>_<random>`,
 *   created before the file and dropped `WITH (FORCE)` after it), a `pg.Pool` on it and a random
 *   schema in it. Files need no lock and run side by side, also beside other runs on the same
 *   server: the event store's readers are held back only by transactions of their own database
 *   (see docs/postgres.md, "The global log and its guarantee"), so one file's open transactions
 *   never stall another file's readers. While the file runs, {@link databaseUrl} names its
 *   database (child processes and CLI runs of the file connect there).
 *   Pools under test close idle connections after a second (pg's default is ten), so that a
 *   finished test's connections do not stay counted against `max_connections` while parallel
 *   files run (vitest.config.ts: several workers on a server). A file that opens many
 *   connections at once (races, several pools) says so with `manyConnections: true`: such files
 *   run one at a time, across every run on the server (an advisory lock in the server's
 *   `DATABASE_URL` database, held from `beforeAll` to `afterAll`).
 * - `DATABASE_URL` unset: an in-process PGlite of the file's own, wrapped with `pgliteAsPool`. It
 *   is loaded from a dump of a freshly initialised cluster (pglite-template.ts, written once by
 *   the run's globalSetup), which takes well under a second where `PGlite.create()` takes
 *   seconds. Tests that need several connections check
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
import type { IEventStore, StoredEvent } from 'annals';
import {
  migrate,
  type PgPool,
  type PgQueryable,
  type PostgresEventStore,
  pgliteAsPool,
} from 'annals/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { createTestPglite } from './pglite-template.js';

/** The server's connection string (`DATABASE_URL`), when one is configured. */
export const serverUrl: string | undefined = process.env.DATABASE_URL || undefined;

/**
 * The connection string of this test file's database: once `usePostgres()`'s `beforeAll` has
 * run, the file's own database; before that (and in files without `usePostgres()`), `DATABASE_URL`.
 * A live binding: read it inside tests or hooks.
 */
export let databaseUrl: string | undefined = serverUrl;

/** True when `DATABASE_URL` is set: tests run on a real server. */
export const hasServer: boolean = serverUrl !== undefined;

/** Why server-only tests are skipped, for their titles. */
export const NO_SERVER_REASON = 'SKIPPED: needs a real PostgreSQL server and DATABASE_URL is unset';

/** What a test file gets. Read the fields inside tests or hooks, not at collection time. */
export interface PostgresTestDatabase {
  /** A `pg.Pool` on the file's database, or the PGlite adapter. */
  readonly pool: PgPool;
  /** The file's own schema (already migrated unless `migrate: false`). */
  readonly schema: string;
  /** The connection string of the file's own database (server only). */
  readonly connectionString: string;
  /**
   * Opens another `pg.Pool` on the file's database (server only); it is ended after the file.
   * `applicationName` (or `options` given as a string) names its connections in
   * `pg_stat_activity` (fault tests kill them by it); `port` connects to another port of the
   * server's host (a fault test's proxy, see tcp-proxy.ts).
   */
  newPool(
    maxConnections?: number,
    options?: string | { readonly applicationName?: string; readonly port?: number },
  ): pg.Pool;
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
  /**
   * The file opens many connections at once (more than the default pool's 20: races, several
   * pools): on a server it waits until no other such file runs, in this run or any other on the
   * same server (a session advisory lock on `DATABASE_URL`'s database, released after the file),
   * so that parallel files stay well below `max_connections`.
   * @defaultValue false
   */
  readonly manyConnections?: boolean;
}

const SETUP_TIMEOUT_MS = 60_000;
/** How long a `manyConnections` file waits for the others (of every run on the server) to finish. */
const MANY_CONNECTIONS_WAIT_MS = 15 * 60_000;
/** The advisory lock key of `manyConnections` files (any constant; the same in every run). */
const MANY_CONNECTIONS_LOCK = 7_316_029_184_401;
/**
 * Idle connections of the pools under test close after this (pg's default: 10 s): parallel
 * files keep only the connections they use.
 */
const IDLE_TIMEOUT_MS = 1_000;
const TEARDOWN_STEP_MS = 10_000;
/** Test databases older than this are left over from runs that died; the next file drops them. */
const STALE_DATABASE_MS = 6 * 3600_000;
const DATABASE_PREFIX = 'annals_test_';

/** The connection string of `database` on the server of `url`. */
export function urlOfDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Runs `work` on a connection to the server's `DATABASE_URL` database. */
async function onServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: 'annals-test-admin' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Drops test databases that runs which died left behind (best effort: another file may race us). */
async function dropStaleDatabases(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
    [DATABASE_PREFIX],
  );
  for (const { datname } of rows) {
    const created = Number.parseInt(datname.slice(DATABASE_PREFIX.length).split('_')[0] ?? '', 36);
    if (!Number.isFinite(created) || Date.now() - created < STALE_DATABASE_MS) continue;
    await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
  }
}

/** Runs a teardown step; a failing or hanging step must not keep the next ones from running. */
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
  const random = Math.random().toString(36).slice(2, 10);
  const schema = `annals_test_${random}`;
  const database = `${DATABASE_PREFIX}${Date.now().toString(36)}_${random}`;
  const fileUrl = serverUrl ? urlOfDatabase(serverUrl, database) : undefined;
  let pool: PgPool | undefined;
  let created = false;
  let closePglite: (() => Promise<void>) | undefined;
  const extraPools: pg.Pool[] = [];
  let lockClient: pg.Client | undefined;
  const manyConnections = (options.manyConnections ?? false) && fileUrl !== undefined;

  beforeAll(async () => {
    if (!manyConnections) return;
    const client = new pg.Client({
      connectionString: serverUrl,
      application_name: 'annals-test-many-connections',
    });
    client.on('error', () => undefined);
    await client.connect();
    lockClient = client;
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MANY_CONNECTIONS_LOCK]);
  }, MANY_CONNECTIONS_WAIT_MS + SETUP_TIMEOUT_MS);

  beforeAll(async () => {
    if (options.serverOnly && !serverUrl) return;
    if (fileUrl) {
      await onServer(async (client) => {
        await dropStaleDatabases(client);
        await client.query(`CREATE DATABASE "${database}"`);
      });
      created = true;
      databaseUrl = fileUrl;
      const serverPool = new pg.Pool({
        connectionString: fileUrl,
        max: options.maxConnections ?? 20,
        idleTimeoutMillis: IDLE_TIMEOUT_MS,
      });
      serverPool.on('error', () => undefined); // backends killed on purpose by fault tests
      pool = serverPool;
    } else {
      const db = await createTestPglite();
      closePglite = () => db.close();
      pool = pgliteAsPool(db);
    }
    if (options.migrate ?? true) await migrate(pool, { schema });
  }, SETUP_TIMEOUT_MS);

  afterAll(
    async () => {
      await step('ending extra pools', () => Promise.all(extraPools.map((extra) => extra.end())));
      if (pool && fileUrl) {
        const serverPool = pool;
        await step('ending the pool', async () => serverPool.end?.());
      }
      if (created) {
        // FORCE: connections a test left open (or a child process) must not keep it alive.
        await step('dropping the database', () =>
          onServer((client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)),
        );
        databaseUrl = serverUrl;
      }
      if (closePglite) await step('closing PGlite', closePglite);
      if (lockClient) {
        const client = lockClient;
        lockClient = undefined;
        await step('releasing the many-connections lock', () => client.end()); // ends the session: unlocks
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
    get connectionString(): string {
      if (!fileUrl) throw new Error(`usePostgres.connectionString: ${NO_SERVER_REASON}`);
      return fileUrl;
    },
    newPool(maxConnections = 10, options = {}): pg.Pool {
      if (!fileUrl) throw new Error(`usePostgres.newPool: ${NO_SERVER_REASON}`);
      const { applicationName, port } = typeof options === 'string' ? { applicationName: options } : options;
      const url = new URL(fileUrl);
      if (port !== undefined) url.port = String(port);
      const extra = new pg.Pool({
        connectionString: url.toString(),
        max: maxConnections,
        idleTimeoutMillis: IDLE_TIMEOUT_MS,
        ...(applicationName === undefined ? {} : { application_name: applicationName }),
      });
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

/**
 * Every event id of `store`'s log, in log order, once its readers see every event committed to
 * its table (or as read after 10 s, for the test's assertion to show): right after an append,
 * the readers' horizon can still hide it for a moment while a transaction of another database
 * that started before it ends (docs/postgres.md, "Right after an append"), and other files and
 * other runs use the server meanwhile. `pool`, on the store's database, counts the committed rows.
 */
export async function wholeLogIds(store: PostgresEventStore, pool: PgQueryable): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await pool.query<{ count: string }>(
      `SELECT count(*)::text AS count FROM "${store.schema}".events`,
    );
    const ids = await readLogIds(store);
    if (ids.length >= Number(rows[0]?.count ?? 0) || Date.now() > deadline) return ids;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The events of `store`'s log from its start, in log order, once it shows at least `count` (or as
 * read after 10 s, for the test's assertion to show): for a test that appended `count` events and
 * then picks them from the log. Right after an append the readers' horizon can still hide it for
 * a moment (see {@link wholeLogIds}), so a single `readAll` may show fewer. What it hides sorts
 * after all it shows, so reading on from the last event seen never skips one.
 */
export async function readLogThrough(store: IEventStore, count: number): Promise<StoredEvent[]> {
  const deadline = Date.now() + 10_000;
  const events: StoredEvent[] = [];
  let after: StoredEvent | undefined;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    events.push(...page.events);
    after = page.events.at(-1) ?? after;
    if (events.length >= count || Date.now() > deadline) return events;
    if (page.caughtUp) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every event id `store`'s log shows now, in log order (pages of 1,000). */
export async function readLogIds(store: IEventStore): Promise<string[]> {
  const ids: string[] = [];
  let after: StoredEvent | undefined;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    ids.push(...page.events.map((event) => event.eventId));
    after = page.events.at(-1) ?? after;
    if (page.caughtUp) return ids;
  }
}
