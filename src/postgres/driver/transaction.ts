import type { AppendResult, ExpectedVersionMode, LoadOptions, NewEvent, StoredEvent } from '../../core.js';
import { CommitOutcomeUnknownError, StoreFailedError } from '../../core.js';
import { isConnectionError, toStoreError } from './errors.js';
import type { PgPool, PgPoolClient, PgQueryable, PgQueryResult, PgRow } from './pg-client.js';

/**
 * A transaction opened by {@link PostgresEventStore.withTransaction}: the store's operations
 * bound to one connection inside `BEGIN ... COMMIT`, and that connection for your own SQL.
 * Everything done through it commits together or not at all.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { defineEvent, EventRegistry, NO_STREAM } from 'annals';
 * import { createPostgres } from 'annals/postgres';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'OrderPlaced', schema: z.object({ total: z.number() }) });
 * const registry = new EventRegistry([OrderPlaced]);
 * const pg = await createPostgres({ pglite: await PGlite.create(), registry });
 * await pg.pool.query('CREATE TABLE order_totals (order_id text PRIMARY KEY, total numeric)');
 *
 * // The event and the row commit together, or neither does.
 * await pg.eventStore.withTransaction(async (tx) => {
 *   await tx.append('order-1', NO_STREAM, [
 *     { type: 'OrderPlaced', aggregateType: 'Order', payload: { total: 42 } },
 *   ]);
 *   await tx.client.query('INSERT INTO order_totals (order_id, total) VALUES ($1, $2)', ['order-1', 42]);
 * });
 * await pg.close();
 * ```
 *
 * @category Stores
 */
export interface PostgresTransaction {
  /**
   * The transaction's connection. Run your own statements on it (read-model updates,
   * checkpoints, command records) to make them part of the transaction.
   */
  readonly client: PgQueryable;
  /**
   * Appends inside the transaction; see {@link annals!IEventStore.append}. A conflict
   * ({@link annals!ConcurrencyError}) or any other database error aborts the whole transaction:
   * let it propagate (the transaction rolls back) and retry the whole unit of work.
   */
  append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult>;
  /** Loads a stream inside the transaction (it sees the transaction's own appends). */
  load(aggregateId: string, options?: LoadOptions): Promise<StoredEvent[]>;
  /** A stream's version inside the transaction. */
  streamVersion(aggregateId: string): Promise<number>;
}

/** A connection that refuses work once its transaction has ended. */
export class TransactionClient implements PgQueryable {
  readonly #client: PgPoolClient;
  #open = true;
  #lastFailed = false;

  constructor(client: PgPoolClient) {
    this.#client = client;
  }

  query<TRow extends PgRow = PgRow>(text: string, values?: unknown[]): Promise<PgQueryResult<TRow>> {
    if (!this.#open) {
      return Promise.reject(
        new StoreFailedError(
          'the transaction has ended; use its client only inside the transaction callback',
        ),
      );
    }
    return this.#client.query<TRow>(text, values).then(
      (result) => {
        this.#lastFailed = false;
        return result;
      },
      (error: unknown) => {
        this.#lastFailed = true;
        throw error;
      },
    );
  }

  /**
   * True when the last statement failed. PostgreSQL then refuses everything but a rollback
   * (to a savepoint), so COMMIT would silently roll back.
   */
  get lastFailed(): boolean {
    return this.#lastFailed;
  }

  /** Ends the client's life: later queries are refused. */
  end(): void {
    this.#open = false;
  }
}

/**
 * Watches a checked-out connection for `error` events while the caller holds it. A driver
 * emits them when the connection dies between queries (the server was restarted, the backend
 * terminated); without a listener such an event would crash the process.
 *
 * @internal
 */
export function watchConnection(client: PgPoolClient): { error(): Error | undefined; release(): void } {
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure ??= error;
  };
  client.on?.('error', onError);
  return {
    error: () => failure,
    release() {
      // A broken connection may still emit: keep listening; a healthy one goes back to the pool.
      client.release(failure ?? false);
      if (!failure) client.removeListener?.('error', onError);
    },
  };
}

/**
 * Runs `work` inside `BEGIN ... COMMIT` on one connection of `pool`; rolls back when `work`
 * throws and rethrows its error. Database failures of BEGIN/COMMIT become
 * annals errors by `toStoreError`. When COMMIT loses its connection the outcome is unknown
 * ({@link CommitOutcomeUnknownError}): retry with the same event ids, which makes the retry a
 * no-op if the first attempt committed.
 *
 * @internal
 */
export async function runInTransaction<T>(
  pool: PgPool,
  work: (client: TransactionClient) => Promise<T>,
): Promise<T> {
  let connection: PgPoolClient;
  try {
    connection = await pool.connect();
  } catch (error) {
    throw toStoreError(error, 'withTransaction: connect');
  }
  const client = new TransactionClient(connection);
  const watch = watchConnection(connection);
  let broken: Error | undefined;
  const noteBroken = (error: unknown) => {
    if (isConnectionError(error)) broken = error instanceof Error ? error : new Error(String(error));
  };
  try {
    try {
      await connection.query('BEGIN');
    } catch (error) {
      noteBroken(error);
      throw toStoreError(error, 'withTransaction: BEGIN');
    }
    let result: T;
    try {
      result = await work(client);
    } catch (error) {
      noteBroken(error);
      broken ??= watch.error();
      if (!broken) {
        try {
          await connection.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
      }
      throw error;
    }
    if (client.lastFailed && (await isAborted(connection))) {
      await connection.query('ROLLBACK').catch(noteBroken);
      throw new StoreFailedError(
        'withTransaction: the transaction was aborted by a failed statement whose error was caught; nothing was committed',
        { sqlState: '25P02' },
      );
    }
    let committed: PgQueryResult;
    try {
      committed = await connection.query('COMMIT');
    } catch (error) {
      noteBroken(error);
      if (broken) {
        throw new CommitOutcomeUnknownError(
          `withTransaction: the connection was lost during COMMIT, so the outcome is unknown (${describe(error)})`,
          { cause: error },
        );
      }
      throw toStoreError(error, 'withTransaction: COMMIT (rolled back)');
    }
    if (committed.command !== undefined && committed.command.toUpperCase() === 'ROLLBACK') {
      throw new StoreFailedError('withTransaction: the transaction had been aborted; COMMIT rolled it back', {
        sqlState: '25P02',
      });
    }
    return result;
  } finally {
    client.end();
    if (broken) connection.release(broken);
    else watch.release();
  }
}

async function isAborted(connection: PgQueryable): Promise<boolean> {
  try {
    await connection.query('SELECT 1');
    return false;
  } catch {
    return true;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
