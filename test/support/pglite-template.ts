/**
 * A freshly initialised PGlite cluster, dumped once and loaded by every test file that runs on
 * PGlite (`DATABASE_URL` unset), so that no file pays for `initdb`.
 *
 * `PGlite.create()` runs `initdb` in WebAssembly: 4 to 8 s per file on a busy 2-core machine,
 * most of the PGlite files' set-up. Loading a dump of the cluster it makes (`loadDataDir`) takes
 * well under a second and gives the same empty cluster: each file still has a PGlite of its own
 * and migrates its own schema, as before.
 *
 * This module is also a vitest `globalSetup`: before the run it writes the dump (once per PGlite
 * version) to `node_modules/.cache/annals-test/`. Without the dump (a run without this global
 * set-up, or one that failed to write it) {@link createTestPglite} falls back to `PGlite.create()`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The dump's path: one per installed PGlite version (a new version may lay out its cluster anew). */
export function pgliteTemplatePath(): string {
  const manifest = join(root, 'node_modules/@electric-sql/pglite/package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return join(root, 'node_modules/.cache/annals-test', `pglite-${version}-initdb.tar`);
}

/** A new in-memory PGlite: from the dump when there is one, otherwise with `initdb`. */
export async function createTestPglite(): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  const path = pgliteTemplatePath();
  if (!existsSync(path)) return PGlite.create();
  // Uncompressed on purpose: loading a gzip dump hung in a test (PGlite 0.5.16).
  return PGlite.create({ loadDataDir: new Blob([readFileSync(path)]) });
}

/** globalSetup: writes the dump unless the run uses a server or the dump is already there. */
export default async function setup(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const path = pgliteTemplatePath();
  if (existsSync(path)) return;
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  try {
    const dump = await db.dumpDataDir('none');
    mkdirSync(dirname(path), { recursive: true });
    // Written aside and renamed: a parallel run or a killed one never leaves half a dump.
    const partial = `${path}.${process.pid}.partial`;
    try {
      writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
      renameSync(partial, path);
    } finally {
      rmSync(partial, { force: true });
    }
  } finally {
    await db.close();
  }
}
