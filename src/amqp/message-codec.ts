import {
  CorruptDataError,
  type EventRegistry,
  extractTraceparent,
  formatLogPosition,
  parseLogPosition,
  type RawStoredEvent,
  type StoredEvent,
  type StoredEventJson,
  toStoredEventJson,
} from '../core.js';
import type { AmqpMessage, AmqpPublishOptions } from './amqp-shapes.js';

/**
 * How an event of the log travels through the broker: the body is the event envelope as JSON
 * (positions as decimal strings), the properties and headers repeat what routing and tracing need.
 *
 * @module
 */

/**
 * Header names annals sets on every event message.
 *
 * @category Messaging
 */
export const EventHeader = {
  /** The event's aggregate id. */
  aggregateId: 'x-aggregate-id',
  /** The event's aggregate type. */
  aggregateType: 'x-aggregate-type',
  /** The event's version in its stream (1 for the first event). */
  version: 'x-version',
  /** The schema version the event's payload was stored with. */
  schemaVersion: 'x-schema-version',
  /** The event's position in the global log, as `transactionId:globalPosition`. */
  logPosition: 'x-log-position',
  /** The event's causation id, when its metadata has one. */
  causationId: 'x-causation-id',
  /**
   * The W3C trace context of the event (the `traceparent` of its metadata: the span of its
   * append), so that a consumer's span continues the trace of the command that caused it.
   */
  traceparent: 'traceparent',
} as const;

/** The JSON body of an event message. */
type EventBody = StoredEventJson;

/** A message ready to publish. */
export interface EncodedEventMessage {
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: AmqpPublishOptions;
}

/**
 * The routing key of an event: `<aggregateType>.<eventType>`. Consumers bind `*.<eventType>`.
 *
 * @category Messaging
 */
export function routingKeyOf(event: Pick<RawStoredEvent, 'aggregateType' | 'type'>): string {
  return `${event.aggregateType}.${event.type}`;
}

/**
 * Encodes an event of the log (read, or reported as undecodable: its stored form travels as it
 * is) as a persistent message whose id is the event id.
 *
 * @internal
 */
export function encodeEventMessage(event: RawStoredEvent | StoredEvent): EncodedEventMessage {
  const metadata = (
    typeof event.metadata === 'object' && event.metadata !== null ? event.metadata : {}
  ) as Record<string, unknown>;
  const position = formatLogPosition({
    transactionId: event.transactionId,
    globalPosition: event.globalPosition,
  });
  const body: EventBody = { ...toStoredEventJson(event), metadata };
  const headers: Record<string, unknown> = {
    [EventHeader.aggregateId]: event.aggregateId,
    [EventHeader.aggregateType]: event.aggregateType,
    [EventHeader.version]: event.version,
    [EventHeader.schemaVersion]: event.schemaVersion,
    [EventHeader.logPosition]: position,
  };
  if (typeof metadata.causationId === 'string') headers[EventHeader.causationId] = metadata.causationId;
  const traceparent = extractTraceparent(metadata);
  if (traceparent !== undefined) headers[EventHeader.traceparent] = traceparent;
  return {
    routingKey: routingKeyOf(event),
    content: Buffer.from(JSON.stringify(body)),
    options: {
      persistent: true,
      messageId: event.eventId,
      ...(typeof metadata.correlationId === 'string' ? { correlationId: metadata.correlationId } : {}),
      type: event.type,
      timestamp: Math.floor(event.timestamp.getTime() / 1000),
      contentType: 'application/json',
      headers,
    },
  };
}

/**
 * Reads the stored event a message carries, as the store had it (not yet decoded by a registry).
 * A message annals did not write is a {@link CorruptDataError}.
 *
 * @internal
 */
export function rawEventOfMessage(message: AmqpMessage): RawStoredEvent {
  let body: Partial<EventBody>;
  try {
    body = JSON.parse(message.content.toString('utf8')) as Partial<EventBody>;
  } catch (error) {
    throw new CorruptDataError(`message ${message.properties.messageId ?? '(no id)'} is not JSON`, {
      cause: error,
    });
  }
  const position =
    typeof body.transactionId === 'string' && typeof body.globalPosition === 'string'
      ? parseLogPosition(`${body.transactionId}:${body.globalPosition}`)
      : undefined;
  const timestamp = typeof body.timestamp === 'string' ? new Date(body.timestamp) : undefined;
  if (
    typeof body.eventId !== 'string' ||
    typeof body.aggregateId !== 'string' ||
    typeof body.aggregateType !== 'string' ||
    typeof body.type !== 'string' ||
    !Number.isSafeInteger(body.version) ||
    !Number.isSafeInteger(body.schemaVersion) ||
    !position ||
    !timestamp ||
    Number.isNaN(timestamp.getTime())
  ) {
    throw new CorruptDataError(
      `message ${message.properties.messageId ?? '(no id)'} is not an annals event (routing key ${message.fields.routingKey})`,
    );
  }
  return {
    eventId: body.eventId,
    aggregateId: body.aggregateId,
    aggregateType: body.aggregateType,
    type: body.type,
    version: body.version as number,
    schemaVersion: body.schemaVersion as number,
    timestamp,
    payload: body.payload,
    metadata: body.metadata,
    globalPosition: position.globalPosition,
    transactionId: position.transactionId,
  };
}

/**
 * Decodes a message into the event it carries, through `registry` (upcasting and validation, as
 * on every read path).
 *
 * @internal
 */
export function decodeEventMessage(message: AmqpMessage, registry: EventRegistry): StoredEvent {
  return registry.decode(rawEventOfMessage(message));
}
