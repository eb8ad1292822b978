import {
  assertValidId,
  InvalidArgumentError,
  isTransientError,
  type ProcessedEvent,
  type ProcessedEventStore,
  type RunOnceResult,
  StoreFailedError,
} from '../../core.js';
import { isTransientDriverError } from '../driver/errors.js';
import { quoteIdentifier, resolveSchemaName } from '../driver/identifier.js';
import type { PgPool, PgQueryable, PgRow } from '../driver/pg-client.js';
import { runInTransaction } from '../driver/transaction.js';
import { runQuery, toDate } from '../driver/values.js';
import { type ProcessedEventSql, processedEventSql } from './processed-event-sql.js';

/**
 * Options of {@link PostgresProcessedEventStore}.
 *
 * @category Idempotency
 */
export interface PostgresProcessedEventStoreOptions {
  /**
   * The connections: a `pg.Pool`, or {@link pgliteAsPool} around a PGlite instance. Use the
   * database your handlers write their effects to, so that they can share the transaction.
   */
  readonly pool: PgPool;
  /**
   * The schema holding the `processed_events` table (created by {@link migrate}).
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
}

/**
 * Options of {@link PostgresProcessedEventStore.record} and {@link PostgresProcessedEventStore.find}.
 *
 * @category Idempotency
 */
export interface PostgresProcessedEventOptions {
  /**
   * Run on this connection, such as the client of a transaction you hold
   * (`tx.client` of {@link PostgresEventStore.withTransaction}).
   * @defaultValue a connection of the pool, autocommit
   */
  readonly client?: PgQueryable;
}

/**
 * The PostgreSQL {@link ProcessedEventStore}: a `processed_events` row per consumer and event id
 * (created by {@link migrate}, migration 3).
 *
 * `runOnce(consumer, eventId, work)` opens a transaction, inserts the row with
 * `ON CONFLICT DO NOTHING`, and, when the row is new, runs `work` with the transaction's client
 * and commits; when the row was there, it reads it and returns it as a duplicate. So:
 *
 * - Writes `work` makes **through the client it receives** commit together with the record:
 *   their effect is exactly-once. A failure anywhere rolls both back and the redelivery runs again.
 * - A concurrent delivery of the same event to the same consumer waits on the row's key until
 *   the first transaction ends; then it sees the record (`duplicate: true`) or, after a rollback,
 *   runs itself.
 * - Effects outside that transaction (an HTTP call, a message, another database) are
 *   **at-least-once**: they can happen and the commit then fail, so a redelivery repeats them.
 *   Make them idempotent too, for example by passing the event id as an idempotency key.
 *
 * Keep `work` short: the transaction and a pool connection are held while it runs. A handler
 * that holds a transaction of its own checks and records inside it with
 * `record(consumer, eventId, { client })`.
 *
 * @example
 * ```ts
 * const processed = new PostgresProcessedEventStore({ pool });
 * await processed.runOnce('order-totals', event.eventId, async (client) => {
 *   await client.query('UPDATE app.order_totals SET total = total + $2 WHERE order_id = $1', [id, amount]);
 * });
 * ```
 *
 * @category Idempotency
 */
export class PostgresProcessedEventStore implements ProcessedEventStore<PgQueryable> {
  /** The schema the store uses, unquoted. */
  readonly schema: string;
  readonly #pool: PgPool;
  readonly #sql: ProcessedEventSql;

  constructor(options: PostgresProcessedEventStoreOptions) {
    if (typeof options?.pool?.query !== 'function' || typeof options.pool.connect !== 'function') {
      throw new InvalidArgumentError(
        'PostgresProcessedEventStore needs a `pool` (a pg.Pool or pgliteAsPool(db))',
      );
    }
    this.schema = resolveSchemaName(options.schema);
    this.#pool = options.pool;
    this.#sql = processedEventSql(quoteIdentifier('schema', this.schema));
  }

  async runOnce<T>(
    consumer: string,
    eventId: string,
    work: (client: PgQueryable) => Promise<T>,
  ): Promise<RunOnceResult<T, ProcessedEvent, undefined>> {
    assertKey(consumer, eventId);
    if (typeof work !== 'function') throw new InvalidArgumentError('runOnce needs a `work` function');
    return runInTransaction(
      this.#pool,
      async (client): Promise<RunOnceResult<T, ProcessedEvent, undefined>> => {
        const inserted = await runQuery<ProcessedEventRow>(
          client,
          this.#sql.insert,
          [consumer, eventId],
          'runOnce',
        );
        const claimed = inserted.rows[0];
        if (claimed) {
          const result = await work(client);
          return { duplicate: false, result, record: toRecord(consumer, eventId, claimed) };
        }
        // The insert waited for a concurrent one to commit, or met a committed row: it is there to read.
        const found = await runQuery<ProcessedEventRow>(
          client,
          this.#sql.select,
          [consumer, eventId],
          'runOnce',
        );
        const row = found.rows[0];
        if (!row) throw new StoreFailedError(`runOnce: the record of "${consumer}" / "${eventId}" vanished`);
        return { duplicate: true, result: undefined, record: toRecord(consumer, eventId, row) };
      },
    );
  }

  /**
   * The record of `eventId` processed by `consumer` (committed, or written in `options.client`'s
   * transaction), or `undefined`.
   */
  async find(
    consumer: string,
    eventId: string,
    options: PostgresProcessedEventOptions = {},
  ): Promise<ProcessedEvent | undefined> {
    assertKey(consumer, eventId);
    const client = options.client ?? this.#pool;
    const found = await runQuery<ProcessedEventRow>(client, this.#sql.select, [consumer, eventId], 'find');
    const row = found.rows[0];
    return row ? toRecord(consumer, eventId, row) : undefined;
  }

  /**
   * Records `eventId` as processed by `consumer` without running anything; `true` when this call
   * recorded it. With `options.client`, a transaction you hold, it is the check-and-record of that
   * transaction: do the effects only when it returns `true`, and they commit with the record (a
   * concurrent duplicate waits on the row until you commit or roll back).
   *
   * @example
   * ```ts
   * await store.withTransaction(async (tx) => {
   *   if (!(await processed.record('billing', event.eventId, { client: tx.client }))) return;
   *   await tx.append(invoiceId, NO_STREAM, [invoiceRaised]);
   * });
   * ```
   */
  async record(
    consumer: string,
    eventId: string,
    options: PostgresProcessedEventOptions = {},
  ): Promise<boolean> {
    assertKey(consumer, eventId);
    const client = options.client ?? this.#pool;
    const inserted = await runQuery(client, this.#sql.insert, [consumer, eventId], 'record');
    return inserted.rows.length > 0;
  }

  /**
   * True for errors that mean the database failed rather than the work of `runOnce`: the driver's
   * own errors of a lost or refused connection, a server shutdown, a serialization failure or a
   * deadlock (a handler's query through the transaction's client throws them unwrapped), and the
   * transient annals errors ({@link isTransientError}).
   */
  isTransientError(error: unknown): boolean {
    return isTransientError(error) || isTransientDriverError(error);
  }
}

interface ProcessedEventRow extends PgRow {
  processed_at: Date | string;
}

function toRecord(consumer: string, eventId: string, row: ProcessedEventRow): ProcessedEvent {
  return { consumer, eventId, processedAt: toDate(row.processed_at) };
}

function assertKey(consumer: string, eventId: string): void {
  assertValidId('consumer', consumer);
  assertValidId('eventId', eventId);
}
