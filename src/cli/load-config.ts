import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ResolvedAnnalsConfig, resolveAnnalsConfig } from '../core.js';
import { CliError, describeError } from './cli-error.js';

/** The file names the CLI looks for in the current directory, in this order. */
export const DEFAULT_CONFIG_FILES = [
  'annals.config.ts',
  'annals.config.mts',
  'annals.config.cts',
  'annals.config.js',
  'annals.config.mjs',
  'annals.config.cjs',
] as const;

const TYPESCRIPT = /\.[cm]?ts$/;

/** A loaded config and where it came from. */
export interface LoadedConfig {
  readonly path: string;
  readonly config: ResolvedAnnalsConfig;
}

/** Finds the config module: `--config` (relative to `cwd`), or the first default file in `cwd`. */
export function findConfig(cwd: string, explicit: string | undefined): string {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new CliError(`config not found: ${path}`);
    return path;
  }
  const found = findDefaultConfig(cwd);
  if (found !== undefined) return found;
  throw new CliError(
    `no config found: looked for ${DEFAULT_CONFIG_FILES.join(', ')} in ${cwd}; pass --config <path>`,
  );
}

/** The first of {@link DEFAULT_CONFIG_FILES} in `cwd`, if any. */
export function findDefaultConfig(cwd: string): string | undefined {
  for (const name of DEFAULT_CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Errors of a native import of TypeScript that jiti gets past (raised before the config runs). */
const NATIVE_TYPESCRIPT_FAILURES = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION', // Node.js without type stripping (20, 22 before 22.18 unflagged)
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', // enums, parameter properties... under type stripping
  'ERR_INVALID_TYPESCRIPT_SYNTAX',
  'ERR_MODULE_NOT_FOUND', // `./events.js` written for `./events.ts`, which type stripping does not map
]);

/**
 * Imports a config module. JavaScript, and TypeScript where the process can already import it
 * (a loader such as tsx, or Node.js's type stripping), is imported natively. Otherwise
 * TypeScript (.ts, .mts, .cts) goes through jiti, loaded only then, which compiles it in memory:
 * no loader to install, on every Node.js version, and relative imports written with `.js` find
 * their `.ts` files. Packages the config imports (`annals` itself) are still imported natively,
 * so the config and the CLI share one copy of annals.
 */
async function importModule(path: string): Promise<{ default?: unknown }> {
  // A .cts written with `import` syntax: Node.js's type stripping reads it as CommonJS, fails and
  // prints a warning on stderr first; jiti compiles it as TypeScript meant it.
  if (!path.endsWith('.cts')) {
    try {
      return (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      // A SyntaxError: type stripping leaves `import` in a file Node.js reads as CommonJS.
      const jitiMayLoad =
        error instanceof SyntaxError || (typeof code === 'string' && NATIVE_TYPESCRIPT_FAILURES.has(code));
      if (!TYPESCRIPT.test(path) || !jitiMayLoad) throw error;
    }
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(pathToFileURL(path).href, {
    fsCache: false,
    moduleCache: false,
    interopDefault: false,
  });
  return (await jiti.import(path)) as { default?: unknown };
}

/** Imports the config module and resolves its default export. */
export async function loadConfig(cwd: string, explicit: string | undefined): Promise<LoadedConfig> {
  return loadConfigAt(findConfig(cwd, explicit));
}

/** Imports the config module at `path` and resolves its default export. */
export async function loadConfigAt(path: string): Promise<LoadedConfig> {
  let module: { default?: unknown };
  try {
    module = await importModule(path);
  } catch (error) {
    // jiti puts where a syntax error is on a line of its own: keep it on the one line.
    const message = describeError(error);
    const where = /(\S+:\d+:\d+)\s*$/m.exec(error instanceof Error ? error.message : '')?.[1];
    const at = where !== undefined && !message.includes(where) ? ` (${where})` : '';
    throw new CliError(`cannot load ${path}: ${message}${at}`, { cause: error });
  }
  if (module.default === undefined) {
    throw new CliError(`${path} has no default export; export default defineConfig({ ... })`);
  }
  try {
    return { path, config: await resolveAnnalsConfig(module.default) };
  } catch (error) {
    throw new CliError(`${path}: ${describeError(error)}`, { cause: error });
  }
}
