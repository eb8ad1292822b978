/**
 * Every error that annals throws on purpose is an {@link AnnalsError} with a stable
 * {@link AnnalsError.code}. Check errors with {@link isAnnalsError | isAnnalsError(error, code)}:
 * it compares the code, so it also works when two copies of annals (ESM and CommonJS) are loaded
 * in one process, where `instanceof` would fail. {@link isTransientError} tells the errors worth
 * retrying later from the permanent ones.
 *
 * @module
 */

/**
 * The stable codes of annals errors. A code never changes meaning between releases.
 *
 * @category Errors
 */
export const ErrorCode = {
  /** An append's expected version did not match the stream. */
  Concurrency: 'ANNALS_CONCURRENCY',
  /** An event payload failed its zod schema (on append or on read). */
  EventValidation: 'ANNALS_EVENT_VALIDATION',
  /** An event type is not registered with the store's event registry. */
  UnknownEventType: 'ANNALS_UNKNOWN_EVENT_TYPE',
  /** A payload or metadata value cannot be stored as JSON (BigInt, cycles, functions). */
  Serialization: 'ANNALS_SERIALIZATION',
  /** A command ran against an aggregate that has no events yet. */
  AggregateNotFound: 'ANNALS_AGGREGATE_NOT_FOUND',
  /** A creation event was raised on an aggregate that already exists. */
  AggregateAlreadyExists: 'ANNALS_AGGREGATE_ALREADY_EXISTS',
  /** An aggregate received an event type it has no handler for. */
  MissingEventHandler: 'ANNALS_MISSING_EVENT_HANDLER',
  /** An event id is already stored, but not as the same append. */
  DuplicateEvent: 'ANNALS_DUPLICATE_EVENT',
  /** An argument or option is invalid (bad identifier, bad expected version, bad option). Permanent. */
  InvalidArgument: 'ANNALS_INVALID_ARGUMENT',
  /**
   * The store could not be reached: the connection was lost or refused, the pool timed out, the
   * server is shutting down, or it aborted the transaction to resolve a deadlock or a
   * serialization conflict. Nothing was written; the same call may succeed later (transient).
   */
  StoreUnavailable: 'ANNALS_STORE_UNAVAILABLE',
  /**
   * The connection was lost while a COMMIT was in flight: the transaction may or may not have
   * committed. Retrying is safe where the operation is idempotent (appends with the same event
   * ids, checkpoint compare-and-set); transient.
   */
  CommitOutcomeUnknown: 'ANNALS_COMMIT_OUTCOME_UNKNOWN',
  /**
   * The store's backend refused the operation for a reason that retrying will not fix (an SQL
   * error, a missing table, an aborted transaction, a violated constraint). Permanent; the error
   * carries the SQLSTATE when there is one.
   */
  StoreFailed: 'ANNALS_STORE_FAILED',
  /**
   * Stored data is not what annals wrote or expects: a stream with a version gap, a snapshot
   * whose state fails its schema, a command record written by other code. Permanent.
   */
  CorruptData: 'ANNALS_CORRUPT_DATA',
  /** A command was rejected by a business rule of the domain. */
  DomainRule: 'ANNALS_DOMAIN_RULE',
  /** An event could not be brought to its current schema version. */
  Upcast: 'ANNALS_UPCAST',
  /** A command with the same id is being processed right now. */
  CommandInProgress: 'ANNALS_COMMAND_IN_PROGRESS',
  /** A projection failed or is misconfigured. */
  Projection: 'ANNALS_PROJECTION',
} as const;

/**
 * One of the values of {@link ErrorCode}.
 *
 * @category Errors
 */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The base class of every error annals throws on purpose.
 *
 * @example
 * ```ts
 * try { await store.append(id, 3, events); }
 * catch (error) { if (isAnnalsError(error, ErrorCode.Concurrency)) console.log(error.actualVersion); }
 * ```
 *
 * @category Errors
 */
