import { InvalidArgumentError, type ProcessedEventStore, type RecordOnceResult } from 'annals';
import { quoteIdentifier, resolveSchemaName } from './identifier.js';
import type { PgPool, PgQueryable } from './pg-client.js';
import { assertTextId, runQuery } from './pg-values.js';
import { runInTransaction } from './transaction.js';

/** Options of {@link PostgresProcessedEventStore}. */
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

/** Options of {@link PostgresProcessedEventStore.markProcessed} and `hasProcessed`. */
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
 * `recordOnce(consumer, eventId, work)` opens a transaction, inserts the row with
 * `ON CONFLICT DO NOTHING`, and, when the row is new, runs `work` with the transaction's client
 * and commits. So:
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
 * `markProcessed(consumer, eventId, { client })`.
 *
 * @example
 * ```ts
 * const processed = new PostgresProcessedEventStore({ pool });
 * await processed.recordOnce('order-totals', event.eventId, async (client) => {
 *   await client.query('UPDATE app.order_totals SET total = total + $2 WHERE order_id = $1', [id, amount]);
 * });
 * ```
 */
export class PostgresProcessedEventStore implements ProcessedEventStore<PgQueryable> {
  /** The schema the store uses, unquoted. */
  readonly schema: string;
  readonly #pool: PgPool;
  readonly #insert: string;
  readonly #select: string;

  constructor(options: PostgresProcessedEventStoreOptions) {
    if (typeof options?.pool?.query !== 'function' || typeof options.pool.connect !== 'function') {
      throw new InvalidArgumentError(
        'PostgresProcessedEventStore needs a `pool` (a pg.Pool or pgliteAsPool(db))',
      );
    }
    this.schema = resolveSchemaName(options.schema);
    this.#pool = options.pool;
    const table = `${quoteIdentifier('schema', this.schema)}.processed_events`;
    this.#insert =
      `INSERT INTO ${table} (consumer, event_id) VALUES ($1, $2) ` +
      'ON CONFLICT (consumer, event_id) DO NOTHING RETURNING 1 AS recorded';
    this.#select = `SELECT 1 AS found FROM ${table} WHERE consumer = $1 AND event_id = $2`;
  }

  async recordOnce<T>(
    consumer: string,
    eventId: string,
    work: (client: PgQueryable) => Promise<T>,
  ): Promise<RecordOnceResult<T>> {
    assertKey(consumer, eventId);
    if (typeof work !== 'function') throw new InvalidArgumentError('recordOnce needs a `work` function');
    return runInTransaction(this.#pool, async (client): Promise<RecordOnceResult<T>> => {
      const inserted = await runQuery(client, this.#insert, [consumer, eventId], 'recordOnce');
      if (inserted.rows.length === 0) return { duplicate: true, result: undefined };
      return { duplicate: false, result: await work(client) };
    });
  }

  /** True when `consumer` has recorded `eventId` (committed, or in `options.client`'s transaction). */
  async hasProcessed(
    consumer: string,
    eventId: string,
    options: PostgresProcessedEventOptions = {},
  ): Promise<boolean> {
    assertKey(consumer, eventId);
    const client = options.client ?? this.#pool;
    const found = await runQuery(client, this.#select, [consumer, eventId], 'hasProcessed');
    return found.rows.length > 0;
  }

  /**
   * Records `eventId` as processed by `consumer`; `true` when this call recorded it. With
   * `options.client`, a transaction you hold, it is the check-and-record of that transaction:
   * do the effects only when it returns `true`, and they commit with the record (a concurrent
   * duplicate waits on the row until you commit or roll back).
   *
   * @example
   * ```ts
   * await store.withTransaction(async (tx) => {
   *   if (!(await processed.markProcessed('billing', event.eventId, { client: tx.client }))) return;
   *   await tx.append(invoiceId, NO_STREAM, [invoiceRaised]);
   * });
   * ```
   */
  async markProcessed(
    consumer: string,
    eventId: string,
    options: PostgresProcessedEventOptions = {},
  ): Promise<boolean> {
    assertKey(consumer, eventId);
    const client = options.client ?? this.#pool;
    const inserted = await runQuery(client, this.#insert, [consumer, eventId], 'markProcessed');
    return inserted.rows.length > 0;
  }
}

function assertKey(consumer: string, eventId: string): void {
  assertTextId('consumer', consumer);
  assertTextId('eventId', eventId);
}
