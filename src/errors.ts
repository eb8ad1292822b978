/**
 * Every error that annals throws on purpose is an {@link AnnalsError} with a stable
 * {@link AnnalsError.code}. Check errors with the `isXxxError()` guards: they compare the code,
 * so they also work when two copies of annals (ESM and CommonJS) are loaded in one process,
 * where `instanceof` would fail.
 *
 * @module
 */

/**
 * The stable codes of annals errors. A code never changes meaning between releases.
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
  /** An argument or option is invalid (bad identifier, bad expected version, bad option). */
  InvalidArgument: 'ANNALS_INVALID_ARGUMENT',
  /** The store's backend failed or the connection was lost; nothing was written. */
  StoreUnavailable: 'ANNALS_STORE_UNAVAILABLE',
  /** A command was rejected by a business rule of the domain. */
  DomainRule: 'ANNALS_DOMAIN_RULE',
  /** An event could not be brought to its current schema version. */
  Upcast: 'ANNALS_UPCAST',
  /** A command with the same id is being processed right now. */
  CommandInProgress: 'ANNALS_COMMAND_IN_PROGRESS',
  /** A projection failed or is misconfigured. */
  Projection: 'ANNALS_PROJECTION',
  /** Retries were exhausted. */
  RetriesExhausted: 'ANNALS_RETRIES_EXHAUSTED',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The base class of every error annals throws on purpose.
 *
 * @example
 * ```ts
 * try { await store.append(id, 3, events); }
 * catch (error) { if (isConcurrencyError(error)) console.log(error.actualVersion); }
 * ```
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

/** The current version of a stream, as the store saw it; `0` when the stream does not exist. */
export type ActualVersion = number;

/**
 * An append's expected version did not match the stream's current version.
 * Nothing of the append was written.
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

/** One problem a payload's schema (zod or another Standard Schema validator) found in a payload. */
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

/** An event payload does not match its zod schema. Nothing was written. */
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

/** An event type is not registered. */
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

/** A value cannot be stored as JSON. Nothing was written. */
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

/** A command needs an aggregate that has no events. */
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

/** A creation event was raised on an aggregate that already has events. */
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

/** An aggregate has no handler for an event type it was asked to apply. */
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

/** An event id is stored already, in another stream or as part of a different append. */
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

/** An argument or option is invalid. */
export class InvalidArgumentError extends AnnalsError {
  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
  }
}

/** The store's backend failed (lost connection, server error). The operation had no effect. */
export class StoreUnavailableError extends AnnalsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StoreUnavailable, message, options);
  }
}

/**
 * A business rule rejected a command. Throw it (or a subclass) from aggregate methods;
 * repositories never retry it.
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

/** An event could not be upcast to the current schema version. */
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

/** A command with this id is being processed by someone else right now. Retry later. */
export class CommandInProgressError extends AnnalsError {
  constructor(
    /** The command id. */
    readonly commandId: string,
  ) {
    super(ErrorCode.CommandInProgress, `Command "${commandId}" is already being processed`);
  }
}

/** A projection is misconfigured or failed. */
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

/** An operation was retried as often as allowed and still failed; `cause` holds the last error. */
export class RetriesExhaustedError extends AnnalsError {
  constructor(
    /** How many attempts were made. */
    readonly attempts: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.RetriesExhausted, message, options);
  }
}

function hasCode(error: unknown, code: ErrorCodeValue): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

const knownCodes: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

/** True for any error thrown by annals on purpose (checks the code, not the class). */
export function isAnnalsError(error: unknown): error is AnnalsError {
  return (
    typeof error === 'object' &&
    error !== null &&
    error instanceof Error &&
    knownCodes.has((error as { code?: unknown }).code)
  );
}
/** True for a {@link ConcurrencyError}. */
export const isConcurrencyError = (error: unknown): error is ConcurrencyError =>
  hasCode(error, ErrorCode.Concurrency);
/** True for an {@link EventValidationError}. */
export const isEventValidationError = (error: unknown): error is EventValidationError =>
  hasCode(error, ErrorCode.EventValidation);
/** True for an {@link UnknownEventTypeError}. */
export const isUnknownEventTypeError = (error: unknown): error is UnknownEventTypeError =>
  hasCode(error, ErrorCode.UnknownEventType);
/** True for a {@link SerializationError}. */
export const isSerializationError = (error: unknown): error is SerializationError =>
  hasCode(error, ErrorCode.Serialization);
/** True for an {@link AggregateNotFoundError}. */
export const isAggregateNotFoundError = (error: unknown): error is AggregateNotFoundError =>
  hasCode(error, ErrorCode.AggregateNotFound);
/** True for an {@link AggregateAlreadyExistsError}. */
export const isAggregateAlreadyExistsError = (error: unknown): error is AggregateAlreadyExistsError =>
  hasCode(error, ErrorCode.AggregateAlreadyExists);
/** True for a {@link MissingEventHandlerError}. */
export const isMissingEventHandlerError = (error: unknown): error is MissingEventHandlerError =>
  hasCode(error, ErrorCode.MissingEventHandler);
/** True for a {@link DuplicateEventError}. */
export const isDuplicateEventError = (error: unknown): error is DuplicateEventError =>
  hasCode(error, ErrorCode.DuplicateEvent);
/** True for an {@link InvalidArgumentError}. */
export const isInvalidArgumentError = (error: unknown): error is InvalidArgumentError =>
  hasCode(error, ErrorCode.InvalidArgument);
/** True for a {@link StoreUnavailableError}. */
export const isStoreUnavailableError = (error: unknown): error is StoreUnavailableError =>
  hasCode(error, ErrorCode.StoreUnavailable);
/** True for a {@link DomainRuleError}. */
export const isDomainRuleError = (error: unknown): error is DomainRuleError =>
  hasCode(error, ErrorCode.DomainRule);
/** True for an {@link UpcastError}. */
export const isUpcastError = (error: unknown): error is UpcastError => hasCode(error, ErrorCode.Upcast);
/** True for a {@link CommandInProgressError}. */
export const isCommandInProgressError = (error: unknown): error is CommandInProgressError =>
  hasCode(error, ErrorCode.CommandInProgress);
/** True for a {@link ProjectionError}. */
export const isProjectionError = (error: unknown): error is ProjectionError =>
  hasCode(error, ErrorCode.Projection);
/** True for a {@link RetriesExhaustedError}. */
export const isRetriesExhaustedError = (error: unknown): error is RetriesExhaustedError =>
  hasCode(error, ErrorCode.RetriesExhausted);
