import {
  assertValidId,
  CommandInProgressError,
  type CommandLog,
  type CommandLogOptions,
  commandResultJson,
  InvalidArgumentError,
  KeyedMutex,
  type ProcessedCommand,
  type RunOnceResult,
  resolveCommandTtlMs,
  StoreFailedError,
} from '../../core.js';
import { sqlStateOf, toStoreError } from '../driver/errors.js';
import { quoteIdentifier } from '../driver/identifier.js';
import type { PgQueryable, PgRow } from '../driver/pg-client.js';
import type { PostgresTransaction } from '../driver/transaction.js';
import { isUnstorableJsonError, runQuery, toDate } from '../driver/values.js';
import { type CommandLogSql, commandLogSql } from './command-log-sql.js';

/**
 * What {@link PostgresCommandLog} and {@link PostgresProcessedEventStore} need of an event store:
 * its schema and its transactions. A {@link PostgresEventStore} fits.
 *
 * @category Idempotency
 */
export interface PostgresTransactionRunner {
  /** The schema holding the store's tables (unquoted); the log's table lives there too. */
  readonly schema: string;
  /** Runs `work` in one transaction (see {@link PostgresEventStore.withTransaction}). */
  withTransaction<T>(work: (tx: PostgresTransaction) => Promise<T>): Promise<T>;
}

/**
 * Options of {@link PostgresCommandLog}.
 *
 * @category Idempotency
 */
export interface PostgresCommandLogOptions extends CommandLogOptions {
  /**
   * The event store the commands append to. The log writes its records in the store's schema,
   * in the store's transactions, so a record and the command's events commit together.
   */
  readonly store: PostgresTransactionRunner;
  /**
   * Runs {@link PostgresCommandLog.find} and {@link PostgresCommandLog.purgeExpired} outside a
   * transaction, such as the `pg.Pool` the store was made with.
   * @defaultValue a transaction of `store` (two more round trips per call)
   */
  readonly pool?: PgQueryable;
  /**
   * How long a duplicate waits for a concurrent run of the same command id before giving up with
   * {@link CommandInProgressError}. Unset, it waits until that run commits (then returns its
   * result) or rolls back (then runs itself), however long that takes.
   * @defaultValue undefined (wait)
   */
  readonly lockTimeoutMs?: number;
}

interface CommandRow extends PgRow {
  result: unknown;
  processed_at: Date | string;
  expires_at: Date | string;
}

const SQLSTATE_LOCK_NOT_AVAILABLE = '55P03';

/**
 * The PostgreSQL {@link CommandLog}: a `processed_commands` record per command id, written in the
 * SAME transaction as the command's events (created by {@link migrate}, migration 3).
 *
 * `runOnce(commandId, work)` opens a transaction with `store.withTransaction`, claims the id
 * with `INSERT … ON CONFLICT (command_id) DO UPDATE … WHERE expired`, runs `work(tx)` (appends
 * through `tx.append`, your own SQL through `tx.client`), writes the result into the claimed row
 * and commits. So:
 *
 * - **No crash can let a retried command append twice**: the events and the record commit
 *   together or not at all. A crash, a lost connection or an error anywhere before COMMIT rolls
 *   both back, and the retry runs the command afresh.
 * - **Concurrent duplicates**: the claim of the first transaction holds the unique key; a second
 *   one's claim waits on it. When the first commits, the second finds the record and returns its
 *   result (`duplicate: true`) without running; when it rolls back, the second claims the id and
 *   runs. Exactly one run appends. With `lockTimeoutMs` a duplicate that waited that long throws
 *   {@link CommandInProgressError} instead (nothing was written; retry later).
 * - **Expiry**: a record past `expiresAt` (`ttlHours` after it was written, default 72) counts
 *   as absent: the id runs again and the claim takes the row over. Delete expired rows with
 *   {@link PostgresCommandLog.purgeExpired} on a schedule.
 *
 * Times come from the `clock` option (the application's clock), not from the database's.
 *
 * Keep `work` short: it runs inside the open transaction, and duplicates wait for it (those of
 * this process in memory, holding no connection). {@link annals!AggregateRepository} loads the aggregate
 * before, and runs the command and appends inside.
 *
 * @example
 * ```ts
 * const pg = await createPostgres({ connectionString, registry, commands: { ttlHours: 24 } });
 * // or by hand: new PostgresCommandLog({ store: pg.eventStore, pool: pg.pool, ttlHours: 24 })
 * const orders = new AggregateRepository(pg.eventStore, {
 *   create: (id) => new OrderAggregate(id),
 *   commands: pg.commandLog,
 * });
 * await orders.execute('order-1', (order) => order.ship('DHL', 'T-1'), { metadata: { commandId: 'req-7f3a' } });
 * ```
 *
 * @category Idempotency
 */
