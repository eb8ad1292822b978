/**
 * `annals/amqp`: the RabbitMQ integration, on core contracts only (it never imports
 * `annals/postgres` or a driver; amqplib 0.10 or later is an optional peer, loaded on first use).
 *
 * - Publishing: {@link EventRelay} follows the global log from its own checkpoint and publishes
 *   every event to a topic exchange (default `domain_events`) on a confirm channel: at-least-once,
 *   in log order, one active relay per exchange (a lease), reconnecting with backoff.
 * - Connecting: {@link connectAmqp} (amqplib, clear errors for a bad URL or an unreachable broker),
 *   or your own {@link AmqpConnect} factory; the client shapes annals needs ({@link AmqpConnection}, …).
 * - The wire format: {@link EventHeader}, {@link routingKeyOf}, and the defaults and names of the
 *   broker objects ({@link AmqpDefaults}).
 * - Consuming: {@link ProjectionConsumer} runs a projection on its own queue, exactly once per
 *   event, in version order per aggregate, with delayed retries and a dead-letter queue
 *   ({@link BrokerDeadLetters} lists, replays and discards its messages).
 *
 * @packageDocumentation
 * @module annals/amqp
 */

export type {
  AmqpChannel,
  AmqpConfirmChannel,
  AmqpConnect,
  AmqpConnection,
  AmqpMessage,
  AmqpPublishOptions,
} from './amqp-shapes.js';
export { type ConnectAmqpOptions, connectAmqp } from './connect.js';
export {
  type BrokerDeadLetter,
  BrokerDeadLetters,
  type BrokerDeadLettersOptions,
  type ListBrokerDeadLettersOptions,
  listBrokerDeadLetters,
} from './dead-letters.js';
export { EventHeader, routingKeyOf } from './message-codec.js';
export {
  deadLetterConsumerName,
  FailureHeader,
  ProjectionConsumer,
  type ProjectionConsumerOptions,
  type ProjectionConsumerState,
  type ProjectionConsumerStatus,
} from './projection-consumer.js';
export {
  EventRelay,
  type EventRelayOptions,
  type EventRelayState,
  type EventRelayStatus,
} from './relay.js';
export { AmqpDefaults } from './topology.js';
