#!/usr/bin/env node
// Type-checks every ```ts block of README.md and docs/*.md against the built package, as a user's
// project sees it, and runs the blocks marked to run (docs/getting-started.md's program, on PGlite).
// Needs `npm run build` first. Usage: node scripts/check-doc-snippets.mjs [--keep] [file.md ...]
//
// How blocks become files (one temporary project, one `tsc --noEmit` over all of them):
// - node_modules/annals is a symlink to this repository, so `annals`, `annals/postgres`, ... resolve
//   through package.json's exports map to dist/ (no path aliases); the peers (zod, pg, amqplib,
//   PGlite, vitest, ...) and every other package of this repository's node_modules are symlinks.
// - the blocks of docs/x.md are files in docs/x/ (block-<n>.ts), those of README.md README.<n>.ts;
//   relative imports work as they read from the Markdown file: `../examples/order/events.js` in
//   docs/*.md (`./examples/...` in README.md) is the Order example (copied into the project, with
//   docs/examples a link to it).
// - a block whose first line is a file name comment (`// src/orders.ts`) is that file,
//   docs/x/src/orders.ts, so the blocks of a page can import each other (`./src/orders.js`).
// - compiler options: strict, module/moduleResolution nodenext, ES2022, "type": "module".
//
// Markers, an HTML comment on the line before the block (invisible on GitHub):
//   <!-- snippet: fragment (why) -->  not checked: a signature excerpt or a few lines of an
//                                      option object. Keep these rare and say why.
//   <!-- snippet: run -->             type-checked, then run with tsx (cwd: the project, no
//                                      DATABASE_URL); it must exit 0 within 120 s. If a ```text
//                                      block marked <!-- snippet: output --> follows, each of its
//                                      non-blank lines must appear in the program's output.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const only = args.filter((arg) => !arg.startsWith('--'));
const started = Date.now();

const PEERS = [
  'zod',
  'pg',
  'amqplib',
  '@electric-sql/pglite',
  'vitest',
  'valibot',
  '@opentelemetry/api',
  '@types/node',
  '@types/pg',
];

// Blocks known to fail, on pages being rewritten by others: reported, not failed. Each entry:
// "<file>#<the block's first line>" and why. Remove an entry as soon as its block is fixed.
const KNOWN_BROKEN = new Map([]);

