import {
  EventValidationError,
  InvalidArgumentError,
  SerializationError,
  UnknownEventTypeError,
  UpcastError,
} from '../errors.js';
import type { AnyEventDefinition } from './define-event.js';
import type { EventMetadata, NewEvent, StoredEvent } from './event-envelope.js';
import { lastEventIdCounter, lastEventIdMs, newEventId } from './event-id.js';
import {
  copyPlainJson,
  type FlatShape,
  flatValues,
  isFlatJsonCopy,
  lastFlatShape,
  NOT_PLAIN,
} from './json-copy.js';
import { validatePayload } from './validate-payload.js';

/**
 * An event as a store read it, before upcasting and validation: payload and metadata are
 * whatever the JSON held.
 *
 * @category Events
 */
export interface RawStoredEvent {
  /** The event's unique id. */
  readonly eventId: string;
  /** The id of the aggregate (stream) the event belongs to. */
  readonly aggregateId: string;
  /** The aggregate's type, such as `Order`. */
  readonly aggregateType: string;
  /** The event type, as registered with the {@link EventRegistry}. */
  readonly type: string;
  /** The event's version in its stream: 1 for the first event. */
  readonly version: number;
  /** The schema version the payload was written at; upcasting brings it to the current one. */
  readonly schemaVersion: number;
  /** When the event happened (set by the writer). */
  readonly timestamp: Date;
  /** The payload as stored, not yet upcast or validated. */
  readonly payload: unknown;
  /** The metadata as stored, not yet checked. */
  readonly metadata: unknown;
  /** The event's position in the global log; see {@link StoredEvent.globalPosition}. */
  readonly globalPosition: bigint;
  /** The order key of the commit that wrote it; see {@link StoredEvent.transactionId}. */
  readonly transactionId: bigint;
}

/**
 * A new event that passed validation, ready for a store to write.
 *
 * @category Events
 */
export interface EncodedEvent {
  /** The event's id: the one given, or a new UUIDv7. */
  readonly eventId: string;
  /** The aggregate's type, such as `Order`. */
  readonly aggregateType: string;
  /** The event type, registered with the {@link EventRegistry}. */
  readonly type: string;
  /** The schema version of the payload: the definition's current one. */
  readonly schemaVersion: number;
  /** When the event happened: the one given, or the time of encoding. */
  readonly timestamp: Date;
  /** The payload as its schema output it (defaults applied, unknown keys stripped where the schema says so). */
  readonly payload: unknown;
  /** `payload` as JSON text. */
  readonly payloadJson: string;
  /** The metadata: the one given, or `{}`. */
  readonly metadata: EventMetadata;
  /** `metadata` as JSON text. */
  readonly metadataJson: string;
}

/**
 * Brings a stored payload from its schema version to a newer one. {@link UpcasterRegistry}
 * implements it; an {@link EventRegistry} calls it on every read of an older event.
 *
 * @category Events
 */
export interface PayloadUpcaster {
  /**
   * Returns the payload at `toSchemaVersion`. Throws {@link UpcastError} when a step is missing
   * or fails.
   */
  upcast(event: RawStoredEvent, toSchemaVersion: number): unknown;
}

/**
 * Options of {@link EventRegistry}.
 *
 * @category Events
 */
export interface EventRegistryOptions {
  /**
   * Upcasters for events stored at older schema versions.
   * @defaultValue none: an event at another schema version than its definition's fails to read.
   */
  readonly upcasters?: PayloadUpcaster;
}

/**
 * The longest id (in UTF-16 code units) that every store accepts.
 *
 * @category Events
 */
export const MAX_ID_LENGTH = 512;

