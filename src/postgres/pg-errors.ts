import {
  ConcurrencyError,
  DuplicateEventError,
  type EncodedEvent,
  type ExpectedVersionMode,
  isAnnalsError,
  SerializationError,
  StoreUnavailableError,
} from 'annals';

/** SQLSTATE raised by `append_events` when the expected version does not match (DETAIL: actual version). */
export const SQLSTATE_CONCURRENCY = 'ZA001';
/** SQLSTATE raised by `append_events` when an event id is stored in another stream or append (DETAIL: the id). */
export const SQLSTATE_DUPLICATE_EVENT = 'ZA002';

const CONNECTION_SQLSTATES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '08P01',
]);
const CONNECTION_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
const CONNECTION_MESSAGE =
  /connection terminated|connection ended|connection error|not queryable|client was closed|pool has been ended|cannot use a pool after calling end/i;

interface DriverError {
  code?: unknown;
  detail?: unknown;
  constraint?: unknown;
  message?: unknown;
}

function fields(error: unknown): DriverError {
  return typeof error === 'object' && error !== null ? (error as DriverError) : {};
}

/** True when an error means the connection to the server was lost or refused. */
export function isConnectionError(error: unknown, depth = 0): boolean {
  const { code, message } = fields(error);
  if (typeof code === 'string' && (CONNECTION_SQLSTATES.has(code) || CONNECTION_ERRNOS.has(code)))
    return true;
  if (typeof message === 'string' && CONNECTION_MESSAGE.test(message)) return true;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return depth < 3 && cause !== undefined && isConnectionError(cause, depth + 1);
}

/**
 * Turns a driver error into an annals error: annals errors pass through, a lost connection and
 * every other server error become {@link StoreUnavailableError} with the original as `cause`.
 *
 * @param operation - what was attempted, for the message (such as `load`).
 */
export function toStoreError(error: unknown, operation: string): Error {
  if (isAnnalsError(error)) return error;
  const { code, message } = fields(error);
  const reason = typeof message === 'string' ? message : String(error);
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`${operation}: the connection to PostgreSQL was lost (${reason})`, {
      cause: error,
    });
  }
  const sqlstate = typeof code === 'string' ? ` [${code}]` : '';
  return new StoreUnavailableError(`${operation} failed${sqlstate}: ${reason}`, { cause: error });
}

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
