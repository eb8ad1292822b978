/**
 * The in-memory event store in one process: sequential single-event appends, loads of a
 * 1,000-event stream and log reads (pages of 1,000), each against the cost floor of the same work
 * without a store: the same event objects, their payloads parsed by the same zod schema, kept in
 * a Map of arrays (appends) or read back from one (loads, log reads). Appends use the benchmark
 * event (165-byte payload, 75-byte metadata) and, as a second figure, a two-field payload without
 * metadata. Every round starts a fresh store, so a round's appends are all held in memory.
 *
 * `npm run bench -- in-memory` (the runner needs the PostgreSQL server for its other benchmarks;
 * this one does not touch it).
 */
import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defineEvent, EventRegistry, InMemoryEventStore, type NewEvent, NO_STREAM } from 'annals';
import { z } from 'zod';
import { benchRegistry, lineEvent, OrderLineAdded } from './support/bench-events.js';
import { alternate, type BenchFigure, type Benchmark } from './support/bench-kit.js';

// A full collection before every measured round, so that no round pays for the garbage the one
// before it left (a floor round leaves a Map of a million event objects, an append round a store
// as large): each side is measured on the heap it makes itself. `--expose-gc` for this process,
// set at run time; the function is then a global of every new context.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const STREAMS = 1000;
const LOAD_STREAMS = 20;
const STREAM_LENGTH = 1000;
const PAGE = 1000;

const ItemAdded = defineEvent({
  type: 'ItemAdded',
  schema: z.object({ sku: z.string(), quantity: z.number() }),
});

function smallEvent(_stream: string, n: number): NewEvent {
  return { type: ItemAdded.type, aggregateType: 'Cart', payload: { sku: 'sku-1', quantity: n } };
}

interface Rate {
  readonly perSecond: number;
  /** CPU time of the process (all its threads: garbage collection included) per item, in µs. */
  readonly cpuUs: number;
}

/** Runs `step` until `durationMs` have passed; `step` returns how many items it did. */
async function measure(durationMs: number, step: (n: number) => Promise<number> | number): Promise<Rate> {
  let items = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  for (let n = 0; performance.now() < end; n++) {
    // Check the clock every 64 steps: a step is a microsecond or two.
    for (let inner = 0; inner < 64; inner++, n++) items += await step(n);
  }
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return { perSecond: (items / elapsed) * 1000, cpuUs: (cpu.user + cpu.system) / items };
}

const streamIds = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** Sequential single-event appends over {@link STREAMS} streams, exact expected versions. */
async function appendRate(
  durationMs: number,
  registry: () => EventRegistry,
  event: (stream: string, n: number) => NewEvent,
): Promise<Rate> {
  const store = new InMemoryEventStore({ registry: registry() });
  const ids = streamIds('append', STREAMS);
  const versions = new Array<number>(STREAMS).fill(0);
  return measure(durationMs, async (n) => {
    const stream = n % STREAMS;
    const id = ids[stream]!;
    await store.append(id, versions[stream]!, [event(id, n)]);
    versions[stream]!++;
    return 1;
  });
}

/** The floor of an append: the event parsed by its schema and kept in a Map of arrays. */
async function appendFloor(
  durationMs: number,
  schema: z.ZodType,
  event: (stream: string, n: number) => NewEvent,
): Promise<Rate> {
  const streams = new Map<string, object[]>();
  const ids = streamIds('append', STREAMS);
  return measure(durationMs, async (n) => {
    const id = ids[n % STREAMS]!;
    const given = event(id, n);
    const payload = schema.parse(given.payload);
    let stream = streams.get(id);
    if (stream === undefined) {
      stream = [];
      streams.set(id, stream);
    }
    stream.push({ ...given, payload, aggregateId: id, version: stream.length + 1 });
    await undefined;
    return 1;
  });
}

async function filledStore(): Promise<{ store: InMemoryEventStore; ids: string[] }> {
  const store = new InMemoryEventStore({ registry: benchRegistry() });
  const ids = streamIds('load', LOAD_STREAMS);
  for (const id of ids) {
    for (let version = 0; version < STREAM_LENGTH; version += 100) {
      const events = Array.from({ length: 100 }, (_, i) => lineEvent(id, version + i));
      await store.append(id, version === 0 ? NO_STREAM : version, events);
    }
  }
  return { store, ids };
}

/** The same events as plain objects, for the floors of loads and log reads. */
function filledFloor(): { streams: Map<string, object[]>; log: object[] } {
  const streams = new Map<string, object[]>();
  const log: object[] = [];
  for (const id of streamIds('load', LOAD_STREAMS)) {
    const stream: object[] = [];
    for (let version = 1; version <= STREAM_LENGTH; version++) {
      const event = { ...lineEvent(id, version - 1), aggregateId: id, version };
      stream.push(event);
      log.push(event);
    }
    streams.set(id, stream);
  }
  return { streams, log };
}

