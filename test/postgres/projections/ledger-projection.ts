/**
 * The ledger projection of the PostgreSQL projection tests, in a module of its own that imports
 * neither vitest nor the test support: the CLI tests' config (test/cli/fixtures) loads it in every
 * `annals` process they start, where each import is compiled again.
 */
import type { ProjectionFailurePolicy, ProjectionHandlerInfo, StoredEvent } from 'annals';
import { defineProjection } from 'annals';
import type { PgQueryable, PostgresProjectionContext } from 'annals/postgres';
import { orderEvents } from '../../../examples/order/events.js';

/** Options of {@link ledgerProjection}. */
export interface LedgerOptions {
  /** The projection's name, also the ledger table's suffix. */
  readonly name: string;
  /** Recorded with each application: which runner applied the event. */
  readonly runner?: string;
  readonly onFailure?: ProjectionFailurePolicy;
  /** Runs before the row is written, inside the transaction; throw to make the handler fail. */
  readonly before?: (
    event: StoredEvent,
    context: PostgresProjectionContext,
    info: ProjectionHandlerInfo,
  ) => void | Promise<void>;
  /** Events whose row is not written (`before` still runs). */
  readonly skipWrite?: (event: StoredEvent) => boolean;
}

const ledgerTable = (schema: string, name: string) => `"${schema}"."ledger_${name.replaceAll('-', '_')}"`;

/**
 * A projection that writes one row per application of an event to a ledger table without a
 * unique constraint, so an event applied twice shows as two rows, and a skipped one as none.
 */
export function ledgerProjection(options: LedgerOptions) {
  const write = async (
    event: StoredEvent,
    context: PostgresProjectionContext,
    info: ProjectionHandlerInfo,
  ) => {
    await options.before?.(event, context, info);
    if (options.skipWrite?.(event)) return;
    await context.client.query(
      `INSERT INTO ${ledgerTable(context.schema, options.name)} (event_id, global_position, runner, attempt) VALUES ($1, $2, $3, $4)`,
      [event.eventId, event.globalPosition.toString(), options.runner ?? 'default', info.attempt],
    );
  };
  return defineProjection<PostgresProjectionContext>()({
    name: options.name,
    events: orderEvents,
    onFailure: options.onFailure,
    handlers: {
      OrderCreated: write,
      OrderItemAdded: write,
      OrderShipped: write,
      OrderCancelled: write,
    },
    setup: async ({ client, schema }) => {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${ledgerTable(schema, options.name)} (
           event_id text NOT NULL, global_position bigint NOT NULL, runner text NOT NULL, attempt integer NOT NULL)`,
      );
    },
    reset: async ({ client, schema }) => {
      await client.query(`DROP TABLE IF EXISTS ${ledgerTable(schema, options.name)}`);
    },
  });
}

/** One row per application of an event, in the order they were written. */
export async function ledgerRows(
  db: PgQueryable,
  schema: string,
  name: string,
): Promise<Array<{ eventId: string; runner: string; attempt: number }>> {
  const { rows } = await db.query<{ event_id: string; runner: string; attempt: number }>(
    `SELECT event_id, runner, attempt FROM ${ledgerTable(schema, name)} ORDER BY global_position, ctid`,
  );
  return rows.map((row) => ({ eventId: row.event_id, runner: row.runner, attempt: Number(row.attempt) }));
}
