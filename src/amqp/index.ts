/**
 * `annals/amqp`: reserved for the RabbitMQ integration (relay from the global log to an
 * exchange, projection consumers with prefetch, retries and a dead-letter queue). It exports
 * nothing yet; the entry point exists so that the package layout is stable.
 *
 * @packageDocumentation
 */

export {};
