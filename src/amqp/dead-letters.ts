import { InvalidArgumentError, type RawStoredEvent } from '../core.js';
import type { AmqpConfirmChannel, AmqpConnect, AmqpConnection, AmqpMessage } from './amqp-shapes.js';
import { rawEventOfMessage } from './message-codec.js';
import { FailureHeader, resolveConnect } from './projection-consumer.js';
import { AmqpDefaults, assertBrokerName, projectionQueueName } from './topology.js';

/**
 * The broker's dead-letter queue (`dlq_failed_events` by default): the messages that
 * {@link ProjectionConsumer}s gave up on, to list, replay or discard.
 *
 * @module
 */

/**
 * Options of {@link BrokerDeadLetters.open} and {@link listBrokerDeadLetters}.
 *
 * @category Messaging
 */
export interface BrokerDeadLettersOptions {
  /**
   * Opens a connection to the broker. Give `connect` or `url`.
   * @defaultValue `connectAmqp({ url, connectionName })`
   */
  readonly connect?: AmqpConnect;
  /** The broker's URL, when `connect` is not given. */
  readonly url?: string;
  /**
   * The connection's name in the broker, with `url`.
   * @defaultValue `'annals dead letters'`
   */
  readonly connectionName?: string;
  /**
   * The dead-letter queue the consumers use.
   * @defaultValue `'dlq_failed_events'`
   */
  readonly deadLetterQueue?: string;
  /**
   * The consumers' queue prefix: a replay of a message without an `x-annals-queue` header goes
   * to `<queuePrefix><x-annals-projection>`.
   * @defaultValue `'projection_'`
   */
  readonly queuePrefix?: string;
}

/**
 * Options of {@link BrokerDeadLetters.list}.
 *
 * @category Messaging
 */
export interface ListBrokerDeadLettersOptions {
  /**
   * Only the dead letters of this projection (header `x-annals-projection`).
   * @defaultValue every projection
   */
  readonly projection?: string;
  /**
   * The most dead letters to return (1 to 10,000).
   * @defaultValue 100
   */
  readonly limit?: number;
}

/**
 * A message of the dead-letter queue, held (not acknowledged) until replayed or discarded.
 *
 * @category Messaging
 */
export interface BrokerDeadLetter {
  /** This letter's handle within its {@link BrokerDeadLetters} (the delivery tag). */
  readonly id: number;
  /** The event id (the message id). */
  readonly eventId: string | undefined;
  /** The projection whose handler failed (`x-annals-projection`). */
  readonly projection: string | undefined;
  /** The projection's queue, where a replay sends it (`x-annals-queue`). */
  readonly queue: string | undefined;
  /** The last error's message (`x-annals-error`). */
  readonly error: string | undefined;
  /** Attempts made (`x-annals-attempts`). */
  readonly attempts: number;
  /** When it was dead-lettered (`x-annals-failed-at`). */
  readonly failedAt: Date | undefined;
  /** The stored event the message carries; `undefined` when it is not an annals event. */
  readonly event: RawStoredEvent | undefined;
}

const MAX_LIST = 10_000;
const DROPPED_ON_REPLAY = /^x-(annals-|death|first-death-|last-death-|delivery-count)/;

/**
 * A session on the dead-letter queue. {@link BrokerDeadLetters.list} takes messages off the
 * queue without acknowledging them: they stay the session's until {@link BrokerDeadLetters.replay}
 * (republished to the projection's main queue with the attempts reset, then acknowledged),
 * {@link BrokerDeadLetters.discard} (acknowledged: gone) or {@link BrokerDeadLetters.close}
 * (everything undecided goes back to the queue). If the process dies, the broker puts them back.
 *
 * @example
 * ```ts
 * const dlq = await BrokerDeadLetters.open({ url: process.env.RABBITMQ_URL! });
 * try {
 *   for (const letter of await dlq.list({ projection: 'order-read-model' })) {
 *     if (letter.error?.includes('timeout')) await dlq.replay(letter);
 *   }
 * } finally {
 *   await dlq.close();
 * }
 * ```
 *
 * @category Messaging
 */
export class BrokerDeadLetters {
  /** The dead-letter queue. */
  readonly deadLetterQueue: string;
  readonly #connection: AmqpConnection;
  readonly #channel: AmqpConfirmChannel;
  readonly #queuePrefix: string;
  readonly #held = new Map<number, { message: AmqpMessage; letter: BrokerDeadLetter }>();
  #drained = false;
  #closed = false;

  private constructor(
    connection: AmqpConnection,
    channel: AmqpConfirmChannel,
    deadLetterQueue: string,
    queuePrefix: string,
  ) {
    this.#connection = connection;
    this.#channel = channel;
    this.deadLetterQueue = deadLetterQueue;
    this.#queuePrefix = queuePrefix;
    channel.on('close', () => {
      this.#closed = true;
    });
  }

