import {
  type AnnalsLogger,
  assertLogger,
  assertProjectionName,
  type CheckpointUpdate,
  compareLogPositions,
  getDefaultLogger,
  type IEventStore,
  InvalidArgumentError,
  LeaseHolder,
  type LogPosition,
  logPositionOf,
  type ProjectionCheckpoint,
  ProjectionError,
  type ProjectionLastError,
  type ProjectionStatus,
  type ProjectionStore,
  type RawStoredEvent,
  type ReadAllResult,
  readProjectionStatus,
  type StoredEvent,
  safeLog,
  sleep,
  Wakeup,
} from '../core.js';
import type { AmqpConfirmChannel, AmqpConnect, AmqpConnection } from './amqp-shapes.js';
import {
  observeRelayLag,
  type PublishTracker,
  type RelayTelemetryTarget,
  relayTelemetryTarget,
  tracePublish,
} from './amqp-telemetry.js';
import { assertAmqpUrl, connectAmqp } from './connect.js';
import { type EncodedEventMessage, encodeEventMessage } from './message-codec.js';
import { AmqpDefaults, assertBrokerName } from './topology.js';

/**
 * The relay: follows the global log from its own checkpoint and publishes every event to a topic
 * exchange, so that no code ever writes to the store and the broker in one step (no dual write).
 *
 * @module
 */

/**
 * Options of {@link EventRelay}. Give `connect` or `url`.
 *
 * @category Messaging
 */
export interface EventRelayOptions {
  /** The event store whose global log the relay publishes. */
  readonly eventStore: IEventStore;
  /**
   * Where the relay keeps its checkpoint and takes its lease, under the name
   * `relay:<exchange>`: any projection store (a `PostgresProjectionStore` beside the events, or
   * the read model's). Its compare-and-set checkpoint and fenced lease keep two relays from
   * advancing the same checkpoint.
   */
  readonly checkpoints: ProjectionStore<unknown>;
  /**
   * Opens a broker connection: for your own amqplib options (TLS, heartbeats) or another client
   * that has the {@link AmqpConnection} shape. Called again on every reconnect.
   * @defaultValue `connectAmqp({ url, connectionName })` (amqplib, loaded on first use)
   */
  readonly connect?: AmqpConnect;
  /**
   * The broker's URL (`amqp://user:password@host:5672/vhost`), when `connect` is not given.
   */
  readonly url?: string;
  /**
   * The connection's name in the broker (`connection_name` client property), with `url`.
   * @defaultValue `annals relay <exchange>`
   */
  readonly connectionName?: string;
  /**
   * The topic exchange to publish to; declared (durable) on every connect.
   * @defaultValue `'domain_events'`
   */
  readonly exchange?: string;
  /**
   * Events per page: the relay publishes a page, waits once for the broker's confirms, then
   * saves its checkpoint past it while it publishes the next pages. A crash republishes at most
   * four pages. An integer from 1 to 10000.
   * @defaultValue 50
   */
  readonly batchSize?: number;
  /**
   * How long the relay sleeps when it has caught up before it reads the log again, in
   * milliseconds. Appends announced by `eventStore.onAppended` wake it earlier; this is the
   * fallback for appends it is not told about (another process, a store without notifications).
   * @defaultValue 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * The first delay before reconnecting after the connection or channel closed or failed (and
   * before retrying after a store error), in milliseconds; it doubles with each failure in a row
   * up to `maxReconnectDelayMs`.
   * @defaultValue 500
   */
  readonly reconnectDelayMs?: number;
  /**
   * The longest delay between reconnection attempts, in milliseconds.
   * @defaultValue 30000
   */
  readonly maxReconnectDelayMs?: number;
  /**
   * How long a relay without the lease waits before it tries to take it again, in milliseconds.
   * @defaultValue 5000
   */
  readonly leaseRetryMs?: number;
  /**
   * How often the relay renews its lease, in milliseconds. A relay whose renewal fails stops
   * publishing after the page in flight and competes for the lease again.
   * @defaultValue 5000
   */
  readonly leaseRenewMs?: number;
  /**
   * Who holds the lease: shown by the store, unique per relay instance.
   * @defaultValue `relay-<random UUID>`
   */
  readonly owner?: string;
  /**
   * Called with each failure the relay meets and recovers from (lost connection, store error,
   * lost lease). It keeps running; `status().lastError` holds the last one. They are logged as
   * well (see `logger`).
   * @defaultValue none
   */
  readonly onError?: (error: ProjectionError) => void;
  /**
   * Where the relay logs those failures, as warnings with `relay`, `exchange` and `err`.
   * @defaultValue the default logger (`setDefaultLogger` of `annals`)
   */
  readonly logger?: AnnalsLogger;
}

