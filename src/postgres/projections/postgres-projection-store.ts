import {
  assertFence,
  assertProjectionName,
  type CheckpointUpdate,
  type DeadLetter,
  InvalidArgumentError,
  isTransientError,
  type ListDeadLettersOptions,
  LOG_START,
  type NewDeadLetter,
  type ProjectionCheckpoint,
  type ProjectionLease,
  type ProjectionStore,
  type ProjectionTransaction,
  type ResetCheckpointOptions,
  StoreFailedError,
} from '../../core.js';
import { isTransientDriverError, sqlStateOf } from '../driver/errors.js';
import { quoteIdentifier, resolveSchemaName } from '../driver/identifier.js';
import { assertLogPosition } from '../driver/log-position-param.js';
import type { PgPool, PgQueryable, PgRow } from '../driver/pg-client.js';
import { runInTransaction } from '../driver/transaction.js';
import { runQuery, toDate } from '../driver/values.js';
import { type MigrateResult, migrate } from '../schema/migrate.js';
import { type DeadLetterRow, deadLetterValues, toDeadLetter } from './dead-letter-codec.js';
import {
  AdvisoryLockLeases,
  InProcessLeases,
  type LeaseKeeper,
  type ProjectionLeaseHolder,
} from './projection-lease.js';
import { type ProjectionStoreSql, projectionStoreSql } from './projection-store-sql.js';

/**
 * What handlers and hooks of a PostgreSQL projection receive: a connection inside the batch's
 * transaction. Write the read model through `client`; those writes commit together with the
 * checkpoint that moves past their events, or not at all.
 *
 * @example
 * ```ts
 * const orderStatus = defineProjection<PostgresProjectionContext>()({
 *   name: 'order-status',
 *   events: [OrderShipped],
 *   handlers: {
 *     OrderShipped: async (event, { client }) => {
 *       await client.query('UPDATE app.order_status SET status = $2 WHERE order_id = $1', [event.aggregateId, 'shipped']);
 *     },
 *   },
 * });
 * ```
 *
 * @category Projections
 */
export interface PostgresProjectionContext {
  /**
   * The transaction's connection. Use it for every read-model statement of the handler; it
   * refuses work once the transaction has ended. Do not run `BEGIN`, `COMMIT` or `ROLLBACK` on it.
   */
  readonly client: PgQueryable;
  /** The projection store's schema (unquoted), for read models that live beside it. */
  readonly schema: string;
}

/**
 * How leases are held; see {@link PostgresProjectionStoreOptions.leaseMode}.
 *
 * @category Projections
 */
export type PostgresLeaseMode = 'advisory-lock' | 'in-process';

/**
 * Options of {@link PostgresProjectionStore}.
 *
 * @category Projections
 */
export interface PostgresProjectionStoreOptions {
  /**
   * The connections: a `pg.Pool`, or {@link pgliteAsPool} around a PGlite instance (the same
   * pool object as the event store's, so PGlite's one connection is shared in turn).
   */
  readonly pool: PgPool;
  /**
   * The schema of `projection_checkpoints` and `projection_dead_letters` (migration 2 of
   * {@link migrate}). Usually the event store's schema.
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
  /**
   * How leases are held. `'advisory-lock'`: a session advisory lock on a connection of
   * `leasePool` held for the lease's life, so one runner per projection across processes and
   * machines. `'in-process'`: in this process's memory (for PGlite, whose one connection cannot
   * exclude itself).
   * @defaultValue `'in-process'` for a {@link pgliteAsPool} pool, `'advisory-lock'` otherwise
   */
  readonly leaseMode?: PostgresLeaseMode;
  /**
   * Where lease connections come from. Each held lease keeps one connection checked out, so a
   * runner with N projections needs N connections on top of those for batches and LISTEN.
   * @defaultValue `pool`
   */
  readonly leasePool?: PgPool;
  /**
   * The `idle_session_timeout` of lease sessions, in milliseconds: if the holder goes silent
   * (its machine vanished without closing the connection), the server ends the session and frees
   * the lock after this long. Keep it well above the runner's `leaseRenewMs`, whose renewals keep
   * the session busy. `0` keeps the server's setting. Ignored on PostgreSQL 13.
   * @defaultValue 30000
   */
  readonly leaseSessionTimeoutMs?: number;
}

