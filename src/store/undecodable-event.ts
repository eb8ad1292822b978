import { type AnnalsError, isAnnalsError } from '../errors.js';
import { formatLogPosition, type LogPosition, type StoredEvent } from '../events/event-envelope.js';
import { decodeOwnRaw, type EventRegistry, type RawStoredEvent } from '../events/event-registry.js';

/**
 * A stored event of the global log that the registry cannot read: its type is not registered,
 * its payload fails the current schema, or its upcaster throws. `readAll` with
 * `onUndecodable: 'report'` lists it instead of failing for the whole page.
 *
 * @category Stores
 */
export interface UndecodableEvent {
  /** The event as stored: type, schema version, payload and metadata as they are in the store. */
  readonly raw: RawStoredEvent;
  /** Its position in the global log. */
  readonly position: LogPosition;
  /**
   * Why it cannot be read: an `UnknownEventTypeError`, `EventValidationError` or `UpcastError`
   * (or another error an upcaster threw, wrapped as an `UpcastError`).
   */
  readonly error: AnnalsError;
}

/** What {@link decodeLogPage} returns. */
export interface DecodedLogPage {
  /** The events that could be read, in log order. */
  readonly events: StoredEvent[];
  /** The events that could not, in log order (empty unless `mode` is `'report'`). */
  readonly undecodable: UndecodableEvent[];
}

/**
 * Decodes a page of the global log. With `'throw'` the first event that cannot be read fails the
 * page with an error that names its id, type, schema version and log position; with `'report'`
 * such events are listed apart and the rest is returned. Every store's `readAll` uses it, so they
 * agree.
 *
 * @param own - the raw events are the caller's own, made for this call with exactly the fields
 *   of a {@link StoredEvent}: each becomes its event (see `decodeOwnRaw`).
 * @internal
 */
export function decodeLogPage(
  registry: EventRegistry,
  raws: readonly RawStoredEvent[],
  mode: 'throw' | 'report',
  own = false,
): DecodedLogPage {
  const events: StoredEvent[] = [];
  const undecodable: UndecodableEvent[] = [];
  for (const raw of raws) {
    try {
      events.push(own ? decodeOwnRaw(registry, raw) : registry.decode(raw));
    } catch (error) {
      const failure = describeUndecodable(raw, error);
      if (mode === 'throw') throw failure.error;
      undecodable.push(failure);
    }
  }
  return { events, undecodable };
}

/** Names the event and its log position in a decode error (once). */
function describeUndecodable(raw: RawStoredEvent, error: unknown): UndecodableEvent {
  const position: LogPosition = { transactionId: raw.transactionId, globalPosition: raw.globalPosition };
  const where = `event ${raw.eventId} of type "${raw.type}" (schema version ${raw.schemaVersion}) at log position ${formatLogPosition(position)}`;
  if (!isAnnalsError(error)) throw error;
  if (!error.message.includes(formatLogPosition(position))) error.message += ` [${where}]`;
  return { raw, position, error };
}

/**
 * The undecodable event as a {@link StoredEvent} with its stored payload and metadata, for a dead
 * letter: retrying the dead letter reads the event again through the registry of the day.
 *
 * @internal
 */
export function storedEventOf(undecodable: UndecodableEvent): StoredEvent {
  const { raw } = undecodable;
  return {
    eventId: raw.eventId,
    aggregateId: raw.aggregateId,
    aggregateType: raw.aggregateType,
    type: raw.type,
    version: raw.version,
    schemaVersion: raw.schemaVersion,
    timestamp: raw.timestamp,
    payload: raw.payload,
    metadata:
      typeof raw.metadata === 'object' && raw.metadata !== null
        ? (raw.metadata as StoredEvent['metadata'])
        : {},
    globalPosition: raw.globalPosition,
    transactionId: raw.transactionId,
  };
}
