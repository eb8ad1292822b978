import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, type PgPool } from 'annals/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMAND_HELP, HELP } from '../../src/cli/help.js';
import { runCli } from '../../src/cli/run-cli.js';
import { migrations } from '../../src/postgres/schema/migrations/index.js';
import { hasServer, usePostgres } from '../support/postgres.js';
import { root } from './support.js';

const db = hasServer ? usePostgres({ migrate: false, serverOnly: true }) : undefined;
const scratch = mkdtempSync(join(tmpdir(), 'annals-cli-migrate-'));
const noProjections = join(root, 'test/cli/fixtures/no-projections.config.ts');

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** `annals <args>` in this process, in an empty directory (no config found) unless `cwd` is given. */
async function cli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  cwd = scratch,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    cwd,
    env,
    stopRequested: () => new Promise(() => undefined),
  });
  return { code, stdout, stderr };
}

/** Runs `work` with the config fixture's environment variables set in this process. */
async function withConfigEnv<T>(url: string, schema: string, work: () => Promise<T>): Promise<T> {
  process.env.ANNALS_TEST_URL = url;
  process.env.ANNALS_TEST_SCHEMA = schema;
  try {
    return await work();
  } finally {
    delete process.env.ANNALS_TEST_URL;
    delete process.env.ANNALS_TEST_SCHEMA;
  }
}

function expectOneLineError(result: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(result.stderr).toMatch(/^annals: error: /);
  expect(result.stderr).toMatch(pattern);
}

const COMMANDS = ['migrate', 'status', 'rebuild', 'run', 'dead-letters'];

