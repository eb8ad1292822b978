/**
 * The measures of the cost curves, each against its raw-`pg` baseline, for one store size:
 * single-event appends (16 writers), loading a 1,000-event and a 10-event stream, and reading the
 * log in pages of 500 from the middle and from near the end. Each measure runs `rounds` rounds,
 * annals and baseline alternating (baseline first in even rounds), and returns every round.
 */
import { randomUUID } from 'node:crypto';
import { type LogPosition, type NewEvent, NO_STREAM } from 'annals';
import type { PostgresEventStore } from 'annals/postgres';
import type pg from 'pg';
import { horizonExpression } from '../../src/postgres/event-store/horizon-sql.js';
import { alternate, medianLoadMs, runWriters } from '../support/bench-kit.js';
import { type FillState, isWholeOrder, orderLength, orderStreamId } from './fill.js';

/** One measure at one size: the rounds of annals and of its baselines. */
export interface MeasureResult {
  readonly measure: string;
  readonly unit: string;
  /** Higher is better (events/s) or lower is better (ms). */
  readonly higherIsBetter: boolean;
  readonly annals: number[];
  readonly baseline: number[];
  readonly baselineName: string;
  /** A second baseline, when there is one (the log read without the visibility filter). */
  readonly extra?: { readonly name: string; readonly rounds: number[] };
  readonly note?: string;
}

const METADATA = { causationId: 'cmd-0001', correlationId: 'corr-0001' };

const line = (n: number) => ({
  productId: `sku-${(n % 997).toString().padStart(4, '0')}`,
  quantity: 1 + (n % 4),
  price: ((n * 37) % 20000) / 100,
});

/** Event `n` (0-based) of an order appended by the benchmark: `OrderCreated`, then lines. */
export function orderEvent(n: number): NewEvent {
  return n === 0
    ? {
        type: 'OrderCreated',
        aggregateType: 'Order',
        payload: { customerId: 'cust-bench', items: [line(0)] },
        metadata: METADATA,
      }
    : { type: 'OrderItemAdded', aggregateType: 'Order', payload: line(n), metadata: METADATA };
}

/** What the measures work on. */
export interface MeasureContext {
  readonly store: PostgresEventStore;
  /** Baselines' pool (16 connections). */
  readonly pool: pg.Pool;
  /** Quoted `schema.events`. */
  readonly events: string;
  /** Quoted raw baseline table. */
  readonly raw: string;
  readonly rounds: number;
  readonly phaseMs: number;
  /** What the fill generated so far. */
  readonly fill: FillState;
}