if (!fs.existsSync(path.join(root, 'dist/index.d.ts'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const markdownFiles = (
  only.length > 0
    ? only
    : [
        'README.md',
        ...fs
          .readdirSync(path.join(root, 'docs'))
          .filter((name) => name.endsWith('.md'))
          .sort()
          .map((name) => `docs/${name}`),
      ]
).map((file) => path.relative(root, path.resolve(root, file)));

/** The fenced blocks of a Markdown file: language, marker, first content line, text. */
function blocksOf(file) {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(\S*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j])) {
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart());
      j++;
    }
    let marker;
    for (let k = i - 1; k >= 0 && k >= i - 2; k--) {
      const match = /^\s*<!--\s*snippet:\s*(\w+)\b(.*?)-->\s*$/.exec(lines[k]);
      if (match) {
        marker = { kind: match[1], note: match[2].trim() };
        break;
      }
      if (lines[k].trim() !== '') break;
    }
    blocks.push({ file, lang, marker, fenceLine: i + 1, firstLine: i + 2, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

const project = fs.mkdtempSync(path.join(os.tmpdir(), 'annals-doc-snippets-'));
const cleanup = () => {
  if (!keep) fs.rmSync(project, { recursive: true, force: true });
};

let exitCode = 0;
try {
  fs.writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'annals-doc-snippets', private: true, type: 'module' }, null, 2)}\n`,
  );
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(root, path.join(project, 'node_modules/annals'), 'dir');
  // The peers must be there; every other installed package is linked too (pino, the OpenTelemetry
  // SDK, ...), as a user would install what a page tells them to.
  for (const peer of PEERS) {
    if (!fs.existsSync(path.join(root, 'node_modules', peer))) {
      throw new Error(`peer ${peer} is not installed in node_modules`);
    }
  }
  for (const entry of fs.readdirSync(path.join(root, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'annals') continue;
    const names = entry.startsWith('@')
      ? fs.readdirSync(path.join(root, 'node_modules', entry)).map((name) => `${entry}/${name}`)
      : [entry];
    for (const name of names) {
      fs.mkdirSync(path.dirname(path.join(project, 'node_modules', name)), { recursive: true });
      fs.symlinkSync(path.join(root, 'node_modules', name), path.join(project, 'node_modules', name), 'dir');
    }
  }
  fs.cpSync(path.join(root, 'examples'), path.join(project, 'examples'), { recursive: true });
  fs.mkdirSync(path.join(project, 'docs'));
  fs.symlinkSync('../examples', path.join(project, 'docs/examples'), 'dir');

  const snippets = [];
  const skipped = [];
  const runs = [];
  for (const file of markdownFiles) {
    const blocks = blocksOf(file);
    const base = file.replace(/\.md$/, '');
    let n = 0;
    blocks.forEach((block, index) => {
      if (!/^(ts|typescript|tsx)$/.test(block.lang)) return;
      n++;
      const where = `${file}:${block.fenceLine}`;
      if (block.marker?.kind === 'fragment') {
        const note = block.marker.note.replace(/^\((.*)\)$/s, '$1');
        skipped.push(`${where} (fragment${note ? `: ${note}` : ''})`);
        return;
      }
      const key = `${file}#${block.text.split('\n')[0]}`;
      if (KNOWN_BROKEN.has(key)) {
        skipped.push(`${where} (KNOWN BROKEN: ${KNOWN_BROKEN.get(key)})`);
        return;
      }
      if (block.marker && block.marker.kind !== 'run') {
        throw new Error(`${where}: unknown marker "snippet: ${block.marker.kind}"`);
      }
      const named = /^\/\/ ([\w./-]+\.tsx?)\s*$/.exec(block.text.split('\n')[0] ?? '');
      const nested = file.includes('/');
      const relative = named ? `${base}/${named[1]}` : nested ? `${base}/block-${n}.ts` : `${base}.${n}.ts`;
      if (named && !nested) throw new Error(`${where}: file name comments work in docs/*.md only`);
      let text = block.text;
      // A block with no import or export is a script; make it a module, so top-level await
      // works and its names do not collide with other blocks'.
      if (!/^\s*(import|export)\b/m.test(text)) text += '\nexport {};\n';
      const target = path.join(project, relative);
      if (fs.existsSync(target)) throw new Error(`${where}: a second block writes ${relative}`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, text);
      snippets.push({ relative, where, file, firstLine: block.firstLine });
      if (block.marker?.kind === 'run') {
        const next = blocks[index + 1];
        const expected =
          next && next.marker?.kind === 'output'
            ? next.text
                .split('\n')
                .map((line) => line.trim())
                .filter(Boolean)
            : [];
        runs.push({ relative, where, expected });
      }
    });
  }

  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          types: ['node'],
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          allowImportingTsExtensions: false,
          esModuleInterop: true,
        },
        files: snippets.map((snippet) => snippet.relative),
      },
      null,
      2,
    )}\n`,
  );

  console.log(`doc snippets: ${snippets.length} checked, ${skipped.length} not checked, in ${project}`);
  for (const line of skipped) console.log(`  not checked: ${line}`);

  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
    cwd: project,
    encoding: 'utf8',
  });
  const byFile = new Map(snippets.map((snippet) => [snippet.relative, snippet]));
  if (tsc.status !== 0) {
    exitCode = 1;
    // path(line,col): error TS....: message -> the Markdown file's line
    const output = `${tsc.stdout}${tsc.stderr}`.replace(
      /^([^\s(]+)\((\d+),(\d+)\)/gm,
      (whole, file, line, column) => {
        const snippet = byFile.get(file);
        if (!snippet) return whole;
        return `${snippet.file}:${snippet.firstLine + Number(line) - 1}:${column} [${file}]`;
      },
    );
    console.log(output.trimEnd());
    console.log('doc snippets: type errors (above, at the Markdown line)');
  } else {
    console.log('doc snippets: tsc found no errors');
  }

  if (exitCode === 0) {
    for (const run of runs) {
      const began = Date.now();
      const env = { ...process.env };
      for (const name of ['DATABASE_URL', 'READ_MODEL_DATABASE_URL', 'RABBITMQ_URL']) delete env[name];
      const result = spawnSync(
        process.execPath,
        [path.join(root, 'node_modules/tsx/dist/cli.mjs'), run.relative],
        {
          cwd: project,
          encoding: 'utf8',
          env,
          timeout: 120_000,
        },
      );
      const output = `${result.stdout}${result.stderr}`;
      const missing = run.expected.filter((line) => !output.includes(line));
      const ok = result.status === 0 && missing.length === 0;
      console.log(
        `doc snippets: ran ${run.where} (${run.relative}) in ${((Date.now() - began) / 1000).toFixed(1)} s: ${ok ? 'ok' : 'FAILED'}`,
      );
      if (!ok) {
        exitCode = 1;
        console.log(output.trimEnd().replace(/^/gm, '  | '));
        if (result.error) console.log(`  ${result.error.message}`);
        for (const line of missing) console.log(`  expected in the output: ${line}`);
      }
    }
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  cleanup();
}
console.log(
  `doc snippets: ${exitCode === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(exitCode);