/**
 * What a relay is doing:
 * - `stopped`: not started, or stopped;
 * - `waiting-for-lease`: another relay of the same exchange (and checkpoint store) publishes;
 * - `connecting`: holds the lease and opens its broker connection;
 * - `running`: publishes the log, or waits for appends;
 * - `reconnecting`: the connection or channel was lost (or the store failed): it waits
 *   `reconnectDelayMs` (doubling) and tries again, keeping its lease.
 *
 * @category Messaging
 */
export type EventRelayState = 'stopped' | 'waiting-for-lease' | 'connecting' | 'running' | 'reconnecting';

/**
 * Where a relay stands; see {@link EventRelay.status}. Lag counts events of the log not yet published and confirmed.
 *
 * @category Messaging
 */
export interface EventRelayStatus
  extends Pick<
    ProjectionStatus,
    'checkpoint' | 'head' | 'lagEvents' | 'lagMs' | 'lastEventTimestamp' | 'checkpointUpdatedAt' | 'horizon'
  > {
  /** The checkpoint's name in the projection store: `relay:<exchange>`. */
  readonly relay: string;
  /** The exchange the relay publishes to. */
  readonly exchange: string;
  /** What this relay instance is doing. Relays in other processes are not seen here. */
  readonly state: EventRelayState;
  /** Messages this instance published and the broker confirmed since it was created. */
  readonly publishedEvents: number;
  /** The last failure this relay met since it last started, if any. */
  readonly lastError: ProjectionLastError | undefined;
}

interface RelaySettings {
  readonly name: string;
  readonly exchange: string;
  readonly connect: AmqpConnect;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly reconnectDelayMs: number;
  readonly maxReconnectDelayMs: number;
  readonly leaseRetryMs: number;
  readonly leaseRenewMs: number;
  readonly owner: string;
  readonly onError: (error: ProjectionError) => void;
  readonly logger: AnnalsLogger;
}

/** The broker side of a relay: one connection and its confirm channel. */
interface BrokerLink {
  readonly connection: AmqpConnection;
  readonly channel: AmqpConfirmChannel;
  /** Rejects when the connection or channel closes or fails (never resolves). */
  readonly lost: Promise<never>;
  /** True once `lost` rejected. */
  isLost(): boolean;
  /** Resolves on the channel's next 'drain' (its write buffer emptied). */
  drained(): Promise<void>;
}

/**
 * Confirmed pages a checkpoint save may wait for while the save before it runs: the relay keeps
 * publishing while a save is in flight, and one save then covers up to this many pages.
 */
const MAX_PENDING_PAGES = 2;

/** The stored checkpoint moved under this relay: another relay published (or the lease moved). */
class RelayCheckpointMovedError extends ProjectionError {
  constructor(name: string) {
    super(name, 'the checkpoint moved under this relay: another relay holds the lease');
  }
}

function positive(name: string, value: unknown, fallback: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || !(resolved > 0)) {
    throw new InvalidArgumentError(`EventRelay: ${name} must be a finite number > 0; got ${String(value)}`);
  }
  return resolved;
}

