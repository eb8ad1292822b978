import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ResolvedAnnalsConfig, resolveAnnalsConfig } from '../core.js';
import { CliError, describeError } from './cli-error.js';

/** The file names the CLI looks for in the current directory, in this order. */
export const DEFAULT_CONFIG_FILES = ['annals.config.ts', 'annals.config.js', 'annals.config.mjs'] as const;

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
  for (const name of DEFAULT_CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  throw new CliError(
    `no config found: looked for ${DEFAULT_CONFIG_FILES.join(', ')} in ${cwd}; pass --config <path>`,
  );
}

/** Imports the config module and resolves its default export. */
export async function loadConfig(cwd: string, explicit: string | undefined): Promise<LoadedConfig> {
  const path = findConfig(cwd, explicit);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(path)) {
      throw new CliError(
        `cannot load ${path}: Node.js does not run TypeScript by itself; start the CLI with a loader ` +
          '(NODE_OPTIONS=--import=tsx annals ...) or write the config as annals.config.mjs',
        { cause: error },
      );
    }
    throw new CliError(`cannot load ${path}: ${describeError(error)}`, { cause: error });
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
