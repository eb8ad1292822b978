/**
 * A TypeScript config (.ts, .mts, .cts) loads through the real executable without a loader:
 * annals is built (as published: ESM and CJS, the CLI at dist/cli/main.js) into a scratch
 * project's node_modules/annals, and `node node_modules/annals/dist/cli/main.js` runs there
 * without tsx (no NODE_OPTIONS, no --import). The configs import `annals` and a TypeScript file
 * of their own with a `.js` suffix, and use an enum: Node.js cannot import them by itself on any
 * version (checked as a control).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasServer, usePostgres } from '../support/postgres.js';
import { type CliRun, lines, root } from './support.js';

const db = hasServer ? usePostgres({ migrate: false, serverOnly: true }) : undefined;
const scratch = mkdtempSync(join(tmpdir(), 'annals-ts-config-'));
const pkg = join(scratch, 'node_modules', 'annals');
const main = join(pkg, 'dist', 'cli', 'main.js');
const VERSION = '0.0.0-ts-config-test';

/** Runs a command with plain Node.js: no loader, no tsx, no NODE_OPTIONS. */
function node(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<CliRun> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(NODE_OPTIONS|TSX_|VITEST|DATABASE_URL$)/.test(key)) clean[key] = value;
  }
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const CONFIG = (schema: string) => `import { defineConfig, EventRegistry } from 'annals';
import { Deployment, schemaFor } from './names.js';

const url: string = process.env.ANNALS_TEST_URL ?? 'postgres://nobody@127.0.0.1:1/none';

export default defineConfig({
  registry: new EventRegistry([]),
  eventStore: { connectionString: url, schema: schemaFor(Deployment.${schema}) },
});
`;

const NAMES = `export enum Deployment {
  Ts = 'ts_config_ts',
  Mts = 'ts_config_mts',
  Cts = 'ts_config_cts',
}

export function schemaFor(deployment: Deployment): string {
  return deployment;
}
`;

/** The three projects: the config's extension, the project's package type, the enum member. */
const PROJECTS = [
  { ext: 'ts', type: 'module', member: 'Ts' },
  { ext: 'mts', type: 'commonjs', member: 'Mts' },
  { ext: 'cts', type: 'module', member: 'Cts' },
] as const;

beforeAll(async () => {
  mkdirSync(pkg, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ ...manifest, version: VERSION }, null, 2));
  const build = join(scratch, 'build.mjs');
  writeFileSync(
    build,
    `import { build } from ${JSON.stringify(join(root, 'node_modules/tsup/dist/index.js'))};
await build({
  config: false,
  entry: { index: 'src/index.ts', 'cli/main': 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  outDir: ${JSON.stringify(join(pkg, 'dist'))},
  target: 'node20',
  splitting: true,
  dts: false,
  silent: true,
  external: ['zod', 'pg', 'amqplib', '@electric-sql/pglite', 'vitest', 'jiti'],
});
`,
  );
  const built = await node([build], root);
  expect(built.stderr).toBe('');
  expect(built.code).toBe(0);
  for (const dependency of ['jiti', 'pg', 'zod']) {
    symlinkSync(join(root, 'node_modules', dependency), join(scratch, 'node_modules', dependency), 'dir');
  }
  for (const { ext, type, member } of PROJECTS) {
    const project = join(scratch, ext);
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `app-${ext}`, private: true, type }));
    writeFileSync(join(project, 'names.ts'), NAMES);
    writeFileSync(join(project, `annals.config.${ext}`), CONFIG(member));
  }
  cpSync(join(scratch, 'ts'), join(scratch, 'explicit'), { recursive: true });
  mkdirSync(join(scratch, 'broken'));
  writeFileSync(join(scratch, 'broken', 'annals.config.mts'), 'const url: string = ;\nexport default {};\n');
}, 180_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('a TypeScript config, through the built executable without a loader', () => {
  it('prints the version of the package it was built into', async () => {
    const result = await node([main, '--version'], scratch);
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it.each(PROJECTS)('loads annals.config.$ext (found by default) and resolves it', async ({ ext }) => {
    const project = join(scratch, ext);
    // The control: Node.js alone cannot import this config, on any version.
    const control = await node(
      ['--input-type=module', '-e', `await import('./annals.config.${ext}')`],
      project,
    );
    expect(control.code).not.toBe(0);
    // Loaded and resolved: the command's own check answers (the config has no projections).
    const status = await node([main, 'status'], project);
    expect(status.code).toBe(1);
    expect(lines(status.stderr)).toEqual([
      `annals: error: status needs projections, and ${join(project, `annals.config.${ext}`)} has none (projections: { definitions: [...] }); annals migrate works without`,
    ]);
  });

  it.skipIf(!hasServer).each(PROJECTS)(
    'migrates the database and schema that annals.config.$ext names',
    async ({ ext }) => {
      const env = { ANNALS_TEST_URL: db!.connectionString };
      const project = join(scratch, ext);
      const printed = await node([main, 'migrate', '--print-sql'], project, env);
      expect(printed.stderr).toBe('');
      expect(printed.stdout).toContain(`of schema ts_config_${ext}\n`);
      const migrated = await node([main, 'migrate'], project, env);
      expect(migrated).toMatchObject({
        code: 0,
        stdout: `schema ts_config_${ext}: applied 1, 2, 3, 4; now at version 4\n`,
        stderr: '',
      });
    },
  );

  it('reports a syntax error of a TypeScript config in one line, with where it is', async () => {
    const result = await node([main, 'migrate'], join(scratch, 'broken'));
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^annals: error: cannot load .*broken\/annals\.config\.mts: .*Unexpected token.* \(.*broken\/annals\.config\.mts:1:\d+\)\n$/,
    );
  });

  it('loads a config given with --config from another directory', async () => {
    const result = await node(
      [main, 'run', '--config', join(scratch, 'explicit', 'annals.config.ts')],
      scratch,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^annals: error: run needs projections, and .*explicit\/annals\.config\.ts has none/,
    );
  });
});
