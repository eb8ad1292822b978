import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version of annals, read from its package.json at run time: the first package.json named
 * `annals` above this module (`dist/...` in the published package, `src/cli/` in the repository).
 */
export function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
  const root = packageRoot(from);
  if (root === undefined) return 'unknown';
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** The directory of the first package.json named `annals` above `from`, if any. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string | undefined {
  let directory = dirname(from);
  for (;;) {
    const path = join(directory, 'package.json');
    if (existsSync(path)) {
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown };
      if (manifest.name === 'annals') return directory;
    }
    const parent = dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}