export class AnnalsError extends Error {
  /** The stable code of this kind of error. */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * The current version of a stream, as the store saw it; `0` when the stream does not exist.
 *
 * @category Errors
 */
export type ActualVersion = number;

/**
 * An append's expected version did not match the stream's current version.
 * Nothing of the append was written.
 *
 * @category Errors
 */
export class ConcurrencyError extends AnnalsError {
  constructor(
    /** The aggregate (stream) whose version did not match. */
    readonly aggregateId: string,
    /** What the caller expected: a version number or an expected-version mode. */
    readonly expectedVersion: number | string,
    /** The stream's version when the append was checked; `0` when it does not exist. */
    readonly actualVersion: ActualVersion,
  ) {
    super(
      ErrorCode.Concurrency,
      `Concurrency conflict on aggregate "${aggregateId}": expected version ${String(expectedVersion)}, actual version ${actualVersion}`,
    );
  }
}

/**
 * One problem a payload's schema (zod or another Standard Schema validator) found in a payload.
 *
 * @category Errors
 */
export interface ValidationIssue {
  /** Where in the payload, as a path of keys and indexes (empty for the payload as a whole). */
  readonly path: readonly PropertyKey[];
  /** What is wrong. */
  readonly message: string;
  /**
   * The validator's own issue code, when it reports one: zod's and ArkType's `code` (such as
   * `too_small`), valibot's issue `type` (such as `min_value`). Absent for validators without codes.
   */
  readonly code?: string;
}

/**
 * An event payload does not match its zod schema. Nothing was written.
 *
 * @category Errors
 */
export class EventValidationError extends AnnalsError {
  constructor(
    /** The event type whose payload failed. */
    readonly eventType: string,
    /** The issues zod reported. */
    readonly issues: readonly ValidationIssue[],
    /** The event id, when the event has one. */
    readonly eventId?: string,
  ) {
    const summary = issues
      .slice(0, 5)
      .map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`)
      .join('; ');
    super(ErrorCode.EventValidation, `Invalid payload for event type "${eventType}": ${summary}`);
  }
}

/**
 * An event type is not registered.
 *
 * @category Errors
 */
export class UnknownEventTypeError extends AnnalsError {
  constructor(
    /** The unregistered type. */
    readonly eventType: string,
    /** The event id, when reading a stored event. */
    readonly eventId?: string,
  ) {
    super(
      ErrorCode.UnknownEventType,
      `Unknown event type "${eventType}"${eventId ? ` (event ${eventId})` : ''}: register its definition with the event registry`,
    );
  }
}

/**
 * A value cannot be stored as JSON. Nothing was written.
 *
 * @category Errors
 */
export class SerializationError extends AnnalsError {
  constructor(
    /** The event type being stored. */
    readonly eventType: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.Serialization, `Cannot serialise event "${eventType}": ${message}`, options);
  }
}

/**
 * A command needs an aggregate that has no events.
 *
 * @category Errors
 */
export class AggregateNotFoundError extends AnnalsError {
  constructor(
    /** The aggregate type. */
    readonly aggregateType: string,
    /** The aggregate id. */
    readonly aggregateId: string,
  ) {
    super(ErrorCode.AggregateNotFound, `${aggregateType} "${aggregateId}" does not exist`);
  }
}

/**
 * A creation event was raised on an aggregate that already has events.
 *
 * @category Errors
 */
export class AggregateAlreadyExistsError extends AnnalsError {
  constructor(
    /** The aggregate type. */
    readonly aggregateType: string,
    /** The aggregate id. */
    readonly aggregateId: string,
  ) {
    super(ErrorCode.AggregateAlreadyExists, `${aggregateType} "${aggregateId}" already exists`);
  }
}

/**
 * An aggregate has no handler for an event type it was asked to apply.
 *
 * @category Errors
 */
export class MissingEventHandlerError extends AnnalsError {
  constructor(
    /** The aggregate type. */
    readonly aggregateType: string,
    /** The event type without a handler. */
    readonly eventType: string,
  ) {
    super(
      ErrorCode.MissingEventHandler,
      `${aggregateType} has no handler for event type "${eventType}": add it to the aggregate's handlers`,
    );
  }
}

/**
 * An event id is stored already, in another stream or as part of a different append.
 *
 * @category Errors
 */
export class DuplicateEventError extends AnnalsError {
  constructor(
    /** The event id that is already stored. */
    readonly eventId: string,
    /** Why the append is not a plain retry. */
    reason: string,
  ) {
    super(ErrorCode.DuplicateEvent, `Event id "${eventId}" is already stored: ${reason}`);
  }
}

/**
 * An argument or option is invalid.
 *
 * @category Errors
 */
