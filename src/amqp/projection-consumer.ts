import { randomUUID } from 'node:crypto';
import {
  type AnnalsLogger,
  applyProjectionEvent,
  assertLogger,
  type EventRegistry,
  getDefaultLogger,
  type IEventStore,
  InvalidArgumentError,
  isTransientError,
  KeyedMutex,
  type LogFields,
  type ProcessedEventStore,
  type Projection,
  ProjectionError,
  type RawStoredEvent,
  type StoredEvent,
  safeLog,
} from '../core.js';
import type {
  AmqpChannel,
  AmqpConfirmChannel,
  AmqpConnect,
  AmqpConnection,
  AmqpMessage,
} from './amqp-shapes.js';
import {
  type ConsumerTelemetryTarget,
  consumerTelemetryTarget,
  type Settled,
  traceDelivery,
} from './amqp-telemetry.js';
import { assertAmqpUrl, connectAmqp } from './connect.js';
import { encodeEventMessage, rawEventOfMessage } from './message-codec.js';
import { AmqpDefaults, assertBrokerName, projectionQueueName, retryQueueName } from './topology.js';

/**
 * A projection fed by RabbitMQ: a worker that consumes the projection's queue and applies each
 * event exactly once to the read model, in version order per aggregate, with delayed retries and
 * a dead-letter queue.
 *
 * @module
 */

/**
 * Headers annals sets on messages it retries or dead-letters.
 *
 * @category Messaging
 */
export const FailureHeader = {
  /** Failed attempts so far (absent: none). */
  attempts: 'x-annals-attempts',
  /** The last error's message. */
  error: 'x-annals-error',
  /** The projection whose handler failed. */
  projection: 'x-annals-projection',
  /** The projection's main queue: where a replay sends the message. */
  queue: 'x-annals-queue',
  /** When the message was dead-lettered (ISO 8601). */
  failedAt: 'x-annals-failed-at',
  /** On a message held in the retry queue behind an earlier event of its aggregate: that event's id. */
  heldBehind: 'x-annals-held-behind',
} as const;

/**
 * The consumer name under which events sent to the dead-letter queue are recorded.
 *
 * @category Messaging
 */
export function deadLetterConsumerName(consumerName: string): string {
  return `${consumerName}#dead-letter`;
}

/**
 * Options of {@link ProjectionConsumer}.
 *
 * @category Messaging
 */
