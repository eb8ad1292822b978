import {
  type DeadLetter,
  type NewDeadLetter,
  type StoredEvent,
  type StoredEventJson,
  toStoredEventJson,
} from '../../core.js';
import type { PgRow } from '../driver/pg-client.js';

/**
 * How dead letters are written to and read from `projection_dead_letters`.
 *
 * @internal
 * @module
 */

/** A row of `projection_dead_letters` as the store selects it. */
export interface DeadLetterRow extends PgRow {
  id: string;
  projection: string;
  event: unknown;
  error_name: string | null;
  error_message: string;
  error_stack: string | null;
  attempts: number;
  failed_at: Date | string;
}

/** The event as JSON: positions as text (exact past 2^53), the timestamp in ISO 8601. */
type EventJson = StoredEventJson & { metadata: StoredEvent['metadata'] };

// PostgreSQL text and jsonb cannot hold NUL; a dead letter must be storable whatever it holds.
const withoutNul = (text: string): string => text.replaceAll('\u0000', '\uFFFD');

/** Serialises `value` for jsonb: bigints as text, NUL characters replaced. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return item.toString();
    if (typeof item === 'string') return withoutNul(item);
    return item;
  });
}

/** The parameters of the `addDeadLetter` statement, in order ($1 ... $12). */
export function deadLetterValues(letter: NewDeadLetter): unknown[] {
  const { event, error } = letter;
  const json = toStoredEventJson(event);
  return [
    letter.projection,
    withoutNul(event.eventId),
    withoutNul(event.type),
    withoutNul(event.aggregateId),
    event.transactionId.toString(),
    event.globalPosition.toString(),
    toJson(json),
    error.name === undefined ? null : withoutNul(error.name),
    withoutNul(error.message),
    error.stack === undefined ? null : withoutNul(error.stack),
    letter.attempts,
    letter.failedAt,
  ];
}

/** Turns a selected row back into a {@link DeadLetter}. */
export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  const raw = (typeof row.event === 'string' ? JSON.parse(row.event) : row.event) as EventJson;
  const event: StoredEvent = {
    eventId: raw.eventId,
    aggregateId: raw.aggregateId,
    aggregateType: raw.aggregateType,
    type: raw.type,
    version: Number(raw.version),
    schemaVersion: Number(raw.schemaVersion),
    timestamp: new Date(raw.timestamp),
    payload: raw.payload,
    metadata: raw.metadata ?? {},
    globalPosition: BigInt(raw.globalPosition),
    transactionId: BigInt(raw.transactionId),
  };
  return {
    id: row.id,
    projection: row.projection,
    event,
    error: {
      name: row.error_name ?? undefined,
      message: row.error_message,
      stack: row.error_stack ?? undefined,
    },
    attempts: Number(row.attempts),
    failedAt: row.failed_at instanceof Date ? row.failed_at : new Date(row.failed_at),
  };
}
