/**
 * `npm run bench [-- <name filter>]`: runs every `bench/*.bench.ts` module (in file-name order)
 * against the PostgreSQL server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * in a scratch schema that is dropped afterwards, and prints each figure beside its raw-`pg`
 * baseline as a Markdown table. Benchmarks are not tests: nothing here fails on a missed target.
 *
 * It builds the package first and measures the build (`dist/`), as users install it; see
 * `measuredBuild`.
 *
 * Environment: BENCH_PHASE_MS (one measured phase, default 2000), BENCH_ROUNDS (alternations of
 * annals and baseline, default 5).
 */
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { migrate } from 'annals/postgres';
import pg from 'pg';
import type { BenchContext, BenchFigure, Benchmark } from './support/bench-kit.js';
import { runId } from './support/bench-kit.js';

const connectionString = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const phaseMs = Number(process.env.BENCH_PHASE_MS ?? 2000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const filter = process.argv[2];

const SETTINGS = [
  'shared_buffers',
  'fsync',
  'synchronous_commit',
  'wal_sync_method',
  'full_page_writes',
  'commit_delay',
  'max_wal_size',
  'work_mem',
];

async function loadBenchmarks(): Promise<Array<{ file: string; benchmark: Benchmark }>> {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.bench.ts'))
    .sort();
  const loaded = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(`${dir}${file}`).href)) as { default?: Benchmark };
    if (!module.default?.run) throw new Error(`${file} has no default-exported benchmark`);
    loaded.push({ file, benchmark: module.default });
  }
  return loaded.filter(({ benchmark }) => !filter || benchmark.name.includes(filter));
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(2);
}

function verdict(figure: BenchFigure): string {
  const { target, ratio } = figure;
  if (!target) return '';
  const parts: string[] = [];
  if (target.atLeast !== undefined) parts.push(`>= ${target.atLeast}`);
  if (target.atMost !== undefined) parts.push(`<= ${target.atMost}`);
  const met =
    (target.atLeast === undefined || ratio >= target.atLeast) &&
    (target.atMost === undefined || ratio <= target.atMost);
  return `${parts.join(', ')}: ${met ? 'met' : 'MISSED'}`;
}

/**
 * Which annals the benchmarks import. `npm run bench` builds the package and imports it as a user
 * would (`dist/`, through the package's exports). Run through the repository's own tsconfig,
 * `annals` would map to `src/`, which tsx compiles with `keepNames`: every closure annals makes
 * then also calls esbuild's `__name`, a cost no user's build pays.
 */
function measuredBuild(): string {
  const resolved = fileURLToPath(import.meta.resolve('annals/postgres'));
  const root = fileURLToPath(new URL('..', import.meta.url));
  const shown = resolved.startsWith(root) ? resolved.slice(root.length) : resolved;
  return shown.startsWith('dist/')
    ? `the built package (${shown})`
    : `${shown}, NOT the built package: run \`npm run bench\` to measure what users install`;
}

async function main(): Promise<void> {
  const pool = new pg.Pool({ connectionString, max: 16 });
  const extraPools: pg.Pool[] = [pool];
  const schema = `annals_bench_${runId()}`;
  const started = performance.now();
  try {
    const version = (await pool.query<{ version: string }>('SELECT version()')).rows[0]?.version;
    const settings = await pool.query<{ name: string; setting: string; unit: string | null }>(
      'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)',
      [SETTINGS],
    );
    console.log(`# annals benchmarks (${new Date().toISOString()})`);
    console.log(
      `- machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    );
    console.log(`- server: ${version}`);
    console.log(
      `- settings: ${settings.rows.map((row) => `${row.name}=${row.setting}${row.unit ? ` (${row.unit})` : ''}`).join(', ')}`,
    );
    console.log(`- annals: ${measuredBuild()}`);
    console.log(
      `- each figure: median of ${rounds} rounds of ${phaseMs} ms, alternating with its baseline\n`,
    );

    await migrate(pool, { schema });
    const ctx: BenchContext = {
      connectionString,
      schema,
      pool,
      phaseMs,
      rounds,
      newPool(maxConnections) {
        const extra = new pg.Pool({ connectionString, max: maxConnections });
        extraPools.push(extra);
        return extra;
      },
    };
    const figures: BenchFigure[] = [];
    for (const { file, benchmark } of await loadBenchmarks()) {
      const before = performance.now();
      process.stderr.write(`running ${file} ...`);
      const results = await benchmark.run(ctx);
      process.stderr.write(` ${((performance.now() - before) / 1000).toFixed(1)} s\n`);
      figures.push(...results);
    }

    console.log('| benchmark | annals | raw pg baseline | ratio | target | notes |');
    console.log('|---|---|---|---|---|---|');
    for (const figure of figures) {
      console.log(
        `| ${figure.name} | ${formatNumber(figure.annals)} ${figure.unit} | ${formatNumber(figure.baseline)} ${figure.unit} (${figure.baselineName}) | ${figure.ratio.toFixed(2)} | ${verdict(figure)} | ${figure.note ?? ''} |`,
      );
    }
    console.log(`\ntotal time ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await Promise.all(extraPools.map((extra) => extra.end()));
  }
}

await main();
