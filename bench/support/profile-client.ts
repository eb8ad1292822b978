/**
 * `npm run build && npx tsx --tsconfig bench/tsconfig.json bench/support/profile-client.ts [outDir]`
 * (the built package, as `npm run bench` measures it): profiles the client side of the three
 * PostgreSQL workloads of bench 02-04 (CPU profiles, one per phase, written as
 * `<outDir>/<phase>.cpuprofile`): 100-event appends (16 writers, 1,000 batches), loading a
 * 1,000-event stream 200 times, reading 100,000 events of the global log in pages of 1,000.
 * Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and a scratch schema.
 * Summarise a profile with `npx tsx bench/support/profile-summary.ts <file>`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { LOG_START, type LogPosition, NO_STREAM } from 'annals';
import { migrate, PostgresEventStore } from 'annals/postgres';
import pg from 'pg';
import { benchRegistry, lineEvent } from './bench-events.js';
import { runId } from './bench-kit.js';

const connectionString = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const outDir = process.argv[2] ?? '/tmp/annals-profile';
mkdirSync(outDir, { recursive: true });

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });

async function profiled(phase: string, work: () => Promise<void>): Promise<void> {
  await session.post('Profiler.start');
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(`${outDir}/${phase}.cpuprofile`, JSON.stringify(profile));
  console.log(
    `${phase}: ${elapsed.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms client CPU`,
  );
}

const schema = `annals_prof_${runId()}`;
const pool = new pg.Pool({ connectionString, max: 16 });
try {
  await migrate(pool, { schema });
  const store = new PostgresEventStore({ pool, registry: benchRegistry(), schema });
  const run = runId();
  // Warm up every path (prepared statements, JIT) outside the profiles.
  for (let n = 0; n < 20; n++) {
    const id = `warm-${run}`;
    await store.append(
      id,
      n === 0 ? NO_STREAM : n * 100,
      Array.from({ length: 100 }, (_, i) => lineEvent(id, n * 100 + i)),
    );
    await store.load(id);
    await store.readAll({ after: LOG_START, limit: 1000 });
  }

  await profiled('append', async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, writer) => {
        const stream = `append-${run}-${writer}`;
        for (let n = 0; next < 1000; n++, next++) {
          const events = Array.from({ length: 100 }, (_, i) => lineEvent(stream, n * 100 + i));
          await store.append(stream, n * 100, events);
        }
      }),
    );
  });

  const id = `load-${run}`;
  for (let start = 0; start < 1000; start += 100) {
    const events = Array.from({ length: 100 }, (_, i) => lineEvent(id, start + i));
    await store.append(id, start === 0 ? NO_STREAM : start, events);
  }
  await profiled('load', async () => {
    for (let n = 0; n < 200; n++) {
      const events = await store.load(id);
      if (events.length !== 1000) throw new Error(`loaded ${events.length} events`);
    }
  });

  await profiled('read', async () => {
    let read = 0;
    let after: LogPosition = LOG_START;
    while (read < 100_000) {
      const page = await store.readAll({ after, limit: 1000 });
      read += page.events.length;
      after = page.next;
      if (page.caughtUp) break;
    }
    if (read < 100_000) throw new Error(`read ${read} events`);
  });
  await store.close();
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await pool.end();
  session.disconnect();
}