export interface ProjectionConsumerOptions<TContext, TUnit> {
  /** The projection to run: the same definition the log's `ProjectionRunner` runs. */
  readonly projection: Projection<TContext>;
  /**
   * Where processed events are recorded. Each event's handler runs inside
   * `processedEvents.runOnce(consumerName, eventId, work)`, so the read model's writes and the
   * record commit together: use the store of the read model's database.
   */
  readonly processedEvents: ProcessedEventStore<TUnit>;
  /**
   * Maps the processed-event store's unit of work to the projection's context. For PostgreSQL
   * (`PostgresProcessedEventStore`, whose unit is the transaction's client):
   * `(client) => ({ client, schema })`.
   */
  readonly context: (unit: TUnit) => TContext;
  /** The event store, read to fill gaps: events of an aggregate that arrive before earlier ones. */
  readonly eventStore: IEventStore;
  /**
   * Decodes message bodies (upcasting and validation, as on every read path).
   * @defaultValue the event store's `registry`, when it has one
   */
  readonly registry?: EventRegistry;
  /**
   * Opens a connection to the broker: amqplib's `connect` with your options, or any factory of
   * the {@link AmqpConnection} shape. Called again on every reconnect. Give `connect` or `url`.
   * @defaultValue `connectAmqp({ url, connectionName })` (amqplib, loaded on first use)
   */
  readonly connect?: AmqpConnect;
  /** The broker's URL (`amqp://user:password@host:5672/vhost`), when `connect` is not given. */
  readonly url?: string;
  /**
   * The connection's name in the broker (`connection_name` client property), with `url`.
   * @defaultValue `annals consumer <projection name>`
   */
  readonly connectionName?: string;
  /**
   * The topic exchange the relay publishes to.
   * @defaultValue `'domain_events'`
   */
  readonly exchange?: string;
  /**
   * The prefix of the projection's queue, `<queuePrefix><projection name>`.
   * @defaultValue `'projection_'`
   */
  readonly queuePrefix?: string;
  /**
   * Unacknowledged messages the broker hands this consumer at once (1 to 65535). Messages of
   * different aggregates are handled concurrently; those of one aggregate one after the other.
   * @defaultValue 10
   */
  readonly prefetch?: number;
  /**
   * How long a failed message waits in the retry queue before it comes back, in milliseconds
   * (the retry queue's `x-message-ttl`; changing it needs the retry queue deleted first, as the
   * broker refuses to redeclare a queue with other arguments).
   * @defaultValue 1000
   */
  readonly retryDelayMs?: number;
  /**
   * How many times a failing message is retried after its first failure before it goes to the
   * dead-letter queue (as the log runner's option of the same name); `0` dead-letters it at the
   * first failure.
   * @defaultValue 5
   */
  readonly maxRetryAttempts?: number;
  /**
   * The queue that receives messages whose retries are exhausted (shared by every projection).
   * @defaultValue `'dlq_failed_events'`
   */
  readonly deadLetterQueue?: string;
  /**
   * The consumer name of the processed-event records (`runOnce(consumerName, eventId, ...)`).
   * Keep it stable: a new name applies every event again.
   * @defaultValue the projection's name
   */
  readonly consumerName?: string;
  /**
   * The first pause before reconnecting after the connection or a channel dropped, in
   * milliseconds; it doubles after each failed attempt, up to `maxReconnectDelayMs`.
   * @defaultValue 1000
   */
  readonly reconnectDelayMs?: number;
  /**
   * The longest pause between two reconnection attempts, in milliseconds.
   * @defaultValue 30000
   */
  readonly maxReconnectDelayMs?: number;
  /**
   * The pause before a message whose handling failed on a transient store error
   * (`isTransientError`, or the `processedEvents` store's `isTransientError`: a lost connection, a
   * serialization failure) is requeued, in milliseconds.
   * Such failures never count as attempts.
   * @defaultValue 1000
   */
  readonly transientRetryDelayMs?: number;
  /**
   * Run the projection's `setup` hook when the consumer starts, in a unit of work of
   * `processedEvents` (it records one `<consumerName>#setup` entry per start).
   * @defaultValue true
   */
  readonly runSetup?: boolean;
  /**
   * Called with each failure the consumer handles on its own: a retry, a dead letter, a transient
   * error, a dropped connection. They are logged as well (see `logger`).
   * @defaultValue none
   */
  readonly onError?: (error: ProjectionError) => void;
  /**
   * Where the consumer logs those failures, as warnings with `projection`, `queue`, `eventId`,
   * `eventType`, `aggregateId`, `attempt`, `correlationId` and `err` where they apply.
   * @defaultValue the default logger (`setDefaultLogger` of `annals`)
   */
  readonly logger?: AnnalsLogger;
}

/**
 * Where a {@link ProjectionConsumer} stands.
 *
 * @category Messaging
 */
export type ProjectionConsumerState = 'idle' | 'running' | 'reconnecting' | 'stopping' | 'stopped';

/**
 * What {@link ProjectionConsumer.status} reports.
 *
 * @category Messaging
 */
export interface ProjectionConsumerStatus {
  /** What the consumer is doing. */
  readonly state: ProjectionConsumerState;
  /** The projection's main queue. */
  readonly queue: string;
  /** Messages being handled now. */
  readonly inFlight: number;
  /** Aggregates whose later events wait behind an event in the retry queue. */
  readonly waitingAggregates: number;
  /** Messages acknowledged since the consumer was created. */
  readonly acknowledged: number;
  /** The last failure reported to `onError`. */
  readonly lastError: ProjectionError | undefined;
}

interface Session {
  readonly connection: AmqpConnection;
  readonly channel: AmqpChannel;
  readonly publisher: AmqpConfirmChannel;
  consumerTag: string | undefined;
  closed: boolean;
}

/** An earlier event of the aggregate, applied to fill a gap, failed. */
class GapFillError extends Error {
  constructor(
    readonly event: StoredEvent,
    override readonly cause: unknown,
  ) {
    super(
      `earlier event ${event.eventId} (${event.type}, version ${event.version} of "${event.aggregateId}") failed: ${messageOf(cause)}`,
    );
  }
}