export class PostgresCommandLog implements CommandLog<PostgresTransaction> {
  readonly #store: PostgresTransactionRunner;
  readonly #pool: PgQueryable | undefined;
  readonly #ttlMs: number;
  readonly #clock: () => Date;
  readonly #lockTimeout: string | undefined;
  readonly #lockTimeoutMs: number | undefined;
  readonly #sql: CommandLogSql;
  /** Duplicates within this process wait here, holding no connection (see `runOnce`). */
  readonly #inProcess = new KeyedMutex();

  constructor(options: PostgresCommandLogOptions) {
    if (typeof options?.store?.withTransaction !== 'function') {
      throw new InvalidArgumentError(
        'PostgresCommandLog needs the `store` the commands append to (a PostgresEventStore)',
      );
    }
    if (options.pool !== undefined && typeof options.pool?.query !== 'function') {
      throw new InvalidArgumentError('PostgresCommandLog: `pool` must be a pg.Pool or another PgQueryable');
    }
    const { lockTimeoutMs } = options;
    if (lockTimeoutMs !== undefined && !(Number.isSafeInteger(lockTimeoutMs) && lockTimeoutMs >= 1)) {
      throw new InvalidArgumentError(
        `PostgresCommandLog: lockTimeoutMs must be an integer >= 1; got ${String(lockTimeoutMs)}`,
      );
    }
    this.#store = options.store;
    this.#pool = options.pool;
    this.#ttlMs = resolveCommandTtlMs(options.ttlHours);
    this.#clock = options.clock ?? (() => new Date());
    this.#lockTimeout = lockTimeoutMs === undefined ? undefined : `${lockTimeoutMs}ms`;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#sql = commandLogSql(quoteIdentifier('schema', options.store.schema));
  }

