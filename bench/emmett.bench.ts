/**
 * annals beside Emmett's PostgreSQL event store (`@event-driven-io/emmett-postgresql` 0.42) and
 * raw `pg`, in the same run, on three of issue 12's workloads: single-event appends from 16
 * writers (each on its own stream, with its expected version), 100-event appends from 16
 * writers, and loading a 1,000-event stream. Each round runs the three sides one after the other,
 * in an order that rotates. Every side gets a pool of 16 connections to the same server.
 *
 * Emmett is not a dependency of annals. Install it for one run without touching the lock file:
 * `npm install --no-save @event-driven-io/emmett-postgresql@0.42.0`, then
 * `npm run bench -- emmett`. Without it this benchmark says it was skipped and reports nothing.
 *
 * What differs between the sides. annals validates every payload with its zod schema on write
 * and read, and its default coalesces concurrent single-event appends (see
 * `05-append-coalesced`). Emmett validates nothing and keeps its tables in the connected
 * database's `public` schema, so it gets a scratch database of its own, dropped afterwards. The
 * raw side writes the same rows into the benchmarks' event-shaped table.
 */
import { randomUUID } from 'node:crypto';
import { NO_STREAM } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import pg from 'pg';
import {
  BENCH_METADATA,
  benchRegistry,
  createBaselineTable,
  lineEvent,
  linePayload,
  OrderLineAdded,
} from './support/bench-events.js';
import { type BenchFigure, type Benchmark, median, runId, runWriters } from './support/bench-kit.js';

const EMMETT = '@event-driven-io/emmett-postgresql';
const WRITERS = 16;
const BATCH = 100;
const STREAM_LENGTH = 1000;

/** The part of Emmett's event store this benchmark uses, typed by its shape. */
interface EmmettStore {
  appendToStream(
    streamName: string,
    events: ReadonlyArray<{ type: string; data: unknown; metadata?: unknown }>,
    options?: { expectedStreamVersion?: bigint },
  ): Promise<unknown>;
  readStream(streamName: string): Promise<{ events: unknown[] }>;
  close(): Promise<void>;
}

interface EmmettModule {
  getPostgreSQLEventStore(
    connectionString: string,
    options?: { connectionOptions?: { pool: pg.Pool } },
  ): EmmettStore;
}

/** A side of a workload: what it does once, and how many events that was. */
interface Side {
  readonly name: string;
  readonly run: () => Promise<number>;
}

/** Runs each side `rounds` times, rotating the order; returns each side's results, by name. */
async function rotate(sides: readonly Side[], rounds: number): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>(sides.map((side) => [side.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < sides.length; index++) {
      const side = sides[(index + round) % sides.length]!;
      results.get(side.name)!.push(await side.run());
    }
  }
  return results;
}

function figure(name: string, unit: string, results: Map<string, number[]>, rawName: string): BenchFigure {
  const annals = median(results.get('annals')!);
  const emmett = median(results.get('Emmett')!);
  const raw = median(results.get('raw')!);
  const rounds = (side: string) =>
    results
      .get(side)!
      .map((value) => Math.round(value).toLocaleString('en'))
      .join('/');
  const note = `raw pg (${rawName}) ${Math.round(raw).toLocaleString('en')} ${unit}; annals / raw ${(annals / raw).toFixed(2)}, Emmett / raw ${(emmett / raw).toFixed(2)}; rounds: annals ${rounds('annals')}, Emmett ${rounds('Emmett')}, raw ${rounds('raw')}`;
  return {
    name: `${name}: annals against Emmett 0.42`,
    unit,
    annals,
    baseline: emmett,
    baselineName: 'Emmett 0.42, getPostgreSQLEventStore, same pool size',
    ratio: annals / emmett,
    note,
  };
}

