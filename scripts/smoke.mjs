// A smoke test of the build output under whichever Node runs it (`.ci/run` runs it under each
// supported version, see scripts/node-versions.sh): every entry point of dist/ loads under
// `import` and `require`; a store → projection round trip on PGlite and, with DATABASE_URL, on
// the server; the `annals` CLI (dist/cli) runs `--help`, `migrate` and `status --json` with a
// config module. Needs `npm run build` first. Prints one line per check; exits 1 on a failure.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (path) => pathToFileURL(join(root, 'dist', path)).href;
const require = createRequire(join(root, 'package.json'));
const run = promisify(execFile);
const failures = [];
const started = Date.now();

async function check(name, body) {
  const t0 = Date.now();
  try {
    await body();
    console.log(`  ok   ${name} (${Date.now() - t0} ms)`);
  } catch (error) {
    failures.push(name);
    console.log(`  FAIL ${name}: ${error?.stack ?? error}`);
  }
}
function expect(ok, message) {
  if (!ok) throw new Error(message);
}

// Under Bun `process.version` is the Node version Bun emulates: name the runtime.
const runtime = process.versions.bun ? `Bun ${process.versions.bun}` : `Node ${process.version}`;
console.log(`smoke: ${runtime} (${process.execPath})`);

// 1. The build output loads: the package's own entry points (self-reference through `exports`).
await check('ESM entry points load (annals, annals/postgres, annals/amqp, annals/testing)', async () => {
  for (const entry of ['annals', 'annals/postgres', 'annals/amqp', 'annals/testing']) {
    const loaded = await import(entry);
    expect(Object.keys(loaded).length > 0, `${entry} exports nothing`);
  }
});
await check('CJS entry points load (annals, annals/postgres, annals/amqp)', async () => {
  for (const entry of ['annals', 'annals/postgres', 'annals/amqp']) {
    const loaded = require(entry);
    expect(Object.keys(loaded).length > 0, `${entry} exports nothing`);
  }
  const esm = await import('annals');
  const cjs = require('annals');
  expect(
    Object.keys(cjs).sort().join() === Object.keys(esm).sort().join(),
    'annals: the CJS and ESM builds export different names',
  );
});

// 2. A store → projection round trip: events appended to two streams, read back, projected into a
// table by a ProjectionRunner, and the table read.
const core = await import('annals');
const { createPostgres, quoteIdentifier } = await import('annals/postgres');
const { z } = await import('zod');
const Deposited = core.defineEvent({ type: 'Deposited', schema: z.object({ amount: z.number() }) });
const balances = core.defineProjection()({
  name: 'smoke-balances',
  events: [Deposited],
  handlers: {
    Deposited: async (event, { client, schema }) => {
      await client.query(
        `INSERT INTO ${quoteIdentifier('schema', schema)}.smoke_balance (account, total) VALUES ($1, $2)
         ON CONFLICT (account) DO UPDATE SET total = smoke_balance.total + excluded.total`,
        [event.aggregateId, event.payload.amount],
      );
    },
  },
  setup: async ({ client, schema }) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdentifier('schema', schema)}.smoke_balance (account text PRIMARY KEY, total numeric NOT NULL)`,
    );
  },
  reset: async ({ client, schema }) => {
    await client.query(`DROP TABLE IF EXISTS ${quoteIdentifier('schema', schema)}.smoke_balance`);
  },
});

async function roundTrip(connection, schema) {
  const pg = await createPostgres({ ...connection, registry: new core.EventRegistry([Deposited]), schema });
  try {
    const deposit = (amount) => ({ type: 'Deposited', aggregateType: 'Account', payload: { amount } });
    await pg.eventStore.append('acc-1', core.NO_STREAM, [deposit(10), deposit(5)]);
    const { events: appended } = await pg.eventStore.append('acc-2', core.NO_STREAM, [deposit(7)]);
    const last = core.logPositionOf(appended.at(-1));
    const loaded = await pg.eventStore.load('acc-1');
    expect(loaded.length === 2 && loaded[1].payload.amount === 5, 'load: the events did not come back');
    // On a shared server the log's readable end waits for older transactions in flight (other
    // clients' appends): read until our events are readable.
    let events = [];
    for (const deadline = Date.now() + 30_000; events.length < 3 && Date.now() < deadline; ) {
      ({ events } = await pg.eventStore.readAll());
      if (events.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(events.length === 3 && typeof events[0].globalPosition === 'bigint', 'readAll: not 3 events');
    const runner = new core.ProjectionRunner({
      eventStore: pg.eventStore,
      projectionStore: pg.projectionStore,
      projections: [balances],
    });
    await runner.catchUp({ until: last, signal: AbortSignal.timeout(30_000) });
    const { rows } = await pg.pool.query(
      `SELECT account, total::int AS total FROM ${quoteIdentifier('schema', schema)}.smoke_balance ORDER BY account`,
    );
    const got = rows.map((row) => `${row.account}=${row.total}`).join(' ');
    expect(got === 'acc-1=15 acc-2=7', `the read model holds ${got}, not acc-1=15 acc-2=7`);
    if (connection.connectionString) {
      // On a server, an append of one store wakes the readers of another (LISTEN/NOTIFY).
      const other = await createPostgres({
        ...connection,
        registry: new core.EventRegistry([Deposited]),
        schema,
        migrate: false,
      });
      try {
        let wakes = 0;
        const unsubscribe = other.eventStore.onAppended(() => {
          wakes += 1;
        });
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // the LISTEN starts
        const before = wakes;
        await pg.eventStore.append('acc-3', core.NO_STREAM, [deposit(1)]);
        for (let waited = 0; wakes === before && waited < 10_000; waited += 50) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        unsubscribe();
        expect(wakes > before, 'onAppended of a second store was not woken by an append (LISTEN/NOTIFY)');
      } finally {
        await other.close();
      }
    }
  } finally {
    await pg.close();
  }
}

await check('round trip on PGlite: append, load, readAll, projection catch-up, read model', async () => {
  const { PGlite } = await import('@electric-sql/pglite');
  await roundTrip({ pglite: await PGlite.create(), closeDatabase: true }, 'annals');
});

const databaseUrl = process.env.DATABASE_URL;
const schema = `annals_smoke_${process.pid}_${Date.now().toString(36)}`;
async function dropSchema() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier('schema', schema)} CASCADE`);
  } finally {
    await client.end();
  }
}
if (databaseUrl) {
  await check(`round trip on the server, and LISTEN/NOTIFY between two stores (schema ${schema})`, () =>
    roundTrip({ connectionString: databaseUrl, maxConnections: 4 }, schema),
  );
} else {
  console.log('  skip round trip on the server: DATABASE_URL is unset');
}

