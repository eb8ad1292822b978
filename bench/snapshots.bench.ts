/**
 * Loading a 10,000-event aggregate through `AggregateRepository`, without and with a snapshot
 * (`PostgresSnapshotStore`, taken 50 events behind the head: what `everyNEvents(100)` leaves on
 * average), each beside a raw `pg` baseline of the same rows folded the same way:
 *
 * - without: `SELECT` of the 10,000 event rows, fold;
 * - with: `SELECT` of the snapshot row, `SELECT` of the 50 rows after it, fold from the state.
 *
 * Targets: at most 2x the raw time for each. The note of the snapshot figure says how much faster
 * than a full replay the snapshot load is.
 */
import {
  type AggregateEventHandlers,
  AggregateRepository,
  type EventOf,
  NO_STREAM,
  SnapshotAggregateRoot,
} from 'annals';
import { PostgresEventStore, PostgresSnapshotStore } from 'annals/postgres';
import { benchRegistry, lineEvent, type OrderLineAdded } from './support/bench-events.js';
import { alternate, type Benchmark, medianLoadMs, runId } from './support/bench-kit.js';

const EVENTS = 10_000;
/** How many events follow the snapshot. */
const AFTER_SNAPSHOT = 50;
const BATCH = 100;

type Line = { sku: string; quantity: number; unitPriceCents: number };

/** The folded state: line count, total, quantity per SKU (about 1,000 keys: a realistic size). */
interface OrderTotals {
  lines: number;
  totalCents: number;
  quantities: Record<string, number>;
}

function apply(state: OrderTotals, line: Line): void {
  state.lines++;
  state.totalCents += line.quantity * line.unitPriceCents;
  state.quantities[line.sku] = (state.quantities[line.sku] ?? 0) + line.quantity;
}

function fold(state: OrderTotals, payloads: Iterable<Line>): OrderTotals {
  for (const line of payloads) apply(state, line);
  return state;
}

const empty = (): OrderTotals => ({ lines: 0, totalCents: 0, quantities: {} });

type LineEvent = EventOf<typeof OrderLineAdded>;

/** The benchmark's aggregate: the same fold, snapshottable. */
class BenchOrder extends SnapshotAggregateRoot<LineEvent, OrderTotals> {
  readonly aggregateType = 'Order';
  readonly snapshotSchemaVersion = 1;
  state = empty();
  protected readonly handlers: AggregateEventHandlers<LineEvent> = {
    OrderLineAdded: (event) => apply(this.state, event.payload),
  };
  protected toSnapshot(): OrderTotals {
    return { ...this.state, quantities: { ...this.state.quantities } };
  }
  protected fromSnapshot(state: OrderTotals): void {
    this.state = state;
  }
}

/** Times `load` (see {@link medianLoadMs}), checking that it folded every event. */
function timeLoads(durationMs: number, load: () => Promise<OrderTotals>): Promise<number> {
  return medianLoadMs(durationMs, load, (totals) => {
    if (totals.lines !== EVENTS) throw new Error(`folded ${totals.lines} events, expected ${EVENTS}`);
  });
}

const benchmark: Benchmark = {
  name: 'snapshots',
  async run(ctx) {
    const pool = ctx.newPool(2);
    const store = new PostgresEventStore({ pool, registry: benchRegistry(), schema: ctx.schema });
    const snapshotStore = new PostgresSnapshotStore({ pool, schema: ctx.schema });
    const id = `snapshot-${runId()}`;
    const appendUpTo = async (from: number, to: number) => {
      for (let start = from; start < to; start += BATCH) {
        const count = Math.min(BATCH, to - start);
        const events = Array.from({ length: count }, (_, i) => lineEvent(id, start + i));
        await store.append(id, start === 0 ? NO_STREAM : start, events);
      }
    };
    const create = (aggregateId: string) => new BenchOrder(aggregateId);
    const failOnWarning = (warning: { message: string }) => {
      throw new Error(`unexpected repository warning: ${warning.message}`);
    };
    const replaying = new AggregateRepository(store, { create });
    const snapshotting = new AggregateRepository(store, {
      create,
      snapshots: { store: snapshotStore },
      onWarning: failOnWarning,
    });

    await appendUpTo(0, EVENTS - AFTER_SNAPSHOT);
    await snapshotStore.save((await replaying.load(id)).takeSnapshot());
    await appendUpTo(EVENTS - AFTER_SNAPSHOT, EVENTS);

    const events = `"${ctx.schema}".events`;
    const selectAll = `SELECT * FROM ${events} WHERE aggregate_id = $1 ORDER BY version`;
    const selectSnapshot = `SELECT version, state FROM "${ctx.schema}".snapshots WHERE aggregate_id = $1`;
    const selectAfter = `SELECT * FROM ${events} WHERE aggregate_id = $1 AND version > $2 ORDER BY version`;

    const full = await alternate(
      ctx.rounds,
      () => timeLoads(ctx.phaseMs / 2, async () => (await replaying.load(id)).state),
      () =>
        timeLoads(ctx.phaseMs / 2, async () => {
          const { rows } = await ctx.pool.query<{ payload: Line }>(selectAll, [id]);
          return fold(
            empty(),
            rows.map((row) => row.payload),
          );
        }),
    );
    const fromSnapshot = await alternate(
      ctx.rounds,
      () =>
        timeLoads(ctx.phaseMs / 2, async () => {
          const order = await snapshotting.load(id);
          if (order.version !== EVENTS) throw new Error(`loaded version ${order.version}`);
          return order.state;
        }),
      () =>
        timeLoads(ctx.phaseMs / 2, async () => {
          const snapshot = (
            await ctx.pool.query<{ version: number; state: OrderTotals }>(selectSnapshot, [id])
          ).rows[0];
          if (!snapshot) throw new Error('no snapshot row');
          const { rows } = await ctx.pool.query<{ payload: Line }>(selectAfter, [id, snapshot.version]);
          return fold(
            snapshot.state,
            rows.map((row) => row.payload),
          );
        }),
    );
    await store.close();
    return [
      {
        name: `load a ${EVENTS.toLocaleString('en')}-event aggregate, no snapshot (repository)`,
        unit: 'ms',
        annals: full.annals,
        baseline: full.baseline,
        baselineName: 'raw SELECT of the same rows, same fold',
        ratio: full.annals / full.baseline,
        target: { atMost: 2 },
        note: `${((EVENTS / full.annals) * 1000).toFixed(0)} events/s replayed`,
      },
      {
        name: `load a ${EVENTS.toLocaleString('en')}-event aggregate from a snapshot + ${AFTER_SNAPSHOT} events (repository)`,
        unit: 'ms',
        annals: fromSnapshot.annals,
        baseline: fromSnapshot.baseline,
        baselineName: `raw SELECT of the snapshot row and the ${AFTER_SNAPSHOT} rows after it, same fold`,
        ratio: fromSnapshot.annals / fromSnapshot.baseline,
        target: { atMost: 2 },
        note: `${(full.annals / fromSnapshot.annals).toFixed(0)}x faster than the full replay`,
      },
    ];
  },
};

export default benchmark;
