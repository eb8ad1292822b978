/**
 * `npm run bench:cost [-- --sizes 0,1000000,10000000]`: how cost grows with the size of the store.
 * Not a `*.bench.ts` module (it takes minutes to an hour, `npm run bench` stays quick). Like
 * `npm run bench`, it builds first and measures the built package (`bench/tsconfig.json`).
 *
 * In a database of its own (`annals_cost`, created, and dropped at the end unless `--keep`), in
 * the schema `cost` migrated by annals' `migrate`, for each size in turn (events already stored):
 * fills the store with generated Order events by SQL (`bench/cost/fill.ts`; the raw baseline's
 * event-shaped table gets the same rows), vacuums, analyses and checkpoints, then measures
 * against raw `pg` baselines (`bench/cost/measures.ts`): loading a 10-event and a 1,000-event
 * stream, reading the log in pages of 500 from the middle and from near the end, single-event
 * appends by 16 writers. Each measure runs `--rounds` rounds (default 3) alternating with its
 * baseline. At `--rebuild-at` events (default 1,000,000; `none` to skip) it first rebuilds the
 * Order read model with `annals rebuild` in a process of its own, measuring its rate and peak RSS
 * (`bench/cost/rebuild.ts`). Table, index sizes, B-tree depths and their share in shared_buffers
 * are reported at each size (`bench/cost/stats.ts`). Prints Markdown; `--out <file>` also
 * writes it to a file.
 *
 * Options: `--sizes a,b,c` (ascending), `--rounds n`, `--phase-ms n` (one measured phase, default
 * 2000), `--rebuild-at n|none`, `--database name`, `--keep`, `--out file`. DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres) must be a role that may create databases;
 * pageinspect and pg_buffercache (contrib) are used when they can be installed.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { migrate, PostgresEventStore } from 'annals/postgres';
import pg from 'pg';
import { orderRegistry } from '../examples/order/upcasters.js';
import { type FillState, fillTo } from './cost/fill.js';
import {
  type MeasureContext,
  type MeasureResult,
  measureAppends,
  measureLogRead,
  measureLongLoad,
  measureShortLoad,
} from './cost/measures.js';
import { type RebuildRun, runRebuild } from './cost/rebuild.js';
import { prepareStats, type SizeStats, serverSettings, sizeStats } from './cost/stats.js';
import { createBaselineTable } from './support/bench-events.js';
import { median } from './support/bench-kit.js';

const SCHEMA = 'cost';
const RAW_TABLE = 'raw_events';

const { values: options } = parseArgs({
  options: {
    sizes: { type: 'string', default: '0,1000000,10000000' },
    rounds: { type: 'string', default: '3' },
    'phase-ms': { type: 'string', default: '2000' },
    'rebuild-at': { type: 'string', default: '1000000' },
    database: { type: 'string', default: 'annals_cost' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const sizes = options.sizes.split(',').map((size) => Number(size.replaceAll('_', '')));
if (sizes.some((size, i) => !Number.isInteger(size) || size < 0 || (i > 0 && size <= sizes[i - 1]!))) {
  throw new Error(`--sizes must be ascending whole numbers: ${options.sizes}`);
}
const rounds = Number(options.rounds);
const phaseMs = Number(options['phase-ms']);
const rebuildAt = options['rebuild-at'] === 'none' ? undefined : Number(options['rebuild-at']);
const database = options.database;
if (!/^[a-z_][a-z0-9_]*$/.test(database))
  throw new Error(`--database must be a plain identifier: ${database}`);
const adminUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const costUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
})();

const log = (message: string) =>
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const fmt = (value: number) =>
  !Number.isFinite(value)
    ? String(value)
    : value >= 100
      ? Math.round(value).toLocaleString('en')
      : value.toFixed(2);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MB`;
const sizeName = (size: number) =>
  size >= 1_000_000 ? `${size / 1_000_000}M` : size >= 1000 ? `${size / 1000}k` : String(size);

interface SizeRun {
  readonly size: number;
  readonly fillMs: number;
  readonly fillRate: number;
  readonly indexMs: number;
  readonly stats: SizeStats;
  readonly statsAfter: SizeStats;
  readonly measures: MeasureResult[];
  readonly rebuild?: RebuildRun;
}

async function main(): Promise<void> {
  const started = Date.now();
  const admin = new pg.Pool({ connectionString: adminUrl, max: 1 });
  const server = await serverSettings(admin);
  log(`dropping and creating database ${database}`);
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  const pool = new pg.Pool({ connectionString: costUrl, max: 16 });
  const storePool = new pg.Pool({ connectionString: costUrl, max: 16 });
  const store = new PostgresEventStore({ pool: storePool, registry: orderRegistry(), schema: SCHEMA });
  const runs: SizeRun[] = [];
  const failures: string[] = [];
  try {
    await migrate(pool, { schema: SCHEMA });
    // The raw baseline's event-shaped table, the same as the other benchmarks'.
    await createBaselineTable(pool, SCHEMA, RAW_TABLE);
    const extensions = await prepareStats(pool);
    const events = `"${SCHEMA}".events`;
    const raw = `"${SCHEMA}"."${RAW_TABLE}"`;
    const fill: FillState = { nextOrder: 0, stored: 0, cut: [] };
    for (const size of sizes) {
      const count = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${events}`);
      fill.stored = Number(count.rows[0]?.n ?? 0);
      const fillStart = performance.now();
      const before = fill.stored;
      let indexMs = 0;
      if (size > fill.stored) {
        log(`filling to ${size.toLocaleString('en')} events`);
        let lastLog = 0;
        await fillTo(
          pool,
          { events, raw },
          fill,
          size,
          (state, elapsed) => {
            if (elapsed - lastLog < 15_000 && state.stored < size) return;
            lastLog = elapsed;
            log(
              `  ${state.stored.toLocaleString('en')} events, ${Math.round(((state.stored - before) / elapsed) * 1000).toLocaleString('en')} events/s`,
            );
          },
          (elapsed) => {
            indexMs = elapsed;
            log(`  indexes re-created in ${(elapsed / 1000).toFixed(1)} s`);
          },
        );
        log('  vacuum analyze, checkpoint');
        await pool.query(`VACUUM (ANALYZE) ${events}`);
        await pool.query(`VACUUM (ANALYZE) ${raw}`);
        await pool.query('CHECKPOINT');
      }
      const fillMs = performance.now() - fillStart;
      const fillRate = fill.stored > before ? ((fill.stored - before) / fillMs) * 1000 : 0;
      const stats = await sizeStats(pool, SCHEMA, RAW_TABLE, extensions);
      let rebuild: RebuildRun | undefined;
      if (rebuildAt !== undefined && size === rebuildAt) {
        log(`rebuilding the Order read model over ${fill.stored.toLocaleString('en')} events`);
        rebuild = await runRebuild(costUrl, SCHEMA);
        log(`  exit ${rebuild.exitCode}, ${fmt(rebuild.eventsPerSecond ?? 0)} events/s`);
        if (rebuild.exitCode !== 0) log(rebuild.stderr.slice(0, 4000));
        await pool.query(`DROP TABLE IF EXISTS "${SCHEMA}".order_read`);
      }
      const ctx: MeasureContext = {
        store,
        pool,
        events,
        raw,
        rounds,
        phaseMs,
        fill,
      };
      const measures: MeasureResult[] = [];
      const run = async (name: string, measure: () => Promise<MeasureResult | undefined>) => {
        log(`${sizeName(size)}: ${name}`);
        let result: MeasureResult | undefined;
        try {
          result = await measure();
        } catch (error) {
          // One failed measure must not lose the others (nor an hour of filling).
          log(`  FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          failures.push(
            `${sizeName(size)} ${name}: ${error instanceof Error ? error.message : String(error)}`,
          );
          return;
        }
        if (result) {
          measures.push({
            ...result,
            note: [result.note, `load average ${loadavg()[0]!.toFixed(1)} after it`]
              .filter(Boolean)
              .join('; '),
          });
          log(
            `  annals ${result.annals.map(fmt).join(', ')} / raw ${result.baseline.map(fmt).join(', ')} ${result.unit}`,
          );
        }
      };
      await run('load 10', () => measureShortLoad(ctx));
      await run('load 1000', () => measureLongLoad(ctx));
      await run('read middle', () => measureLogRead(ctx, fill.stored, 'middle'));
      await run('read end', () => measureLogRead(ctx, fill.stored, 'end'));
      await run('append', () => measureAppends(ctx));
      const statsAfter = await sizeStats(pool, SCHEMA, RAW_TABLE, extensions);
      runs.push({
        size,
        fillMs,
        fillRate,
        indexMs,
        stats,
        statsAfter,
        measures,
        ...(rebuild ? { rebuild } : {}),
      });
      if (options.out)
        writeFileSync(`${options.out}.partial.json`, JSON.stringify({ server, runs }, null, 2));
    }
  } finally {
    await store.close();
    await storePool.end();
    await pool.end();
    if (options.keep) {
      log(`kept database ${database}`);
    } else {
      log(`dropping database ${database}`);
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
    await admin.end();
  }
  if (options.out) writeFileSync(`${options.out}.json`, JSON.stringify({ server, runs }, null, 2));
  let report = markdown(runs, server, Date.now() - started);
  if (failures.length > 0) report += `\nFAILED measures:\n\n${failures.map((f) => `- ${f}`).join('\n')}\n`;
  process.stdout.write(report);
  if (options.out) writeFileSync(options.out, report);
}

function markdown(runs: SizeRun[], server: { version: string; settings: string }, totalMs: number): string {
  const out: string[] = [];
  out.push(`# annals cost curves (${new Date().toISOString()})`, '');
  out.push(
    `- machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`,
  );
  out.push(`- server: ${server.version}`);
  out.push(`- settings: ${server.settings}`);
  out.push(
    `- each cell: annals / raw baseline = ratio, one per round (${rounds} rounds of ${phaseMs} ms phases, alternating); last column: the medians of each side, their ratio, and the median of the rounds' ratios`,
    '',
  );
  const measureNames = [...new Set(runs.flatMap((run) => run.measures.map((m) => m.measure)))];
  out.push(
    '| measure | events stored | unit | ' +
      Array.from({ length: rounds }, (_, i) => `run ${i + 1}`).join(' | ') +
      ' | median |',
  );
  out.push(`|---|---|---|${'---|'.repeat(rounds)}---|`);
  for (const name of measureNames) {
    for (const run of runs) {
      const m = run.measures.find((candidate) => candidate.measure === name);
      if (!m) continue;
      const cells = m.annals.map(
        (a, i) => `${fmt(a)} / ${fmt(m.baseline[i]!)} = **${(a / m.baseline[i]!).toFixed(2)}**`,
      );
      const medA = median(m.annals);
      const medB = median(m.baseline);
      out.push(
        `| ${name} | ${run.size.toLocaleString('en')} | ${m.unit} | ${cells.join(' | ')} | ${fmt(medA)} / ${fmt(medB)} = ${(medA / medB).toFixed(2)}; median ratio **${median(m.annals.map((a, i) => a / m.baseline[i]!)).toFixed(2)}** |`,
      );
    }
  }
  out.push('');
  out.push('Baselines and notes:', '');
  for (const name of measureNames) {
    const all = runs.flatMap((run) =>
      run.measures.filter((m) => m.measure === name).map((m) => ({ size: run.size, m })),
    );
    out.push(`- ${name}: baseline ${all[0]?.m.baselineName}.`);
    for (const { size, m } of all) {
      const notes = [
        m.note,
        m.extra ? `${m.extra.name}: ${m.extra.rounds.map(fmt).join(', ')} ${m.unit}` : undefined,
      ].filter(Boolean);
      if (notes.length > 0) out.push(`  - at ${size.toLocaleString('en')}: ${notes.join('; ')}`);
    }
  }
  out.push('');
  out.push(
    'Fill (SQL, events + raw table in one statement per ~90,000 events, indexes dropped and re-created):',
    '',
  );
  for (const run of runs) {
    if (run.fillRate > 0) {
      out.push(
        `- to ${run.size.toLocaleString('en')}: ${(run.fillMs / 1000).toFixed(0)} s including ${(run.indexMs / 1000).toFixed(0)} s to re-create the indexes and VACUUM ANALYZE and CHECKPOINT, ${fmt(run.fillRate)} events/s overall`,
      );
    }
  }
  out.push('');
  out.push(
    'Relations at each size, before the measures (size; B-tree levels above the leaves; in shared_buffers):',
    '',
  );
  out.push(`| relation | ${runs.map((run) => `${run.size.toLocaleString('en')} events`).join(' | ')} |`);
  out.push(`|---|${'---|'.repeat(runs.length)}`);
  const relationNames = [...new Set(runs.flatMap((run) => run.stats.relations.map((r) => r.name)))];
  for (const name of relationNames) {
    const cells = runs.map((run) => {
      const r = run.stats.relations.find((candidate) => candidate.name === name);
      if (!r) return '';
      const level = r.btreeLevel === undefined ? '' : `; level ${r.btreeLevel}`;
      const cached = r.cachedBytes === undefined ? '' : `; ${mb(r.cachedBytes)} cached`;
      return `${mb(r.bytes)}${level}${cached}`;
    });
    out.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  const totals = runs.map((run) =>
    mb(
      run.stats.relations
        .filter((r) => r.name !== RAW_TABLE && !r.name.startsWith(`${RAW_TABLE}_`))
        .reduce((sum, r) => sum + r.bytes, 0),
    ),
  );
  out.push(`| events + its indexes | ${totals.join(' | ')} |`);
  out.push('');
  out.push(
    `After the measures: ${runs.map((run) => `${run.statsAfter.events.toLocaleString('en')} events (${run.statsAfter.relations.map((r) => `${r.name} ${r.cachedBytes === undefined ? '' : `${mb(r.cachedBytes)} cached`}`).join(', ')})`).join('; ')}`,
    '',
  );
  for (const run of runs) {
    const rebuild = run.rebuild;
    if (!rebuild) continue;
    out.push(
      `Rebuild of the Order read model (\`annals rebuild order-read-model\`) over ${run.size.toLocaleString('en')} events:`,
      '',
    );
    out.push(
      `- exit code ${rebuild.exitCode}, wall time ${(rebuild.wallMs / 1000).toFixed(1)} s (process start included)`,
    );
    out.push(
      `- ${rebuild.processed?.toLocaleString('en') ?? '?'} events, ${fmt(rebuild.eventsPerSecond ?? 0)} events/s (the command's own figure)`,
    );
    out.push(
      `- peak RSS: ${rebuild.timePeakRssBytes === undefined ? 'n/a' : mb(rebuild.timePeakRssBytes)} (/usr/bin/time -v), ${mb(rebuild.sampledPeakRssBytes)} sampled from /proc every 250 ms; goal <= 256 MB: ${
        (rebuild.timePeakRssBytes ?? rebuild.sampledPeakRssBytes) <= 256 * 2 ** 20 ? 'met' : 'MISSED'
      }`,
    );
    const n = rebuild.samples.length;
    const picks = [0, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 1].filter(
      (i, k, all) => i >= 0 && all.indexOf(i) === k,
    );
    out.push(
      `- RSS over time: ${picks.map((i) => `${(rebuild.samples[i]![0] / 1000).toFixed(0)} s ${mb(rebuild.samples[i]![1])}`).join(', ')}`,
    );
    const lines = rebuild.output;
    const sample =
      lines.length <= 12
        ? lines
        : [...lines.slice(0, 5), `… (${lines.length - 10} lines)`, ...lines.slice(-5)];
    out.push('', '```', ...sample, '```', '');
  }
  out.push(`total time ${(totalMs / 60_000).toFixed(1)} min`, '');
  return out.join('\n');
}

await main();
