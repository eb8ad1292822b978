import { isAnnalsError, StoreFailedError, StoreUnavailableError } from '../../core.js';

/**
 * Classifies driver errors where they arise, so that callers know transient from permanent:
 * connection-level failures become {@link StoreUnavailableError} (transient), every other server
 * error {@link StoreFailedError} (permanent, with its SQLSTATE).
 *
 * @internal
 * @module
 */

/**
 * SQLSTATEs after which the same statement may succeed on another attempt: the connection
 * (class 08), the server shutting down or not accepting connections yet (57P01-57P03), an idle
 * session closed by the server (57P05), too many connections (53300), and the server rolling a
 * transaction back to resolve a serialization failure or a deadlock (40001, 40P01), and a lock
 * timeout while another session holds the lock (55P03).
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '53300', '40001', '40P01', '55P03']);
/** SQLSTATEs that mean the connection itself is gone (class 08, and the shutdowns). */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05']);
const CONNECTION_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** What `pg` and `pg-pool` say when a connection dies, a pool is ended or a checkout times out. */
const CONNECTION_MESSAGE =
  /connection terminated|connection ended|connection error|not queryable|client was closed|pool has been ended|cannot use a pool after calling end|timeout exceeded when trying to connect|client has encountered a connection error/i;

interface DriverError {
  code?: unknown;
  detail?: unknown;
  constraint?: unknown;
  message?: unknown;
}

/** The fields a `pg` (or PGlite) error carries, read defensively. */
export function driverFields(error: unknown): DriverError {
  return typeof error === 'object' && error !== null ? (error as DriverError) : {};
}

/** The SQLSTATE of a driver error (or of the `cause` of a wrapping error), if any. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 3; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    const sqlState = (current as { sqlState?: unknown }).sqlState;
    if (typeof sqlState === 'string') return sqlState;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True when an error means the connection to the server was lost, refused or never obtained. */
export function isConnectionError(error: unknown, depth = 0): boolean {
  const { code, message } = driverFields(error);
  if (typeof code === 'string') {
    if (code.startsWith('08') && code.length === 5) return true;
    if (CONNECTION_SQLSTATES.has(code) || CONNECTION_ERRNOS.has(code)) return true;
  }
  if (typeof message === 'string' && CONNECTION_MESSAGE.test(message)) return true;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return depth < 3 && cause !== undefined && isConnectionError(cause, depth + 1);
}

/** True when the same operation may succeed if it is tried again (see `TRANSIENT_SQLSTATES`). */
export function isTransientDriverError(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const code = sqlStateOf(error);
  return code !== undefined && TRANSIENT_SQLSTATES.has(code);
}

/**
 * Turns a driver error into an annals error. annals errors pass through; connection-level and
 * other transient failures become {@link StoreUnavailableError}; every other error
 * {@link StoreFailedError} with the SQLSTATE. Both keep the driver's error as `cause`.
 *
 * @param operation - what was attempted, for the message (such as `load`).
 */
export function toStoreError(error: unknown, operation: string): Error {
  if (isAnnalsError(error)) return error;
  const { message } = driverFields(error);
  const reason = typeof message === 'string' ? message : String(error);
  const sqlState = sqlStateOf(error);
  const tag = sqlState === undefined ? '' : ` [${sqlState}]`;
  if (isConnectionError(error)) {
    return new StoreUnavailableError(
      `${operation}: the connection to PostgreSQL was lost${tag} (${reason})`,
      {
        cause: error,
        ...(sqlState === undefined ? {} : { sqlState }),
      },
    );
  }
  if (isTransientDriverError(error)) {
    return new StoreUnavailableError(`${operation} failed${tag}, retry: ${reason}`, {
      cause: error,
      ...(sqlState === undefined ? {} : { sqlState }),
    });
  }
  return new StoreFailedError(`${operation} failed${tag}: ${reason}`, {
    cause: error,
    ...(sqlState === undefined ? {} : { sqlState }),
  });
}
