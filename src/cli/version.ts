import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version of annals, read from its package.json at run time: the first package.json named
 * `annals` above this module (`dist/...` in the published package, `src/cli/` in the repository).
 */
export function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
  let directory = dirname(from);
  for (;;) {
    const path = join(directory, 'package.json');
    if (existsSync(path)) {
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'annals' && typeof manifest.version === 'string') return manifest.version;
    }
    const parent = dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}
