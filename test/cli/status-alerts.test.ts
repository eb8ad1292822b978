import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_START, logPositionOf } from 'annals';
import { type PgPool, PostgresEventStore, PostgresProjectionStore, pgliteAsPool } from 'annals/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { CliError } from '../../src/cli/cli-error.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import type { CliOptions } from '../../src/cli/commands/command-context.js';
import { statusCommand } from '../../src/cli/commands/status-command.js';
import type { OpenedConfig } from '../../src/cli/open-config.js';
import { runCli } from '../../src/cli/run-cli.js';
import { appendOrders, type GeneratedOrders, generateOrders } from '../postgres/projections/fixtures.js';
import { databaseUrl, hasServer, readLogThrough, usePostgres } from '../support/postgres.js';
import { annals, annalsInProcess, fixtureConfig, lines, root } from './support.js';

// As cli.test.ts: a database of its own on a server, a PGlite data directory otherwise.
const db = hasServer ? usePostgres({ migrate: false }) : undefined;
const scratch = mkdtempSync(join(tmpdir(), 'annals-cli-alerts-'));
const pgliteDir = join(scratch, 'pglite');
const schema = () => db?.schema ?? 'annals_cli_alerts';

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The environment of the fixture config on this file's database, with one relay (domain_events). */
const fixtureEnv = (env: Record<string, string | undefined>): Record<string, string | undefined> => ({
  ...(hasServer
    ? { DATABASE_URL: databaseUrl, ANNALS_TEST_SCHEMA: schema() }
    : { DATABASE_URL: undefined, ANNALS_TEST_PGLITE_DIR: pgliteDir, ANNALS_TEST_SCHEMA: schema() }),
  ANNALS_TEST_RELAYS: JSON.stringify([{ exchange: 'domain_events' }]),
  ...env,
});

/**
 * `annals <args> --config <fixture>`, run in this process: this file needs twenty runs. The exit
 * code the executable gives is checked once below, and in cli.test.ts.
 */
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  annalsInProcess([...args, '--config', fixtureConfig], fixtureEnv(env), scratch);

/** `annals <args> --config <fixture>` as a process of its own: the executable. */
const runExecutable = (args: string[]) =>
  annals([...args, '--config', fixtureConfig], { env: fixtureEnv({}) });

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

async function append(generated: GeneratedOrders): Promise<void> {
  await withDatabase(async (pool) => {
    const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema: schema() });
    await appendOrders(eventStore, generated);
    await eventStore.close();
  });
}

const cancellations = (generated: GeneratedOrders) =>
  generated.expected.filter((order) => order.status === 'cancelled').length;

// ---- The documented --json shape (docs/operations.md, "The `--json` shape"), read from the docs.

interface DocumentedField {
  readonly path: string;
  readonly types: readonly string[];
  readonly optional: boolean;
}

const TYPE_CHECKS: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === 'string',
  number: (value) => typeof value === 'number' && Number.isInteger(value),
  count: (value) => typeof value === 'string' && /^\d+$/.test(value),
  position: (value) => typeof value === 'string' && /^\d+:\d+$/.test(value),
  time: (value) => typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value),
  object: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  array: (value) => Array.isArray(value),
  null: (value) => value === null,
};

