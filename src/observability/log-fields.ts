import type { ProjectionError } from '../errors.js';
import { formatLogPosition, logPositionOf, type StoredEvent } from '../events/event-envelope.js';
import { ProjectionHandlerError } from '../projections/projection-handler-error.js';
import type { LogFields } from './logger.js';

/**
 * The ids of an event a log record about it carries: `eventId`, `eventType`, `aggregateId`,
 * `aggregateType`, `version`, `position` (`txid:position`), `correlationId`, `causationId`.
 *
 * @internal
 */
export function eventLogFields(event: StoredEvent): LogFields {
  const { correlationId, causationId } = event.metadata ?? {};
  return {
    eventId: event.eventId,
    eventType: event.type,
    aggregateId: event.aggregateId,
    aggregateType: event.aggregateType,
    version: event.version,
    position: formatLogPosition(logPositionOf(event)),
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(causationId === undefined ? {} : { causationId }),
  };
}

/**
 * The fields of a log record about a projection's error: the projection, the event's ids when it
 * was one event's, the attempts, and the original error under `err`.
 *
 * @internal
 */
export function projectionErrorLogFields(error: ProjectionError, event?: StoredEvent): LogFields {
  const fields: Record<string, unknown> = { projection: error.projection };
  if (event) Object.assign(fields, eventLogFields(event));
  if (error instanceof ProjectionHandlerError) {
    fields.eventId = error.eventId;
    fields.eventType = error.eventType;
    fields.position = formatLogPosition(error.position);
    fields.aggregateId = error.aggregateId;
    fields.attempt = error.attempts;
    if (error.correlationId !== undefined) fields.correlationId = error.correlationId;
    if (error.causationId !== undefined) fields.causationId = error.causationId;
  }
  fields.err = error.cause ?? error;
  return fields;
}
