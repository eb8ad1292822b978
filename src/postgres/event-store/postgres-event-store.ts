import {
  type AnnalsLogger,
  type AppendResult,
  assertValidId,
  type CountAfterOptions,
  decodeLogPage,
  type EventRegistry,
  type ExpectedVersionMode,
  getDefaultLogger,
  type IEventStore,
  InvalidArgumentError,
  instrumentAppend,
  instrumentLoad,
  LOG_START,
  type LoadOptions,
  type LogHead,
  type LogHorizon,
  type LogPosition,
  type NewEvent,
  normaliseLimit,
  normaliseLoadRange,
  normaliseTypes,
  type ReadAllOptions,
  type ReadAllResult,
  type StoredEvent,
  StoreFailedError,
  type StoreTelemetryTarget,
  safeLog,
  storeTelemetryTarget,
  type Unsubscribe,
} from '../../core.js';
import { toStoreError } from '../driver/errors.js';
import { appendedChannel, quoteIdentifier, resolveSchemaName } from '../driver/identifier.js';
import { assertLogPosition } from '../driver/log-position-param.js';
import type { PgPool, PgQueryable, PgRow } from '../driver/pg-client.js';
import { queryKeepingConnection } from '../driver/pool-query.js';
import { type PostgresTransaction, runInTransaction } from '../driver/transaction.js';
import { runQuery } from '../driver/values.js';
import { type MigrateResult, migrate } from '../schema/migrate.js';
import { AppendAnnouncer } from './append-announcer.js';
import { AppendCoalescer, isCoalescible } from './append-coalescer.js';
import { isUniqueViolation, toAppendError } from './append-errors.js';
import {
  appendFunctionValues,
  fastInsertValues,
  freshAppendResult,
  type PreparedAppend,
  prepareAppend,
} from './append-input.js';
import { AppendListeners } from './append-listeners.js';
import { decodeEventRows, queryEventRows, type RawEventRow, rawEventOf, toRawEvents } from './event-rows.js';
import {
  type AppendRow,
  type EventRow,
  type EventStoreSql,
  eventStoreSql,
  HEAD_ATTEMPTS,
  type HeadRow,
  toRawEvent,
} from './event-store-sql.js';
import { HorizonReader } from './horizon-reader.js';
import type { HorizonScope } from './horizon-sql.js';

/**
 * Options of {@link PostgresEventStore}.
 *
 * @category Stores
 */