/** The rows of the table under "### The `--json` shape" in docs/operations.md. */
function documentedFields(): DocumentedField[] {
  const text = readFileSync(join(root, 'docs/operations.md'), 'utf8');
  const section = text.split('### The `--json` shape')[1]?.split('\n### ')[0];
  if (!section) throw new Error('docs/operations.md has no "### The `--json` shape" section');
  const fields: DocumentedField[] = [];
  for (const line of section.split('\n')) {
    const match = /^\| `([^`]+)` \| ([^|]+) \|/.exec(line);
    if (!match) continue;
    const [kinds, ...flags] = match[2]!.trim().split(', ');
    const types = kinds!.split(' or ');
    for (const type of types)
      if (!TYPE_CHECKS[type]) throw new Error(`unknown type "${type}" of ${match[1]}`);
    if (flags.some((flag) => flag !== 'optional')) throw new Error(`unknown flag in "${match[2]}"`);
    fields.push({ path: match[1]!, types, optional: flags.includes('optional') });
  }
  return fields;
}

/** The values at a documented path (`a[].b`), one per place its parent is an object, or absent. */
function valuesAt(json: unknown, path: string): { present: boolean; value: unknown }[] {
  let parents: unknown[] = [json];
  const steps = path.split('.');
  for (const [index, step] of steps.entries()) {
    const name = step.replace(/\[\]$/, '');
    const objects = parents.filter((parent) => TYPE_CHECKS.object!(parent)) as Record<string, unknown>[];
    if (index === steps.length - 1 && !step.endsWith('[]')) {
      return objects.map((parent) => ({ present: Object.hasOwn(parent, name), value: parent[name] }));
    }
    parents = objects.flatMap((parent) => {
      const value = parent[name];
      return step.endsWith('[]') ? (Array.isArray(value) ? value : []) : [value];
    });
  }
  return parents.map((value) => ({ present: true, value }));
}

/** Every path of a JSON value, arrays' elements as `[]`. */
function pathsOf(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => pathsOf(item, `${prefix}[]`));
  if (!TYPE_CHECKS.object!(value)) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return [path, ...pathsOf(item, path)];
  });
}

/** What differs between `annals status --json`'s output and the documented fields (empty when none). */
function shapeProblems(json: unknown): string[] {
  const fields = documentedFields();
  const problems: string[] = [];
  for (const field of fields) {
    for (const { present, value } of valuesAt(json, field.path)) {
      if (!present) {
        if (!field.optional) problems.push(`${field.path} is missing`);
      } else if (!field.types.some((type) => TYPE_CHECKS[type]!(value))) {
        problems.push(`${field.path} is ${JSON.stringify(value)}, not ${field.types.join(' or ')}`);
      }
    }
  }
  const documented = new Set(fields.map((field) => field.path));
  for (const path of new Set(pathsOf(json))) {
    if (!documented.has(path)) problems.push(`${path} is not documented`);
  }
  return problems;
}

interface StatusJson {
  projections: { projection: string; lagEvents: string; lagMs: number; blockedBy: unknown }[];
  relays: { relay: string; lagEvents: string; lagMs: number }[];
  alerts: { subject: string; check: string; value: string | null; limit: string | null; message: string }[];
}

// ---- In-process: the parsing and the help, which need no database.

function memoryIo(): CliIo & { out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    cwd: scratch,
    stopRequested: () => new Promise(() => undefined),
    out: () => stdout,
    err: () => stderr,
  };
}

describe('annals status thresholds: options', () => {
  it('rejects a threshold that is not a whole number >= 0 in one line, exit 1, before reading any config', async () => {
    const cases: [string[], string][] = [
      [['--max-lag-events', '1.5'], '--max-lag-events must be a whole number >= 0; got "1.5"'],
      [['--max-lag-events=-1'], '--max-lag-events must be a whole number >= 0; got "-1"'],
      [['--max-lag-ms', 'ten'], '--max-lag-ms must be a whole number >= 0; got "ten"'],
      [['--max-lag-ms='], '--max-lag-ms must be a whole number >= 0; got ""'],
      [['--max-lag-ms', '1e3'], '--max-lag-ms must be a whole number >= 0; got "1e3"'],
      [
        ['--max-lag-events', '99999999999999999999'],
        '--max-lag-events must be a whole number >= 0; got "99999999999999999999"',
      ],
      [['--max-lag-events'], "Option '--max-lag-events <value>' argument missing; run annals --help"],
      [
        ['--fail-on-dead-letters=yes'],
        "Option '--fail-on-dead-letters' does not take an argument; run annals --help",
      ],
    ];
    for (const [args, message] of cases) {
      const io = memoryIo();
      // The working directory has no config: the option is refused before one is looked for.
      expect(await runCli(['status', ...args], io), args.join(' ')).toBe(1);
      expect(io.err()).toBe(`annals: error: ${message}\n`);
      expect(io.out()).toBe('');
    }
  });

  it('--help names the thresholds and the exit code 2', async () => {
    const io = memoryIo();
    expect(await runCli(['--help'], io)).toBe(0);
    for (const option of [
      '--max-lag-events <n>',
      '--max-lag-ms <n>',
      '--fail-on-dead-letters',
      '--fail-on-blocked',
    ]) {
      expect(io.out()).toContain(option);
    }
    expect(io.out()).toContain('exits with 2 (an error exits with 1)');
  });

  it("refuses --fail-on-dead-letters and --fail-on-blocked on transport 'broker' (their dead letters are the broker's)", async () => {
    const options: CliOptions = {
      config: undefined,
      json: false,
      debug: false,
      limit: undefined,
      offset: undefined,
      failOnDeadLetters: true,
    };
    // Refused before any read: the config's stores are never touched.
    const config = { transport: 'broker', projections: [], relays: [] } as unknown as OpenedConfig;
    const io = memoryIo();
    const refused = statusCommand({ io, config, args: [], options });
    await expect(refused).rejects.toThrow(CliError);
    await expect(refused).rejects.toThrow(
      "--fail-on-dead-letters does not apply on transport 'broker': the projections' backlog and dead letters are the broker's (annals dead-letters list); status checks only the relays' lag there",
    );
    await expect(
      statusCommand({
        io,
        config,
        args: [],
        options: { ...options, failOnDeadLetters: false, failOnBlocked: true },
      }),
    ).rejects.toThrow(/^--fail-on-blocked does not apply on transport 'broker'/);
    expect(io.out()).toBe('');
  });
});

// ---- The executable on a database: exit codes and exact output.

const first = generateOrders(12, 5, 'alerts');
const second = generateOrders(6, 21, 'alerts-more');
/** The relay's checkpoint: after the third event, with an old timestamp (a relay far behind in time). */
const RELAY_SINCE = new Date('2026-01-01T00:00:00.000Z');

describe('annals status with thresholds', () => {
  it('an empty log is healthy under the tightest limits; a projection that never ran lags by the whole log', async () => {
    expect((await run(['migrate'])).code).toBe(0);
    // An empty log: even the tightest limits hold, and a projection that never ran lags by nothing.
    const empty = await run([
      'status',
      '--max-lag-events',
      '0',
      '--max-lag-ms',
      '0',
      '--fail-on-dead-letters',
    ]);
    expect(empty.stderr).toBe('');
    expect(empty.code).toBe(0);

    await append(first);
    // A projection that never ran lags by the whole log, and alerts like any other.
    const neverRan = await run(['status', '--max-lag-events', String(first.eventCount - 1)]);
    expect(neverRan.code).toBe(2);
    expect(lines(neverRan.stderr)).toEqual([
      `annals: alert: order-read-model is ${first.eventCount} events behind (limit ${first.eventCount - 1})`,
      `annals: alert: picky is ${first.eventCount} events behind (limit ${first.eventCount - 1})`,
      `annals: alert: relay:domain_events is ${first.eventCount} events behind (limit ${first.eventCount - 1})`,
    ]);
  });

  it('healthy: exit 0, the status, nothing on stderr, alerts: []', async () => {
    expect((await run(['rebuild', 'order-read-model'])).code).toBe(0);
    expect((await run(['rebuild', 'picky'], { ANNALS_TEST_FIXED: '1' })).code).toBe(0);
    await withDatabase(async (pool) => {
      const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema: schema() });
      const third = (await readLogThrough(eventStore, 3))[2]!;
      const projectionStore = new PostgresProjectionStore({ pool, schema: schema() });
      await projectionStore.transaction(async (transaction) => {
        expect(
          await transaction.saveCheckpoint('relay:domain_events', {
            expected: LOG_START,
            position: logPositionOf(third),
            lastEventTimestamp: RELAY_SINCE,
          }),
        ).toBe(true);
      });
      await eventStore.close();
    });

    const thresholds = [
      '--max-lag-events',
      String(first.eventCount - 3), // the relay's lag: at the limit is not over it
      '--max-lag-ms',
      String(10 ** 12),
      '--fail-on-dead-letters',
      '--fail-on-blocked',
    ];
    const table = await run(['status', ...thresholds]);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const output = lines(table.stdout);
    expect(output[0]).toMatch(/^PROJECTION\s+CHECKPOINT\s+LAG\s+/);
    expect(output[1]).toMatch(/^order-read-model\s+\d+:\d+\s+0 events\s+0ms\s+/);
    expect(output[2]).toMatch(/^picky\s+\d+:\d+\s+0 events\s+0ms\s+.*\s0\s+free$/);
    expect(output[4]).toMatch(
      new RegExp(`^relay:domain_events\\s+\\d+:\\d+\\s+${first.eventCount - 3} events\\s+`),
    );

    const json = await run(['status', '--json', ...thresholds]);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as StatusJson;
    expect(parsed.alerts).toEqual([]);
    expect(shapeProblems(parsed)).toEqual([]);
  });

  it('lag over the limit: exit 2, the status on stdout, one alert line per breach on stderr', async () => {
    await append(second);
    const behind = second.eventCount;
    const relayBehind = first.eventCount + second.eventCount - 3;

    // Through the executable: the exit code 2 reaches the process.
    const over = await runExecutable(['status', '--max-lag-events', String(behind - 1)]);
    expect(over.code).toBe(2);
    expect(over.stdout).toMatch(new RegExp(`^order-read-model\\s+\\d+:\\d+\\s+${behind} events\\s+`, 'm'));
    expect(over.stdout).toMatch(/^head of the log: \d+:\d+ /m);
    expect(over.stderr).toBe(
      [
        `annals: alert: order-read-model is ${behind} events behind (limit ${behind - 1})`,
        `annals: alert: picky is ${behind} events behind (limit ${behind - 1})`,
        `annals: alert: relay:domain_events is ${relayBehind} events behind (limit ${behind - 1})`,
        '',
      ].join('\n'),
    );

    // At the limit is not over it: only the relay, further behind, alerts.
    const atLimit = await run(['status', '--max-lag-events', String(behind)]);
    expect(atLimit.code).toBe(2);
    expect(atLimit.stderr).toBe(
      `annals: alert: relay:domain_events is ${relayBehind} events behind (limit ${behind})\n`,
    );

    // In event time: the relay's checkpoint is months old; the projections are seconds behind.
    const day = 86_400_000;
    const timed = await run(['status', '--json', '--max-lag-ms', String(day)]);
    expect(timed.code).toBe(2);
    const parsed = JSON.parse(timed.stdout) as StatusJson;
    const relayLagMs = parsed.relays[0]!.lagMs;
    expect(relayLagMs).toBeGreaterThan(day);
    for (const projection of parsed.projections) expect(projection.lagMs).toBeLessThan(day);
    const message = `relay:domain_events is ${relayLagMs}ms behind in event time (limit ${day}ms)`;
    expect(parsed.alerts).toEqual([
      {
        subject: 'relay:domain_events',
        check: 'max-lag-ms',
        value: String(relayLagMs),
        limit: String(day),
        message,
      },
    ]);
    expect(timed.stderr).toBe(`annals: alert: ${message}\n`);
    expect(shapeProblems(parsed)).toEqual([]);
  });

  it('dead letters with --fail-on-dead-letters: exit 2 (and 0 without it)', async () => {
    const deadLetters = cancellations(first) + cancellations(second);
    expect(deadLetters).toBeGreaterThanOrEqual(2);
    const rebuilt = await run(['rebuild', 'picky']);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(new RegExp(`, ${deadLetters} dead letters$`, 'm'));

    const plain = await run(['status']);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);

    const failing = await run(['status', '--fail-on-dead-letters']);
    expect(failing.code).toBe(2);
    expect(failing.stdout).toMatch(
      new RegExp(`^picky\\s+\\d+:\\d+\\s+0 events\\s+.*\\s${deadLetters}\\s+free$`, 'm'),
    );
    expect(failing.stderr).toBe(`annals: alert: picky has ${deadLetters} dead letters\n`);

    const json = await run(['status', '--json', '--fail-on-dead-letters', '--max-lag-events', '0']);
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout) as StatusJson;
    const behind = String(second.eventCount);
    const relayBehind = String(first.eventCount + second.eventCount - 3);
    expect(parsed.alerts).toEqual([
      {
        subject: 'order-read-model',
        check: 'max-lag-events',
        value: behind,
        limit: '0',
        message: `order-read-model is ${behind} events behind (limit 0)`,
      },
      {
        subject: 'picky',
        check: 'fail-on-dead-letters',
        value: String(deadLetters),
        limit: '0',
        message: `picky has ${deadLetters} dead letters`,
      },
      {
        subject: 'relay:domain_events',
        check: 'max-lag-events',
        value: relayBehind,
        limit: '0',
        message: `relay:domain_events is ${relayBehind} events behind (limit 0)`,
      },
    ]);
    expect(lines(json.stderr)).toEqual(parsed.alerts.map((alert) => `annals: alert: ${alert.message}`));
    expect(shapeProblems(parsed)).toEqual([]);
  });

  it('a bad threshold value: exit 1, one line, no status', async () => {
    const result = await run(['status', '--max-lag-events', '10x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('annals: error: --max-lag-events must be a whole number >= 0; got "10x"\n');
    expect(result.stdout).toBe('');
  });

  // Last: it leaves an event no projection can read in the log.
  it('a projection blocked at an unreadable event with --fail-on-blocked: exit 2', async () => {
    expect((await run(['rebuild', 'order-read-model'])).code).toBe(0);
    const eventId = 'alerts-unreadable-order-created';
    await withDatabase(async (pool) => {
      await pool.query(
        `INSERT INTO "${schema()}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
         VALUES ('alerts-unreadable', 'Order', 1, $1, 'OrderCreated', 2, '{"customer": 7}', '{}', now())`,
        [eventId],
      );
    });
    const plain = await run(['status']);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe('');

    const result = await run(['status', '--json', '--fail-on-blocked']);
    expect(result.code).toBe(2);
    const parsed = JSON.parse(result.stdout) as StatusJson;
    // Both projections handle OrderCreated and are caught up to it.
    expect(parsed.projections.map((projection) => projection.blockedBy === null)).toEqual([false, false]);
    expect(parsed.alerts.map((alert) => [alert.subject, alert.check, alert.value, alert.limit])).toEqual([
      ['order-read-model', 'fail-on-blocked', null, null],
      ['picky', 'fail-on-blocked', null, null],
    ]);
    const blocked = new RegExp(
      `^annals: alert: (order-read-model|picky) is blocked at OrderCreated event ${eventId} \\(schema version 2, position \\d+:\\d+\\): Invalid payload`,
    );
    const stderr = lines(result.stderr);
    expect(stderr).toHaveLength(2);
    for (const line of stderr) expect(line).toMatch(blocked);
    expect(stderr).toEqual(parsed.alerts.map((alert) => `annals: alert: ${alert.message}`));
    // The blocker's fields are checked against the documented shape too.
    expect(shapeProblems(parsed)).toEqual([]);
  });
});

describe('the documented --json shape', () => {
  it('the checker finds a missing field, a field of the wrong type and an undocumented field', () => {
    const good = {
      head: { position: '1:1', timestamp: null },
      horizon: null,
      transport: 'log',
      projections: [],
      relays: [],
      alerts: [],
    };
    expect(shapeProblems(good)).toEqual([]);
    const { alerts: _alerts, ...withoutAlerts } = good;
    expect(shapeProblems(withoutAlerts)).toEqual(['alerts is missing']);
    expect(shapeProblems({ ...good, head: { position: 11, timestamp: null } })).toEqual([
      'head.position is 11, not position',
    ]);
    expect(shapeProblems({ ...good, extra: 1 })).toEqual(['extra is not documented']);
  });
});