/**
 * True when `text` can be stored as it is by every store: well-formed UTF-16 (no lone
 * surrogate, which PostgreSQL would store as U+FFFD, merging distinct ids) and no NUL
 * character (which PostgreSQL text cannot hold).
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Checks an id (aggregate, event or command id, consumer name) and throws
 * {@link InvalidArgumentError} when it is unusable: not a string, empty, longer than
 * {@link MAX_ID_LENGTH}, or not storable as it is ({@link isStorableText}). Every store calls it,
 * so they accept and reject the same ids.
 */
export function assertValidId(kind: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new InvalidArgumentError(
      `${kind} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  assertStorableText(kind, id);
}

/**
 * Throws {@link InvalidArgumentError} unless `text` is storable ({@link isStorableText}): for
 * names such as event and aggregate types.
 */
export function assertStorableText(kind: string, text: string): void {
  if (isStorableText(text)) return;
  throw new InvalidArgumentError(
    text.includes('\u0000')
      ? `${kind} must not contain the NUL character`
      : `${kind} must be well-formed UTF-16 (it holds a lone surrogate)`,
  );
}

// JSON text holding the escape of NUL or of a lone surrogate (JSON.stringify escapes exactly
// those surrogates that are unpaired): an odd number of backslashes before "u0000" or "ud800".."udfff".
const UNSTORABLE_JSON_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * True when JSON text made by `JSON.stringify` holds text that PostgreSQL's jsonb refuses: the
 * NUL character or a lone surrogate, escaped.
 */
export function hasUnstorableJsonText(json: string): boolean {
  return json.includes('\\u') && UNSTORABLE_JSON_ESCAPE.test(json);
}

function stringify(eventType: string, what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`${what} is not a JSON value`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SerializationError(eventType, `${what} is not JSON-serialisable (${reason})`, { cause: error });
  }
  if (hasUnstorableJsonText(json)) {
    throw new SerializationError(
      eventType,
      `${what} holds a NUL character or a lone surrogate, which no store can hold (PostgreSQL jsonb refuses them)`,
    );
  }
  return json;
}

/** The metadata of events that have none: never handed out, so one object serves all. */
const EMPTY_METADATA: EventMetadata = Object.freeze({});

function assertTimestamp(eventType: string, timestamp: unknown): asserts timestamp is Date {
  if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) {
    throw new InvalidArgumentError(`event "${eventType}" has an invalid timestamp`);
  }
}

/** A new event's metadata, checked: the one given, or {@link EMPTY_METADATA} for none. */
function metadataOf(event: NewEvent): EventMetadata {
  const metadata = event.metadata;
  if (metadata === undefined) return EMPTY_METADATA;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidArgumentError(`event "${event.type}": metadata must be a plain object`);
  }
  return metadata;
}

/**
 * What a round trip of `value` through JSON text gives: a copy made directly when `value` is
 * plain JSON data, else `JSON.parse` of the text {@link stringify} makes (which throws the same
 * {@link SerializationError}s as {@link EventRegistry.encode}).
 */
function jsonCopy(eventType: string, what: string, value: unknown): unknown {
  let copy: unknown;
  try {
    copy = copyPlainJson(value);
  } catch {
    // A getter or proxy that throws: JSON.stringify reports it below.
    copy = NOT_PLAIN;
  }
  return copy === NOT_PLAIN ? JSON.parse(stringify(eventType, what, value)) : copy;
}

/**
 * A new event as the in-memory store keeps it: validated as {@link EventRegistry.encode} validates
 * it, with private copies of payload and metadata instead of JSON text.
 *
 * @internal
 */
export interface CopiedEvent {
  /** The event's id: the one given, or a new UUIDv7. */
  readonly eventId: string;
  /**
   * The counter of the id when the registry made it in the millisecond of `timestamp` (so
   * `eventIdOf(timestamp, idCounter)` gives it again); -1 for any other id.
   */
  readonly idCounter: number;
  readonly aggregateType: string;
  readonly type: string;
  readonly schemaVersion: number;
  /** When the event happened: a `Date` that no one else holds, for the append's result. */
  readonly timestamp: Date;
  /** The payload as its schema output it (the append's result hands it out, as the PostgreSQL store's does). */
  readonly payload: unknown;
  /**
   * A deep copy of `payload` as a round trip through JSON text gives it; no one else holds it.
   * `undefined` when the payload is a flat object, kept as {@link CopiedEvent.payloadValues}.
   */
  readonly payloadCopy: unknown;
  /** A flat payload's values in the order of its shape's keys (see `flatValues`); no one else holds them. */
  readonly payloadValues: readonly unknown[] | undefined;
  /** The shape of a flat payload. */
  readonly payloadShape: FlatShape | undefined;
  /** The same of the metadata; one shared frozen object for no metadata. */
  readonly metadataCopy: EventMetadata;
}

let encodeCopy: (registry: EventRegistry, event: NewEvent, previousMetadata?: EventMetadata) => CopiedEvent;

/**
 * Validates a new event as {@link EventRegistry.encode} does (same checks, same errors) and returns
 * private copies of payload and metadata instead of JSON text. For the in-memory store.
 *
 * @param previousMetadata - a metadata copy made earlier that the store keeps: returned again as
 *   `metadataCopy` when the event's metadata has the same flat content, instead of a new copy.
 * @internal
 */
export function encodeToCopy(
  registry: EventRegistry,
  event: NewEvent,
  previousMetadata?: EventMetadata,
): CopiedEvent {
  return encodeCopy(registry, event, previousMetadata);
}

let decodeOwn: (registry: EventRegistry, raw: RawStoredEvent) => StoredEvent;

/**
 * {@link EventRegistry.decode} without a second object, for a raw event that the caller made for
 * this call alone, with exactly the fields of a {@link StoredEvent} in its order: the raw event
 * becomes the event, its payload (and metadata, when not an object) set in place. When it throws,
 * `raw` is unchanged; an event to upcast (whose raw form the upcasters see) is decoded into a new
 * object. For the in-memory store.
 *
 * @internal
 */
export function decodeOwnRaw(registry: EventRegistry, raw: RawStoredEvent): StoredEvent {
  return decodeOwn(registry, raw);
}

/** {@link encodeToCopy} for an object that is not this module's EventRegistry (another copy of annals, a test double). */
function copyOfEncoded(encoded: EncodedEvent): CopiedEvent {
  return {
    eventId: encoded.eventId,
    idCounter: -1,
    aggregateType: encoded.aggregateType,
    type: encoded.type,
    schemaVersion: encoded.schemaVersion,
    timestamp: new Date(encoded.timestamp.getTime()),
    payload: encoded.payload,
    payloadCopy: JSON.parse(encoded.payloadJson),
    payloadValues: undefined,
    payloadShape: undefined,
    metadataCopy: JSON.parse(encoded.metadataJson) as EventMetadata,
  };
}

/**
 * The set of event types a store accepts, with their payload schemas. Every store validates each
 * new event's payload with it before writing anything, and every event it reads (after
 * upcasting older schema versions) before handing it out. Validation is synchronous: a schema
 * that validates asynchronously makes `encode` and `decode` throw {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * const registry = new EventRegistry([OrderCreated, OrderItemAdded, OrderShipped]);
 * const store = new InMemoryEventStore({ registry });
 * ```
 *
 * @category Events
 */
export class EventRegistry {
  readonly #definitions = new Map<string, AnyEventDefinition>();
  readonly #upcasters: PayloadUpcaster | undefined;

  constructor(definitions: Iterable<AnyEventDefinition>, options: EventRegistryOptions = {}) {
    for (const definition of definitions) {
      assertStorableText('an event type', definition.type);
      const existing = this.#definitions.get(definition.type);
      if (existing && existing !== definition) {
        throw new InvalidArgumentError(`EventRegistry: event type "${definition.type}" is defined twice`);
      }
      this.#definitions.set(definition.type, definition);
    }
    this.#upcasters = options.upcasters;
  }

  /** The definition of a type, or `undefined`. */
  get(type: string): AnyEventDefinition | undefined {
    return this.#definitions.get(type);
  }

  /** The registered event types. */
  types(): string[] {
    return [...this.#definitions.keys()];
  }

  /**
   * Validates a new event and serialises it. Throws {@link UnknownEventTypeError},
   * {@link EventValidationError}, {@link SerializationError} or {@link InvalidArgumentError} (also
   * for a schema that validates asynchronously); it writes nothing, so a store calls it for every event before it starts writing.
   */
  encode(event: NewEvent): EncodedEvent {
    const definition = this.#definitionOf(event);
    const timestamp = event.timestamp ?? new Date();
    assertTimestamp(event.type, timestamp);
    const payload = validatePayload(definition, event.payload, event.eventId);
    const metadata = metadataOf(event);
    return {
      eventId: event.eventId ?? newEventId(),
      aggregateType: event.aggregateType,
      type: definition.type,
      schemaVersion: definition.schemaVersion,
      timestamp,
      payload,
      payloadJson: stringify(event.type, 'payload', payload),
      metadata,
      metadataJson: metadata === EMPTY_METADATA ? '{}' : stringify(event.type, 'metadata', metadata),
    };
  }

  /**
   * {@link EventRegistry.encode} for the in-memory store: the same checks, validation and errors,
   * but private copies of payload and metadata (what a round trip through JSON text would give)
   * instead of JSON text, made without that round trip when they are plain JSON data.
   */
  #encodeCopy(event: NewEvent, previousMetadata: EventMetadata | undefined): CopiedEvent {
    const definition = this.#definitionOf(event);
    const timestamp = event.timestamp;
    if (timestamp !== undefined) assertTimestamp(event.type, timestamp);
    const payload = validatePayload(definition, event.payload, event.eventId);
    const metadata = metadataOf(event);
    const givenId = event.eventId;
    // One clock reading for the timestamp and the new id, when both are made here: `new Date()`
    // reads the clock and makes the result's Date at once (two calls into the engine otherwise).
    const date = timestamp === undefined ? new Date() : new Date(timestamp.getTime());
    const timestampMs = date.getTime();
    const eventId = givenId ?? (timestamp === undefined ? newEventId(timestampMs) : newEventId());
    // An id made here in the timestamp's millisecond is that millisecond and a counter: what the
    // store keeps of it. (Before the first id, the generator's millisecond is -1.)
    const idCounter =
      givenId === undefined && timestampMs >= 0 && lastEventIdMs() === timestampMs
        ? lastEventIdCounter()
        : -1;
    let payloadValues: unknown[] | undefined;
    try {
      payloadValues = flatValues(payload);
    } catch {
      // A getter or proxy that throws: jsonCopy reports it.
    }
    const payloadShape = payloadValues === undefined ? undefined : lastFlatShape();
    const payloadCopy = payloadValues === undefined ? jsonCopy(event.type, 'payload', payload) : undefined;
    return {
      eventId,
      idCounter,
      aggregateType: event.aggregateType,
      type: definition.type,
      schemaVersion: definition.schemaVersion,
      timestamp: date,
      payload,
      payloadCopy,
      payloadValues,
      payloadShape,
      metadataCopy:
        metadata === EMPTY_METADATA
          ? EMPTY_METADATA
          : previousMetadata !== undefined && isFlatJsonCopy(metadata, previousMetadata)
            ? previousMetadata
            : (jsonCopy(event.type, 'metadata', metadata) as EventMetadata),
    };
  }

  static {
    encodeCopy = (registry, event, previousMetadata) => {
      if (#definitions in registry) return registry.#encodeCopy(event, previousMetadata);
      // Not this module's class (another copy of annals, a test double): its own encode.
      const other: Pick<EventRegistry, 'encode'> = registry;
      return copyOfEncoded(other.encode(event));
    };
    decodeOwn = (registry, raw) => {
      if (!(#definitions in registry)) return (registry as Pick<EventRegistry, 'decode'>).decode(raw);
      const definition = registry.#definitions.get(raw.type);
      if (definition === undefined || raw.schemaVersion !== definition.schemaVersion)
        return registry.decode(raw);
      const payload = validatePayload(definition, raw.payload, raw.eventId);
      const event = raw as { -readonly [K in keyof StoredEvent]: StoredEvent[K] } & { metadata: unknown };
      event.payload = payload;
      if (typeof raw.metadata !== 'object' || raw.metadata === null) event.metadata = {};
      return event as StoredEvent;
    };
  }

  /** The definition of a new event's type, after the checks of the event's fields that come before validation. */
  #definitionOf(event: NewEvent): AnyEventDefinition {
    if (typeof event !== 'object' || event === null) {
      throw new InvalidArgumentError('an event to append must be an object');
    }
    const definition = this.#definitions.get(event.type);
    if (!definition) throw new UnknownEventTypeError(String(event.type));
    if (event.schemaVersion !== undefined && event.schemaVersion !== definition.schemaVersion) {
      throw new InvalidArgumentError(
        `event "${event.type}" must be written at its current schema version ${definition.schemaVersion}, got ${event.schemaVersion}`,
      );
    }
    if (event.eventId !== undefined) assertValidId('eventId', event.eventId);
    if (typeof event.aggregateType !== 'string' || event.aggregateType === '') {
      throw new InvalidArgumentError(`event "${event.type}" needs a non-empty aggregateType`);
    }
    // The message is made only when the text is refused.
    if (!isStorableText(event.aggregateType)) {
      assertStorableText(`aggregateType of event "${event.type}"`, event.aggregateType);
    }
    return definition;
  }

  /**
   * Turns a stored row into a {@link StoredEvent}: upcasts an older payload to the current schema
   * version, then validates it. Throws {@link UnknownEventTypeError}, {@link UpcastError},
   * {@link EventValidationError}, or {@link InvalidArgumentError} for a schema that validates
   * asynchronously.
   */
  decode(raw: RawStoredEvent): StoredEvent {
    const definition = this.#definitions.get(raw.type);
    if (!definition) throw new UnknownEventTypeError(raw.type, raw.eventId);
    let payload = raw.payload;
    if (raw.schemaVersion !== definition.schemaVersion) {
      if (raw.schemaVersion > definition.schemaVersion) {
        throw new UpcastError(
          raw.eventId,
          raw.type,
          raw.schemaVersion,
          definition.schemaVersion,
          'the stored event is newer than this code knows; deploy the newer definition',
        );
      }
      if (!this.#upcasters) {
        throw new UpcastError(
          raw.eventId,
          raw.type,
          raw.schemaVersion,
          definition.schemaVersion,
          'no upcasters are registered',
        );
      }
      payload = this.#upcasters.upcast(raw, definition.schemaVersion);
    }
    try {
      payload = validatePayload(definition, payload, raw.eventId);
    } catch (error) {
      if (error instanceof EventValidationError && raw.schemaVersion !== definition.schemaVersion) {
        // Point at the upcasters: the stored payload was valid at its own version.
        error.message += ` (event ${raw.eventId}, after upcasting from schema version ${raw.schemaVersion} to ${definition.schemaVersion})`;
      }
      throw error;
    }
    const metadata =
      typeof raw.metadata === 'object' && raw.metadata !== null ? (raw.metadata as EventMetadata) : {};
    return {
      eventId: raw.eventId,
      aggregateId: raw.aggregateId,
      aggregateType: raw.aggregateType,
      type: raw.type,
      version: raw.version,
      schemaVersion: definition.schemaVersion,
      timestamp: raw.timestamp,
      payload,
      metadata,
      globalPosition: raw.globalPosition,
      transactionId: raw.transactionId,
    };
  }
}