function resolveSettings(options: EventRelayOptions): RelaySettings {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('EventRelay needs options: { eventStore, checkpoints, connect | url }');
  }
  if (
    typeof options.eventStore?.readAll !== 'function' ||
    typeof options.eventStore.onAppended !== 'function'
  ) {
    throw new InvalidArgumentError('EventRelay: eventStore must be an event store (IEventStore)');
  }
  if (
    typeof options.checkpoints?.loadCheckpoint !== 'function' ||
    typeof options.checkpoints.tryAcquireLease !== 'function'
  ) {
    throw new InvalidArgumentError('EventRelay: checkpoints must be a projection store (ProjectionStore)');
  }
  const exchange = options.exchange ?? AmqpDefaults.exchange;
  assertBrokerName('EventRelay: exchange', exchange);
  const name = `relay:${exchange}`;
  try {
    assertProjectionName(name);
  } catch {
    throw new InvalidArgumentError(
      `EventRelay: exchange must be at most 94 characters (the checkpoint is named "relay:<exchange>"); got ${JSON.stringify(exchange)}`,
    );
  }
  const batchSize = options.batchSize ?? AmqpDefaults.batchSize;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new InvalidArgumentError(
      `EventRelay: batchSize must be an integer from 1 to 10000; got ${String(options.batchSize)}`,
    );
  }
  let connect: AmqpConnect;
  if (options.connect !== undefined) {
    if (typeof options.connect !== 'function') {
      throw new InvalidArgumentError('EventRelay: connect must be a function returning a connection');
    }
    if (options.url !== undefined) {
      throw new InvalidArgumentError('EventRelay: give either connect or url, not both');
    }
    connect = options.connect;
  } else {
    if (options.url === undefined) {
      throw new InvalidArgumentError('EventRelay: give url (amqp://…) or connect (a connection factory)');
    }
    assertAmqpUrl('EventRelay: url', options.url);
    const url = options.url;
    const connectionName = options.connectionName ?? `annals relay ${exchange}`;
    if (typeof connectionName !== 'string' || connectionName === '') {
      throw new InvalidArgumentError('EventRelay: connectionName must be a non-empty string');
    }
    connect = () => connectAmqp({ url, connectionName });
  }
  const reconnectDelayMs = positive('reconnectDelayMs', options.reconnectDelayMs, 500);
  const maxReconnectDelayMs = positive(
    'maxReconnectDelayMs',
    options.maxReconnectDelayMs,
    Math.max(30_000, reconnectDelayMs),
  );
  if (maxReconnectDelayMs < reconnectDelayMs) {
    throw new InvalidArgumentError(
      `EventRelay: maxReconnectDelayMs must be >= reconnectDelayMs (${reconnectDelayMs}); got ${maxReconnectDelayMs}`,
    );
  }
  const owner = options.owner ?? `relay-${globalThis.crypto.randomUUID()}`;
  if (typeof owner !== 'string' || owner === '') {
    throw new InvalidArgumentError('EventRelay: owner must be a non-empty string');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidArgumentError('EventRelay: onError must be a function');
  }
  const logger = options.logger ?? getDefaultLogger();
  assertLogger('EventRelay: logger', logger);
  return {
    name,
    exchange,
    connect,
    batchSize,
    pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs, 1000),
    reconnectDelayMs,
    maxReconnectDelayMs,
    leaseRetryMs: positive('leaseRetryMs', options.leaseRetryMs, 5000),
    leaseRenewMs: positive('leaseRenewMs', options.leaseRenewMs, 5000),
    owner,
    onError: options.onError ?? (() => {}),
    logger,
  };
}

/** An event of a page, read or not, in the form that travels. */
type PageItem = RawStoredEvent | StoredEvent;

/** A page read from the log, in log order, with its messages encoded. */
interface PreparedPage {
  readonly page: ReadAllResult;
  /** The page's events (read or not) in log order, and their messages, index for index. */
  readonly items: readonly PageItem[];
  readonly messages: readonly EncodedEventMessage[];
}