  async runOnce<T>(
    commandId: string,
    work: (unit: PostgresTransaction) => Promise<T>,
  ): Promise<RunOnceResult<T>> {
    assertValidId('commandId', commandId);
    if (typeof work !== 'function') throw new InvalidArgumentError('runOnce needs a `work` function');
    // Calls of this process with one id queue here rather than each holding a connection while
    // blocked on the claim: `work` (a repository's command) may need a connection of the pool.
    const wait =
      this.#lockTimeoutMs === undefined
        ? undefined
        : { timeoutMs: this.#lockTimeoutMs, onTimeout: () => new CommandInProgressError(commandId) };
    return this.#inProcess.run(commandId, () => this.#runOnceInTransaction(commandId, work), wait);
  }

  async #runOnceInTransaction<T>(
    commandId: string,
    work: (unit: PostgresTransaction) => Promise<T>,
  ): Promise<RunOnceResult<T>> {
    return this.#store.withTransaction(async (tx): Promise<RunOnceResult<T>> => {
      const processedAt = this.#clock();
      const expiresAt = new Date(processedAt.getTime() + this.#ttlMs);
      if (!(await this.#claim(tx.client, commandId, processedAt, expiresAt))) {
        // The claim locked the live record, so it is there to read.
        const rows = await this.#query<CommandRow>(tx.client, this.#sql.read, [commandId], 'runOnce');
        const row = rows[0];
        if (!row) throw new StoreFailedError(`runOnce: the record of "${commandId}" vanished`);
        const record = toRecord(commandId, row);
        return { duplicate: true, result: record.result as T, record };
      }
      let aggregateId: string | null = null;
      const unit: PostgresTransaction = {
        ...tx,
        append: (id, expectedVersion, events) => {
          aggregateId ??= id;
          return tx.append(id, expectedVersion, events);
        },
      };
      const result = await work(unit);
      const resultJson = commandResultJson(commandId, result);
      try {
        await tx.client.query(this.#sql.record, [commandId, resultJson, aggregateId]);
      } catch (error) {
        if (isUnstorableJsonError(error)) {
          throw new InvalidArgumentError(
            `command "${commandId}": PostgreSQL jsonb cannot store its result (text with \\u0000 or a lone surrogate)`,
          );
        }
        throw toStoreError(error, 'runOnce: record');
      }
      return {
        duplicate: false,
        result,
        record: { commandId, result: JSON.parse(resultJson), processedAt, expiresAt },
      };
    });
  }

  async find(commandId: string): Promise<ProcessedCommand | undefined> {
    assertValidId('commandId', commandId);
    const rows = await this.#outside((client) =>
      this.#query<CommandRow>(client, this.#sql.find, [commandId, this.#clock()], 'find'),
    );
    return rows[0] ? toRecord(commandId, rows[0]) : undefined;
  }

  /**
   * Deletes the records whose expiry has passed (by the `clock`) and returns how many. Schedule it,
   * for example hourly; see docs/idempotency.md.
   */
  async purgeExpired(): Promise<number> {
    const now = this.#clock();
    return this.#outside(async (client) => {
      const result = await runQuery(client, this.#sql.purge, [now], 'purgeExpired');
      return result.rowCount ?? 0;
    });
  }

  /** Claims the id; true when this transaction may run the command. */
  async #claim(client: PgQueryable, commandId: string, processedAt: Date, expiresAt: Date): Promise<boolean> {
    let previous: string | undefined;
    if (this.#lockTimeout) {
      const rows = await this.#query<{ previous: string }>(
        client,
        this.#sql.setLockTimeout,
        [this.#lockTimeout],
        'runOnce: lock_timeout',
      );
      previous = rows[0]?.previous;
    }
    let claimed: boolean;
    try {
      claimed = (await client.query(this.#sql.claim, [commandId, processedAt, expiresAt])).rows.length > 0;
    } catch (error) {
      if (this.#lockTimeout && sqlStateOf(error) === SQLSTATE_LOCK_NOT_AVAILABLE) {
        throw new CommandInProgressError(commandId);
      }
      throw toStoreError(error, 'runOnce: claim');
    }
    if (previous !== undefined) {
      await this.#query(client, this.#sql.restoreLockTimeout, [previous], 'runOnce: lock_timeout');
    }
    return claimed;
  }

  /** Runs a read or the purge on the pool, or in a transaction of the store without one. */
  #outside<R>(run: (client: PgQueryable) => Promise<R>): Promise<R> {
    if (this.#pool) return run(this.#pool);
    return this.#store.withTransaction((tx) => run(tx.client));
  }

  async #query<TRow extends PgRow>(
    client: PgQueryable,
    text: string,
    values: unknown[],
    operation: string,
  ): Promise<TRow[]> {
    return (await runQuery<TRow>(client, text, values, operation)).rows;
  }
}

function toRecord(commandId: string, row: CommandRow): ProcessedCommand {
  return {
    commandId,
    result: row.result,
    processedAt: toDate(row.processed_at),
    expiresAt: toDate(row.expires_at),
  };
}
