/**
 * 100-event appends, 16 concurrent writers, each on its own aggregate, against one plain `pg`
 * `INSERT ... SELECT FROM unnest(...)` of the same 100 rows per statement (serialised the same
 * way: JSON text, a fresh UUID and an ISO timestamp per row). Annals validates every payload and
 * checks the expected version; the baseline does neither. Target: ratio >= 0.8.
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
const BATCH = 100;

const benchmark: Benchmark = {
  name: 'append-batch',
  async run(ctx) {
    const store = new PostgresEventStore({
      pool: ctx.newPool(WRITERS),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const table = await createBaselineTable(ctx.pool, ctx.schema, 'raw_batch');
    const insert =
      `INSERT INTO ${table} (stream_id, version, event_id, type, payload, metadata, ts) ` +
      'SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[]::jsonb[], $6::text[]::jsonb[], $7::timestamptz[])';
    const annalsLatencies: number[] = [];
    const baselineLatencies: number[] = [];
    const annalsCpu: number[] = [];
    const baselineCpu: number[] = [];
    const result = await alternate(
      ctx.rounds,
      async () => {
        const run = runId();
        const measured = await runWriters(WRITERS, ctx.phaseMs, (writer, n) => {
          const stream = `batch-${run}-${writer}`;
          const events = Array.from({ length: BATCH }, (_, i) => lineEvent(stream, n * BATCH + i));
          return store.append(stream, n * BATCH, events);
        });
        pushAll(annalsLatencies, measured.latenciesMs);
        annalsCpu.push(measured.clientCpuUsPerOp);
        return measured.opsPerSecond * BATCH;
      },
      async () => {
        const run = runId();
        const measured = await runWriters(WRITERS, ctx.phaseMs, (writer, n) => {
          const stream = `batch-${run}-${writer}`;
          const streams: string[] = [];
          const versions: number[] = [];
          const ids: string[] = [];
          const types: string[] = [];
          const payloads: string[] = [];
          const metadata: string[] = [];
          const timestamps: string[] = [];
          const metadataJson = JSON.stringify(BENCH_METADATA);
          for (let i = 0; i < BATCH; i++) {
            streams.push(stream);
            versions.push(n * BATCH + i + 1);
            ids.push(randomUUID());
            types.push(OrderLineAdded.type);
            payloads.push(JSON.stringify(linePayload(stream, n * BATCH + i)));
            metadata.push(metadataJson);
            timestamps.push(new Date().toISOString());
          }
          return ctx.pool.query(insert, [streams, versions, ids, types, payloads, metadata, timestamps]);
        });
        pushAll(baselineLatencies, measured.latenciesMs);
        baselineCpu.push(measured.clientCpuUsPerOp);
        return measured.opsPerSecond * BATCH;
      },
    );
    await store.close();
    return [
      {
        name: '100-event appends, 16 writers, distinct aggregates',
        unit: 'events/s',
        annals: result.annals,
        baseline: result.baseline,
        baselineName: '100-row INSERT ... SELECT FROM unnest',
        ratio: result.annals / result.baseline,
        target: { atLeast: 0.8 },
        note: `p50 latency per append ${percentile(annalsLatencies, 50).toFixed(1)} ms vs ${percentile(baselineLatencies, 50).toFixed(1)} ms; client CPU ${median(annalsCpu).toFixed(0)} µs vs ${median(baselineCpu).toFixed(0)} µs per append`,
      },
    ];
  },
};

export default benchmark;