export class InvalidArgumentError extends AnnalsError {
  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
  }
}

/**
 * Options of the store errors: the driver error and its SQLSTATE.
 *
 * @category Errors
 */
export interface StoreErrorOptions {
  /** The driver's error. */
  readonly cause?: unknown;
  /** The SQLSTATE the server reported, when it reported one (such as `57P01`). */
  readonly sqlState?: string;
}

/**
 * The store could not be reached (connection lost or refused, pool timeout, server shutting
 * down, deadlock or serialization failure). Nothing was written. Transient: retry later
 * (see {@link isTransientError}).
 *
 * @category Errors
 */
export class StoreUnavailableError extends AnnalsError {
  /** The SQLSTATE the server reported, if any. */
  readonly sqlState: string | undefined;

  constructor(message: string, options?: StoreErrorOptions) {
    super(ErrorCode.StoreUnavailable, message, options);
    this.sqlState = options?.sqlState;
  }
}

/**
 * The connection was lost while COMMIT was in flight, so whether the transaction committed is
 * unknown. Transient: retry the same operation where it is idempotent (an append with the same
 * event ids returns the stored result when the first attempt committed).
 *
 * @category Errors
 */
export class CommitOutcomeUnknownError extends AnnalsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CommitOutcomeUnknown, message, options);
  }
}

/**
 * The store refused the operation for a reason a retry will not fix: an SQL error, a missing
 * table, a transaction aborted by an earlier failed statement, a violated constraint. Nothing
 * was written. Permanent.
 *
 * @category Errors
 */
export class StoreFailedError extends AnnalsError {
  /** The SQLSTATE the server reported (such as `25P02`), if any. */
  readonly sqlState: string | undefined;

  constructor(message: string, options?: StoreErrorOptions) {
    super(ErrorCode.StoreFailed, message, options);
    this.sqlState = options?.sqlState;
  }
}

/**
 * Stored data is not what annals wrote or expects (a version gap in a stream, a snapshot whose
 * state fails its schema, a command record written by other code). Permanent: repair the data.
 *
 * @category Errors
 */
export class CorruptDataError extends AnnalsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CorruptData, message, options);
  }
}

/**
 * A business rule rejected a command. Throw it (or a subclass) from aggregate methods;
 * repositories never retry it.
 *
 * @category Errors
 */
export class DomainRuleError extends AnnalsError {
  constructor(
    message: string,
    /** An optional, stable name of the rule for callers to branch on. */
    readonly rule?: string,
  ) {
    super(ErrorCode.DomainRule, message);
  }
}

/**
 * An event could not be upcast to the current schema version.
 *
 * @category Errors
 */
export class UpcastError extends AnnalsError {
  constructor(
    /** The stored event's id. */
    readonly eventId: string,
    /** The event type. */
    readonly eventType: string,
    /** The stored schema version. */
    readonly fromSchemaVersion: number,
    /** The schema version the code expects. */
    readonly toSchemaVersion: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      ErrorCode.Upcast,
      `Cannot upcast event ${eventId} of type "${eventType}" from schema version ${fromSchemaVersion} to ${toSchemaVersion}: ${message}`,
      options,
    );
  }
}

/**
 * A command with this id is being processed by someone else right now. Retry later.
 *
 * @category Errors
 */
export class CommandInProgressError extends AnnalsError {
  constructor(
    /** The command id. */
    readonly commandId: string,
  ) {
    super(ErrorCode.CommandInProgress, `Command "${commandId}" is already being processed`);
  }
}

/**
 * A projection is misconfigured or failed.
 *
 * @category Errors
 */
export class ProjectionError extends AnnalsError {
  constructor(
    /** The projection's name. */
    readonly projection: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.Projection, `Projection "${projection}": ${message}`, options);
  }
}

/**
 * The error class that each {@link ErrorCode} stands for, so that
 * {@link isAnnalsError | isAnnalsError(error, code)} narrows to it.
 *
 * @category Errors
 */
