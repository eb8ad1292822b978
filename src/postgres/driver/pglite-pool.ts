import { StoreFailedError } from '../../core.js';
import { Mutex } from './mutex.js';
import type { PgNamedStatement, PgPool, PgPoolClient, PgQueryResult, PgRow } from './pg-client.js';

/**
 * The parts of an `@electric-sql/pglite` instance the adapter uses, declared by shape so that
 * PGlite stays an optional peer dependency. A `PGlite` object fits it.
 *
 * @category Drivers
 */
export interface PGliteLike {
  /** Runs one statement with parameters (extended protocol). */
  query<T = PgRow>(
    text: string,
    params?: unknown[],
  ): Promise<{
    /** The rows returned. */
    rows: T[];
    /** The number of rows a command affected. */
    affectedRows?: number;
  }>;
  /** Runs one or more statements without parameters (simple protocol). */
  exec(text: string): Promise<
    Array<{
      /** The rows one statement returned. */
      rows: PgRow[];
      /** The number of rows that statement affected. */
      affectedRows?: number;
    }>
  >;
  /** LISTENs on a channel; resolves to a function that UNLISTENs. */
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  /** Closes the database. */
  close(): Promise<void>;
  /** True once closed. */
  readonly closed?: boolean;
}

/**
 * A {@link PgPool} over one PGlite instance, as returned by {@link pgliteAsPool}.
 *
 * @category Drivers
 */
export interface PGlitePool extends PgPool {
  /** The PGlite instance behind the pool. */
  readonly db: PGliteLike;
  /** LISTENs on a channel through the instance's `listen()`; resolves to a function that stops. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** Waits for the transaction in progress, then refuses new work (and closes the instance if `closeOnEnd`). */
  end(): Promise<void>;
}

/**
 * Options of {@link pgliteAsPool}.
 *
 * @category Drivers
 */
export interface PGlitePoolOptions {
  /**
   * Close the PGlite instance when the pool is ended (for example by a store that owns it).
   * @defaultValue false
   */
  readonly closeOnEnd?: boolean;
}

/**
 * Makes an in-process PGlite instance look like a connection pool, so the PostgreSQL adapter
 * runs on it unchanged.
 *
 * PGlite is one connection, so the adapter serialises: a client checked out with `connect()`
 * (a transaction) holds a lock until `release()`, and every plain `query` waits for it. Code
 * that holds a transaction must therefore not wait on a plain query of the same pool (use the
 * transaction's client), or it waits for itself. Route every use of the instance through this
 * pool (or a store built on it) so that no statement slips into someone else's transaction.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { migrate, PostgresEventStore, pgliteAsPool } from 'annals/postgres';
 *
 * const pool = pgliteAsPool(await PGlite.create());
 * await migrate(pool);
 * const store = new PostgresEventStore({ pool, registry });
 * ```
 *
 * @category Drivers
 */
export function pgliteAsPool(db: PGliteLike, options: PGlitePoolOptions = {}): PGlitePool {
  const mutex = new Mutex();
  let ended = false;

  const run = async <TRow extends PgRow>(text: string, values?: unknown[]): Promise<PgQueryResult<TRow>> => {
    if (ended) throw new StoreFailedError('the PGlite pool has been ended');
    if (values === undefined || values.length === 0) {
      // Like pg: without parameters, the simple protocol, which allows several statements.
      const results = await db.exec(text);
      const last = results.at(-1);
      return { rows: (last?.rows ?? []) as TRow[], rowCount: last?.affectedRows ?? null };
    }
    const result = await db.query<TRow>(text, values);
    return { rows: result.rows, rowCount: result.affectedRows ?? null };
  };

  return {
    db,
    query: <TRow extends PgRow = PgRow>(statement: string | PgNamedStatement, values?: unknown[]) =>
      typeof statement === 'string'
        ? mutex.run(() => run<TRow>(statement, values))
        : mutex.run(() => run<TRow>(statement.text, statement.values)),
    async connect(): Promise<PgPoolClient> {
      const release = await mutex.acquire();
      let released = false;
      return {
        query: <TRow extends PgRow = PgRow>(statement: string | PgNamedStatement, values?: unknown[]) => {
          if (released) return Promise.reject(new StoreFailedError('the client was released'));
          return typeof statement === 'string'
            ? run<TRow>(statement, values)
            : run<TRow>(statement.text, statement.values);
        },
        release() {
          released = true;
          release();
        },
      };
    },
    async listen(channel, onNotify) {
      const unlisten = await mutex.run(() => db.listen(channel, () => onNotify()));
      return async () => {
        if (!db.closed) await mutex.run(() => unlisten());
      };
    },
    async end() {
      if (ended) return;
      // Wait for the transaction in progress, if any, then refuse new work.
      await mutex.run(async () => {
        ended = true;
      });
      if (options.closeOnEnd && !db.closed) await db.close();
    },
  };
}