// 3. The CLI as installed (dist/cli/main.js), under this Node.
const cli = (args, cwd) =>
  run(process.execPath, [join(root, 'dist/cli/main.js'), ...args], {
    cwd,
    env: process.env,
    timeout: 60_000,
  });
await check('CLI: annals --help', async () => {
  const { stdout } = await cli(['--help'], root);
  expect(stdout.includes('Usage: annals <command>'), `unexpected --help output: ${stdout}`);
});
if (databaseUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'annals-smoke-'));
  try {
    // A config module outside the repository: it imports the build output by URL.
    writeFileSync(
      join(dir, 'annals.config.mjs'),
      `import { defineConfig, defineEvent, defineProjection, EventRegistry } from ${JSON.stringify(dist('index.js'))};
import { createPostgres } from ${JSON.stringify(dist('postgres/index.js'))};
import { z } from ${JSON.stringify(pathToFileURL(require.resolve('zod')).href)};
const Deposited = defineEvent({ type: 'Deposited', schema: z.object({ amount: z.number() }) });
export default defineConfig(async () => {
  const pg = await createPostgres({
    connectionString: process.env.DATABASE_URL, registry: new EventRegistry([Deposited]),
    schema: ${JSON.stringify(schema)}, migrate: false, maxConnections: 2,
  });
  const projection = defineProjection()({ name: 'smoke-balances', events: [Deposited], handlers: { Deposited: () => {} } });
  return { eventStore: pg.eventStore, projectionStore: pg.projectionStore, projections: [projection], close: () => pg.close() };
});
`,
    );
    await check('CLI: annals migrate and annals status --json with an .mjs config', async () => {
      const migrated = await cli(['migrate'], dir);
      expect(/up to date|applied/.test(migrated.stdout), `unexpected migrate output: ${migrated.stdout}`);
      const { stdout } = await cli(['status', '--json'], dir);
      const text = JSON.stringify(JSON.parse(stdout));
      expect(text.includes('smoke-balances'), `status does not list the projection: ${stdout}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropSchema().catch((error) => console.log(`  (could not drop schema ${schema}: ${error})`));
  }
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.log(`smoke on ${runtime}: ${failures.length} FAILED (${failures.join('; ')}) in ${seconds}s`);
  process.exit(1);
}
console.log(`smoke on ${runtime}: ok in ${seconds}s`);
