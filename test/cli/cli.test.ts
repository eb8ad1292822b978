import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PgPool, PostgresEventStore, pgliteAsPool } from 'annals/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { appendOrders, generateOrders, orderReadRows } from '../postgres/projections/fixtures.js';
import { databaseUrl, hasServer, usePostgres } from '../support/postgres.js';
import { annals, annalsInProcess, finished, fixtureConfig, fromDist, lines, startAnnals } from './support.js';

// On a server: a schema of this file's own, and the test files' lock (see usePostgres); the CLI
// runs the migrations itself. Without one: a PGlite data directory that each CLI process opens.
const db = hasServer ? usePostgres({ migrate: false }) : undefined;
const scratch = mkdtempSync(join(tmpdir(), 'annals-cli-'));
const pgliteDir = join(scratch, 'pglite');
const schema = () => db?.schema ?? 'annals_cli';

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const databaseEnv = () =>
  hasServer
    ? { DATABASE_URL: databaseUrl, ANNALS_TEST_SCHEMA: schema() }
    : { DATABASE_URL: undefined, ANNALS_TEST_PGLITE_DIR: pgliteDir, ANNALS_TEST_SCHEMA: schema() };

/** `annals <args> --config <fixture>` on this file's database. */
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  annals([...args, '--config', fixtureConfig], { env: { ...databaseEnv(), ...env } });

/** The same, run in this process: for the commands' work, where the executable adds nothing. */
const runHere = (args: string[], env: Record<string, string | undefined> = {}) =>
  annalsInProcess([...args, '--config', fixtureConfig], { ...databaseEnv(), ...env });