export interface PostgresEventStoreOptions {
  /** The connections: a `pg.Pool`, or {@link pgliteAsPool} around a PGlite instance. */
  readonly pool: PgPool;
  /** The event types the store accepts, with their schemas (and upcasters). */
  readonly registry: EventRegistry;
  /**
   * The PostgreSQL schema holding the store's tables (create it with {@link migrate}).
   * Lower-case letters, digits and underscores only.
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
  /**
   * End the pool when the store is closed. Set it when the pool was made for this store only.
   * @defaultValue false
   */
  readonly ownsPool?: boolean;
  /**
   * How long to wait before listening again after the LISTEN connection failed.
   * @defaultValue 1000
   */
  readonly listenReconnectDelayMs?: number;
  /**
   * The store announces its committed appends with a NOTIFY sent after the commit, at most one
   * per this many milliseconds (the first at once; later ones in the window are merged).
   * Appends made with `append(..., { client })` NOTIFY inside their transaction instead. With
   * write coalescing on, a NOTIFY due while appends are waiting is sent with their group, in
   * its transaction, instead of on its own.
   * @defaultValue 5
   */
  readonly notifyThrottleMs?: number;
  /**
   * Told about failures of the LISTEN connection or of a NOTIFY. They never fail an append;
   * LISTEN is retried, and readers keep polling. They are logged as well (see `logger`).
   * @defaultValue none
   */
  readonly onNotificationError?: (error: unknown) => void;
  /**
   * Where the store logs: failures of LISTEN/NOTIFY as warnings (the 1st, 2nd, 4th, 8th, ... in
   * the store's life, so a database that stays down does not flood the log), with `schema`,
   * `channel`, `failures` and `err`.
   * @defaultValue the default logger (`setDefaultLogger` of `annals`)
   */
  readonly logger?: AnnalsLogger;
  /**
   * What bounds the readable log (see {@link PostgresEventStore.horizonScope}): `'auto'` uses the
   * unfinished transactions of this database only when the server allows it (a role that can read
   * `pg_stat_activity`, not PGlite, not a standby) and those of the whole server otherwise;
   * `'cluster'` always uses those of the whole server (`pg_snapshot_xmin`), as annals did before.
   * @defaultValue `'auto'`
   */
  readonly horizon?: 'auto' | 'cluster';
  /**
   * Write coalescing: single-event appends made while other appends of the store are running
   * are written together, in one INSERT and one commit, and each caller still gets its own
   * result (its own expected-version check, conflict, duplicate result or error). An append
   * made while none runs is sent at once; the others wait for a statement to finish or, while
   * fewer than `maxConcurrentAppends` run, for the end of the current turn of the event loop.
   * Appends with `options.client` or in {@link PostgresEventStore.withTransaction} are never
   * coalesced. See docs/postgres.md.
   * @defaultValue true
   */
  readonly coalesceAppends?: boolean;
  /**
   * How many append statements the store runs at once; further single-event appends wait and
   * are coalesced. Set it to the number of connections appends may use.
   * @defaultValue the pool's `options.max` (a `pg.Pool`'s size), else 10
   */
  readonly maxConcurrentAppends?: number;
  /**
   * The most appends written by one coalesced statement.
   * @defaultValue 64
   */
  readonly maxAppendGroupSize?: number;
}

/**
 * Options of {@link PostgresEventStore.append}.
 *
 * @category Stores
 */
export interface PostgresAppendOptions {
  /**
   * Run the append on this connection, for example inside a transaction you hold. The append
   * is then part of that transaction: it commits or rolls back with it.
   * @defaultValue a connection of the pool, autocommit
   */
  readonly client?: PgQueryable;
}

/**
 * Options of {@link PostgresEventStore.load}.
 *
 * @category Stores
 */
export interface PostgresLoadOptions extends LoadOptions {
  /**
   * Read on this connection (inside a transaction you hold, it sees its uncommitted appends).
   * @defaultValue a connection of the pool
   */
  readonly client?: PgQueryable;
}

const MAX_INT4 = 2_147_483_647;

/** The frontier columns of a filtered log read (see `EventStoreSql.readAllOfTypes`). */
interface FrontierColumns {
  frontierTransactionId: string | null;
  frontierGlobalPosition: string | null;
}

/**
 * The PostgreSQL event store: streams with optimistic concurrency and a global log that readers
 * follow without ever skipping an event. Works on a `pg.Pool` or, in process, on PGlite.
 *
 * - `append` is one round trip (usually a single INSERT; in a caller's transaction, after a
 *   conflict or for a stored event id, a call of the `append_events` function created by
 *   {@link migrate}), whatever the number of events, and enforces all four expected-version
 *   modes atomically with the unique index on `(aggregate_id, version)`.
 * - The global log is ordered by `(transactionId, globalPosition)` and only shows events whose
 *   transaction, and every transaction before it, has finished; see docs/postgres.md.
 * - {@link PostgresEventStore.withTransaction} runs appends and your own SQL in one transaction.
 *
 * Create the schema first with {@link migrate} (or use {@link createPostgres}, which does).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { NO_STREAM } from 'annals';
 * import { migrate, PostgresEventStore } from 'annals/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await migrate(pool);
 * const store = new PostgresEventStore({ pool, registry });
 * await store.append('order-1', NO_STREAM, [{ type: 'OrderCreated', aggregateType: 'Order', payload }]);
 * ```
 *
 * @category Stores
 */
