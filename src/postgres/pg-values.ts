import { assertValidId, InvalidArgumentError } from 'annals';
import type { PgQueryable, PgQueryResult, PgRow } from './pg-client.js';
import { toStoreError } from './pg-errors.js';

/**
 * Small helpers shared by the command log, the processed-event store and the snapshot store.
 *
 * @internal
 * @module
 */

/**
 * Checks an id that is stored in a text column: {@link assertValidId}, and no NUL character
 * (PostgreSQL text cannot hold it). Throws {@link InvalidArgumentError}.
 */
export function assertTextId(kind: string, id: unknown): asserts id is string {
  assertValidId(kind, id);
  if (id.includes('\u0000')) throw new InvalidArgumentError(`${kind} must not contain the NUL character`);
}

/** A timestamptz as the driver returned it (`pg` and PGlite give a Date; text is accepted too). */
export function toDate(value: unknown): Date {
  return value instanceof Date ? new Date(value.getTime()) : new Date(String(value));
}

/** Runs a statement; driver errors become {@link StoreUnavailableError} naming `operation`. */
export async function runQuery<TRow extends PgRow>(
  client: PgQueryable,
  text: string,
  values: unknown[],
  operation: string,
): Promise<PgQueryResult<TRow>> {
  try {
    return await client.query<TRow>(text, values);
  } catch (error) {
    throw toStoreError(error, operation);
  }
}

/** True for the SQLSTATEs of JSON text that jsonb refuses (`\u0000`, a lone surrogate). */
export function isUnstorableJsonError(error: unknown): boolean {
  const code = sqlStateOf(error);
  return code === '22P05' || code === '22P02';
}

/** The SQLSTATE of a driver error (or of the `cause` of an annals error), if any. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 3; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
