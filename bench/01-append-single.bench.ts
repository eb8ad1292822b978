/**
 * Single-event appends, 16 concurrent writers, each on its own aggregate, against single-row
 * autocommit INSERTs of the same rows into an event-shaped table. Target: ratio >= 0.8.
 */
import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from 'annals/postgres';
import {
  BENCH_METADATA,
  benchRegistry,
  createBaselineTable,
  lineEvent,
  linePayload,
  OrderLineAdded,
} from './support/bench-events.js';
import {
  alternate,
  type Benchmark,
  median,
  percentile,
  pushAll,
  runId,
  runWriters,
} from './support/bench-kit.js';

const WRITERS = 16;

const benchmark: Benchmark = {
  name: 'append-single',
  async run(ctx) {
    const store = new PostgresEventStore({
      pool: ctx.newPool(WRITERS),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const table = await createBaselineTable(ctx.pool, ctx.schema, 'raw_single');
    const insert = `INSERT INTO ${table} (stream_id, version, event_id, type, payload, metadata, ts) VALUES ($1, $2, $3, $4, $5, $6, $7)`;
    const annalsLatencies: number[] = [];
    const baselineLatencies: number[] = [];
    const annalsCpu: number[] = [];
    const baselineCpu: number[] = [];
    const result = await alternate(
      ctx.rounds,
      async () => {
        const run = runId();
        const measured = await runWriters(WRITERS, ctx.phaseMs, (writer, n) =>
          store.append(`single-${run}-${writer}`, n, [lineEvent(`single-${run}-${writer}`, n)]),
        );
        pushAll(annalsLatencies, measured.latenciesMs);
        annalsCpu.push(measured.clientCpuUsPerOp);
        return measured.opsPerSecond;
      },
      async () => {
        const run = runId();
        const measured = await runWriters(WRITERS, ctx.phaseMs, (writer, n) => {
          const stream = `single-${run}-${writer}`;
          return ctx.pool.query(insert, [
            stream,
            n + 1,
            randomUUID(),
            OrderLineAdded.type,
            JSON.stringify(linePayload(stream, n)),
            JSON.stringify(BENCH_METADATA),
            new Date().toISOString(),
          ]);
        });
        pushAll(baselineLatencies, measured.latenciesMs);
        baselineCpu.push(measured.clientCpuUsPerOp);
        return measured.opsPerSecond;
      },
    );
    await store.close();
    return [
      {
        name: 'single-event appends, 16 writers, distinct aggregates',
        unit: 'events/s',
        annals: result.annals,
        baseline: result.baseline,
        baselineName: 'single-row autocommit INSERT',
        ratio: result.annals / result.baseline,
        target: { atLeast: 0.8 },
        note: `p50 latency ${percentile(annalsLatencies, 50).toFixed(2)} ms vs ${percentile(baselineLatencies, 50).toFixed(2)} ms; p99 ${percentile(annalsLatencies, 99).toFixed(2)} ms vs ${percentile(baselineLatencies, 99).toFixed(2)} ms; client CPU ${median(annalsCpu).toFixed(0)} µs vs ${median(baselineCpu).toFixed(0)} µs per event`,
      },
    ];
  },
};

export default benchmark;