describe('annals --version and --help', () => {
  it('prints the version of its package.json with --version and -v', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      expect(await cli([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    expect(await cli(['status', '--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it("prints a command's own help with <command> --help, -h and help <command>; the overview with --help", async () => {
    for (const command of COMMANDS) {
      const text = COMMAND_HELP[command]!;
      expect(text).toContain(`Usage: annals ${command}`);
      expect(text).toMatch(/Examples?:\n {2}annals /);
      for (const args of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
        [command, 'x', '--help'],
      ]) {
        expect(await cli(args), args.join(' ')).toEqual({ code: 0, stdout: `${text}\n`, stderr: '' });
      }
    }
    expect(COMMAND_HELP.migrate).toContain('--print-sql');
    expect(COMMAND_HELP.status).toContain('--max-lag-events');
    expect(COMMAND_HELP.rebuild).not.toContain('--print-sql');
    for (const args of [['--help'], ['help'], ['-h']]) {
      expect(await cli(args)).toEqual({ code: 0, stdout: `${HELP}\n`, stderr: '' });
    }
    expect(HELP).toContain('annals <command> --help');
  });

  it('reports help for an unknown command, and an option of another command, in one line', async () => {
    expectOneLineError(
      await cli(['help', 'frobnicate']),
      /unknown command "frobnicate"; run annals --help$/m,
    );
    expectOneLineError(await cli(['frobnicate', '--help']), /unknown command "frobnicate"/);
    expectOneLineError(
      await cli(['status', '--print-sql']),
      /--print-sql does not apply to status; run annals status --help/,
    );
    expectOneLineError(await cli(['migrate', '--json']), /--json does not apply to migrate/);
    expectOneLineError(await cli(['rebuild', 'x', '--limit', '5']), /--limit does not apply to rebuild/);
  });
});

describe('annals migrate without projections, or without a config', () => {
  it('prints every migration as one script with --print-sql when it knows no database', async () => {
    const result = await cli(['migrate', '--print-sql', '--schema', 'billing']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const sql = result.stdout;
    expect(sql).toMatch(
      /^-- annals: migrations 1 \(event-store\), 2 \(projections\), .* of schema billing\n/,
    );
    expect(sql.match(/^BEGIN;$/gm)).toHaveLength(1);
    expect(sql.trimEnd().endsWith('COMMIT;')).toBe(true);
    expect(sql).toContain("pg_advisory_xact_lock(1634627169, hashtext('annals.migrate:billing'))");
    for (const migration of migrations) {
      expect(sql).toContain(
        `INSERT INTO "billing".migrations (version, name) VALUES (${migration.version}, '${migration.name}');`,
      );
    }
    expect(sql).not.toContain('"annals"');
    expect((await cli(['migrate', '--print-sql'])).stdout).toContain('CREATE SCHEMA IF NOT EXISTS "annals";');
    expectOneLineError(await cli(['migrate', '--print-sql', '--schema', 'Bad-Name']), /--schema: /);
  });

  it('says what it needs when it has neither a config nor a database', async () => {
    expectOneLineError(
      await cli(['migrate']),
      /no config found: looked for annals\.config\.ts, .*; pass --config <path>, or --database-url <url> \(or set DATABASE_URL\)/,
    );
    expectOneLineError(
      await cli(['migrate', '--database-url', 'mysql://root:hunter2@db/x']),
      /--database-url must be a URL such as postgres:\/\/.*; got mysql:\/\/root:\*\*\*@db\/x$/m,
    );
    expectOneLineError(
      await cli(['migrate', '--config', noProjections, '--database-url', 'postgres://db/x']),
      /give --config or --database-url, not both/,
    );
    expectOneLineError(
      await cli(['migrate', '--config', noProjections, '--schema', 'x']),
      /--schema applies with --database-url or DATABASE_URL \(without a config\)/,
    );
    expectOneLineError(await cli(['migrate', 'extra']), /^annals: error: usage: annals migrate/);
  });

  it('refuses --print-sql for live stores or a migrate of the config, and closes what the config opened', async () => {
    const project = join(scratch, 'live');
    mkdirSync(project);
    const marker = join(project, 'closed');
    writeFileSync(
      join(project, 'annals.config.mjs'),
      `import { writeFileSync } from 'node:fs';
const nothing = async () => undefined;
export default {
  eventStore: { readAll: nothing, head: nothing, load: nothing, append: nothing, close: async () => writeFileSync(${JSON.stringify(marker)}, 'closed') },
  projectionStore: { transaction: nothing, loadCheckpoint: nothing, tryAcquireLease: nothing },
};
`,
    );
    expectOneLineError(
      await cli(['migrate', '--print-sql'], {}, project),
      /--print-sql prints annals' migrations for a config with eventStore as settings .*annals\.config\.mjs gives live stores: pass --database-url <url> \[--schema <name>\] instead/,
    );
    expect(readFileSync(marker, 'utf8')).toBe('closed');
    const own = join(scratch, 'own-migrate');
    mkdirSync(own);
    writeFileSync(
      join(own, 'annals.config.mjs'),
      `export default { eventStore: { connectionString: 'postgres://db/x' }, registry: { encode() {}, decode() {} }, migrate: async () => undefined };\n`,
    );
    expectOneLineError(
      await cli(['migrate', '--print-sql'], {}, own),
      /annals\.config\.mjs has its own migrate/,
    );
  });

  it('loads a config without projections; the commands that need projections say so in one line', async () => {
    for (const args of [['status'], ['rebuild', 'x'], ['run'], ['dead-letters', 'list', 'x']]) {
      expectOneLineError(
        await cli([...args, '--config', noProjections]),
        new RegExp(
          `^annals: error: ${args[0]} needs projections, and .*no-projections\\.config\\.ts has none`,
        ),
      );
    }
  });
});

const schemaOf = async (pool: PgPool, schema: string) => {
  const tables = await pool.query<{ table_name: string; columns: string }>(
    `SELECT table_name, string_agg(column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, ''), ', ' ORDER BY column_name) AS columns
       FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'migrations'
      GROUP BY table_name ORDER BY table_name`,
    [schema],
  );
  const routines = await pool.query<{ name: string }>(
    'SELECT routine_name AS name FROM information_schema.routines WHERE routine_schema = $1 ORDER BY 1',
    [schema],
  );
  const indexes = await pool.query<{ indexname: string }>(
    'SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1',
    [schema],
  );
  const versions = await pool.query<{ version: number; name: string }>(
    `SELECT version, name FROM "${schema}".migrations ORDER BY version`,
  );
  return {
    tables: tables.rows.map((row) => ({ ...row, columns: row.columns.replaceAll(`"${schema}"`, '"S"') })),
    routines: routines.rows,
    indexes: indexes.rows,
    versions: versions.rows,
  };
};

describe.skipIf(!hasServer)('annals migrate on a server', () => {
  it('migrates the database of --database-url, or of DATABASE_URL when no config is found', async () => {
    const url = db!.connectionString;
    const first = await cli(['migrate', '--database-url', url, '--schema', 'by_flag']);
    expect(first).toEqual({
      code: 0,
      stdout: 'schema by_flag: applied 1, 2, 3, 4; now at version 4\n',
      stderr: '',
    });
    expect((await cli(['migrate', '--schema', 'by_flag'], { DATABASE_URL: url })).stdout).toBe(
      'schema by_flag: up to date (version 4)\n',
    );
    expect((await cli(['migrate'], { DATABASE_URL: url })).stdout).toBe(
      'schema annals: applied 1, 2, 3, 4; now at version 4\n',
    );
    // A config found here wins over DATABASE_URL.
    const viaConfig = await withConfigEnv(url, 'by_config', () =>
      cli(['migrate', '--config', noProjections], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }),
    );
    expect(viaConfig.stderr).toBe('');
    expect(viaConfig.stdout).toBe('schema by_config: applied 1, 2, 3, 4; now at version 4\n');
  });

  it('prints a script that does what migrate() does, and that refuses a schema at another version', async () => {
    const pool = db!.pool;
    await migrate(pool, { schema: 'by_migrate' });
    const all = await cli(['migrate', '--print-sql', '--schema', 'by_script']);
    await pool.query(all.stdout);
    expect(await schemaOf(pool, 'by_script')).toEqual(await schemaOf(pool, 'by_migrate'));
    expect((await schemaOf(pool, 'by_script')).versions.map((row) => row.version)).toEqual([1, 2, 3, 4]);
    // The same script again, on the schema it made: refused, nothing applied.
    await expect(pool.query(all.stdout)).rejects.toThrow(
      'annals: this script was made for schema by_script with no migration yet; it has 1, 2, 3, 4.',
    );
  });

  it('with a database, --print-sql prints only the migrations it lacks and changes nothing', async () => {
    const pool = db!.pool;
    const url = db!.connectionString;
    await migrate(pool, { schema: 'half', migrations: migrations.slice(0, 2) });
    const printed = await cli(['migrate', '--print-sql', '--database-url', url, '--schema', 'half']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(
      /^-- database: postgres:\/\/.*\n-- annals: migrations 3 \(idempotency-snapshots\), 4 \(projection-fences\) of schema half\n/,
    );
    expect(printed.stdout).not.toContain('VALUES (1,');
    expect((await schemaOf(pool, 'half')).versions.map((row) => row.version)).toEqual([1, 2]);
    // Printing for a schema that does not exist creates nothing.
    const fresh = await cli(['migrate', '--print-sql', '--schema', 'nothing_yet'], { DATABASE_URL: url });
    expect(fresh.stdout).toContain('VALUES (1, ');
    const created = await pool.query(
      "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'nothing_yet'",
    );
    expect(created.rowCount).toBe(0);
    await pool.query(printed.stdout);
    expect((await schemaOf(pool, 'half')).versions.map((row) => row.version)).toEqual([1, 2, 3, 4]);
    const done = await cli(['migrate', '--print-sql', '--schema', 'half'], { DATABASE_URL: url });
    expect(done.stdout).toMatch(/-- annals: schema half is up to date \(version 4\); nothing to apply\n$/);
    // From a config (with no projections): the same, for the config's database and schema.
    const viaConfig = await withConfigEnv(url, 'half', () =>
      cli(['migrate', '--print-sql', '--config', noProjections]),
    );
    expect(viaConfig.stdout).toContain('schema half is up to date');
  });
});