/** SQLSTATEs that mean "try again" rather than "this event is bad". */
/**
 * The PostgreSQL {@link ProjectionStore}: checkpoints and dead letters in tables of the schema
 * (created by {@link migrate}, migration 2), read models written by handlers through a client
 * bound to the batch's transaction, and one runner per projection through advisory-lock leases.
 *
 * Each unit of work is one transaction: `BEGIN`, the handlers' statements, the checkpoint's
 * compare-and-set, `COMMIT`. A crash anywhere in between leaves neither the writes nor the new
 * checkpoint, so every event takes effect in the read model exactly once.
 *
 * @example
 * ```ts
 * const projectionStore = new PostgresProjectionStore({ pool, schema: 'annals' });
 * const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [orderReadModel] });
 * runner.start();
 * ```
 *
 * @category Projections
 */
export class PostgresProjectionStore implements ProjectionStore<PostgresProjectionContext> {
  /** The schema the store uses, unquoted. */
  readonly schema: string;
  /** How the store holds leases. */
  readonly leaseMode: PostgresLeaseMode;
  readonly #pool: PgPool;
  readonly #sql: ProjectionStoreSql;
  readonly #leases: LeaseKeeper;

  constructor(options: PostgresProjectionStoreOptions) {
    if (!options?.pool || typeof options.pool.query !== 'function') {
      throw new InvalidArgumentError(
        'PostgresProjectionStore needs a `pool` (a pg.Pool or pgliteAsPool(db))',
      );
    }
    this.schema = resolveSchemaName(options.schema);
    this.#pool = options.pool;
    this.#sql = projectionStoreSql(quoteIdentifier('schema', this.schema));
    const leaseMode = options.leaseMode ?? (isPGlitePool(options.pool) ? 'in-process' : 'advisory-lock');
    if (leaseMode !== 'advisory-lock' && leaseMode !== 'in-process') {
      throw new InvalidArgumentError('leaseMode must be "advisory-lock" or "in-process"');
    }
    const sessionTimeoutMs = options.leaseSessionTimeoutMs ?? 30_000;
    if (!Number.isSafeInteger(sessionTimeoutMs) || sessionTimeoutMs < 0) {
      throw new InvalidArgumentError('leaseSessionTimeoutMs must be an integer >= 0');
    }
    const leasePool = options.leasePool ?? options.pool;
    if (typeof leasePool.connect !== 'function') {
      throw new InvalidArgumentError('leasePool must be a pool (a pg.Pool)');
    }
    this.leaseMode = leaseMode;
    this.#leases =
      leaseMode === 'in-process'
        ? new InProcessLeases(leasePool, this.schema)
        : new AdvisoryLockLeases({ pool: leasePool, schema: this.schema, sessionTimeoutMs });
  }

  /** Runs {@link migrate} for the store's schema on its pool. */
  migrate(): Promise<MigrateResult> {
    return migrate(this.#pool, { schema: this.schema });
  }

  /**
   * Runs `work` in one database transaction; see {@link ProjectionStore.transaction}. Its
   * `context.client` is the transaction's connection. Errors of `work` are rethrown unchanged
   * after the rollback; failures of `BEGIN` and `COMMIT` become annals errors ({@link annals!StoreUnavailableError} when transient, {@link annals!CommitOutcomeUnknownError} when the connection died during COMMIT, {@link StoreFailedError} otherwise).
   */
  transaction<T>(
    work: (transaction: ProjectionTransaction<PostgresProjectionContext>) => Promise<T>,
  ): Promise<T> {
    return runInTransaction(this.#pool, (client) => {
      const context: PostgresProjectionContext = Object.freeze({ client, schema: this.schema });
      return work({
        context,
        saveCheckpoint: (projection, update) => this.#saveCheckpoint(client, projection, update),
        resetCheckpoint: (projection, options) => this.#resetCheckpoint(client, projection, options),
        addDeadLetter: (letter) => this.#addDeadLetter(client, letter),
        removeDeadLetter: (id) => this.#removeDeadLetter(client, id),
      });
    });
  }

