import type { StoredEvent } from './event-envelope.js';
import type { RawStoredEvent } from './event-registry.js';

/**
 * A stored event as plain JSON: positions as decimal strings, the timestamp as ISO 8601. What a
 * dead letter keeps and what an event message carries.
 *
 * @internal
 */
export interface StoredEventJson {
  readonly eventId: string;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly type: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly timestamp: string;
  readonly payload: unknown;
  readonly metadata: unknown;
  readonly globalPosition: string;
  readonly transactionId: string;
}

/**
 * The JSON form of a stored event (read, or as stored when it could not be read).
 *
 * @internal
 */
export function toStoredEventJson(event: StoredEvent | RawStoredEvent): StoredEventJson {
  return {
    eventId: event.eventId,
    aggregateId: event.aggregateId,
    aggregateType: event.aggregateType,
    type: event.type,
    version: event.version,
    schemaVersion: event.schemaVersion,
    timestamp: event.timestamp.toISOString(),
    payload: event.payload,
    metadata: event.metadata,
    globalPosition: event.globalPosition.toString(),
    transactionId: event.transactionId.toString(),
  };
}