const MAX_ERROR_HEADER = 1000;
const LAST_APPLIED_CACHE = 10_000;
const MAX_PREFETCH = 65_535;
const MAX_DELAY_MS = 2_147_483_647;
/** Headers the broker adds when it dead-letters; dropped when annals republishes a message. */
const BROKER_HEADERS = /^x-(death|first-death-|last-death-|delivery-count)/;

/**
 * Runs a projection on RabbitMQ: consumes `<queuePrefix><projection>` and applies each event to
 * the read model inside `processedEvents.runOnce`, acknowledging only after it committed.
 *
 * - **Topology** (declared on each connect): the topic exchange (durable); the projection's
 *   queue, a durable quorum queue with single active consumer, bound `*.<EventType>` for each type
 *   the projection handles; the retry queue `<queue>.retry` (durable, `x-message-ttl` =
 *   `retryDelayMs`, dead-lettering back to the main queue); the dead-letter queue (durable).
 * - **Exactly-once effects**: a duplicate publish or a redelivery finds the processed-event record
 *   and changes nothing.
 * - **Order per aggregate**: one active consumer per queue; messages of one aggregate are handled
 *   one at a time; an event whose earlier versions have not been applied first applies those
 *   (of the types the projection handles) read from the event store; while an event of an
 *   aggregate waits in the retry queue, later events of that aggregate go there behind it.
 * - **Failures**: a failing handler's message goes to the retry queue with
 *   `x-annals-attempts` + 1 and comes back after `retryDelayMs`, without blocking other
 *   aggregates; after `maxRetryAttempts` retries it goes to the dead-letter queue with the
 *   headers `x-annals-projection`, `x-annals-error`, `x-annals-attempts`, `x-annals-failed-at`
 *   (see {@link BrokerDeadLetters}), and later events of its aggregate go on. Transient store
 *   errors are requeued after `transientRetryDelayMs`, never counted.
 * - **Connection loss**: reconnects with backoff; unacknowledged messages come back and are
 *   de-duplicated.
 *
 * @example
 * ```ts
 * const consumer = new ProjectionConsumer({
 *   projection: orderReadModel,
 *   processedEvents: pg.processedEvents,
 *   context: (client) => ({ client, schema: 'app' }),
 *   eventStore: pg.eventStore,
 *   registry,
 *   url: process.env.RABBITMQ_URL!,
 * });
 * await consumer.start();
 * // ... on shutdown
 * await consumer.stop();
 * ```
 *
 * @category Messaging
 */
export class ProjectionConsumer<TContext, TUnit = unknown> {
  /** The projection's main queue. */
  readonly queue: string;
  /** The retry queue. */
  readonly retryQueue: string;
  /** The dead-letter queue. */
  readonly deadLetterQueue: string;
  /** The exchange the queue is bound to. */
  readonly exchange: string;
  /** The consumer name of the processed-event records. */
  readonly consumerName: string;

  readonly #projection: Projection<TContext>;
  readonly #processed: ProcessedEventStore<TUnit>;
  readonly #context: (unit: TUnit) => TContext;
  readonly #eventStore: IEventStore;
  readonly #registry: EventRegistry;
  readonly #connect: AmqpConnect;
  readonly #prefetch: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryAttempts: number;
  readonly #reconnectDelayMs: number;
  readonly #maxReconnectDelayMs: number;
  readonly #transientRetryDelayMs: number;
  readonly #runSetup: boolean;
  readonly #onError: ((error: ProjectionError) => void) | undefined;
  readonly #logger: AnnalsLogger;
  readonly #handled: ReadonlySet<string>;
  readonly #telemetry: ConsumerTelemetryTarget;

  readonly #mutex = new KeyedMutex();
  /** aggregate id -> the event id waiting in the retry queue. */
  readonly #waiting = new Map<string, string>();
  /** aggregate id -> the highest version applied or dead-lettered (a bounded cache). */
  readonly #lastApplied = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #state: ProjectionConsumerState = 'idle';
  #session: Session | undefined;
  #reconnecting: Promise<void> | undefined;
  readonly #wakers = new Set<() => void>();
  #acknowledged = 0;
  #lastError: ProjectionError | undefined;