/** Runs `work` on the file's database (PGlite: opened here, and closed before the CLI runs again). */
async function withDatabase<T>(work: (pool: PgPool) => Promise<T>): Promise<T> {
  if (db) return work(db.pool);
  const { PGlite } = await import('@electric-sql/pglite');
  const pool = pgliteAsPool(await PGlite.create(pgliteDir), { closeOnEnd: true });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

/** A directory with the given files, as a working directory for the CLI. */
function directory(name: string, files: Record<string, string>): string {
  const path = join(scratch, name);
  mkdirSync(path, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
  return path;
}

/** An error report: exactly one line on stderr, no stack trace. */
function expectOneLineError(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(lines(result.stderr)).toHaveLength(1);
  expect(result.stderr).toMatch(/^annals: error: /);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

const generated = generateOrders(30, 77, 'cli');
const cancelled = generated.expected.filter((order) => order.status === 'cancelled').length;

describe('the annals executable', () => {
  it('prints its help', async () => {
    const result = await annals(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: annals <command> [options]');
    for (const command of ['migrate', 'status', 'rebuild <projection>', 'dead-letters list <projection>']) {
      expect(result.stdout).toContain(command);
    }
    expect(result.stderr).toBe('');
  });

  it('reports usage mistakes in one line', async () => {
    expectOneLineError(await annals(['frobnicate']), /unknown command "frobnicate"/);
    expectOneLineError(await annals(['status', '--frob']), /unknown option --frob/);
    expectOneLineError(await annals(['dead-letters', 'list', 'x', '--limit', '0']), /--limit must be/);
  });

  it('reports a missing config in one line', async () => {
    const empty = directory('empty', {});
    expectOneLineError(
      await annals(['status'], { cwd: empty }),
      /no config found: looked for annals\.config\.ts/,
    );
    expectOneLineError(await annals(['status', '--config', 'nope.mjs'], { cwd: empty }), /config not found/);
  });

  it('reports a config of the wrong shape in one line', async () => {
    const wrong = directory('wrong', { 'annals.config.mjs': 'export default { projections: [] };\n' });
    expectOneLineError(await annals(['status'], { cwd: wrong }), /config\.eventStore is missing/);
    const none = directory('no-default', { 'annals.config.mjs': 'export const config = {};\n' });
    expectOneLineError(await annals(['status'], { cwd: none }), /has no default export/);
    const throwing = directory('throwing', {
      'annals.config.mjs': "throw new Error('the config module failed');\n",
    });
    expectOneLineError(await annals(['status'], { cwd: throwing }), /cannot load .*the config module failed/);
  });

  it('reports an unreachable database in one line, and the stack only with --debug', async () => {
    const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres', ANNALS_TEST_SCHEMA: 'x' };
    const result = await annals(['status', '--config', fixtureConfig], { env });
    expectOneLineError(result, /cannot reach the database \(connect ECONNREFUSED 127\.0\.0\.1:1\)/);
    const debug = await annals(['status', '--config', fixtureConfig, '--debug'], { env });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^annals: error: cannot reach the database/);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('migrates the schema, then finds nothing to do', async () => {
    const first = await run(['migrate']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`schema ${schema()}: applied 1, 2(, \\d+)*; now at version \\d+`),
    );
    const again = await run(['migrate']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`schema ${schema()}: up to date \\(version \\d+\\)`));
  });

  it('shows every projection’s checkpoint, lag and dead letters', async () => {
    await withDatabase(async (pool) => {
      const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema: schema() });
      await appendOrders(eventStore, generated);
      await eventStore.close();
    });
    const result = await run(['status']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [header, ...rows] = lines(result.stdout);
    expect(header).toMatch(/^PROJECTION\s+CHECKPOINT\s+LAG\s+LAG TIME\s+LAST EVENT/);
    expect(rows[0]).toMatch(new RegExp(`^order-read-model\\s+0:0\\s+${generated.eventCount} events\\s+`));
    expect(rows[1]).toMatch(new RegExp(`^picky\\s+0:0\\s+${generated.eventCount} events\\s+.*\\s0\\s+free$`));
    expect(rows[2]).toMatch(/^head of the log: \d+:\d+ \(\d{4}-/);

    const json = await run(['status', '--json']);
    const parsed = JSON.parse(json.stdout) as {
      projections: Array<{ projection: string; lagEvents: string; deadLetters: number; lease: unknown }>;
    };
    expect(parsed.projections.map((each) => [each.projection, each.lagEvents])).toEqual([
      ['order-read-model', String(generated.eventCount)],
      ['picky', String(generated.eventCount)],
    ]);
    expect(parsed.projections[0]!.lease).toBeNull();
  });

  it('finds annals.config.* in the working directory', async () => {
    const here = directory('discovered', {
      // It re-exports the TypeScript fixture: the source CLI runs under tsx, whose loader lets an
      // .mjs import it; the built one (ANNALS_TEST_CLI=dist) loads a .ts config as users' load.
      [fromDist ? 'annals.config.ts' : 'annals.config.mjs']:
        `export { default } from ${JSON.stringify(fixtureConfig)};\n`,
    });
    const result = await annals(['status'], { cwd: here, env: databaseEnv() });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^order-read-model\s+/m);
  });

  it('rebuilds a projection with progress lines when not on a terminal', async () => {
    const result = await run(['rebuild', 'order-read-model']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = lines(result.stdout);
    expect(output[0]).toMatch(
      new RegExp(`^rebuild order-read-model: 0/${generated.eventCount} events \\(0%\\), rate unknown`),
    );
    expect(output.at(-2)).toMatch(
      new RegExp(
        `^rebuild order-read-model: ${generated.eventCount}/${generated.eventCount} events \\(100%\\), \\d+ events/s, 0ms left$`,
      ),
    );
    expect(output.at(-1)).toMatch(
      new RegExp(
        `^rebuilt order-read-model: ${generated.eventCount} events in \\S+ \\(\\d+ events/s\\), 0 dead letters$`,
      ),
    );
    expect(result.stdout).not.toContain('\r');
    const rows = await withDatabase((pool) => orderReadRows(pool, schema()));
    expect(rows).toEqual(generated.expected);
  });

  it('rejects an unknown projection in one line', async () => {
    expectOneLineError(await runHere(['rebuild', 'nope']), /unknown projection "nope"/);
    expectOneLineError(await runHere(['dead-letters', 'list', 'nope']), /unknown projection "nope"/);
    expectOneLineError(await run(['run', 'nope']), /unknown projection "nope"/);
  });

  // Eight commands in a row, in this process (as processes of their own they took 40-60 s on a
  // loaded CI machine); the one-line errors are the executable's below and above.
  it('parks failing events, then lists, retries and discards the dead letters', async () => {
    expect(cancelled).toBeGreaterThanOrEqual(2);
    const rebuilt = await runHere(['rebuild', 'picky']);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(
      new RegExp(`rebuilt picky: ${generated.eventCount} events .*, ${cancelled} dead letters`),
    );

    const listed = await runHere(['dead-letters', 'list', 'picky']);
    expect(listed.code).toBe(0);
    const [header, ...rows] = lines(listed.stdout);
    expect(header).toMatch(/^ID\s+FAILED AT\s+EVENT\s+AGGREGATE\s+POSITION\s+ATTEMPTS\s+ERROR$/);
    expect(rows).toHaveLength(cancelled + 1);
    expect(rows[0]).toMatch(
      /^\d+\s+\S+Z\s+OrderCancelled \S+\s+cli-\d+ v\d+\s+\d+:\d+\s+2\s+Error: picky cannot handle/,
    );
    expect(rows.at(-1)).toBe(`${cancelled} of ${cancelled} dead letters of picky`);

    const json = JSON.parse(
      (await runHere(['dead-letters', 'list', 'picky', '--json', '--limit', '2'])).stdout,
    ) as {
      total: number;
      deadLetters: Array<{ id: string; event: { type: string; globalPosition: string } }>;
    };
    expect(json.total).toBe(cancelled);
    expect(json.deadLetters).toHaveLength(2);
    expect(json.deadLetters[0]!.event.type).toBe('OrderCancelled');
    const [first, second] = json.deadLetters.map((letter) => letter.id);

    const stillFailing = await runHere(['dead-letters', 'retry', first!]);
    expectOneLineError(stillFailing, /picky cannot handle cancellations/);
    const retried = await runHere(['dead-letters', 'retry', first!], { ANNALS_TEST_FIXED: '1' });
    expect(retried.stderr).toBe('');
    expect(retried.stdout).toMatch(
      new RegExp(`^dead letter ${first} retried: OrderCancelled \\S+ applied to picky`),
    );
    const discarded = await runHere(['dead-letters', 'discard', second!]);
    expect(discarded.code).toBe(0);
    expect(discarded.stdout).toMatch(new RegExp(`^dead letter ${second} discarded`));
    expectOneLineError(await run(['dead-letters', 'discard', second!]), /no dead letter/);

    const status = await runHere(['status', '--json']);
    const picky = (
      JSON.parse(status.stdout) as {
        projections: Array<{ projection: string; deadLetters: number; lagEvents: string }>;
      }
    ).projections.find((each) => each.projection === 'picky');
    expect(picky).toMatchObject({ deadLetters: cancelled - 2, lagEvents: '0' });
  });

  it('runs projections until SIGTERM, then stops gracefully', async () => {
    const child = startAnnals(['run', 'order-read-model', '--config', fixtureConfig], { env: databaseEnv() });
    const result = finished(child);
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk) => {
        seen += String(chunk);
        if (seen.includes('running order-read-model')) resolve();
      });
      child.on('close', () => reject(new Error(`annals run ended early: ${seen}`)));
    });
    if (hasServer) {
      // Another process sees who holds the lease.
      const status = await run(['status']);
      expect(status.stdout).toMatch(
        new RegExp(`^order-read-model .*held by cli-test-${child.pid} \\(pid \\d+\\)$`, 'm'),
      );
      expect(status.stdout).toMatch(/^picky .*free$/m);
    }
    child.kill('SIGTERM');
    const { code, stdout, stderr } = await result;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('SIGTERM: stopping after the batch in progress');
    expect(stdout).toMatch(/stopped order-read-model at \d+:\d+ \(0 events behind\)/);
  });

  // Last: it leaves an event no projection can read in the log.
  it('status says which unreadable event a projection waits at', async () => {
    const eventId = 'unreadable-order-created';
    await withDatabase(async (pool) => {
      await pool.query(
        `INSERT INTO "${schema()}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
         VALUES ('order-unreadable', 'Order', 1, $1, 'OrderCreated', 2, '{"customer": 7}', '{}', now())`,
        [eventId],
      );
    });
    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(
        `^order-read-model: blocked at OrderCreated event ${eventId} \\(schema version 2, position \\d+:\\d+\\): Invalid payload`,
        'm',
      ),
    );
    const json = JSON.parse((await run(['status', '--json'])).stdout) as {
      projections: { projection: string; blockedBy: { eventId: string } | null }[];
    };
    const blocked = json.projections.find((entry) => entry.projection === 'order-read-model');
    expect(blocked?.blockedBy?.eventId).toBe(eventId);
  });
});