export interface AnnalsErrorByCode {
  /** `ErrorCode.Concurrency` stands for {@link ConcurrencyError}. */
  [ErrorCode.Concurrency]: ConcurrencyError;
  /** `ErrorCode.EventValidation` stands for {@link EventValidationError}. */
  [ErrorCode.EventValidation]: EventValidationError;
  /** `ErrorCode.UnknownEventType` stands for {@link UnknownEventTypeError}. */
  [ErrorCode.UnknownEventType]: UnknownEventTypeError;
  /** `ErrorCode.Serialization` stands for {@link SerializationError}. */
  [ErrorCode.Serialization]: SerializationError;
  /** `ErrorCode.AggregateNotFound` stands for {@link AggregateNotFoundError}. */
  [ErrorCode.AggregateNotFound]: AggregateNotFoundError;
  /** `ErrorCode.AggregateAlreadyExists` stands for {@link AggregateAlreadyExistsError}. */
  [ErrorCode.AggregateAlreadyExists]: AggregateAlreadyExistsError;
  /** `ErrorCode.MissingEventHandler` stands for {@link MissingEventHandlerError}. */
  [ErrorCode.MissingEventHandler]: MissingEventHandlerError;
  /** `ErrorCode.DuplicateEvent` stands for {@link DuplicateEventError}. */
  [ErrorCode.DuplicateEvent]: DuplicateEventError;
  /** `ErrorCode.InvalidArgument` stands for {@link InvalidArgumentError}. */
  [ErrorCode.InvalidArgument]: InvalidArgumentError;
  /** `ErrorCode.StoreUnavailable` stands for {@link StoreUnavailableError}. */
  [ErrorCode.StoreUnavailable]: StoreUnavailableError;
  /** `ErrorCode.CommitOutcomeUnknown` stands for {@link CommitOutcomeUnknownError}. */
  [ErrorCode.CommitOutcomeUnknown]: CommitOutcomeUnknownError;
  /** `ErrorCode.StoreFailed` stands for {@link StoreFailedError}. */
  [ErrorCode.StoreFailed]: StoreFailedError;
  /** `ErrorCode.CorruptData` stands for {@link CorruptDataError}. */
  [ErrorCode.CorruptData]: CorruptDataError;
  /** `ErrorCode.DomainRule` stands for {@link DomainRuleError}. */
  [ErrorCode.DomainRule]: DomainRuleError;
  /** `ErrorCode.Upcast` stands for {@link UpcastError}. */
  [ErrorCode.Upcast]: UpcastError;
  /** `ErrorCode.CommandInProgress` stands for {@link CommandInProgressError}. */
  [ErrorCode.CommandInProgress]: CommandInProgressError;
  /** `ErrorCode.Projection` stands for {@link ProjectionError}. */
  [ErrorCode.Projection]: ProjectionError;
}

const knownCodes: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

/**
 * True for an error that annals threw on purpose; with a `code`, true only for that kind of
 * error, and the type narrows to its class. It compares the code rather than the class, so it
 * also works when two copies of annals (ESM and CommonJS) are loaded in one process, where
 * `instanceof` fails.
 *
 * @example
 * ```ts
 * import { ErrorCode, isAnnalsError } from 'annals';
 *
 * try {
 *   await store.append('order-1', 3, events);
 * } catch (error) {
 *   if (isAnnalsError(error, ErrorCode.Concurrency)) console.log(error.actualVersion);
 *   else throw error;
 * }
 * ```
 *
 * @category Errors
 */
export function isAnnalsError(error: unknown): error is AnnalsError;
export function isAnnalsError<TCode extends ErrorCodeValue>(
  error: unknown,
  code: TCode,
): error is AnnalsErrorByCode[TCode];
export function isAnnalsError(error: unknown, code?: ErrorCodeValue): boolean {
  if (typeof error !== 'object' || error === null || !(error instanceof Error)) return false;
  const actual = (error as { code?: unknown }).code;
  return code === undefined ? knownCodes.has(actual) : actual === code;
}

/**
 * True when retrying the same operation later may succeed: the store was unreachable
 * ({@link StoreUnavailableError}) or a COMMIT's outcome is unknown
 * ({@link CommitOutcomeUnknownError}). Everything else annals throws is permanent for the same
 * input: a retry fails the same way.
 *
 * @category Errors
 */
export function isTransientError(error: unknown): error is StoreUnavailableError | CommitOutcomeUnknownError {
  return (
    isAnnalsError(error, ErrorCode.StoreUnavailable) || isAnnalsError(error, ErrorCode.CommitOutcomeUnknown)
  );
}
