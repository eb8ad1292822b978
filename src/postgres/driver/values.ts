import { sqlStateOf, toStoreError } from './errors.js';
import type { PgQueryable, PgQueryResult, PgRow } from './pg-client.js';

/**
 * Small helpers shared by the command log, the processed-event store and the snapshot store.
 * (Ids are checked by the core's `assertValidId`, which every store uses.)
 *
 * @internal
 * @module
 */

/** A timestamptz as the driver returned it (`pg` and PGlite give a Date; text is accepted too). */
export function toDate(value: unknown): Date {
  return value instanceof Date ? new Date(value.getTime()) : new Date(String(value));
}

/** Runs a statement; driver errors become annals errors naming `operation` (see `toStoreError`). */
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
