import { ConfigDefaults, InvalidArgumentError } from '../core.js';

/**
 * The names of the broker objects annals declares, and their checks.
 *
 * @module
 */

/**
 * The defaults of the seed's configuration.
 *
 * @category Messaging
 */
export const AmqpDefaults = {
  /** The topic exchange the relay publishes to. */
  exchange: ConfigDefaults.exchange,
  /** Prefix of each projection's queue: `projection_<name>`. */
  queuePrefix: ConfigDefaults.queuePrefix,
  /** Where messages go after their last retry. */
  deadLetterQueue: ConfigDefaults.deadLetterQueue,
  /** Unacknowledged messages per consumer. */
  prefetch: ConfigDefaults.prefetch,
  /** Delay before a failed message is retried, in milliseconds. */
  retryDelayMs: ConfigDefaults.retryDelayMs,
  /** Retries after the first failure before a message is dead-lettered (as on the log runner). */
  maxRetryAttempts: ConfigDefaults.maxRetryAttempts,
  /** Events per relay page (one confirm wait per page). */
  batchSize: ConfigDefaults.batchSize,
} as const;

// AMQP short strings: at most 255 bytes; annals keeps to a safe character set.
const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

/** Throws {@link InvalidArgumentError} unless `name` is a usable exchange or queue name. */
export function assertBrokerName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.startsWith('amq.')) {
    throw new InvalidArgumentError(
      `${kind} must be 1 to 200 characters out of A-Z a-z 0-9 _ . : - and not start with "amq."; got ${JSON.stringify(name)}`,
    );
  }
}

/** The main queue of a projection on the broker. */
export function projectionQueueName(prefix: string, projection: string): string {
  const name = `${prefix}${projection}`;
  assertBrokerName('queue name', name);
  return name;
}

/** The queue where a projection's failed messages wait `retryDelayMs` before they come back. */
export function retryQueueName(queue: string): string {
  return `${queue}.retry`;
}