export class PostgresEventStore implements IEventStore {
  /** The schema the store uses, unquoted. */
  readonly schema: string;
  /** The LISTEN/NOTIFY channel on which appends are announced. */
  readonly channel: string;
  readonly #pool: PgPool;
  readonly #registry: EventRegistry;
  readonly #sql: EventStoreSql;
  /** The log reads (`readAll`, `head`, `countAfter`) for each horizon scope. */
  readonly #logSqlByScope: Readonly<Record<HorizonScope, EventStoreSql>>;
  readonly #horizon: HorizonReader;
  readonly #ownsPool: boolean;
  readonly #listeners: AppendListeners;
  readonly #announcer: AppendAnnouncer;
  readonly #coalescer: AppendCoalescer | undefined;
  #closed: Promise<void> | undefined;
  readonly #telemetry: StoreTelemetryTarget;

  constructor(options: PostgresEventStoreOptions) {
    if (!options?.pool || typeof options.pool.query !== 'function') {
      throw new InvalidArgumentError('PostgresEventStore needs a `pool` (a pg.Pool or pgliteAsPool(db))');
    }
    if (!options.registry) throw new InvalidArgumentError('PostgresEventStore needs a `registry`');
    const reconnectDelayMs = options.listenReconnectDelayMs ?? 1000;
    if (!Number.isFinite(reconnectDelayMs) || reconnectDelayMs < 0) {
      throw new InvalidArgumentError('listenReconnectDelayMs must be a number >= 0');
    }
    const notifyThrottleMs = options.notifyThrottleMs ?? 5;
    if (!Number.isFinite(notifyThrottleMs) || notifyThrottleMs < 0) {
      throw new InvalidArgumentError('notifyThrottleMs must be a number >= 0');
    }
    this.schema = resolveSchemaName(options.schema);
    this.channel = appendedChannel(this.schema);
    this.#telemetry = storeTelemetryTarget('postgresql', { system: 'postgresql', namespace: this.schema });
    const onError = { onError: notificationErrorReporter(this.schema, this.channel, options) };
    this.#pool = options.pool;
    this.#registry = options.registry;
    this.#ownsPool = options.ownsPool ?? false;
    if (options.horizon !== undefined && options.horizon !== 'auto' && options.horizon !== 'cluster') {
      throw new InvalidArgumentError("horizon must be 'auto' or 'cluster'");
    }
    const quotedSchema = quoteIdentifier('schema', this.schema);
    this.#sql = eventStoreSql(quotedSchema);
    this.#logSqlByScope = { cluster: this.#sql, database: eventStoreSql(quotedSchema, 'database') };
    this.#horizon = new HorizonReader(this.#pool, `${quotedSchema}.events`, options.horizon ?? 'auto');
    this.#listeners = new AppendListeners(this.#pool, this.channel, { reconnectDelayMs, ...onError });
    this.#coalescer = coalescerFor(options, quotedSchema, this.channel, this.#telemetry.append, (prepared) =>
      this.#append(this.#pool, prepared, true),
    );
    this.#announcer = new AppendAnnouncer(this.#pool, this.channel, {
      throttleMs: notifyThrottleMs,
      ...onError,
      ...(this.#coalescer ? { carrier: this.#coalescer } : {}),
    });
    this.#coalescer?.carryNotifications(this.#announcer);
  }

  /** The registry the store validates and decodes with. */
  get registry(): EventRegistry {
    return this.#registry;
  }

  /**
   * The connections the store uses. Hand them to the other PostgreSQL stores of the same
   * database (projection store, command log, snapshots) — on PGlite they must share this one.
   *
   * @example
   * ```ts
   * const store = new PostgresEventStore({ pool: pgliteAsPool(await PGlite.create()), registry });
   * const projections = new PostgresProjectionStore({ pool: store.pool, schema: store.schema });
   * ```
   */
  get pool(): PgPool {
    return this.#pool;
  }

  /** Runs {@link migrate} for the store's schema on its pool. */
  migrate(): Promise<MigrateResult> {
    return migrate(this.#pool, { schema: this.schema });
  }

  /**
   * Appends events in one round trip; see {@link IEventStore.append}. Every event is validated
   * and serialised before anything is sent. With `options.client` the append joins the
   * caller's transaction on that connection.
   */
  append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
    options: PostgresAppendOptions = {},
  ): Promise<AppendResult> {
    // On a caller's connection the store cannot see the commit, so append_events sends the
    // NOTIFY inside the transaction; otherwise the store announces the append after it.
    const inCallerTransaction = options.client !== undefined;
    return instrumentAppend(this.#telemetry, aggregateId, expectedVersion, events, async (traced) => {
      const prepared = prepareAppend(
        this.#registry,
        aggregateId,
        expectedVersion,
        traced,
        inCallerTransaction,
      );
      if (!inCallerTransaction) this.#assertOpen();
      const coalescer = inCallerTransaction ? undefined : this.#coalescer;
      const result =
        coalescer && isCoalescible(prepared)
          ? await coalescer.append(prepared)
          : await this.#append(options.client ?? this.#queryable(), prepared, !inCallerTransaction);
      if (!inCallerTransaction && !result.duplicate && result.events.length > 0) this.#appended();
      return result;
    });
  }

  /** The events of a stream in version order; see {@link IEventStore.load}. */
  load(aggregateId: string, options: PostgresLoadOptions = {}): Promise<StoredEvent[]> {
    return instrumentLoad(this.#telemetry, aggregateId, async () => {
      assertValidId('aggregateId', aggregateId);
      const { fromVersion, toVersion } = normaliseLoadRange(options);
      if (fromVersion > MAX_INT4 || toVersion < fromVersion) return [];
      const rows = await queryEventRows(
        options.client ? { client: options.client } : { pool: this.#openPool() },
        this.#sql.loadRaw,
        [aggregateId, fromVersion, Math.min(toVersion, MAX_INT4)],
        'load',
      );
      return decodeEventRows(this.#registry, rows);
    });
  }

  /**
   * The stream's current version, `0` when it does not exist. `options.client` reads on that
   * connection (inside a transaction you hold).
   */
  async streamVersion(aggregateId: string, options: { readonly client?: PgQueryable } = {}): Promise<number> {
    assertValidId('aggregateId', aggregateId);
    const rows = await this.#query<{ version: number }>(
      options.client ?? this.#queryable(),
      this.#sql.streamVersion,
      [aggregateId],
      'streamVersion',
    );
    return rows[0] ? Number(rows[0].version) : 0;
  }

  /**
   * Reads the global log after a position. Only events of finished transactions are returned,
   * and only up to the oldest transaction still running in this database (or on the server; see
   * {@link PostgresEventStore.horizonScope}): an event that commits later can never sort before
   * the page's end, so checkpointing `next` never skips.
   */
  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    // Only a missing `after` means the start: null or any other malformed value is refused.
    const after = options.after === undefined ? LOG_START : options.after;
    assertLogPosition(after, 'readAll: after');
    const limit = normaliseLimit(options.limit);
    const types = normaliseTypes(options.types);
    if (types) return this.#readAllOfTypes(after, limit, types, options);
    const rows = await queryEventRows(
      { pool: this.#openPool() },
      (await this.#logSql()).readAllRaw(limit),
      [after.transactionId.toString(), after.globalPosition.toString(), limit],
      'readAll',
    );
    const raws = toRawEvents(rows);
    const { events, undecodable } = decodeLogPage(this.#registry, raws, options.onUndecodable ?? 'throw');
    const last = raws.at(-1);
    return {
      events,
      undecodable,
      next: last ? { transactionId: last.transactionId, globalPosition: last.globalPosition } : after,
      caughtUp: raws.length < limit,
    };
  }

  /**
   * `readAll` filtered by type in SQL; `next` moves past the other types (to the frontier seen in
   * the same statement) when the page is not full.
   */
  async #readAllOfTypes(
    after: LogPosition,
    limit: number,
    types: readonly string[],
    options: ReadAllOptions,
  ): Promise<ReadAllResult> {
    const rows = (await queryEventRows(
      { pool: this.#openPool() },
      (
        await this.#logSql()
      ).readAllOfTypes,
      [after.transactionId.toString(), after.globalPosition.toString(), limit, types],
      'readAll',
    )) as Array<RawEventRow & FrontierColumns>;
    // An empty page is one row of nulls, with the frontier.
    const first = rows[0];
    const frontierTransactionId = first?.frontierTransactionId;
    const frontierGlobalPosition = first?.frontierGlobalPosition;
    const raws = toRawEvents(first?.eventId == null ? [] : rows);
    const decoded = decodeLogPage(this.#registry, raws, options.onUndecodable ?? 'throw');
    const last = raws.at(-1);
    const next =
      raws.length < limit && frontierTransactionId != null
        ? { transactionId: BigInt(frontierTransactionId), globalPosition: BigInt(frontierGlobalPosition!) }
        : last
          ? { transactionId: last.transactionId, globalPosition: last.globalPosition }
          : after;
    return {
      events: decoded.events,
      // The rows' frontier columns are no part of the raw events reported.
      undecodable: decoded.undecodable.map((entry) => ({ ...entry, raw: rawEventOf(entry.raw) })),
      next,
      caughtUp: raws.length < limit,
    };
  }

  /**
   * The last readable position of the global log. It includes every event committed before
   * the call unless an older transaction of the horizon's scope is still running (a log read
   * right after an append may show it a moment late; this read does not, see docs/postgres.md).
   */
  async head(): Promise<LogHead> {
    const statement = (await this.#logSql()).head;
    let row: HeadRow | undefined;
    try {
      // Read again while the horizon may have been too low (see HEAD_ATTEMPTS): what
      // `catchUp()` waits for must include every event committed before it was called.
      for (let attempt = 1; attempt <= HEAD_ATTEMPTS; attempt++) {
        [row] = (await this.#openPool().query<HeadRow>({ ...statement, values: [] })).rows;
        if (!row?.stale) break;
      }
    } catch (error) {
      throw toStoreError(error, 'head');
    }
    if (!row || row.global_position === null || row.transaction_id === null) {
      return { position: LOG_START, timestamp: undefined };
    }
    return {
      position: { transactionId: BigInt(row.transaction_id), globalPosition: BigInt(row.global_position) },
      timestamp: new Date(Number(row.timestamp)),
    };
  }

  /** How many readable events come after `position`. */
  async countAfter(position: LogPosition, options: CountAfterOptions = {}): Promise<bigint> {
    assertLogPosition(position, 'countAfter: position');
    const after = position;
    const types = normaliseTypes(options.types);
    const sql = await this.#logSql();
    const rows = await this.#query<{ count: string }>(
      this.#queryable(),
      types ? sql.countAfterOfTypes : sql.countAfter,
      types
        ? [after.transactionId.toString(), after.globalPosition.toString(), types]
        : [after.transactionId.toString(), after.globalPosition.toString()],
      'countAfter',
    );
    return BigInt(rows[0]?.count ?? '0');
  }

  /**
   * Which unfinished transactions bound the readable log: `'database'`, those of this store's
   * database only (a long transaction in another database of the server holds no reader back),
   * or `'cluster'`, those of the whole server. Chosen once per store, on the first read, from
   * the `horizon` option and what the server allows; see docs/postgres.md.
   */
  horizonScope(): Promise<HorizonScope> {
    this.#assertOpen();
    return this.#horizon.scope();
  }

  /**
   * The readable end of the log now: its scope, how many committed events wait behind an
   * unfinished transaction, and that transaction (pid, database, application, age) if there is
   * one. Projection status and `annals status` report it. Like {@link PostgresEventStore.head},
   * it reads again when the transaction bounding the horizon had ended before it looked, so it
   * never reports committed events as waiting behind a transaction that is gone.
   */
  readHorizon(): Promise<LogHorizon> {
    this.#assertOpen();
    return this.#horizon.read();
  }

  /**
   * Calls `listener` soon after events were appended: at once for appends of this store
   * object, and through LISTEN/NOTIFY for appends by anyone (once their transaction commits).
   * The first listener starts the LISTEN (with `pg` it holds one pool connection), the last
   * one to unsubscribe stops it. A hint only: readers keep polling as a fallback.
   */
  onAppended(listener: () => void): Unsubscribe {
    return this.#listeners.add(listener);
  }

  /**
   * Runs `work` in one database transaction: appends, loads and your own SQL on `tx.client`
   * commit together, or roll back together when `work` throws (its error is rethrown).
   *
   * Use only `tx` inside `work`: other calls on the store take other connections (and with
   * PGlite, which has one connection, they would wait for this transaction to end).
   *
   * @example
   * ```ts
   * await store.withTransaction(async (tx) => {
   *   await tx.client.query('INSERT INTO app.processed_commands (id) VALUES ($1)', [commandId]);
   *   await tx.append('order-1', 3, [itemAdded]);
   * });
   * ```
   */
  async withTransaction<T>(work: (tx: PostgresTransaction) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let appended = false;
    const result = await runInTransaction(this.#pool, (client) =>
      work({
        client,
        append: (aggregateId, expectedVersion, events) =>
          instrumentAppend(this.#telemetry, aggregateId, expectedVersion, events, async (traced) => {
            // Announced by the store once COMMIT has succeeded.
            const prepared = prepareAppend(this.#registry, aggregateId, expectedVersion, traced, false);
            const outcome = await this.#append(client, prepared, false);
            if (!outcome.duplicate && outcome.events.length > 0) appended = true;
            return outcome;
          }),
        load: (aggregateId, options) => this.load(aggregateId, { ...options, client }),
        streamVersion: (aggregateId) => this.streamVersion(aggregateId, { client }),
      }),
    );
    if (appended) this.#appended();
    return result;
  }

  /** Stops listening and, when the store owns its pool, ends it. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#coalescer?.idle();
      await Promise.all([this.#listeners.close(), this.#announcer.close()]);
      if (this.#ownsPool) await this.#pool.end?.();
    })();
    return this.#closed;
  }

  /** Wakes this store's listeners at once and announces the append to other processes. */
  #appended(): void {
    this.#listeners.wake();
    this.#announcer.announce();
  }

  /**
   * Runs an append. `autocommit` marks a statement that is its own transaction: it takes the
   * fast path, one INSERT whose versions follow the expected (or the last) version; the unique
   * index on `(aggregate_id, version)` refuses a version that a concurrent append wrote first.
   * When it writes nothing (the expectation does not hold) or hits a unique index (a version
   * taken concurrently, or a stored event id), the statement has rolled back and the append
   * runs once more through `append_events`, which tells a conflict (with the actual version)
   * from a retry of a stored append (the original result) and a foreign id
   * (DuplicateEventError). Inside a caller's transaction the function runs at once: it checks
   * the ids first and catches unique violations itself, since a failed statement would abort
   * the caller's transaction.
   */
  async #append(client: PgQueryable, prepared: PreparedAppend, autocommit: boolean): Promise<AppendResult> {
    if (autocommit && prepared.fast) {
      const sql = this.#sql;
      const statement = prepared.single
        ? prepared.fastAt
          ? prepared.base === 0
            ? sql.insertOneFirst
            : sql.insertOneAt
          : sql.insertOneAfterLast
        : prepared.fastAt
          ? sql.insertAt
          : sql.insertAfterLast;
      try {
        // A named statement: each connection prepares it once (parsing and planning this
        // INSERT costs more than running it).
        const { name, text } = statement;
        const values = fastInsertValues(prepared);
        // On a connection of its own, kept when the server refuses the INSERT (see queryKeepingConnection).
        const row = (await queryKeepingConnection<AppendRow>(this.#pool, { name, text, values })).rows[0];
        if (row && row.next_version !== null) return freshAppendResult(prepared, row);
      } catch (error) {
        if (!isUniqueViolation(error)) throw toAppendError(error, prepared);
      }
    }
    let row: AppendRow | undefined;
    try {
      const text = prepared.single ? this.#sql.appendOne : this.#sql.append;
      const values = appendFunctionValues(prepared);
      // A conflict is an error raised by append_events: on the pool, the connection is kept.
      row = (
        client === this.#pool
          ? await queryKeepingConnection<AppendRow>(this.#pool, text, values)
          : await client.query<AppendRow>(text, values)
      ).rows[0];
    } catch (error) {
      throw toAppendError(error, prepared);
    }
    if (!row) throw new StoreFailedError('append_events returned no row; is the schema migrated?');
    if (!row.duplicate) return freshAppendResult(prepared, row);
    // A retry of a stored append: read back what the original wrote.
    const ids = prepared.events.map((event) => event.eventId);
    const rows = await this.#query<EventRow>(client, this.#sql.loadByEventIds, [ids], 'append (retry)');
    return {
      aggregateId: prepared.aggregateId,
      nextExpectedVersion: row.next_version ?? 0,
      events: rows.map((stored) => this.#registry.decode(toRawEvent(stored))),
      duplicate: true,
    };
  }

  async #query<TRow extends PgRow>(
    client: PgQueryable,
    text: string,
    values: unknown[],
    operation: string,
  ): Promise<TRow[]> {
    return (await runQuery<TRow>(client, text, values, operation)).rows;
  }

  /** The log reads for the horizon scope in use (probed on the first read). */
  async #logSql(): Promise<EventStoreSql> {
    return this.#logSqlByScope[await this.#horizon.scope()];
  }

  #queryable(): PgQueryable {
    this.#assertOpen();
    return this.#pool;
  }

  /** The pool, for named statements (which a caller's connection may not take). */
  #openPool(): PgPool {
    this.#assertOpen();
    return this.#pool;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreFailedError('the PostgresEventStore is closed');
  }
}

/** The coalescer the options ask for (validated), or undefined when coalescing is off. */
function coalescerFor(
  options: PostgresEventStoreOptions,
  quotedSchema: string,
  channel: string,
  metricAttributes: StoreTelemetryTarget['append'],
  runAlone: ConstructorParameters<typeof AppendCoalescer>[3],
): AppendCoalescer | undefined {
  const { coalesceAppends = true, maxAppendGroupSize = 64 } = options;
  if (typeof coalesceAppends !== 'boolean')
    throw new InvalidArgumentError('coalesceAppends must be a boolean');
  const poolSize = options.pool.options?.max;
  const maxConcurrentAppends =
    options.maxConcurrentAppends ?? (Number.isSafeInteger(poolSize) && poolSize! > 0 ? poolSize! : 10);
  if (!Number.isSafeInteger(maxConcurrentAppends) || maxConcurrentAppends < 1) {
    throw new InvalidArgumentError('maxConcurrentAppends must be a whole number >= 1');
  }
  if (!Number.isSafeInteger(maxAppendGroupSize) || maxAppendGroupSize < 1 || maxAppendGroupSize > 10_000) {
    throw new InvalidArgumentError('maxAppendGroupSize must be a whole number from 1 to 10000');
  }
  if (!coalesceAppends) return undefined;
  return new AppendCoalescer(
    options.pool,
    quotedSchema,
    { maxConcurrent: maxConcurrentAppends, maxGroupSize: maxAppendGroupSize, channel, metricAttributes },
    runAlone,
  );
}

/** Logs LISTEN/NOTIFY failures (1st, 2nd, 4th, ...) and tells `onNotificationError`. */
function notificationErrorReporter(
  schema: string,
  channel: string,
  options: Pick<PostgresEventStoreOptions, 'logger' | 'onNotificationError'>,
): (error: unknown) => void {
  const logger = options.logger ?? getDefaultLogger();
  let failures = 0;
  return (error) => {
    failures += 1;
    if ((failures & (failures - 1)) === 0) {
      safeLog(
        logger,
        'warn',
        { schema, channel, failures, err: error },
        `LISTEN/NOTIFY on ${channel} failed (${failures} failure(s) so far); readers poll meanwhile and LISTEN is retried`,
      );
    }
    try {
      options.onNotificationError?.(error);
    } catch {
      // A failing listener must not stop notifications.
    }
  };
}