const benchmark: Benchmark = {
  name: 'emmett',
  async run(ctx) {
    let emmett: EmmettModule;
    try {
      // A variable, so that neither TypeScript nor the bundler needs Emmett installed.
      const specifier = EMMETT;
      emmett = (await import(specifier)) as EmmettModule;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      const why =
        code === 'ERR_MODULE_NOT_FOUND'
          ? 'is not installed'
          : `could not be loaded (${error instanceof Error ? error.message : String(error)})`;
      console.log(`  skipped: ${EMMETT} ${why} (npm install --no-save ${EMMETT}@0.42.0 to run it)`);
      return [];
    }
    const database = `annals_bench_emmett_${runId()}`;
    await ctx.pool.query(`CREATE DATABASE ${database}`);
    const url = new URL(ctx.connectionString);
    url.pathname = `/${database}`;
    const emmettPool = new pg.Pool({ connectionString: url.toString(), max: WRITERS });
    const other = emmett.getPostgreSQLEventStore(url.toString(), { connectionOptions: { pool: emmettPool } });
    const store = new PostgresEventStore({
      pool: ctx.newPool(WRITERS),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const table = await createBaselineTable(ctx.pool, ctx.schema, 'raw_emmett');
    const rawPool = ctx.newPool(WRITERS);
    const columns = '(stream_id, version, event_id, type, payload, metadata, ts)';
    const single = `INSERT INTO ${table} ${columns} VALUES ($1, $2, $3, $4, $5, $6, $7)`;
    const batch =
      `INSERT INTO ${table} ${columns} SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], ` +
      '$4::text[], $5::text[]::jsonb[], $6::text[]::jsonb[], $7::timestamptz[])';
    const emmettEvent = (stream: string, n: number) => ({
      type: OrderLineAdded.type,
      data: linePayload(stream, n),
      metadata: BENCH_METADATA,
    });
    const rawRows = (stream: string, from: number, count: number) => {
      const rows: unknown[][] = Array.from({ length: 7 }, () => []);
      const metadata = JSON.stringify(BENCH_METADATA);
      for (let i = 0; i < count; i++) {
        const row = [
          stream,
          from + i + 1,
          randomUUID(),
          OrderLineAdded.type,
          JSON.stringify(linePayload(stream, from + i)),
          metadata,
          new Date().toISOString(),
        ];
        for (let column = 0; column < 7; column++) rows[column]!.push(row[column]);
      }
      return rows;
    };
    try {
      // Emmett creates its schema on first use: outside the measured phases.
      await other.appendToStream(`warm-${runId()}`, [emmettEvent('warm', 0)]);
      const writers =
        (append: (stream: string, n: number) => Promise<unknown>, perOp: number) => async () => {
          const run = runId();
          const measured = await runWriters(WRITERS, ctx.phaseMs, (writer, n) =>
            append(`s-${run}-${writer}`, n),
          );
          return measured.opsPerSecond * perOp;
        };
      const out: BenchFigure[] = [];

      const singles = await rotate(
        [
          { name: 'annals', run: writers((stream, n) => store.append(stream, n, [lineEvent(stream, n)]), 1) },
          {
            name: 'Emmett',
            run: writers(
              (stream, n) =>
                other.appendToStream(stream, [emmettEvent(stream, n)], { expectedStreamVersion: BigInt(n) }),
              1,
            ),
          },
          {
            name: 'raw',
            // One row: the first element of each column.
            run: writers(
              (stream, n) =>
                rawPool.query(
                  single,
                  rawRows(stream, n, 1).map((column) => column[0]),
                ),
              1,
            ),
          },
        ],
        ctx.rounds,
      );
      out.push(
        figure(
          'single-event appends, 16 writers, distinct streams',
          'events/s',
          singles,
          'single-row INSERT',
        ),
      );

      const batches = await rotate(
        [
          {
            name: 'annals',
            run: writers(
              (stream, n) =>
                store.append(
                  stream,
                  n * BATCH,
                  Array.from({ length: BATCH }, (_, i) => lineEvent(stream, n * BATCH + i)),
                ),
              BATCH,
            ),
          },
          {
            name: 'Emmett',
            run: writers(
              (stream, n) =>
                other.appendToStream(
                  stream,
                  Array.from({ length: BATCH }, (_, i) => emmettEvent(stream, n * BATCH + i)),
                  { expectedStreamVersion: BigInt(n * BATCH) },
                ),
              BATCH,
            ),
          },
          {
            name: 'raw',
            run: writers((stream, n) => rawPool.query(batch, rawRows(stream, n * BATCH, BATCH)), BATCH),
          },
        ],
        ctx.rounds,
      );
      out.push(
        figure('100-event appends, 16 writers, distinct streams', 'events/s', batches, 'unnest INSERT'),
      );

      // One 1,000-event stream per side, written in batches of 100.
      const id = `load-${runId()}`;
      for (let start = 0; start < STREAM_LENGTH; start += BATCH) {
        await store.append(
          id,
          start === 0 ? NO_STREAM : start,
          Array.from({ length: BATCH }, (_, i) => lineEvent(id, start + i)),
        );
        await other.appendToStream(
          id,
          Array.from({ length: BATCH }, (_, i) => emmettEvent(id, start + i)),
          { expectedStreamVersion: BigInt(start) },
        );
        await rawPool.query(batch, rawRows(id, start, BATCH));
      }
      await ctx.pool.query(`ANALYZE "${ctx.schema}".events`);
      await ctx.pool.query(`ANALYZE ${table}`);
      const select =
        'SELECT id, stream_id, version, event_id, type, payload, metadata, ts ' +
        `FROM ${table} WHERE stream_id = $1 ORDER BY version`;
      const loads = (load: () => Promise<number>) => async () => {
        let events = 0;
        const end = performance.now() + ctx.phaseMs / 2;
        const start = performance.now();
        while (performance.now() < end) {
          const count = await load();
          if (count !== STREAM_LENGTH) throw new Error(`loaded ${count} events, expected ${STREAM_LENGTH}`);
          events += count;
        }
        return (events / (performance.now() - start)) * 1000;
      };
      const loaded = await rotate(
        [
          { name: 'annals', run: loads(async () => (await store.load(id)).length) },
          { name: 'Emmett', run: loads(async () => (await other.readStream(id)).events.length) },
          { name: 'raw', run: loads(async () => (await rawPool.query(select, [id])).rows.length) },
        ],
        ctx.rounds,
      );
      out.push(figure('load a 1,000-event stream', 'events/s', loaded, 'SELECT of the rows'));
      return out;
    } finally {
      await store.close();
      await other.close().catch(() => undefined);
      await emmettPool.end().catch(() => undefined);
      // Emmett's own connections close a moment after its store: wait for them (up to 15 s)
      // rather than terminate one, which its pool would raise as an unhandled error.
      const until = performance.now() + 15_000;
      while (performance.now() < until) {
        const { rows } = await ctx.pool.query<{ count: string }>(
          'SELECT count(*)::text AS count FROM pg_stat_activity WHERE datname = $1',
          [database],
        );
        if (rows[0]?.count === '0') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await ctx.pool.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  },
};

export default benchmark;
