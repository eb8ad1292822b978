/**
 * `npx tsx bench/support/profile-summary.ts <file.cpuprofile> [top] [pattern]`: the functions of
 * a CPU profile by self time, and by total time (callees included), as Markdown tables; with a
 * pattern (a regular expression), the total time of the matching functions only.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3] ?? 15);
const pattern = process.argv[4] ? new RegExp(process.argv[4]) : undefined;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
}

// Time per sample: the delta after it.
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
  all += dt;
  let node = byId.get(profile.samples[i]!);
  if (!node) continue;
  self.set(label(node), (self.get(label(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    node = byId.get(id)!;
    const name = label(node);
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + dt);
  }
}

function table(title: string, values: Map<string, number>, only?: RegExp): void {
  console.log(`\n| ${title} | ms | % |\n|---|---|---|`);
  const rows = [...values]
    .filter(([name]) => !/^\((root|program|idle)\)/.test(name) && (!only || only.test(name)))
    .sort((a, b) => b[1] - a[1]);
  for (const [name, ms] of rows.slice(0, top)) {
    console.log(`| \`${name}\` | ${ms.toFixed(0)} | ${((ms / all) * 100).toFixed(1)} |`);
  }
}

const idle = (self.get('(idle)') ?? 0) + (self.get('(program)') ?? 0);
console.log(
  `${file}: ${all.toFixed(0)} ms sampled, ${(all - (self.get('(idle)') ?? 0)).toFixed(0)} ms busy (idle ${(self.get('(idle)') ?? 0).toFixed(0)}, program ${(idle - (self.get('(idle)') ?? 0)).toFixed(0)})`,
);
if (pattern) {
  table(`total time of /${pattern.source}/`, total, pattern);
} else {
  table('self time', self);
  table('total time', total);
}