  /** Connects and declares the dead-letter queue (durable), as the consumers do. */
  static async open(options: BrokerDeadLettersOptions): Promise<BrokerDeadLetters> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('BrokerDeadLetters.open needs options: { connect | url }');
    }
    const connect = resolveConnect('BrokerDeadLetters', options, 'annals dead letters');
    const deadLetterQueue = options.deadLetterQueue ?? AmqpDefaults.deadLetterQueue;
    assertBrokerName('BrokerDeadLetters: `deadLetterQueue`', deadLetterQueue);
    const queuePrefix = options.queuePrefix ?? AmqpDefaults.queuePrefix;
    if (typeof queuePrefix !== 'string') {
      throw new InvalidArgumentError('BrokerDeadLetters: `queuePrefix` must be a string');
    }
    const connection = await connect();
    try {
      connection.on('error', () => undefined);
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      await channel.assertQueue(deadLetterQueue, { durable: true });
      return new BrokerDeadLetters(connection, channel, deadLetterQueue, queuePrefix);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The dead letters held by this session that match `options.projection`, taking more off the
   * queue until `limit` match or the queue is empty. Letters of other projections taken on the
   * way are held too and go back at {@link BrokerDeadLetters.close}.
   */
  async list(options: ListBrokerDeadLettersOptions = {}): Promise<BrokerDeadLetter[]> {
    this.#assertOpen();
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) {
      throw new InvalidArgumentError(
        `BrokerDeadLetters.list: \`limit\` must be an integer from 1 to ${MAX_LIST}; got ${JSON.stringify(limit)}`,
      );
    }
    const matches = (letter: BrokerDeadLetter) =>
      options.projection === undefined || letter.projection === options.projection;
    const found = [...this.#held.values()].map((held) => held.letter).filter(matches);
    while (found.length < limit && !this.#drained) {
      const message = await this.#channel.get(this.deadLetterQueue, { noAck: false });
      if (message === false) {
        this.#drained = true;
        break;
      }
      const letter = letterOf(message);
      this.#held.set(letter.id, { message, letter });
      if (matches(letter)) found.push(letter);
    }
    return found.slice(0, limit);
  }

  /**
   * Republishes a dead letter to its projection's main queue with the attempts reset (the
   * `x-annals-*` headers dropped), waits for the broker's confirm, then removes it from the
   * dead-letter queue. The consumer applies it unless it was applied already.
   */
  async replay(letter: BrokerDeadLetter): Promise<void> {
    const { message } = this.#take(letter);
    const queue =
      letter.queue ??
      (letter.projection ? projectionQueueName(this.#queuePrefix, letter.projection) : undefined);
    if (queue === undefined) {
      throw new InvalidArgumentError(
        `BrokerDeadLetters.replay: dead letter ${letter.eventId ?? letter.id} names no projection or queue`,
      );
    }
    const headers: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(message.properties.headers ?? {})) {
      if (!DROPPED_ON_REPLAY.test(key)) headers[key] = value;
    }
    const { messageId, correlationId, type, timestamp, contentType } = message.properties;
    await new Promise<void>((resolve, reject) => {
      this.#channel.sendToQueue(
        queue,
        message.content,
        {
          persistent: true,
          ...(messageId === undefined ? {} : { messageId }),
          ...(correlationId === undefined ? {} : { correlationId }),
          ...(type === undefined ? {} : { type }),
          ...(timestamp === undefined ? {} : { timestamp }),
          contentType: contentType ?? 'application/json',
          headers,
        },
        (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
      );
    });
    this.#channel.ack(message);
    this.#held.delete(letter.id);
  }

  /** Removes a dead letter from the queue for good. */
  async discard(letter: BrokerDeadLetter): Promise<void> {
    const { message } = this.#take(letter);
    this.#channel.ack(message);
    this.#held.delete(letter.id);
  }

  /** Puts every undecided letter back on the queue and closes the connection. */
  async close(): Promise<void> {
    if (!this.#closed) {
      for (const { message } of this.#held.values()) {
        try {
          this.#channel.nack(message, false, true);
        } catch {
          break; // the channel closed: the broker puts them back itself
        }
      }
    }
    this.#held.clear();
    this.#closed = true;
    // Closing the channel first is a round trip: the broker has the acks and nacks before we go.
    await this.#channel.close().catch(() => undefined);
    await this.#connection.close().catch(() => undefined);
  }

  #take(letter: BrokerDeadLetter): { message: AmqpMessage } {
    this.#assertOpen();
    const held = this.#held.get(letter?.id);
    if (!held) {
      throw new InvalidArgumentError(
        'BrokerDeadLetters: that dead letter is not held by this session (decided already, or listed by another)',
      );
    }
    return held;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new InvalidArgumentError('BrokerDeadLetters: the session is closed (open a new one)');
    }
  }
}

/**
 * Lists dead letters without deciding anything: opens a session, lists, puts them back, closes.
 *
 * @category Messaging
 */
export async function listBrokerDeadLetters(
  options: BrokerDeadLettersOptions & ListBrokerDeadLettersOptions,
): Promise<BrokerDeadLetter[]> {
  const session = await BrokerDeadLetters.open(options);
  try {
    return await session.list(options);
  } finally {
    await session.close();
  }
}

function letterOf(message: AmqpMessage): BrokerDeadLetter {
  const headers = message.properties.headers ?? {};
  const text = (key: string) => (typeof headers[key] === 'string' ? (headers[key] as string) : undefined);
  let event: RawStoredEvent | undefined;
  try {
    event = rawEventOfMessage(message);
  } catch {
    event = undefined;
  }
  const failedAt = text(FailureHeader.failedAt);
  const attempts = Number(headers[FailureHeader.attempts] ?? 0);
  return {
    id: message.fields.deliveryTag,
    eventId: message.properties.messageId ?? event?.eventId,
    projection: text(FailureHeader.projection),
    queue: text(FailureHeader.queue),
    error: text(FailureHeader.error),
    attempts: Number.isFinite(attempts) ? attempts : 0,
    failedAt: failedAt === undefined ? undefined : new Date(failedAt),
    event,
  };
}