  constructor(options: ProjectionConsumerOptions<TContext, TUnit>) {
    const where = 'ProjectionConsumer';
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(`${where} needs an options object`);
    }
    const { projection, processedEvents, context, eventStore } = options;
    if (typeof projection?.handlerFor !== 'function' || typeof projection.name !== 'string') {
      throw new InvalidArgumentError(`${where}: \`projection\` must be a projection from defineProjection`);
    }
    if (projection.eventTypes.length === 0) {
      throw new InvalidArgumentError(
        `${where}: projection "${projection.name}" has no handlers, so there is nothing to bind its queue to`,
      );
    }
    if (
      typeof processedEvents?.runOnce !== 'function' ||
      typeof processedEvents.find !== 'function' ||
      typeof processedEvents.record !== 'function'
    ) {
      throw new InvalidArgumentError(`${where}: \`processedEvents\` must be a ProcessedEventStore`);
    }
    if (typeof context !== 'function') {
      throw new InvalidArgumentError(`${where}: \`context\` must be a function (unit) => context`);
    }
    if (typeof eventStore?.load !== 'function') {
      throw new InvalidArgumentError(`${where}: \`eventStore\` must be an IEventStore`);
    }
    const registry =
      options.registry ?? (eventStore as { readonly registry?: EventRegistry }).registry ?? undefined;
    if (typeof registry?.decode !== 'function') {
      throw new InvalidArgumentError(
        `${where}: \`registry\` must be an EventRegistry (the event store has none to lend)`,
      );
    }
    const connect = resolveConnect(where, options, `annals consumer ${projection.name}`);
    this.exchange = options.exchange ?? AmqpDefaults.exchange;
    assertBrokerName(`${where}: \`exchange\``, this.exchange);
    const prefix = options.queuePrefix ?? AmqpDefaults.queuePrefix;
    if (typeof prefix !== 'string') {
      throw new InvalidArgumentError(`${where}: \`queuePrefix\` must be a string`);
    }
    assertBrokerName(`${where}: \`queuePrefix\` + projection name`, `${prefix}${projection.name}`);
    this.queue = projectionQueueName(prefix, projection.name);
    this.retryQueue = retryQueueName(this.queue);
    assertBrokerName(`${where}: retry queue name`, this.retryQueue);
    this.deadLetterQueue = options.deadLetterQueue ?? AmqpDefaults.deadLetterQueue;
    assertBrokerName(`${where}: \`deadLetterQueue\``, this.deadLetterQueue);
    if (this.deadLetterQueue === this.queue || this.deadLetterQueue === this.retryQueue) {
      throw new InvalidArgumentError(
        `${where}: \`deadLetterQueue\` must differ from the projection's queues`,
      );
    }
    this.consumerName = options.consumerName ?? projection.name;
    if (typeof this.consumerName !== 'string' || this.consumerName.length === 0) {
      throw new InvalidArgumentError(`${where}: \`consumerName\` must be a non-empty string`);
    }
    this.#prefetch = integerOption(
      where,
      'prefetch',
      options.prefetch,
      AmqpDefaults.prefetch,
      1,
      MAX_PREFETCH,
    );
    this.#retryDelayMs = integerOption(
      where,
      'retryDelayMs',
      options.retryDelayMs,
      AmqpDefaults.retryDelayMs,
      1,
      MAX_DELAY_MS,
    );
    this.#maxRetryAttempts = integerOption(
      where,
      'maxRetryAttempts',
      options.maxRetryAttempts,
      AmqpDefaults.maxRetryAttempts,
      0,
      1_000_000,
    );
    this.#reconnectDelayMs = integerOption(
      where,
      'reconnectDelayMs',
      options.reconnectDelayMs,
      1000,
      1,
      MAX_DELAY_MS,
    );
    this.#maxReconnectDelayMs = Math.max(
      this.#reconnectDelayMs,
      integerOption(where, 'maxReconnectDelayMs', options.maxReconnectDelayMs, 30_000, 1, MAX_DELAY_MS),
    );
    this.#transientRetryDelayMs = integerOption(
      where,
      'transientRetryDelayMs',
      options.transientRetryDelayMs,
      1000,
      0,
      MAX_DELAY_MS,
    );
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new InvalidArgumentError(`${where}: \`onError\` must be a function`);
    }
    this.#projection = projection;
    this.#processed = processedEvents;
    this.#context = context;
    this.#eventStore = eventStore;
    this.#registry = registry;
    this.#connect = connect;
    this.#runSetup = options.runSetup ?? true;
    this.#onError = options.onError;
    this.#logger = options.logger ?? getDefaultLogger();
    assertLogger(`${where}: \`logger\``, this.#logger);
    this.#handled = new Set(projection.eventTypes);
    this.#telemetry = consumerTelemetryTarget(projection.name, this.queue);
  }

  /**
   * Connects, declares the topology, runs the projection's `setup` (unless `runSetup: false`) and
   * starts consuming. Rejects when the first connection or the declarations fail (a queue
   * declared earlier with other arguments is a 406 PRECONDITION_FAILED from the broker).
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new InvalidArgumentError(`ProjectionConsumer "${this.#projection.name}" was started already`);
    }
    this.#state = 'running';
    try {
      if (this.#runSetup && this.#projection.setup) {
        const setup = this.#projection.setup;
        await this.#processed.runOnce(`${this.consumerName}#setup`, randomUUID(), async (unit) => {
          await setup(this.#context(unit));
        });
      }
      this.#session = await this.#open();
    } catch (error) {
      this.#state = 'stopped';
      throw error;
    }
  }

  /**
   * Stops consuming: cancels the consumer, waits for the messages being handled to finish (and be
   * acknowledged), then closes the channels and the connection. Messages prefetched but not
   * started go back to the queue.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    for (const wake of [...this.#wakers]) wake();
    const session = this.#session;
    if (session && !session.closed && session.consumerTag !== undefined) {
      await session.channel.cancel(session.consumerTag).catch(() => undefined);
    }
    await this.#reconnecting?.catch(() => undefined);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#closeSession(this.#session);
    this.#session = undefined;
    this.#state = 'stopped';
  }

  /** Where the consumer stands. */
  status(): ProjectionConsumerStatus {
    return {
      state: this.#state,
      queue: this.queue,
      inFlight: this.#inFlight.size,
      waitingAggregates: this.#waiting.size,
      acknowledged: this.#acknowledged,
      lastError: this.#lastError,
    };
  }

  async #open(): Promise<Session> {
    const connection = await this.#connect();
    let session: Session | undefined;
    try {
      connection.on('error', () => undefined);
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      const publisher = await connection.createConfirmChannel();
      publisher.on('error', () => undefined);
      const opened: Session = { connection, channel, publisher, consumerTag: undefined, closed: false };
      session = opened;
      const lost = () => this.#lost(opened);
      connection.on('close', lost);
      channel.on('close', lost);
      publisher.on('close', lost);
      await this.#declare(channel);
      await channel.prefetch(this.#prefetch);
      const { consumerTag } = await channel.consume(this.queue, (message) => this.#deliver(opened, message), {
        noAck: false,
      });
      opened.consumerTag = consumerTag;
      if (opened.closed) throw new Error('the channel closed while the consumer started');
      return opened;
    } catch (error) {
      if (session) session.closed = true;
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  async #declare(channel: AmqpChannel): Promise<void> {
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
    await channel.assertQueue(this.queue, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true },
    });
    for (const type of this.#projection.eventTypes) {
      await channel.bindQueue(this.queue, this.exchange, `*.${type}`);
    }
    await channel.assertQueue(this.retryQueue, {
      durable: true,
      arguments: {
        'x-message-ttl': this.#retryDelayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': this.queue,
      },
    });
    await channel.assertQueue(this.deadLetterQueue, { durable: true });
  }

  #lost(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    if (this.#state !== 'running') return;
    this.#report('the broker connection or a channel closed; reconnecting');
    this.#state = 'reconnecting';
    void this.#closeSession(session);
    this.#reconnecting = this.#reconnect().finally(() => {
      this.#reconnecting = undefined;
    });
  }

  async #reconnect(): Promise<void> {
    let delay = this.#reconnectDelayMs;
    while (this.#state === 'reconnecting') {
      await this.#sleep(delay);
      if (this.#state !== 'reconnecting') return;
      try {
        const session = await this.#open();
        if (this.#state !== 'reconnecting') {
          await this.#closeSession(session);
          return;
        }
        this.#session = session;
        this.#state = 'running';
        return;
      } catch (error) {
        this.#report(`reconnecting failed; next attempt in ${delay * 2} ms or less`, error);
        delay = Math.min(delay * 2, this.#maxReconnectDelayMs);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  async #closeSession(session: Session | undefined): Promise<void> {
    if (!session) return;
    const wasOpen = !session.closed;
    session.closed = true;
    if (wasOpen) {
      // Channel closes are round trips: the broker has every ack before the connection goes.
      await session.channel.close().catch(() => undefined);
      await session.publisher.close().catch(() => undefined);
    }
    await session.connection.close().catch(() => undefined);
  }

  #deliver(session: Session, message: AmqpMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (the queue was deleted): treat it as a dropped channel.
      this.#lost(session);
      return;
    }
    const work = traceDelivery(this.#telemetry, message, attemptsOf(message) + 1, () =>
      this.#handle(session, message).catch(async (error): Promise<Settled> => {
        // Such as a republish (to the retry or dead-letter queue) the broker nacked: the channel
        // is still open, so requeue the message rather than hold it unacknowledged for good.
        this.#report('handling a message failed unexpectedly; requeued', error);
        await this.#sleep(this.#transientRetryDelayMs);
        this.#nack(session, message);
        return { outcome: 'requeued', error };
      }),
    );
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  async #handle(session: Session, message: AmqpMessage): Promise<Settled> {
    let raw: RawStoredEvent;
    try {
      raw = rawEventOfMessage(message);
    } catch (error) {
      // Not an annals event: retrying will not help.
      return this.#deadLetter(session, message, undefined, error, attemptsOf(message) + 1);
    }
    return this.#mutex.run(raw.aggregateId, () => this.#process(session, message, raw));
  }

  async #process(session: Session, message: AmqpMessage, raw: RawStoredEvent): Promise<Settled> {
    if (session.closed) return { outcome: 'requeued' }; // redelivered on the next connection
    const aggregateId = raw.aggregateId;
    const failures = attemptsOf(message);
    const waitingFor = this.#waiting.get(aggregateId);
    if (waitingFor !== undefined && waitingFor !== raw.eventId) {
      // An earlier event of this aggregate is in the retry queue: go there behind it, uncounted.
      await this.#publish(session, this.retryQueue, message, { [FailureHeader.heldBehind]: waitingFor });
      this.#ack(session, message);
      return { outcome: 'held' };
    }
    try {
      const event = this.#registry.decode(raw);
      await this.#fillGap(event);
      const { duplicate } = await this.#processed.runOnce(this.consumerName, event.eventId, async (unit) => {
        await applyProjectionEvent(this.#projection, event, this.#context(unit), { attempt: failures + 1 });
      });
      this.#noteApplied(aggregateId, event.version);
      if (waitingFor === raw.eventId) this.#waiting.delete(aggregateId);
      this.#ack(session, message);
      return { outcome: duplicate ? 'duplicate' : 'applied' };
    } catch (error) {
      return this.#failed(session, message, raw, failures, error);
    }
  }

  async #failed(
    session: Session,
    message: AmqpMessage,
    raw: RawStoredEvent,
    failures: number,
    error: unknown,
  ): Promise<Settled> {
    const cause = error instanceof GapFillError ? error.cause : error;
    // The store's own view too: a handler's query through the unit's client throws driver errors.
    if (isTransientError(cause) || this.#processed.isTransientError?.(cause) === true) {
      this.#report(
        `event ${raw.eventId}: a transient store error; requeued, not counted`,
        cause,
        rawFields(raw),
      );
      await this.#sleep(this.#transientRetryDelayMs);
      this.#nack(session, message);
      return { outcome: 'requeued', error: cause };
    }
    const attempts = failures + 1;
    if (attempts <= this.#maxRetryAttempts) {
      this.#report(
        `event ${raw.eventId} (${raw.type}) failed on attempt ${attempts}; retried in ${this.#retryDelayMs} ms`,
        error,
        { ...rawFields(raw), attempt: attempts },
      );
      await this.#publish(session, this.retryQueue, message, {
        [FailureHeader.attempts]: attempts,
        [FailureHeader.error]: truncate(messageOf(error)),
      });
      this.#waiting.set(raw.aggregateId, raw.eventId);
      this.#ack(session, message);
      return { outcome: 'retried', error };
    }
    if (error instanceof GapFillError) {
      // The earlier event is the poison one: dead-letter it, then give this one fresh attempts.
      const earlier = encodeEventMessage(error.event);
      await this.#publishDeadLetter(
        session,
        earlier.content,
        earlier.options,
        error.event.eventId,
        error.cause,
        attempts,
      );
      await this.#recordDeadLetter(error.event.eventId);
      this.#noteApplied(raw.aggregateId, error.event.version);
      await this.#publish(session, this.retryQueue, message, {
        [FailureHeader.attempts]: 0,
        [FailureHeader.error]: truncate(messageOf(error)),
      });
      this.#waiting.set(raw.aggregateId, raw.eventId);
      this.#ack(session, message);
      return { outcome: 'retried', error };
    }
    return this.#deadLetter(session, message, raw, error, attempts);
  }

  async #deadLetter(
    session: Session,
    message: AmqpMessage,
    raw: RawStoredEvent | undefined,
    error: unknown,
    attempts: number,
  ): Promise<Settled> {
    const eventId = raw?.eventId ?? message.properties.messageId ?? '(no id)';
    await this.#publishDeadLetter(
      session,
      message.content,
      message.properties,
      eventId,
      error,
      attempts,
      message.properties.headers,
    );
    if (raw) {
      await this.#recordDeadLetter(raw.eventId);
      this.#noteApplied(raw.aggregateId, raw.version);
      if (this.#waiting.get(raw.aggregateId) === raw.eventId) this.#waiting.delete(raw.aggregateId);
    }
    this.#ack(session, message);
    return { outcome: 'dead_lettered', error };
  }

  async #publishDeadLetter(
    session: Session,
    content: Buffer,
    properties: AmqpMessage['properties'],
    eventId: string,
    error: unknown,
    attempts: number,
    headers: Record<string, unknown> | undefined = properties.headers,
  ): Promise<void> {
    this.#report(
      `event ${eventId} dead-lettered to ${this.deadLetterQueue} after ${attempts} attempt(s)`,
      error,
      { eventId, attempt: attempts, deadLetterQueue: this.deadLetterQueue },
    );
    await this.#send(session, this.deadLetterQueue, content, properties, headers, {
      [FailureHeader.projection]: this.#projection.name,
      [FailureHeader.queue]: this.queue,
      [FailureHeader.error]: truncate(messageOf(error)),
      [FailureHeader.attempts]: attempts,
      [FailureHeader.failedAt]: new Date().toISOString(),
    });
  }

  async #recordDeadLetter(eventId: string): Promise<void> {
    try {
      await this.#processed.record(deadLetterConsumerName(this.consumerName), eventId);
    } catch (error) {
      this.#report(`event ${eventId}: recording it as dead-lettered failed`, error);
    }
  }

  /** Applies the events of the aggregate before `event` that were not applied yet. */
  async #fillGap(event: StoredEvent): Promise<void> {
    const last = this.#lastApplied.get(event.aggregateId);
    const from = last === undefined ? 1 : last + 1;
    if (event.version <= from) return;
    const loaded = await this.#eventStore.load(event.aggregateId, {
      fromVersion: from,
      toVersion: event.version - 1,
    });
    const earlier = loaded.filter((candidate) => this.#handled.has(candidate.type));
    let start = 0;
    if (last === undefined) {
      // Cold cache: every event before the last one done is done too (this consumer applies an
      // event only after the earlier ones), so look back only that far.
      for (let index = earlier.length - 1; index >= 0; index--) {
        if (await this.#isDone(earlier[index]!.eventId)) {
          start = index + 1;
          break;
        }
      }
    }
    for (const missing of earlier.slice(start)) {
      if (
        last !== undefined &&
        (await this.#processed.find(deadLetterConsumerName(this.consumerName), missing.eventId))
      ) {
        continue;
      }
      try {
        await this.#processed.runOnce(this.consumerName, missing.eventId, async (unit) => {
          await applyProjectionEvent(this.#projection, missing, this.#context(unit));
        });
      } catch (error) {
        throw new GapFillError(missing, error);
      }
      this.#noteApplied(event.aggregateId, missing.version);
    }
  }

  async #isDone(eventId: string): Promise<boolean> {
    return (
      (await this.#processed.find(this.consumerName, eventId)) !== undefined ||
      (await this.#processed.find(deadLetterConsumerName(this.consumerName), eventId)) !== undefined
    );
  }

  #noteApplied(aggregateId: string, version: number): void {
    const last = this.#lastApplied.get(aggregateId);
    this.#lastApplied.delete(aggregateId);
    this.#lastApplied.set(aggregateId, Math.max(last ?? 0, version));
    if (this.#lastApplied.size > LAST_APPLIED_CACHE) {
      const oldest = this.#lastApplied.keys().next().value;
      if (oldest !== undefined) this.#lastApplied.delete(oldest);
    }
  }

  /** Republishes `message` to `queue` with `extra` headers, and waits for the broker's confirm. */
  #publish(session: Session, queue: string, message: AmqpMessage, extra: Record<string, unknown>) {
    return this.#send(session, queue, message.content, message.properties, message.properties.headers, extra);
  }

  #send(
    session: Session,
    queue: string,
    content: Buffer,
    properties: AmqpMessage['properties'],
    headers: Record<string, unknown> | undefined,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(headers ?? {})) {
      if (!BROKER_HEADERS.test(key) && key !== FailureHeader.heldBehind) kept[key] = value;
    }
    return new Promise<void>((resolve, reject) => {
      session.publisher.sendToQueue(
        queue,
        content,
        {
          persistent: true,
          ...(properties.messageId === undefined ? {} : { messageId: properties.messageId }),
          ...(properties.correlationId === undefined ? {} : { correlationId: properties.correlationId }),
          ...(properties.type === undefined ? {} : { type: properties.type }),
          ...(properties.timestamp === undefined ? {} : { timestamp: properties.timestamp }),
          contentType: properties.contentType ?? 'application/json',
          headers: { ...kept, ...extra },
        },
        (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
      );
    });
  }

  #ack(session: Session, message: AmqpMessage): void {
    if (session.closed) return;
    try {
      session.channel.ack(message);
      this.#acknowledged++;
    } catch {
      // The channel closed: the message is redelivered and de-duplicated.
    }
  }

  #nack(session: Session, message: AmqpMessage): void {
    if (session.closed) return;
    try {
      session.channel.nack(message, false, true);
    } catch {
      // The channel closed: the message is redelivered anyway.
    }
  }

  #report(message: string, cause?: unknown, fields: LogFields = {}): void {
    const error = new ProjectionError(
      this.#projection.name,
      cause === undefined ? message : `${message}: ${messageOf(cause)}`,
      cause === undefined ? undefined : { cause },
    );
    this.#lastError = error;
    safeLog(
      this.#logger,
      'warn',
      {
        projection: this.#projection.name,
        queue: this.queue,
        ...fields,
        ...(cause === undefined ? {} : { err: cause }),
      },
      error.message,
    );
    try {
      this.#onError?.(error);
    } catch {
      // A failing listener must not stop the consumer.
    }
  }
}

