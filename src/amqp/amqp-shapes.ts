/**
 * The parts of an AMQP 0-9-1 client that `annals/amqp` uses, declared by shape so that no
 * driver is imported: amqplib's promise API (0.10, 1.x and 2.x) fits them as it is.
 *
 * @module
 */

/** Properties of a published message (amqplib's `Options.Publish`, the fields annals uses). */
export interface AmqpPublishOptions {
  readonly persistent?: boolean;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly type?: string;
  readonly timestamp?: number;
  readonly contentType?: string;
  readonly headers?: Record<string, unknown>;
  readonly expiration?: string | number;
}

/** A delivered message (amqplib's `Message` / `ConsumeMessage`). */
export interface AmqpMessage {
  readonly content: Buffer;
  readonly fields: {
    readonly deliveryTag: number;
    readonly redelivered: boolean;
    readonly exchange: string;
    readonly routingKey: string;
    readonly consumerTag?: string;
  };
  readonly properties: {
    readonly messageId?: string;
    readonly correlationId?: string;
    readonly type?: string;
    readonly timestamp?: number;
    readonly contentType?: string;
    readonly headers?: Record<string, unknown>;
  };
}

/** A channel (amqplib's `Channel`). */
export interface AmqpChannel {
  assertExchange(
    exchange: string,
    type: string,
    options?: { durable?: boolean; autoDelete?: boolean; arguments?: Record<string, unknown> },
  ): Promise<unknown>;
  assertQueue(
    queue: string,
    options?: {
      durable?: boolean;
      exclusive?: boolean;
      autoDelete?: boolean;
      arguments?: Record<string, unknown>;
    },
  ): Promise<{ queue: string; messageCount: number; consumerCount: number }>;
  bindQueue(
    queue: string,
    exchange: string,
    pattern: string,
    args?: Record<string, unknown>,
  ): Promise<unknown>;
  deleteQueue(queue: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<unknown>;
  deleteExchange(exchange: string, options?: { ifUnused?: boolean }): Promise<unknown>;
  prefetch(count: number, global?: boolean): Promise<unknown>;
  consume(
    queue: string,
    onMessage: (message: AmqpMessage | null) => void,
    options?: { noAck?: boolean; consumerTag?: string; exclusive?: boolean },
  ): Promise<{ consumerTag: string }>;
  cancel(consumerTag: string): Promise<unknown>;
  get(queue: string, options?: { noAck?: boolean }): Promise<AmqpMessage | false>;
  ack(message: AmqpMessage, allUpTo?: boolean): void;
  nack(message: AmqpMessage, allUpTo?: boolean, requeue?: boolean): void;
  publish(exchange: string, routingKey: string, content: Buffer, options?: AmqpPublishOptions): boolean;
  sendToQueue(queue: string, content: Buffer, options?: AmqpPublishOptions): boolean;
  close(): Promise<void>;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
}

/** A channel in confirm mode (amqplib's `ConfirmChannel`): the broker acknowledges each publish. */
export interface AmqpConfirmChannel extends AmqpChannel {
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options?: AmqpPublishOptions,
    callback?: (error: unknown, ok: unknown) => void,
  ): boolean;
  sendToQueue(
    queue: string,
    content: Buffer,
    options?: AmqpPublishOptions,
    callback?: (error: unknown, ok: unknown) => void,
  ): boolean;
  /** Resolves when every message published so far is confirmed; rejects if one was nacked. */
  waitForConfirms(): Promise<void>;
}

/** A connection (amqplib's `ChannelModel`, what `connect()` resolves to). */
export interface AmqpConnection {
  createChannel(): Promise<AmqpChannel>;
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
  close(): Promise<void>;
  on(event: 'close', listener: (error?: Error) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'blocked' | 'unblocked', listener: (reason?: string) => void): unknown;
}

/** Opens a connection: amqplib's `connect`, or your own (TLS options, a pool, a test double). */
export type AmqpConnect = () => Promise<AmqpConnection>;