/** Single-event appends, 16 writers, each on a new stream of its own per round. */
export async function measureAppends(ctx: MeasureContext, writers = 16): Promise<MeasureResult> {
  const insert = `INSERT INTO ${ctx.raw} (stream_id, version, event_id, type, payload, metadata, ts) VALUES ($1, $2, $3, $4, $5, $6, $7)`;
  // WAL written per event (server-wide: other sessions' WAL counts too), to see full-page images.
  const walBytes = { annals: [] as number[], raw: [] as number[] };
  const lsn = async () =>
    (await ctx.pool.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
  const withWal = async (into: number[], phase: () => Promise<{ opsPerSecond: number; count: number }>) => {
    const before = await lsn();
    const measured = await phase();
    const { rows } = await ctx.pool.query<{ bytes: string }>(
      'SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::text AS bytes',
      [before],
    );
    into.push(Number(rows[0]!.bytes) / measured.count);
    return measured.opsPerSecond;
  };
  const result = await alternate(
    ctx.rounds,
    () =>
      withWal(walBytes.annals, async () => {
        const streams = Array.from({ length: writers }, () => randomUUID());
        const measured = await runWriters(writers, ctx.phaseMs, (writer, n) =>
          ctx.store.append(streams[writer]!, n === 0 ? NO_STREAM : n, [orderEvent(n)]),
        );
        return { opsPerSecond: measured.opsPerSecond, count: measured.latenciesMs.length };
      }),
    () =>
      withWal(walBytes.raw, async () => {
        const streams = Array.from({ length: writers }, () => randomUUID());
        const measured = await runWriters(writers, ctx.phaseMs, (writer, n) => {
          const event = orderEvent(n);
          return ctx.pool.query(insert, [
            streams[writer],
            n + 1,
            randomUUID(),
            event.type,
            JSON.stringify(event.payload),
            JSON.stringify(event.metadata),
            new Date().toISOString(),
          ]);
        });
        return { opsPerSecond: measured.opsPerSecond, count: measured.latenciesMs.length };
      }),
  );
  const perEvent = (values: number[]) =>
    values.map((bytes) => Math.round(bytes).toLocaleString('en')).join(', ');
  return {
    measure: `single-event appends, ${writers} writers`,
    unit: 'events/s',
    higherIsBetter: true,
    annals: result.annalsRounds,
    baseline: result.baselineRounds,
    baselineName: 'single-row INSERT into the raw table (same size)',
    note: `WAL bytes per event (server-wide) ${perEvent(walBytes.annals)} (annals) vs ${perEvent(walBytes.raw)} (raw)`,
  };
}

const RAW_LOAD = (events: string) =>
  'SELECT e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, e.aggregate_id, ' +
  'e.aggregate_type, e.version, e.event_id, e.type, e.schema_version, e.payload, e.metadata, e."timestamp" ' +
  `FROM ${events} e WHERE e.aggregate_id = $1 ORDER BY e.version`;

/** Writes a 1,000-event order through the store (10 appends of 100) and times its loads. */
export async function measureLongLoad(ctx: MeasureContext, length = 1000): Promise<MeasureResult> {
  const id = randomUUID();
  for (let start = 0; start < length; start += 100) {
    const events = Array.from({ length: Math.min(100, length - start) }, (_, i) => orderEvent(start + i));
    await ctx.store.append(id, start === 0 ? NO_STREAM : start, events);
  }
  const check = (count: number) => {
    if (count !== length) throw new Error(`loaded ${count} events, expected ${length}`);
  };
  const sql = RAW_LOAD(ctx.events);
  const result = await alternate(
    ctx.rounds,
    () => medianLoadMs(ctx.phaseMs / 2, async () => (await ctx.store.load(id)).length, check),
    () => medianLoadMs(ctx.phaseMs / 2, async () => (await ctx.pool.query(sql, [id])).rowCount ?? 0, check),
  );
  return {
    measure: `load a ${length.toLocaleString('en')}-event stream (just written)`,
    unit: 'ms',
    higherIsBetter: false,
    annals: result.annalsRounds,
    baseline: result.baselineRounds,
    baselineName: 'raw SELECT of the same rows',
  };
}

/**
 * Loads 10-event orders. With generated orders, each load picks a random stored order of 10
 * events (whole: not from a batch cut short by a fill), so most loads find cold pages; with none (an
 * empty store) it writes 200 such orders first and picks among them.
 */
export async function measureShortLoad(ctx: MeasureContext): Promise<MeasureResult> {
  const length = 10;
  let pick: () => string;
  let note: string;
  const generated = ctx.fill.nextOrder;
  if (generated > 20_000) {
    pick = () => {
      for (;;) {
        const o = Math.floor(Math.random() * generated);
        if (orderLength(o) === length && isWholeOrder(ctx.fill, o)) return orderStreamId(o);
      }
    };
    note = 'random stored orders of 10 events (spread over the log), a different one per load';
  } else {
    const ids = Array.from({ length: 200 }, () => randomUUID());
    for (const id of ids) {
      await ctx.store.append(
        id,
        NO_STREAM,
        Array.from({ length }, (_, i) => orderEvent(i)),
      );
    }
    pick = () => ids[Math.floor(Math.random() * ids.length)]!;
    note = '200 orders of 10 events just written (empty store)';
  }
  const check = (count: number) => {
    if (count !== length) throw new Error(`loaded ${count} events, expected ${length}`);
  };
  const sql = RAW_LOAD(ctx.events);
  const result = await alternate(
    ctx.rounds,
    () => medianLoadMs(ctx.phaseMs / 2, async () => (await ctx.store.load(pick())).length, check),
    () =>
      medianLoadMs(ctx.phaseMs / 2, async () => (await ctx.pool.query(sql, [pick()])).rowCount ?? 0, check),
  );
  return {
    measure: 'load a 10-event stream',
    unit: 'ms',
    higherIsBetter: false,
    annals: result.annalsRounds,
    baseline: result.baselineRounds,
    baselineName: 'raw SELECT of the same rows',
    note,
  };
}

/**
 * The log positions of events `first`, `first + step`, … (`count` of them, 0-based, in log order):
 * one OFFSET scan of the log index to the first, then keyset steps from each to the next.
 */
async function positionsAt(
  pool: pg.Pool,
  events: string,
  first: number,
  step: number,
  count: number,
): Promise<LogPosition[]> {
  const columns = 'transaction_id::text AS transaction_id, global_position::text AS global_position';
  const positions: LogPosition[] = [];
  let row: { transaction_id: string; global_position: string } | undefined;
  for (let i = 0; i < count; i++) {
    const { rows } = row
      ? await pool.query<{ transaction_id: string; global_position: string }>(
          `SELECT ${columns} FROM ${events} WHERE (transaction_id, global_position) > ($1::text::xid8, $2::text::bigint) ` +
            'ORDER BY transaction_id, global_position OFFSET $3 LIMIT 1',
          [row.transaction_id, row.global_position, step - 1],
        )
      : await pool.query<{ transaction_id: string; global_position: string }>(
          `SELECT ${columns} FROM ${events} ORDER BY transaction_id, global_position OFFSET $1 LIMIT 1`,
          [first],
        );
    row = rows[0];
    if (!row) throw new Error(`no event at offset ${first + i * step}`);
    positions.push({
      transactionId: BigInt(row.transaction_id),
      globalPosition: BigInt(row.global_position),
    });
  }
  return positions;
}

/**
 * Reads `perRound` events in pages of `page` with `readAll`, from `from` ('middle' or 'end') of a
 * store of `stored` events; beside it, the store's own keyset query (with the per-database
 * visibility filter) by raw `pg` without decoding, and a plain keyset query with no filter.
 * Every round of every side reads a window of its own (9 windows in a row), so none reads pages
 * another one just brought into shared_buffers.
 */
export async function measureLogRead(
  ctx: MeasureContext,
  stored: number,
  from: 'middle' | 'end',
  page = 500,
  perRound = 20_000,
): Promise<MeasureResult | undefined> {
  const windows = ctx.rounds * 3;
  const span = windows * perRound;
  const first = from === 'middle' ? Math.floor(stored / 2) : stored - span - perRound;
  if (first < 0 || first + span > stored) return undefined;
  const starts = await positionsAt(ctx.pool, ctx.events, first, perRound, windows);
  const columns =
    'e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, e.aggregate_id, ' +
    'e.aggregate_type, e.version, e.event_id, e.type, e.schema_version, e.payload, e.metadata, e."timestamp"';
  const keyset = (filter: string) =>
    `SELECT ${columns} FROM ${ctx.events} e ` +
    `WHERE (e.transaction_id, e.global_position) > ($1::text::xid8, $2::text::bigint)${filter} ` +
    'ORDER BY e.transaction_id, e.global_position LIMIT $3';
  const filtered = keyset(` AND e.transaction_id < ${horizonExpression('database')}`);
  const plain = keyset('');
  const cpu = { annals: [] as number[], raw: [] as number[] };
  const rawRead = async (sql: string, start: LogPosition, cpuRounds?: number[]) => {
    const cpuBefore = process.cpuUsage();
    const began = performance.now();
    let read = 0;
    let after = { tx: start.transactionId.toString(), gp: start.globalPosition.toString() };
    while (read < perRound) {
      const { rows } = await ctx.pool.query<{ transaction_id: string; global_position: string }>(sql, [
        after.tx,
        after.gp,
        page,
      ]);
      read += rows.length;
      const last = rows.at(-1);
      if (!last || rows.length < page) break;
      after = { tx: last.transaction_id, gp: last.global_position };
    }
    const rate = (read / (performance.now() - began)) * 1000;
    const used = process.cpuUsage(cpuBefore);
    cpuRounds?.push((used.user + used.system) / read);
    return rate;
  };
  const annalsRead = async (start: LogPosition) => {
    const cpuBefore = process.cpuUsage();
    const began = performance.now();
    let read = 0;
    let after = start;
    while (read < perRound) {
      const result = await ctx.store.readAll({ after, limit: page });
      read += result.events.length;
      after = result.next;
      if (result.caughtUp) break;
    }
    const rate = (read / (performance.now() - began)) * 1000;
    const used = process.cpuUsage(cpuBefore);
    cpu.annals.push((used.user + used.system) / read);
    return rate;
  };
  const plainRounds: number[] = [];
  let window = 0;
  const result = await alternate(
    ctx.rounds,
    () => annalsRead(starts[window++]!),
    async () => {
      // The plain query runs with the baseline, in turn with it.
      const rate = await rawRead(filtered, starts[window++]!, cpu.raw);
      plainRounds.push(await rawRead(plain, starts[window++]!));
      return rate;
    },
  );
  return {
    measure: `readAll, pages of ${page}, from ${from === 'middle' ? 'the middle' : 'near the end'}`,
    unit: 'events/s',
    higherIsBetter: true,
    annals: result.annalsRounds,
    baseline: result.baselineRounds,
    baselineName: 'same keyset query with the visibility filter, raw pg, no decoding',
    extra: { name: 'plain keyset query, no visibility filter', rounds: plainRounds },
    note:
      `${perRound.toLocaleString('en')} events per round, from event ${first.toLocaleString('en')} on; ` +
      `client CPU per event ${cpu.annals.map((us) => us.toFixed(1)).join(', ')} µs (annals) vs ` +
      `${cpu.raw.map((us) => us.toFixed(1)).join(', ')} µs (raw, filtered)`,
  };
}