/** The page's events and undecodable events merged back into log order. */
function inLogOrder(page: ReadAllResult): PageItem[] {
  const undecodable = page.undecodable ?? [];
  if (undecodable.length === 0) return [...page.events];
  const items: PageItem[] = [];
  let next = 0;
  for (const event of page.events) {
    while (
      next < undecodable.length &&
      compareLogPositions(undecodable[next]!.position, logPositionOf(event)) < 0
    ) {
      items.push(undecodable[next]!.raw);
      next++;
    }
    items.push(event);
  }
  for (; next < undecodable.length; next++) items.push(undecodable[next]!.raw);
  return items;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Publishes the global log to a RabbitMQ topic exchange (default `domain_events`), every event
 * once or more, in log order, without dual writes: appends only write to the store, and the
 * relay follows the log from its own checkpoint.
 *
 * - **Lease**: one relay per exchange publishes at a time (the projection store's lease for
 *   `relay:<exchange>`); others wait as `waiting-for-lease` and take over when it ends.
 * - **Pages**: it reads up to `batchSize` events after its checkpoint (with
 *   `onUndecodable: 'report'`, so events this registry cannot read travel too, in their stored
 *   form), publishes them on a confirm channel (persistent messages; id = event id; routing key
 *   `<aggregateType>.<eventType>`; headers, see `EventHeader`), waits once for the broker's
 *   confirms, then saves its checkpoint past the page (compare-and-set, fenced by the lease)
 *   while it reads, publishes and confirms the next pages. One save at a time, in log order, and
 *   never past an event the broker has not confirmed; a page confirmed while a save still runs
 *   is covered by the next save (at most two pages per save).
 * - **At-least-once**: a crash republishes the pages published but not yet checkpointed: those
 *   of the save in flight, those waiting for it and the page being published, at most
 *   `4 × batchSize` events (a lost lease too). A lost connection republishes at most the page in flight
 *   (`batchSize` events: the confirmed pages are saved first). Consumers de-duplicate by message
 *   id. `stop()` waits for the last save, so a clean restart republishes nothing.
 * - **Reconnects**: when the connection or channel closes or fails it reconnects with backoff
 *   (`reconnectDelayMs` doubling to `maxReconnectDelayMs`), keeping its lease, and goes on from
 *   its stored checkpoint.
 *
 * @example
 * ```ts
 * const relay = new EventRelay({ eventStore, checkpoints: projectionStore, url: process.env.RABBITMQ_URL });
 * relay.start();
 * // …
 * await relay.stop();
 * ```
 *
 * @category Messaging
 */
export class EventRelay {
  readonly #eventStore: IEventStore;
  readonly #checkpoints: ProjectionStore<unknown>;
  readonly #settings: RelaySettings;
  readonly #wakeup = new Wakeup();
  #state: EventRelayState = 'stopped';
  #lastError: ProjectionLastError | undefined;
  #running: { readonly controller: AbortController; readonly done: Promise<void> } | undefined;
  readonly #leases: LeaseHolder;
  #link: BrokerLink | undefined;
  /** The stored checkpoint, as this relay last loaded or saved it. */
  #checkpoint: ProjectionCheckpoint | undefined;
  /**
   * Where the pages published and confirmed so far end, past `#checkpoint` while the save of the
   * last one is in flight; the next page is read from here.
   */
  #confirmed: LogPosition | undefined;
  /**
   * The checkpoint save in flight, if any (at most one): the save of the last confirmed pages,
   * overlapped with reading and publishing the next ones. It updates `#checkpoint` when it is done.
   */
  #saving: { readonly promise: Promise<void>; settled: boolean } | undefined;
  /** The end of the confirmed pages whose save has not started (it waits for the one in flight). */
  #pending: { readonly position: LogPosition; readonly timestamp: Date } | undefined;
  /** How many confirmed pages `#pending` covers. */
  #pendingPages = 0;
  #published = 0;
  /** The next page, read and encoded while the broker confirms the current one. */
  #readAhead: { readonly after: LogPosition; readonly page: Promise<PreparedPage> } | undefined;
  /** The attributes of the relay's spans and metrics. */
  readonly #telemetry: RelayTelemetryTarget;
  /** Stops reporting the lag gauges (while started, when metrics are on). */
  #stopObservingLag: (() => void) | undefined;

  constructor(options: EventRelayOptions) {
    this.#settings = resolveSettings(options);
    this.#eventStore = options.eventStore;
    this.#checkpoints = options.checkpoints;
    this.#telemetry = relayTelemetryTarget(this.#settings.name, this.#settings.exchange);
    this.#leases = new LeaseHolder(this.#settings.leaseRenewMs, (cause) => {
      this.#report(
        new ProjectionError(
          this.#settings.name,
          'lost its lease; it stops publishing until it gets it back',
          {
            cause,
          },
        ),
      );
      this.#wakeup.notify();
    });
  }

  /** The checkpoint's name in the projection store: `relay:<exchange>`. */
  get name(): string {
    return this.#settings.name;
  }

  /** The exchange the relay publishes to. */
  get exchange(): string {
    return this.#settings.exchange;
  }

  /** Starts relaying in the background; does nothing when it already runs. */
  start(): void {
    if (this.#running) return;
    this.#lastError = undefined;
    const controller = new AbortController();
    this.#stopObservingLag ??= observeRelayLag(this.#telemetry, () => this.status());
    const done = this.#run(controller.signal).finally(() => {
      this.#stopObservingLag?.();
      this.#stopObservingLag = undefined;
      this.#running = undefined;
    });
    this.#running = { controller, done };
  }

  /**
   * Stops after the page in flight (published, confirmed and checkpointed, or abandoned if the
   * connection is lost meanwhile), closes the connection and releases the lease.
   */
  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    running.controller.abort();
    this.#wakeup.notify();
    await running.done;
  }

  /** Where the relay stands: read from the stores, plus what this instance knows. */
  async status(): Promise<EventRelayStatus> {
    const stored = await readProjectionStatus(this.#eventStore, this.#checkpoints, this.#settings.name, {
      state: 'stopped',
      lastError: this.#lastError,
    });
    return {
      relay: this.#settings.name,
      exchange: this.#settings.exchange,
      state: this.#state,
      checkpoint: stored.checkpoint,
      head: stored.head,
      lagEvents: stored.lagEvents,
      lagMs: stored.lagMs,
      lastEventTimestamp: stored.lastEventTimestamp,
      checkpointUpdatedAt: stored.checkpointUpdatedAt,
      horizon: stored.horizon,
      publishedEvents: this.#published,
      lastError: this.#lastError,
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    const unsubscribe = this.#eventStore.onAppended(() => this.#wakeup.notify());
    let failures = 0;
    try {
      while (!signal.aborted) {
        try {
          if (this.#leases.lost) await this.#dropLease();
          if (!this.#leases.lease && !(await this.#takeLease())) {
            this.#state = 'waiting-for-lease';
            await sleep(this.#settings.leaseRetryMs, signal);
            continue;
          }
          // A connection lost while idle: report it and back off like any other loss.
          if (this.#link?.isLost()) await this.#link.lost;
          if (!this.#link) {
            this.#state = failures > 0 ? 'reconnecting' : 'connecting';
            this.#link = await this.#openLink();
          }
          this.#checkpoint ??= await this.#checkpoints.loadCheckpoint(this.#settings.name);
          this.#state = 'running';
          const caughtUp = await this.#publishPage(this.#link, this.#confirmed ?? this.#checkpoint.position);
          failures = 0;
          if (caughtUp && !this.#leases.lost) await this.#wakeup.wait(this.#settings.pollIntervalMs, signal);
        } catch (error) {
          failures += 1;
          // The save of the page before, if still in flight, ends first, so that the checkpoint
          // reloaded next is the stored one from now on.
          const saveError = await this.#settleSave();
          // After any failure the stored checkpoint is the truth: a page may have been published
          // without being checkpointed (it is published again: at-least-once).
          this.#checkpoint = undefined;
          this.#confirmed = undefined;
          this.#readAhead = undefined;
          const moved = [error, saveError].find((e) => e instanceof RelayCheckpointMovedError);
          if (moved) {
            this.#report(moved as RelayCheckpointMovedError);
            await this.#dropLease();
            continue;
          }
          if (saveError !== undefined) this.#report(this.#saveFailed(saveError));
          const delayMs = Math.min(
            this.#settings.maxReconnectDelayMs,
            this.#settings.reconnectDelayMs * 2 ** Math.min(failures - 1, 30),
          );
          const brokerLost = !this.#link || this.#link.isLost();
          if (brokerLost) await this.#closeLink();
          if (this.#leases.lease) this.#state = 'reconnecting';
          this.#report(
            new ProjectionError(
              this.#settings.name,
              `${brokerLost ? 'lost the broker' : 'failed'}, retrying in ${delayMs} ms: ${messageOf(error)}`,
              { cause: error },
            ),
          );
          await sleep(delayMs, signal);
        }
      }
    } finally {
      unsubscribe();
      this.#readAhead = undefined;
      // Stopping: the last page was confirmed; its checkpoint is saved before the lease goes.
      const saveError = await this.#settleSave();
      if (saveError !== undefined) this.#report(this.#saveFailed(saveError));
      await this.#closeLink();
      await this.#dropLease();
      this.#state = 'stopped';
    }
  }

  /**
   * Publishes one page after `after` (the stored checkpoint, or the end of the last confirmed
   * page while its save is in flight) and, once the broker confirmed it, starts saving the
   * checkpoint past it; true when the page reached the end of the log (its save is then done).
   *
   * The save of page N runs while page N + 1 is read, published and confirmed: at most one save
   * is in flight, saves run in log order (each expects the position the one before saved), and
   * none starts before its page is confirmed; a save may cover up to MAX_PENDING_PAGES pages.
   * Unsaved at any time: at most four pages.
   */
  async #publishPage(link: BrokerLink, after: LogPosition): Promise<boolean> {
    const ahead = this.#readAhead;
    this.#readAhead = undefined;
    const { page, items, messages } =
      ahead && compareLogPositions(ahead.after, after) === 0 ? await ahead.page : await this.#prepare(after);
    const last = items.at(-1);
    if (!last) {
      // The end of the log: the confirmed pages still waiting for a save are saved now.
      await this.#saveConfirmed();
      return true;
    }
    await tracePublish(this.#telemetry, items, link.isLost, (tracker) =>
      this.#sendPage(link, page, messages, tracker),
    );
    this.#published += items.length;
    this.#confirmed = page.next;
    this.#pending = { position: page.next, timestamp: last.timestamp };
    this.#pendingPages += 1;
    // One save at a time, in log order. While the save before is still running, the next page
    // goes out without waiting for it (its save will cover both pages), up to
    // MAX_PENDING_PAGES pages; then, and at the end of the log, the relay waits for it.
    const busy = this.#saving !== undefined && !this.#saving.settled;
    if (busy && this.#pendingPages < MAX_PENDING_PAGES && !page.caughtUp) return false;
    await this.#finishSave();
    this.#startPendingSave();
    if (page.caughtUp) await this.#finishSave();
    return page.caughtUp;
  }

  /** Publishes a page's messages, reads the next page ahead, and waits for the broker's confirms. */
  async #sendPage(
    link: BrokerLink,
    page: ReadAllResult,
    messages: readonly EncodedEventMessage[],
    tracker: PublishTracker | undefined,
  ): Promise<void> {
    const { channel } = link;
    const { exchange } = this.#settings;
    const confirm = tracker?.confirm;
    for (const message of messages) {
      if (link.isLost()) await link.lost;
      const written =
        confirm === undefined
          ? channel.publish(exchange, message.routingKey, message.content, message.options)
          : channel.publish(exchange, message.routingKey, message.content, message.options, confirm);
      tracker?.sent();
      if (!written) {
        // The socket's buffer is full: wait until it drains (or the connection is lost).
        await Promise.race([link.drained(), link.lost]);
      }
    }
    // While the broker confirms this page, read and encode the next one (published once this
    // page is confirmed and the save before it is done).
    if (!page.caughtUp) {
      const next = this.#prepare(page.next);
      next.catch(() => {}); // a failed read-ahead is read again, and reported, by the next step
      this.#readAhead = { after: page.next, page: next };
    }
    await Promise.race([channel.waitForConfirms(), link.lost]);
  }

  /** Waits for the save in flight, then saves past every confirmed page; rethrows a failure. */
  async #saveConfirmed(): Promise<void> {
    await this.#finishSave();
    this.#startPendingSave();
    await this.#finishSave();
  }

  /** Starts saving the checkpoint past the confirmed pages that wait for a save, if any. */
  #startPendingSave(): void {
    const target = this.#pending;
    if (!target) return;
    this.#pending = undefined;
    this.#pendingPages = 0;
    const saving = { promise: this.#saveCheckpoint(target.position, target.timestamp), settled: false };
    saving.promise.then(
      () => {
        saving.settled = true;
      },
      () => {
        saving.settled = true; // the failure is observed by #finishSave or #settleSave
      },
    );
    this.#saving = saving;
  }

  /** Waits for the checkpoint save in flight, if any; rethrows its failure. */
  async #finishSave(): Promise<void> {
    const saving = this.#saving;
    this.#saving = undefined;
    await saving?.promise;
  }

  /**
   * Waits for the checkpoint save in flight, then saves past the confirmed pages still waiting
   * for a save (so a lost connection or `stop()` republishes none of them); returns the first
   * failure instead of throwing.
   */
  async #settleSave(): Promise<unknown> {
    try {
      await this.#saveConfirmed();
      return undefined;
    } catch (error) {
      this.#pending = undefined;
      this.#pendingPages = 0;
      return error;
    }
  }

  #saveFailed(error: unknown): ProjectionError {
    return error instanceof ProjectionError
      ? error
      : new ProjectionError(this.#settings.name, `failed to save its checkpoint: ${messageOf(error)}`, {
          cause: error,
        });
  }

  /** Reads the page after `after` and encodes its messages. */
  async #prepare(after: LogPosition): Promise<PreparedPage> {
    const page = await this.#eventStore.readAll({
      after,
      limit: this.#settings.batchSize,
      onUndecodable: 'report',
    });
    const items = inLogOrder(page);
    return { page, items, messages: items.map(encodeEventMessage) };
  }

  /** Saves the checkpoint past a confirmed page, expecting the one saved before (`#checkpoint`). */
  async #saveCheckpoint(position: LogPosition, timestamp: Date): Promise<void> {
    const expected = this.#checkpoint;
    if (!expected) throw new ProjectionError(this.#settings.name, 'no checkpoint loaded to save after');
    const fence = this.#leases.lease?.fence;
    const update: CheckpointUpdate = {
      expected: expected.position,
      position,
      lastEventTimestamp: timestamp,
      ...(fence === undefined ? {} : { fence }),
    };
    const saved = await this.#checkpoints.transaction((transaction) =>
      transaction.saveCheckpoint(this.#settings.name, update),
    );
    if (!saved) throw new RelayCheckpointMovedError(this.#settings.name);
    this.#checkpoint = {
      projection: this.#settings.name,
      position,
      lastEventTimestamp: timestamp,
      updatedAt: new Date(),
    };
  }

  /** Connects, opens a confirm channel and declares the exchange. */
  async #openLink(): Promise<BrokerLink> {
    const connection = await this.#settings.connect();
    let lost = false;
    let reject: (error: Error) => void = () => {};
    const lostPromise = new Promise<never>((_, rejectLost) => {
      reject = rejectLost;
    });
    lostPromise.catch(() => {}); // observed by whoever races it; never unhandled
    const lose = (what: string) => (error?: Error) => {
      if (lost) return;
      lost = true;
      reject(
        new ProjectionError(
          this.#settings.name,
          `the broker ${what} closed${error ? `: ${error.message}` : ''}`,
          { cause: error },
        ),
      );
      this.#wakeup.notify();
    };
    // Without 'error' listeners an emitted error would crash the process.
    connection.on('error', () => {});
    connection.on('close', lose('connection'));
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => {});
      channel.on('close', lose('channel'));
      const drainWaiters: Array<() => void> = [];
      channel.on('drain', () => {
        for (const resolve of drainWaiters.splice(0)) resolve();
      });
      await channel.assertExchange(this.#settings.exchange, 'topic', { durable: true });
      return {
        connection,
        channel,
        lost: lostPromise,
        isLost: () => lost,
        drained: () => new Promise<void>((resolve) => drainWaiters.push(resolve)),
      };
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  async #closeLink(): Promise<void> {
    const link = this.#link;
    this.#link = undefined;
    if (!link) return;
    try {
      await link.connection.close();
    } catch {
      // Already closed (that is usually why we close it).
    }
  }

  /** Takes the lease; false when another relay holds it. */
  async #takeLease(): Promise<boolean> {
    const lease = await this.#checkpoints.tryAcquireLease(this.#settings.name, this.#settings.owner);
    if (!lease) return false;
    this.#checkpoint = undefined;
    this.#confirmed = undefined;
    this.#leases.hold(lease);
    return true;
  }

  async #dropLease(): Promise<void> {
    // A save in flight ends (or fails, as it must once another relay took the lease) first.
    await this.#settleSave();
    this.#checkpoint = undefined;
    this.#confirmed = undefined;
    this.#readAhead = undefined;
    await this.#leases.drop();
  }

  #report(error: ProjectionError): void {
    this.#lastError = { error, message: error.message, at: new Date() };
    safeLog(
      this.#settings.logger,
      'warn',
      {
        relay: this.#settings.name,
        exchange: this.#settings.exchange,
        ...(error.cause === undefined ? {} : { err: error.cause }),
      },
      error.message,
    );
    try {
      this.#settings.onError(error);
    } catch {
      // A failing listener must not stop the relay.
    }
  }
}
