/**
 * The parts of an AMQP 0-9-1 client that `annals/amqp` uses, declared by shape so that no
 * driver is imported: amqplib's promise API (0.10, 1.x and 2.x) fits them as it is.
 *
 * @module
 */

/**
 * Properties of a published message (amqplib's `Options.Publish`, the fields annals uses).
 * @category Messaging
 */
export interface AmqpPublishOptions {
  /** Written to disk by the broker (delivery mode 2). */
  readonly persistent?: boolean;
  /** The message id: annals puts the event id here. */
  readonly messageId?: string;
  /** The correlation id: annals puts the event's correlation id here. */
  readonly correlationId?: string;
  /** The message type: annals puts the event type here. */
  readonly type?: string;
  /** When the message was made, in seconds since the epoch. */
  readonly timestamp?: number;
  /** The content's MIME type (`application/json`). */
  readonly contentType?: string;
  /** Application headers (`x-aggregate-id`, `traceparent`, `x-annals-*`, ...). */
  readonly headers?: Record<string, unknown>;
  /** Per-message time to live, in milliseconds. */
  readonly expiration?: string | number;
}

/**
 * A delivered message (amqplib's `Message` / `ConsumeMessage`).
 * @category Messaging
 */
export interface AmqpMessage {
  /** The body. */
  readonly content: Buffer;
  /** Delivery information. */
  readonly fields: {
    /** The channel's number for this delivery, used to ack or nack it. */
    readonly deliveryTag: number;
    /** Whether the broker delivered it before (to this or another consumer). */
    readonly redelivered: boolean;
    /** The exchange it was published to (empty for the default exchange). */
    readonly exchange: string;
    /** The routing key it was published with. */
    readonly routingKey: string;
    /** The consumer it was delivered to, for `consume` deliveries. */
    readonly consumerTag?: string;
  };
  /** The properties it was published with. */
  readonly properties: {
    /** See {@link AmqpPublishOptions.messageId}. */
    readonly messageId?: string;
    /** See {@link AmqpPublishOptions.correlationId}. */
    readonly correlationId?: string;
    /** See {@link AmqpPublishOptions."type"}. */
    readonly type?: string;
    /** See {@link AmqpPublishOptions.timestamp}. */
    readonly timestamp?: number;
    /** See {@link AmqpPublishOptions.contentType}. */
    readonly contentType?: string;
    /** See {@link AmqpPublishOptions.headers}. */
    readonly headers?: Record<string, unknown>;
  };
}

/**
 * A channel (amqplib's `Channel`).
 * @category Messaging
 */
export interface AmqpChannel {
  /** Declares an exchange, or checks that it exists with the same flags (406 otherwise). */
  assertExchange(
    exchange: string,
    type: string,
    options?: { durable?: boolean; autoDelete?: boolean; arguments?: Record<string, unknown> },
  ): Promise<unknown>;
  /** Declares a queue, or checks that it exists with the same flags (406 otherwise). */
  assertQueue(
    queue: string,
    options?: {
      durable?: boolean;
      exclusive?: boolean;
      autoDelete?: boolean;
      arguments?: Record<string, unknown>;
    },
  ): Promise<{
    /** The queue's name. */
    queue: string;
    /** Messages ready in the queue. */
    messageCount: number;
    /** Consumers of the queue. */
    consumerCount: number;
  }>;
  /** Routes messages of `exchange` whose routing key matches `pattern` to `queue`. */
  bindQueue(
    queue: string,
    exchange: string,
    pattern: string,
    args?: Record<string, unknown>,
  ): Promise<unknown>;
  /** Deletes a queue. */
  deleteQueue(queue: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<unknown>;
  /** Deletes an exchange. */
  deleteExchange(exchange: string, options?: { ifUnused?: boolean }): Promise<unknown>;
  /** Limits the unacknowledged messages delivered to this channel's consumers. */
  prefetch(count: number, global?: boolean): Promise<unknown>;
  /** Starts delivering a queue's messages to `onMessage` (`null` when the broker cancels). */
  consume(
    queue: string,
    onMessage: (message: AmqpMessage | null) => void,
    options?: { noAck?: boolean; consumerTag?: string; exclusive?: boolean },
  ): Promise<{
    /** The consumer's tag, for `cancel`. */
    consumerTag: string;
  }>;
  /** Stops a consumer. */
  cancel(consumerTag: string): Promise<unknown>;
  /** Takes one message from a queue, or `false` when it is empty. */
  get(queue: string, options?: { noAck?: boolean }): Promise<AmqpMessage | false>;
  /** Acknowledges a delivery: the broker forgets the message. */
  ack(message: AmqpMessage, allUpTo?: boolean): void;
  /** Rejects a delivery, requeueing it or not. */
  nack(message: AmqpMessage, allUpTo?: boolean, requeue?: boolean): void;
  /** Publishes to an exchange; `false` when the socket's buffer is full (wait for `drain`). */
  publish(exchange: string, routingKey: string, content: Buffer, options?: AmqpPublishOptions): boolean;
  /** Publishes to a queue through the default exchange; `false` as for `publish`. */
  sendToQueue(queue: string, content: Buffer, options?: AmqpPublishOptions): boolean;
  /** Closes the channel. */
  close(): Promise<void>;
  /** The channel closed (by either side). */
  on(event: 'close', listener: () => void): unknown;
  /** The broker closed the channel with an error (404, 406, ...). */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** The socket's buffer has room again after `publish` returned `false`. */
  on(event: 'drain', listener: () => void): unknown;
}

/**
 * A channel in confirm mode (amqplib's `ConfirmChannel`): the broker acknowledges each publish.
 * @category Messaging
 */
export interface AmqpConfirmChannel extends AmqpChannel {
  /** Publishes to an exchange; `callback` learns whether the broker confirmed it. */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options?: AmqpPublishOptions,
    callback?: (error: unknown, ok: unknown) => void,
  ): boolean;
  /** Publishes to a queue; `callback` learns whether the broker confirmed it. */
  sendToQueue(
    queue: string,
    content: Buffer,
    options?: AmqpPublishOptions,
    callback?: (error: unknown, ok: unknown) => void,
  ): boolean;
  /** Resolves when every message published so far is confirmed; rejects if one was nacked. */
  waitForConfirms(): Promise<void>;
}

/**
 * A connection (amqplib's `ChannelModel`, what `connect()` resolves to).
 * @category Messaging
 */
export interface AmqpConnection {
  /** Opens a channel. */
  createChannel(): Promise<AmqpChannel>;
  /** Opens a channel in confirm mode. */
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
  /** Closes the connection and its channels. */
  close(): Promise<void>;
  /** The connection closed; with an error when it was not closed on purpose. */
  on(event: 'close', listener: (error?: Error) => void): unknown;
  /** The connection failed. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** The broker stopped (or resumed) reading from publishers (a memory or disk alarm). */
  on(event: 'blocked' | 'unblocked', listener: (reason?: string) => void): unknown;
}

/**
 * Opens a connection: amqplib's `connect`, or your own (TLS options, a pool, a test double).
 * @category Messaging
 */
export type AmqpConnect = () => Promise<AmqpConnection>;
