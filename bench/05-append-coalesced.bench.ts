/**
 * Write coalescing. Single-event appends from 256 concurrent callers (each on its own aggregate)
 * through a 16-connection pool, and from 16 writers through 16 connections, with annals'
 * coalescing on and off, beside two raw `pg` baselines on the same event-shaped table:
 * single-row autocommit INSERTs, and a raw coalescer that groups the waiting rows the same way
 * (alone when nothing runs; otherwise queued and sent when a statement finishes or after the
 * event loop's turn; at most 16 statements at once, up to 64 waiting rows in one
 * `INSERT ... SELECT FROM unnest(...)`, in stream order as annals inserts them). Targets: 256 callers >= 1.5x single-row INSERTs and
 * >= 0.75x the raw coalescer; 16 writers >= 0.8x single-row INSERTs, coalescing on or off.
 */
import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from 'annals/postgres';
import type pg from 'pg';
import {
  BENCH_METADATA,
  benchRegistry,
  createBaselineTable,
  lineEvent,
  linePayload,
  OrderLineAdded,
} from './support/bench-events.js';
import {
  type BenchFigure,
  type Benchmark,
  median,
  percentile,
  pushAll,
  runId,
  runWriters,
} from './support/bench-kit.js';

const POOL_SIZE = 16;
const MAX_GROUP = 64;

type Row = [string, number, string, string, string, string, string];

/** The raw coalescing baseline: the same policy as annals', in plain `pg`, without any checks. */
class RawCoalescer {
  #running = 0;
  #waiting: Array<{ row: Row; done: (error?: unknown) => void }> = [];
  constructor(
    private readonly pool: pg.Pool,
    private readonly single: string,
    private readonly group: string,
  ) {}

  #scheduled = false;

  insert(row: Row): Promise<void> {
    if (this.#running === 0 && this.#waiting.length === 0) return this.#run([{ row, done: () => {} }], true);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ row, done: (error) => (error ? reject(error) : resolve()) });
      if (!this.#scheduled && this.#running < POOL_SIZE) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#dispatch();
        });
      }
    });
  }

  #dispatch(): void {
    while (this.#running < POOL_SIZE && this.#waiting.length > 0) {
      const taken = this.#waiting.splice(0, MAX_GROUP);
      void this.#run(taken, false);
    }
  }

  async #run(items: Array<{ row: Row; done: (error?: unknown) => void }>, direct: boolean): Promise<void> {
    this.#running++;
    try {
      if (items.length === 1) {
        await this.pool.query(this.single, items[0]!.row);
      } else {
        const columns: unknown[][] = Array.from({ length: 7 }, () => []);
        for (const { row } of items) {
          for (let index = 0; index < row.length; index++) columns[index]!.push(row[index]);
        }
        await this.pool.query(this.group, columns);
      }
      for (const item of items) item.done();
    } catch (error) {
      if (direct) throw error;
      for (const item of items) item.done(error);
    } finally {
      this.#running--;
      this.#dispatch();
    }
  }
}

interface Side {
  readonly name: string;
  readonly append: (stream: string, n: number) => Promise<unknown>;
}

interface Measured {
  readonly rates: number[];
  readonly latencies: number[];
  readonly cpu: number[];
}

/** Runs every side `rounds` times for `phaseMs`, rotating the order each round. */
async function measure(sides: readonly Side[], writers: number, rounds: number, phaseMs: number) {
  const results = new Map<string, Measured>(
    sides.map((side) => [side.name, { rates: [], latencies: [], cpu: [] }]),
  );
  for (const side of sides) {
    const run = runId();
    await runWriters(writers, Math.min(500, phaseMs), (writer, n) => side.append(`warm-${run}-${writer}`, n));
  }
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < sides.length; index++) {
      const side = sides[(index + round) % sides.length]!;
      const run = runId();
      const measured = await runWriters(writers, phaseMs, (writer, n) =>
        side.append(`c-${run}-${writer}`, n),
      );
      const into = results.get(side.name)!;
      into.rates.push(measured.opsPerSecond);
      pushAll(into.latencies, measured.latenciesMs);
      into.cpu.push(measured.clientCpuUsPerOp);
    }
  }
  return results;
}

