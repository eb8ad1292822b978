/**
 * The shape of a benchmark module and the helpers they share. A module is a file
 * `bench/<name>.bench.ts` whose default export is a {@link Benchmark}; `bench/run.ts` finds and
 * runs every such file, in file-name order. Adding a benchmark is adding a file.
 */
import type pg from 'pg';

/** What every benchmark gets from the runner. */
export interface BenchContext {
  /** The server's connection string. */
  readonly connectionString: string;
  /** A scratch schema, migrated, dropped after the run; use it for annals stores. */
  readonly schema: string;
  /** A pool for setup and baselines (16 connections). */
  readonly pool: pg.Pool;
  /** Opens another pool (ended by the runner after the run). */
  newPool(maxConnections: number): pg.Pool;
  /** How long one measured phase runs. */
  readonly phaseMs: number;
  /** How many times the annals side and the baseline alternate. */
  readonly rounds: number;
}

/** A target for the ratio annals / baseline. */
export interface RatioTarget {
  /** The ratio must be at least this (throughput: annals keeps this share of the raw rate). */
  readonly atLeast?: number;
  /** The ratio must be at most this (time: annals takes at most this multiple of the raw time). */
  readonly atMost?: number;
}

/** One line of the report: a figure of annals beside the raw-driver baseline of the same work. */
export interface BenchFigure {
  /** What was measured. */
  readonly name: string;
  /** The unit of both values, such as `events/s` or `ms`. */
  readonly unit: string;
  /** The annals figure (median of the rounds). */
  readonly annals: number;
  /** The raw `pg` figure for the same work (median of the rounds). */
  readonly baseline: number;
  /** What the baseline does. */
  readonly baselineName: string;
  /** `annals / baseline`. */
  readonly ratio: number;
  /** The target for `ratio`, when there is one. */
  readonly target?: RatioTarget;
  /** Extra detail for the report (latencies, sizes). */
  readonly note?: string;
}

/** A benchmark module. */
export interface Benchmark {
  /** A short name, used to filter (`npm run bench -- <name>`). */
  readonly name: string;
  /** Runs and returns its figures. */
  run(ctx: BenchContext): Promise<BenchFigure[]>;
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A percentile (0-100) of some numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Appends `items` to `into`. A spread (`into.push(...items)`) passes each item as an argument,
 * and a phase of fast appends records more latencies than the call stack holds.
 */
export function pushAll<T>(into: T[], items: readonly T[]): void {
  for (const item of items) into.push(item);
}

/** What {@link runWriters} measured. */
export interface WriterResult {
  /** Operations completed per second. */
  readonly opsPerSecond: number;
  /** Latencies of the operations, in ms. */
  readonly latenciesMs: number[];
  /** CPU time this (client) process spent per operation, in microseconds. */
  readonly clientCpuUsPerOp: number;
}

/**
 * Runs `writers` concurrent loops of `operation` for `durationMs` and reports the rate.
 * `operation(writer, n)` gets the writer's index and its operation count so far.
 */
export async function runWriters(
  writers: number,
  durationMs: number,
  operation: (writer: number, n: number) => Promise<unknown>,
): Promise<WriterResult> {
  const latenciesMs: number[] = [];
  let count = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; performance.now() < end; n++) {
        const before = performance.now();
        await operation(writer, n);
        latenciesMs.push(performance.now() - before);
        count++;
      }
    }),
  );
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    opsPerSecond: (count / elapsed) * 1000,
    latenciesMs,
    clientCpuUsPerOp: (cpu.user + cpu.system) / count,
  };
}

/**
 * Alternates `annals` and `baseline` for `rounds` rounds (baseline first, so neither side
 * always runs on a warmer cache) and returns the medians of what each returned.
 */
export async function alternate(
  rounds: number,
  annals: (round: number) => Promise<number>,
  baseline: (round: number) => Promise<number>,
): Promise<{ annals: number; baseline: number; annalsRounds: number[]; baselineRounds: number[] }> {
  const annalsRounds: number[] = [];
  const baselineRounds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      baselineRounds.push(await baseline(round));
      annalsRounds.push(await annals(round));
    } else {
      annalsRounds.push(await annals(round));
      baselineRounds.push(await baseline(round));
    }
  }
  return { annals: median(annalsRounds), baseline: median(baselineRounds), annalsRounds, baselineRounds };
}

/** A random id for one round's aggregates. */
export function runId(): string {
  return Math.random().toString(36).slice(2, 10);
}

/**
 * Runs `load` repeatedly for `durationMs`, checking each result with `check` (which throws on a
 * wrong result), and returns the median time of one call in ms.
 */
export async function medianLoadMs<T>(
  durationMs: number,
  load: () => Promise<T>,
  check: (result: T) => void,
): Promise<number> {
  const times: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const before = performance.now();
    const result = await load();
    times.push(performance.now() - before);
    check(result);
  }
  return median(times);
}
