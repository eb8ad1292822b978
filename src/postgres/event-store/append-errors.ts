import {
  ConcurrencyError,
  DuplicateEventError,
  type EncodedEvent,
  type ExpectedVersionMode,
  isAnnalsError,
  SerializationError,
} from '../../core.js';
import { driverFields as fields, toStoreError } from '../driver/errors.js';

/**
 * Maps the errors of an append: conflicts and foreign event ids raised by `append_events`,
 * unique-index races, and text that jsonb cannot hold.
 *
 * @internal
 * @module
 */

/** SQLSTATE raised by `append_events` when the expected version does not match (DETAIL: actual version). */
export const SQLSTATE_CONCURRENCY = 'ZA001';
/** SQLSTATE raised by `append_events` when an event id is stored in another stream or append (DETAIL: the id). */
export const SQLSTATE_DUPLICATE_EVENT = 'ZA002';

/** True for the unique-index error of an event id that a concurrent append stored first. */
export function isEventIdRace(error: unknown): boolean {
  const { code, constraint } = fields(error);
  return code === '23505' && constraint === 'events_event_id_key';
}

/**
 * True for a unique-index error of the events table: a version of the stream or an event id
 * that a concurrent (or earlier) append stored first.
 */
export function isUniqueViolation(error: unknown): boolean {
  const { code, constraint } = fields(error);
  return (
    code === '23505' && (constraint === 'events_event_id_key' || constraint === 'events_stream_version_key')
  );
}

/** What {@link toAppendError} needs to know about the failed append. */
export interface AppendErrorContext {
  readonly aggregateId: string;
  readonly expectedVersion: ExpectedVersionMode;
  readonly events: readonly EncodedEvent[];
}

// JSON text holding the escape \u0000 (an odd number of backslashes before "u0000").
const NUL_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/**
 * Maps an error of an append: conflicts and foreign event ids raised by `append_events`,
 * duplicate event ids caught by the unique index (a concurrent append), text that jsonb cannot
 * hold (`\u0000`, lone surrogates) as {@link SerializationError}, the rest as in
 * {@link toStoreError}.
 */
export function toAppendError(error: unknown, context: AppendErrorContext): Error {
  if (isAnnalsError(error)) return error;
  const { code, detail, message } = fields(error);
  if (code === SQLSTATE_CONCURRENCY) {
    const actual = Number(detail);
    return new ConcurrencyError(
      context.aggregateId,
      context.expectedVersion,
      Number.isSafeInteger(actual) ? actual : -1,
    );
  }
  if (code === SQLSTATE_DUPLICATE_EVENT) {
    return new DuplicateEventError(String(detail), 'it belongs to another stream or another append');
  }
  if (isEventIdRace(error)) {
    // A concurrent append stored one of these ids first.
    const id = /\(event_id\)=\((.*)\) already exists/.exec(String(detail))?.[1] ?? context.events[0]?.eventId;
    return new DuplicateEventError(String(id), 'a concurrent append stored it first');
  }
  if (code === '22P05' || code === '22P02') {
    const culprit =
      context.events.find(
        (event) => NUL_ESCAPE.test(event.payloadJson) || NUL_ESCAPE.test(event.metadataJson),
      ) ?? context.events[0];
    return new SerializationError(
      culprit?.type ?? 'unknown',
      `PostgreSQL jsonb cannot store this text (${typeof message === 'string' ? message : String(error)})`,
      { cause: error },
    );
  }
  return toStoreError(error, `append to "${context.aggregateId}"`);
}
