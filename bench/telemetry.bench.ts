/**
 * The cost of tracing and metrics per append, in nanoseconds: in memory and on PostgreSQL, with
 * the optional peer absent (simulated with `setTelemetry({ enabled: false })`: the same code path
 * as a missing `@opentelemetry/api`), with the no-op API (the API installed, no SDK registered)
 * and with a real SDK (a tracer provider exporting to an in-memory exporter, a meter provider
 * with a metric reader, the AsyncLocalStorage context manager). Each mode runs `rounds` times
 * (five by default), the modes taking turns, so drift and noise spread over all of them. Each
 * figure is a mode's median beside the absent mode's median; the note gives every run, so the
 * difference can be read against the runs' own spread.
 *
 * `npm run bench -- telemetry`
 */
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type IEventStore, InMemoryEventStore, setTelemetry } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import { benchRegistry, lineEvent } from './support/bench-events.js';
import { type BenchFigure, type Benchmark, median, runId } from './support/bench-kit.js';

type Mode = 'absent' | 'noop' | 'sdk';
const MODES: readonly Mode[] = ['absent', 'noop', 'sdk'];
const MEMORY_APPENDS = Number(process.env.BENCH_TELEMETRY_MEMORY_APPENDS ?? 20_000);
const POSTGRES_APPENDS = Number(process.env.BENCH_TELEMETRY_PG_APPENDS ?? 1_000);

class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Switches annals (and the API's globals) to `mode`; returns what undoes it. */
function enter(mode: Mode): () => Promise<void> {
  if (mode === 'absent') {
    setTelemetry({ enabled: false });
    return async () => undefined;
  }
  if (mode === 'noop') {
    setTelemetry({ api });
    return async () => undefined;
  }
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.trace.setGlobalTracerProvider(tracerProvider);
  api.metrics.setGlobalMeterProvider(meterProvider);
  setTelemetry({ api });
  return async () => {
    await reader.collect();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    api.trace.disable();
    api.metrics.disable();
    api.context.disable();
  };
}

/** Nanoseconds per append of `count` sequential single-event appends (20 streams). */
async function nsPerAppend(store: IEventStore, count: number): Promise<number> {
  const run = runId();
  const versions = new Array<number>(20).fill(0);
  const start = process.hrtime.bigint();
  for (let n = 0; n < count; n++) {
    const stream = n % 20;
    const id = `tel-${run}-${stream}`;
    await store.append(id, versions[stream]!, [lineEvent(id, n)]);
    versions[stream]!++;
  }
  return Number(process.hrtime.bigint() - start) / count;
}

async function measure(rounds: number, store: IEventStore, count: number): Promise<Record<Mode, number[]>> {
  const runs: Record<Mode, number[]> = { absent: [], noop: [], sdk: [] };
  for (const mode of MODES) {
    const leave = enter(mode);
    await nsPerAppend(store, Math.ceil(count / 5)); // warm-up
    await leave();
  }
  for (let round = 0; round < rounds; round++) {
    for (const mode of MODES) {
      const leave = enter(mode);
      runs[mode].push(await nsPerAppend(store, count));
      await leave();
    }
  }
  setTelemetry({});
  return runs;
}

function figures(where: string, runs: Record<Mode, number[]>): BenchFigure[] {
  const absent = median(runs.absent);
  const spread = (values: readonly number[]) => Math.max(...values) - Math.min(...values);
  const list = (values: readonly number[]) => values.map((value) => Math.round(value)).join(', ');
  return (['noop', 'sdk'] as const).map((mode) => ({
    name: `${where} append, ${mode === 'noop' ? 'no-op API (no SDK)' : 'real SDK (in-memory exporter)'}`,
    unit: 'ns/append',
    annals: median(runs[mode]),
    baseline: absent,
    baselineName: 'peer absent',
    ratio: median(runs[mode]) / absent,
    note: `runs (ns): ${mode} ${list(runs[mode])}; absent ${list(runs.absent)}; difference of medians ${Math.round(median(runs[mode]) - absent)} ns, spread of the absent runs ${Math.round(spread(runs.absent))} ns, of the ${mode} runs ${Math.round(spread(runs[mode]))} ns`,
  }));
}

const benchmark: Benchmark = {
  name: 'telemetry',
  async run(ctx) {
    const memory = new InMemoryEventStore({ registry: benchRegistry() });
    const memoryRuns = await measure(ctx.rounds, memory, MEMORY_APPENDS);
    const postgres = new PostgresEventStore({
      pool: ctx.newPool(1),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const postgresRuns = await measure(ctx.rounds, postgres, POSTGRES_APPENDS);
    await postgres.close();
    return [...figures('in-memory', memoryRuns), ...figures('PostgreSQL', postgresRuns)];
  },
};

export default benchmark;
