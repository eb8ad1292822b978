import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runCli } from '../../src/cli/run-cli.js';

/** The repository's root. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
/** The CLI's source, run through tsx. */
export const cliPath = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** tsx's loader, by path, so that it is found from any working directory. */
const tsxLoader = pathToFileURL(`${root}node_modules/tsx/dist/loader.mjs`).href;
/** The built CLI, as the package's `bin` runs it. */
const distCliPath = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/**
 * `ANNALS_TEST_CLI=dist` (which `.ci/run` sets after its build): the tests run the built CLI,
 * as an installed package runs it, loading their TypeScript configs the way users' configs load.
 * Otherwise the source through tsx, so that a local `npm test` needs no build and is never stale.
 * The source through tsx costs about 0.6 s of CPU more per run.
 */
export const fromDist: boolean = process.env.ANNALS_TEST_CLI === 'dist';
/** The config module the CLI tests use. */
export const fixtureConfig = fileURLToPath(new URL('./fixtures/annals.config.ts', import.meta.url));

/** What a finished run of the CLI gave. */
export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link annals}. */
export interface AnnalsOptions {
  /** The working directory. @defaultValue the repository's root */
  readonly cwd?: string;
  /** Extra environment variables (`undefined` removes one). */
  readonly env?: Record<string, string | undefined>;
}

/**
 * Starts `annals <args>`: the source through tsx (with the repository's path aliases), or the
 * build with `ANNALS_TEST_CLI=dist`.
 */
export function startAnnals(args: readonly string[], options: AnnalsOptions = {}): ChildProcess {
  const env: Record<string, string | undefined> = {
    ...process.env,
    TSX_TSCONFIG_PATH: `${root}tsconfig.json`,
    ...options.env,
  };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  const command = fromDist ? [distCliPath, ...args] : ['--import', tsxLoader, cliPath, ...args];
  return spawn(process.execPath, command, {
    cwd: options.cwd ?? root,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a started CLI's output until it exits. */
export function finished(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `annals <args>` to the end. */
export function annals(args: readonly string[], options: AnnalsOptions = {}): Promise<CliRun> {
  return finished(startAnnals(args, options));
}

/** The lines of a text, without the empty last one. */
export const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/**
 * Runs `annals <args>` in this process (`runCli`, what the executable runs), with `env` set in
 * `process.env` meanwhile (`undefined` removes one) and the output collected. For tests of what
 * the commands do: an `annals` process costs about a second of CPU (Node.js, the build, the
 * config compiled by jiti), and the executable's own part (exit codes, one-line errors, signals)
 * is tested through {@link annals}.
 */
export async function annalsInProcess(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  cwd: string = root,
): Promise<CliRun> {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(env)) {
    saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCli(args, {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      cwd,
      stopRequested: () => new Promise<string>(() => undefined),
    });
    return { code, signal: null, stdout, stderr };
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
