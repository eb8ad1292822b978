/**
 * Loading and folding a 1,000-event aggregate (decode: BigInt positions, dates, zod validation of
 * every payload) against a raw `pg` SELECT of the same rows and columns, with pg's default type
 * parsing (jsonb parsed, timestamptz as Date, int8/xid8 as text), folded the same way.
 * Reported as events/s; target: annals keeps at least 0.7 of the raw rate.
 */
import { NO_STREAM, type StoredEvent } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import { benchRegistry, lineEvent } from './support/bench-events.js';
import { alternate, type Benchmark, medianLoadMs, runId } from './support/bench-kit.js';

const EVENTS = 1000;

interface OrderTotals {
  lines: number;
  totalCents: number;
}

type Line = { quantity: number; unitPriceCents: number };

function fold(payloads: Iterable<Line>): OrderTotals {
  const state: OrderTotals = { lines: 0, totalCents: 0 };
  for (const line of payloads) {
    state.lines++;
    state.totalCents += line.quantity * line.unitPriceCents;
  }
  return state;
}

/** Times `load` (see {@link medianLoadMs}), checking that it folded every event. */
function timeLoads(durationMs: number, load: () => Promise<OrderTotals>): Promise<number> {
  return medianLoadMs(durationMs, load, (totals) => {
    if (totals.lines !== EVENTS) throw new Error(`folded ${totals.lines} events, expected ${EVENTS}`);
  });
}

const benchmark: Benchmark = {
  name: 'load-fold',
  async run(ctx) {
    const store = new PostgresEventStore({
      pool: ctx.newPool(2),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const id = `load-${runId()}`;
    for (let start = 0; start < EVENTS; start += 100) {
      const events = Array.from({ length: 100 }, (_, i) => lineEvent(id, start + i));
      await store.append(id, start === 0 ? NO_STREAM : start, events);
    }
    // Fresh statistics, so the planner picks the stream index for both queries.
    await ctx.pool.query(`ANALYZE "${ctx.schema}".events`);
    const select =
      'SELECT global_position, transaction_id, aggregate_id, aggregate_type, version, event_id, type, ' +
      `schema_version, payload, metadata, "timestamp" FROM "${ctx.schema}".events WHERE aggregate_id = $1 ORDER BY version`;
    const result = await alternate(
      ctx.rounds,
      () =>
        timeLoads(ctx.phaseMs / 2, async () => {
          const events = await store.load(id);
          return fold(events.map((event: StoredEvent) => event.payload as Line));
        }),
      () =>
        timeLoads(ctx.phaseMs / 2, async () => {
          const { rows } = await ctx.pool.query<{ payload: Line }>(select, [id]);
          return fold(rows.map((row) => row.payload));
        }),
    );
    await store.close();
    return [
      {
        name: 'load + fold a 1,000-event aggregate',
        unit: 'events/s',
        annals: (EVENTS / result.annals) * 1000,
        baseline: (EVENTS / result.baseline) * 1000,
        baselineName: 'raw SELECT of the same rows, same fold',
        ratio: result.baseline / result.annals,
        target: { atLeast: 0.7 },
        note: `median load + fold ${result.annals.toFixed(2)} ms vs ${result.baseline.toFixed(2)} ms`,
      },
    ];
  },
};

export default benchmark;