/**
 * The connection factory of `options`: `connect`, or `connectAmqp` on `url`.
 *
 * @internal
 */
export function resolveConnect(
  where: string,
  options: { readonly connect?: AmqpConnect; readonly url?: string; readonly connectionName?: string },
  defaultName: string,
): AmqpConnect {
  if (options.connect !== undefined) {
    if (typeof options.connect !== 'function') {
      throw new InvalidArgumentError(`${where}: \`connect\` must be a function that opens a connection`);
    }
    if (options.url !== undefined) {
      throw new InvalidArgumentError(`${where}: give either \`connect\` or \`url\`, not both`);
    }
    return options.connect;
  }
  if (options.url === undefined) {
    throw new InvalidArgumentError(`${where}: give \`url\` (amqp://…) or \`connect\` (a connection factory)`);
  }
  assertAmqpUrl(`${where}: url`, options.url);
  const url = options.url;
  const connectionName = options.connectionName ?? defaultName;
  if (typeof connectionName !== 'string' || connectionName === '') {
    throw new InvalidArgumentError(`${where}: \`connectionName\` must be a non-empty string`);
  }
  return () => connectAmqp({ url, connectionName });
}

function integerOption(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `${where}: \`${name}\` must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Failed attempts recorded on a message (0 when none). */
export function attemptsOf(message: AmqpMessage): number {
  const value = Number(message.properties.headers?.[FailureHeader.attempts] ?? 0);
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_HEADER ? `${text.slice(0, MAX_ERROR_HEADER - 1)}…` : text;
}

/** The ids of an event message, for log records. */
function rawFields(raw: RawStoredEvent): LogFields {
  const { correlationId, causationId } = (raw.metadata ?? {}) as Record<string, unknown>;
  return {
    eventId: raw.eventId,
    eventType: raw.type,
    aggregateId: raw.aggregateId,
    version: raw.version,
    ...(typeof correlationId === 'string' ? { correlationId } : {}),
    ...(typeof causationId === 'string' ? { causationId } : {}),
  };
}