function summary(measured: Measured): string {
  return `p50 ${percentile(measured.latencies, 50).toFixed(1)} ms, p99 ${percentile(measured.latencies, 99).toFixed(1)} ms, client CPU ${median(measured.cpu).toFixed(0)} µs/event`;
}

const benchmark: Benchmark = {
  name: 'append-coalesced',
  async run(ctx) {
    const table = await createBaselineTable(ctx.pool, ctx.schema, 'raw_coalesced');
    const rawPool = ctx.newPool(POOL_SIZE);
    const columns = '(stream_id, version, event_id, type, payload, metadata, ts)';
    const single = `INSERT INTO ${table} ${columns} VALUES ($1, $2, $3, $4, $5, $6, $7)`;
    const group =
      `INSERT INTO ${table} ${columns} SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], ` +
      '$4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[]) ORDER BY 1';
    const coalescer = new RawCoalescer(rawPool, single, group);
    const row = (stream: string, n: number): Row => [
      stream,
      n + 1,
      randomUUID(),
      OrderLineAdded.type,
      JSON.stringify(linePayload(stream, n)),
      JSON.stringify(BENCH_METADATA),
      new Date().toISOString(),
    ];
    const on = new PostgresEventStore({
      pool: ctx.newPool(POOL_SIZE),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const off = new PostgresEventStore({
      pool: ctx.newPool(POOL_SIZE),
      registry: benchRegistry(),
      schema: ctx.schema,
      coalesceAppends: false,
    });
    const sides: Side[] = [
      { name: 'raw single-row INSERT', append: (stream, n) => rawPool.query(single, row(stream, n)) },
      { name: 'raw coalescing', append: (stream, n) => coalescer.insert(row(stream, n)) },
      { name: 'annals, coalescing on', append: (stream, n) => on.append(stream, n, [lineEvent(stream, n)]) },
      {
        name: 'annals, coalescing off',
        append: (stream, n) => off.append(stream, n, [lineEvent(stream, n)]),
      },
    ];
    const figures: BenchFigure[] = [];
    for (const writers of [256, 16]) {
      const results = await measure(sides, writers, ctx.rounds, ctx.phaseMs);
      const rate = (name: string) => median(results.get(name)!.rates);
      const notes = sides.map((side) => `${side.name}: ${summary(results.get(side.name)!)}`).join('; ');
      const raw = rate('raw single-row INSERT');
      const label = `single-event appends, ${writers} callers, ${POOL_SIZE}-connection pool`;
      figures.push({
        name: `${label}, coalescing on`,
        unit: 'events/s',
        annals: rate('annals, coalescing on'),
        baseline: raw,
        baselineName: 'single-row autocommit INSERT',
        ratio: rate('annals, coalescing on') / raw,
        target: { atLeast: writers > POOL_SIZE ? 1.5 : 0.8 },
        note: notes,
      });
      if (writers > POOL_SIZE) {
        const rawGroups = rate('raw coalescing');
        figures.push({
          name: `${label}, coalescing on, against raw coalescing`,
          unit: 'events/s',
          annals: rate('annals, coalescing on'),
          baseline: rawGroups,
          baselineName: `raw pg grouping the same rows (<= ${MAX_GROUP} per unnest INSERT)`,
          ratio: rate('annals, coalescing on') / rawGroups,
          target: { atLeast: 0.75 },
        });
      }
      figures.push({
        name: `${label}, coalescing off`,
        unit: 'events/s',
        annals: rate('annals, coalescing off'),
        baseline: raw,
        baselineName: 'single-row autocommit INSERT',
        ratio: rate('annals, coalescing off') / raw,
        ...(writers > POOL_SIZE ? {} : { target: { atLeast: 0.8 } }),
      });
    }
    await Promise.all([on.close(), off.close()]);
    return figures;
  },
};

export default benchmark;
