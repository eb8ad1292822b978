import { isConnectionError, sqlStateOf } from './errors.js';
import type { PgNamedStatement, PgPool, PgQueryResult, PgRow } from './pg-client.js';
import { watchConnection } from './transaction.js';

/**
 * Runs one statement on a connection checked out of `pool`, for statements that the server may
 * refuse in the normal course of things (an append that meets a taken version or a stored event
 * id, a conflict raised by `append_events`). `pg.Pool#query` closes its connection on any
 * error, so each refused statement would cost a new connection: a backend started, and its
 * prepared statements and functions compiled again, at the moment a stream is contended. Here
 * the connection goes back to the pool when the server answered with an error (it has a
 * SQLSTATE and is not about the connection), and is discarded only when it broke.
 *
 * @internal
 */
export async function queryKeepingConnection<TRow extends PgRow = PgRow>(
  pool: PgPool,
  statement: PgNamedStatement | string,
  values?: unknown[],
): Promise<PgQueryResult<TRow>> {
  const client = await pool.connect();
  const watch = watchConnection(client);
  let broken: Error | undefined;
  try {
    return typeof statement === 'string'
      ? await client.query<TRow>(statement, values)
      : await client.query<TRow>(statement);
  } catch (error) {
    if (sqlStateOf(error) === undefined || isConnectionError(error)) {
      broken = error instanceof Error ? error : new Error(String(error));
    }
    throw error;
  } finally {
    if (broken) client.release(broken);
    else watch.release();
  }
}