/** A read's floor per event: the payload parsed again, a new event object around it. */
function readFloor(events: readonly object[]): object[] {
  const out = new Array<object>(events.length);
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as NewEvent;
    out[index] = { ...event, payload: OrderLineAdded.schema.parse(event.payload) };
  }
  return out;
}

function figure(
  name: string,
  unit: string,
  result: Awaited<ReturnType<typeof alternate>>,
  cpu: { annals: number[]; baseline: number[]; load: number[] },
  baselineName: string,
): BenchFigure {
  const list = (values: readonly number[]) =>
    values.map((value) => Math.round(value).toLocaleString('en')).join(', ');
  const us = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(', ');
  return {
    name,
    unit,
    annals: result.annals,
    baseline: result.baseline,
    baselineName,
    ratio: result.annals / result.baseline,
    note: `rounds: annals ${list(result.annalsRounds)}; floor ${list(result.baselineRounds)}; CPU µs per event (GC threads included): annals ${us(cpu.annals)}; floor ${us(cpu.baseline)}; load average (1 min) ${cpu.load.map((value) => value.toFixed(2)).join(' -> ')}`,
  };
}

/** Alternates an annals and a floor measurement, keeping each side's rates and CPU times. */
async function compare(
  rounds: number,
  annals: () => Promise<Rate>,
  floor: () => Promise<Rate>,
): Promise<{
  result: Awaited<ReturnType<typeof alternate>>;
  cpu: { annals: number[]; baseline: number[]; load: number[] };
}> {
  // The machine's load average before and after: other processes change every figure here.
  const cpu = { annals: [] as number[], baseline: [] as number[], load: [loadavg()[0]!] };
  const result = await alternate(
    rounds,
    async () => {
      collectGarbage();
      const rate = await annals();
      cpu.annals.push(rate.cpuUs);
      return rate.perSecond;
    },
    async () => {
      collectGarbage();
      const rate = await floor();
      cpu.baseline.push(rate.cpuUs);
      return rate.perSecond;
    },
  );
  cpu.load.push(loadavg()[0]!);
  return { result, cpu };
}

const benchmark: Benchmark = {
  name: 'in-memory',
  async run(ctx) {
    const figures: BenchFigure[] = [];
    const phase = ctx.phaseMs;

    // Warm both sides up once, so neither round 1 pays for compiling the other's code.
    await appendRate(Math.min(phase, 500), benchRegistry, lineEvent);
    await appendFloor(Math.min(phase, 500), OrderLineAdded.schema as z.ZodType, lineEvent);

    const appends = await compare(
      ctx.rounds,
      () => appendRate(phase, benchRegistry, lineEvent),
      () => appendFloor(phase, OrderLineAdded.schema as z.ZodType, lineEvent),
    );
    figures.push(
      figure(
        'in memory: sequential single-event appends (165-byte payload, metadata)',
        'appends/s',
        appends.result,
        appends.cpu,
        'zod parse + Map of arrays',
      ),
    );

    const small = await compare(
      ctx.rounds,
      () => appendRate(phase, () => new EventRegistry([ItemAdded]), smallEvent),
      () => appendFloor(phase, ItemAdded.schema, smallEvent),
    );
    figures.push(
      figure(
        'in memory: sequential single-event appends (two-field payload, no metadata)',
        'appends/s',
        small.result,
        small.cpu,
        'zod parse + Map of arrays',
      ),
    );

    const { store, ids } = await filledStore();
    const floor = filledFloor();
    const loads = await compare(
      ctx.rounds,
      () =>
        measure(phase, async (n) => {
          const events = await store.load(ids[n % ids.length]!);
          if (events.length !== STREAM_LENGTH) throw new Error(`loaded ${events.length} events`);
          return events.length;
        }),
      () =>
        measure(phase, async (n) => {
          const events = readFloor(floor.streams.get(ids[n % ids.length]!)!);
          await undefined;
          return events.length;
        }),
    );
    figures.push(
      figure(
        'in memory: load of a 1,000-event stream',
        'events/s',
        loads.result,
        loads.cpu,
        'zod parse + new event object per event',
      ),
    );

    const total = ids.length * STREAM_LENGTH;
    let after: Awaited<ReturnType<InMemoryEventStore['readAll']>>['next'] | undefined;
    let offset = 0;
    const reads = await compare(
      ctx.rounds,
      () =>
        measure(phase, async () => {
          const page = await store.readAll({ after, limit: PAGE });
          after = page.caughtUp ? undefined : page.next;
          return page.events.length;
        }),
      () =>
        measure(phase, async () => {
          const page = readFloor(floor.log.slice(offset, offset + PAGE));
          offset = offset + PAGE >= total ? 0 : offset + PAGE;
          await undefined;
          return page.length;
        }),
    );
    figures.push(
      figure(
        `in memory: readAll, pages of ${PAGE.toLocaleString('en')}`,
        'events/s',
        reads.result,
        reads.cpu,
        'zod parse + new event object per event',
      ),
    );
    return figures;
  },
};

export default benchmark;