  async loadCheckpoint(projection: string): Promise<ProjectionCheckpoint> {
    assertProjectionName(projection);
    const rows = await this.#query<{
      transaction_id: string;
      global_position: string;
      last_event_timestamp: Date | string | null;
      updated_at: Date | string | null;
    }>(this.#pool, this.#sql.loadCheckpoint, [projection], 'loadCheckpoint');
    const row = rows[0];
    if (!row) return { projection, position: LOG_START, lastEventTimestamp: undefined, updatedAt: undefined };
    return {
      projection,
      position: { transactionId: BigInt(row.transaction_id), globalPosition: BigInt(row.global_position) },
      lastEventTimestamp: row.last_event_timestamp === null ? undefined : toDate(row.last_event_timestamp),
      updatedAt: row.updated_at === null ? undefined : toDate(row.updated_at),
    };
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    if (!isDeadLetterId(id)) return undefined;
    const rows = await this.#query<DeadLetterRow>(this.#pool, this.#sql.getDeadLetter, [id], 'getDeadLetter');
    return rows[0] && toDeadLetter(rows[0]);
  }

  async listDeadLetters(projection: string, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    assertProjectionName(projection);
    const { limit = 100, offset = 0 } = options;
    if (!Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError('listDeadLetters: limit must be an integer >= 1 and offset >= 0');
    }
    const rows = await this.#query<DeadLetterRow>(
      this.#pool,
      this.#sql.listDeadLetters,
      [projection, limit, offset],
      'listDeadLetters',
    );
    return rows.map(toDeadLetter);
  }

  async countDeadLetters(projection: string): Promise<number> {
    assertProjectionName(projection);
    const rows = await this.#query<{ count: string }>(
      this.#pool,
      this.#sql.countDeadLetters,
      [projection],
      'countDeadLetters',
    );
    return Number(rows[0]?.count ?? 0);
  }

  /**
   * Takes a projection's lease for `owner`; `undefined` when anyone holds it. With
   * `'advisory-lock'` the lease keeps a connection of `leasePool` checked out until released or
   * lost; `renew()` checks that this session is alive and still holds the lock. When the holder
   * dies, the server ends its session and the lock is free for the next runner.
   *
   * Once it has the lock, it increments the projection's `fence` in `projection_checkpoints` (the
   * row is inserted at the start of the log when missing) in a transaction of its own, which waits
   * for a batch of the previous holder that already saved the checkpoint; the lease carries the new
   * {@link ProjectionLease.fence}, and saves under an older one fail.
   */
  async tryAcquireLease(projection: string, owner: string): Promise<ProjectionLease | undefined> {
    assertProjectionName(projection);
    if (typeof owner !== 'string' || owner === '') {
      throw new InvalidArgumentError('a lease owner must be a non-empty string');
    }
    return this.#leases.tryAcquire(projection, owner, (client) => this.#incrementFence(client, projection));
  }

  /**
   * Who holds a projection's lease right now (any process), or `undefined` when nobody does.
   * With `'advisory-lock'` it reads `pg_locks` and `pg_stat_activity`: the holding session's
   * pid, and the runner's `owner` from the session's `application_name`.
   */
  leaseHolder(projection: string): Promise<ProjectionLeaseHolder | undefined> {
    assertProjectionName(projection);
    return this.#leases.holder(projection);
  }

  /**
   * True for errors that mean the database failed rather than a handler: lost or refused
   * connections, server shutdown, serialization failures and deadlocks, too many connections,
   * lock timeouts, and the transient annals errors ({@link isTransientError}). Runners retry those
   * without counting them against a handler and never park an event because of them.
   */
  isTransientError(error: unknown): boolean {
    return isTransientError(error) || isTransientDriverError(error);
  }

  /** Gives the projection's new lease holder the next fence; see {@link ProjectionLease.fence}. */
  async #incrementFence(client: PgQueryable, projection: string): Promise<bigint> {
    const rows = await this.#query<{ fence: string }>(
      client,
      this.#sql.incrementFence,
      [projection],
      'tryAcquireLease',
    );
    const fence = rows[0]?.fence;
    if (fence === undefined) throw new StoreFailedError('tryAcquireLease: the fence update returned no row');
    return BigInt(fence);
  }

  async #saveCheckpoint(client: PgQueryable, projection: string, update: CheckpointUpdate): Promise<boolean> {
    assertProjectionName(projection);
    if (typeof update !== 'object' || update === null) {
      throw new InvalidArgumentError('saveCheckpoint needs { expected, position, lastEventTimestamp }');
    }
    const { expected, position } = update;
    assertLogPosition(expected, 'saveCheckpoint: expected');
    assertLogPosition(position, 'saveCheckpoint: position');
    if (!(update.lastEventTimestamp instanceof Date) || Number.isNaN(update.lastEventTimestamp.getTime())) {
      throw new InvalidArgumentError('saveCheckpoint: lastEventTimestamp must be a valid Date');
    }
    const { fence } = update;
    assertFence(fence, 'saveCheckpoint');
    const rows = await this.#query(
      client,
      this.#sql.saveCheckpoint,
      [
        projection,
        expected.transactionId.toString(),
        expected.globalPosition.toString(),
        position.transactionId.toString(),
        position.globalPosition.toString(),
        update.lastEventTimestamp,
        fence === undefined ? null : fence.toString(),
      ],
      'saveCheckpoint',
    );
    return rows.length === 1;
  }

  async #resetCheckpoint(
    client: PgQueryable,
    projection: string,
    options: ResetCheckpointOptions = {},
  ): Promise<boolean> {
    assertProjectionName(projection);
    const { fence } = options;
    assertFence(fence, 'resetCheckpoint');
    const rows = await this.#query(
      client,
      this.#sql.resetCheckpoint,
      [projection, fence === undefined ? null : fence.toString()],
      'resetCheckpoint',
    );
    if (rows.length === 0) return false;
    await this.#query(client, this.#sql.deleteDeadLettersOf, [projection], 'resetCheckpoint');
    return true;
  }

  async #addDeadLetter(client: PgQueryable, letter: NewDeadLetter): Promise<string> {
    if (typeof letter !== 'object' || letter === null || typeof letter.event !== 'object') {
      throw new InvalidArgumentError('addDeadLetter needs a dead letter with an event');
    }
    assertProjectionName(letter.projection);
    const rows = await this.#query<{ id: string }>(
      client,
      this.#sql.addDeadLetter,
      deadLetterValues(letter),
      'addDeadLetter',
    );
    const id = rows[0]?.id;
    if (id === undefined) throw new StoreFailedError('addDeadLetter: the insert returned no id');
    return String(id);
  }

  async #removeDeadLetter(client: PgQueryable, id: string): Promise<boolean> {
    if (!isDeadLetterId(id)) return false;
    const rows = await this.#query(client, this.#sql.removeDeadLetter, [id], 'removeDeadLetter');
    return rows.length === 1;
  }

  async #query<TRow extends PgRow>(
    client: PgQueryable,
    text: string,
    values: unknown[],
    operation: string,
  ): Promise<TRow[]> {
    try {
      return (await runQuery<TRow>(client, text, values, operation)).rows;
    } catch (error) {
      if (sqlStateOf(error) === '42P01') {
        throw new StoreFailedError(
          `${operation}: the projection tables are missing in schema "${this.schema}"; run the migrations (annals migrate)`,
          { cause: (error as Error).cause, sqlState: '42P01' },
        );
      }
      throw error;
    }
  }
}

/** Dead-letter ids are the text of a positive bigint; anything else names no dead letter. */
function isDeadLetterId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= 9223372036854775807n;
}

/** True for a pool made by {@link pgliteAsPool}: one in-process connection. */
function isPGlitePool(pool: PgPool): boolean {
  const db = (pool as { db?: { exec?: unknown } }).db;
  return typeof db?.exec === 'function' && typeof pool.listen === 'function';
}
