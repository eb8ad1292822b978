// Reads the JSON report of @arethetypeswrong/cli (`attw <tarball> --format json`, every
// resolution: node10, node16 from CJS and from ESM, bundler) given as the first argument, prints
// one line per entry point, and fails on any problem but one: annals/testing is ESM only
// (vitest refuses CommonJS), so a `require` of it resolving to ESM is by design.
import { readFileSync } from 'node:fs';

const allowed = [{ kind: 'CJSResolvesToESM', entrypoint: './testing', resolutionKind: 'node16-cjs' }];
const isAllowed = (problem) =>
  allowed.some((rule) => Object.entries(rule).every(([key, value]) => problem[key] === value));

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const problems = report.analysis?.problems ?? [];
const unexpected = problems.filter((problem) => !isAllowed(problem));
for (const [subpath, entry] of Object.entries(report.analysis.entrypoints)) {
  const kinds = Object.entries(entry.resolutions).map(([kind, resolution]) => {
    const own = problems.filter(
      (problem) => problem.entrypoint === subpath && problem.resolutionKind === kind,
    );
    const mark = own.length === 0 ? 'ok' : own.every(isAllowed) ? 'ok (ESM only, by design)' : 'FAIL';
    return `${kind} ${resolution.resolution?.fileName ? mark : 'FAIL (unresolved)'}`;
  });
  console.log(`attw ${subpath.padEnd(15)} ${kinds.join(', ')}`);
}
if (unexpected.length > 0) {
  console.error(unexpected.map((problem) => `FAIL attw: ${JSON.stringify(problem)}`).join('\n'));
  process.exit(1);
}
