import { ProjectionError } from '../errors.js';
import {
  formatLogPosition,
  type LogPosition,
  logPositionOf,
  type StoredEvent,
} from '../events/event-envelope.js';
import type { DeadLetterError } from './projection-store.js';

/**
 * A projection's handler kept failing on one event, and the projection's policy is `'stop'`, or a
 * dead letter's retry failed. A {@link ProjectionError} (code `ANNALS_PROJECTION`); `cause` holds
 * what the handler threw last.
 *
 * @category Errors
 */
export class ProjectionHandlerError extends ProjectionError {
  /** The failing event's id. */
  readonly eventId: string;
  /** The failing event's type. */
  readonly eventType: string;
  /** The failing event's position in the global log. */
  readonly position: LogPosition;
  /** The failing event's aggregate. */
  readonly aggregateId: string;
  /** The failing event's correlation id, when its metadata has one. */
  readonly correlationId: string | undefined;
  /** The failing event's causation id, when its metadata has one. */
  readonly causationId: string | undefined;

  constructor(
    projection: string,
    event: StoredEvent,
    /** How many times the handler was called for the event. */
    readonly attempts: number,
    cause: unknown,
  ) {
    super(
      projection,
      `handler for ${event.type} event ${event.eventId} at ${formatLogPosition(logPositionOf(event))} failed after ${attempts} attempt(s): ${toDeadLetterError(cause).message}`,
      { cause },
    );
    this.eventId = event.eventId;
    this.eventType = event.type;
    this.position = logPositionOf(event);
    this.aggregateId = event.aggregateId;
    this.correlationId = event.metadata?.correlationId;
    this.causationId = event.metadata?.causationId;
  }
}

/**
 * An event of a type the projection handles cannot be read (its payload fails the current schema,
 * or its upcaster throws), and the projection's `onUndecodable` policy is `'stop'`: the projection
 * stops before it. A {@link ProjectionHandlerError} whose `attempts` is 0 (no handler ran) and
 * whose `cause` is the decode error; deploy code whose registry reads the event, then start the
 * projection again.
 *
 * @category Errors
 */
export class UndecodableEventError extends ProjectionHandlerError {
  constructor(projection: string, event: StoredEvent, cause: unknown) {
    super(projection, event, 0, cause);
    this.message = `Projection "${projection}": stopped before ${event.type} event ${event.eventId} (schema version ${event.schemaVersion}) at ${formatLogPosition(logPositionOf(event))}, which cannot be read: ${toDeadLetterError(cause).message}`;
  }
}

/** Turns anything thrown into the text a dead letter records. */
export function toDeadLetterError(error: unknown): DeadLetterError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  let message: string;
  try {
    message = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    message = String(error);
  }
  return { name: undefined, message, stack: undefined };
}
