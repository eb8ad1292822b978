/**
 * Rebuilds the Order example's read model (`examples/order/order-read-model.ts`) over the store
 * with the `annals rebuild` command of the built package, as users run it, in a process of its
 * own (`node dist/cli/main.js rebuild order-read-model --config examples/order/annals.config.ts`;
 * the CLI compiles the TypeScript config itself), so that its memory is measured alone: the peak
 * RSS as the kernel counts it (`/usr/bin/time -v`, when installed) and RSS sampled from
 * `/proc/<pid>/status` every 250 ms. Its progress output
 * (plain lines, once a second, as on a pipe) is captured.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What a rebuild did. */
export interface RebuildRun {
  readonly exitCode: number | null;
  readonly wallMs: number;
  /** The command's progress lines and its summary (stdout). */
  readonly output: string[];
  readonly stderr: string;
  /** Events replayed and the rate, from the summary line. */
  readonly processed?: number;
  readonly eventsPerSecond?: number;
  /** Peak RSS by `/usr/bin/time -v` ("Maximum resident set size"), in bytes. */
  readonly timePeakRssBytes?: number;
  /** Peak and samples of RSS read from /proc, in bytes: [ms since start, rss]. */
  readonly sampledPeakRssBytes: number;
  readonly samples: Array<[number, number]>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIME = '/usr/bin/time';

function rssOf(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The node process under `/usr/bin/time` (its only child), found through /proc. */
function childOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const first = children.split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the rebuild against `databaseUrl`, schema `schema`. */
export function runRebuild(databaseUrl: string, schema: string): Promise<RebuildRun> {
  const useTime = existsSync(TIME);
  const nodeArgs = [
    'dist/cli/main.js',
    'rebuild',
    'order-read-model',
    '--config',
    'examples/order/annals.config.ts',
  ];
  const [command, args] = useTime
    ? [TIME, ['-v', process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      ANNALS_EXAMPLE_SCHEMA: schema,
      READ_MODEL_DATABASE_URL: '',
      RABBITMQ_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = performance.now();
  const output: string[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      output.push(line);
      process.stderr.write(`  | ${line}\n`);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const samples: Array<[number, number]> = [];
  let peak = 0;
  const sampler = setInterval(() => {
    const pid = useTime && child.pid !== undefined ? childOf(child.pid) : child.pid;
    const rss = pid === undefined ? undefined : rssOf(pid);
    if (rss === undefined) return;
    peak = Math.max(peak, rss);
    samples.push([Math.round(performance.now() - started), rss]);
  }, 250);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearInterval(sampler);
      if (pending) output.push(pending);
      const summary = output
        .map((line) => /rebuilt .*: (\d+) events in .* \((\d+) events\/s\)/.exec(line))
        .find(Boolean);
      const maxRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({
        exitCode,
        wallMs: performance.now() - started,
        output,
        stderr,
        ...(summary ? { processed: Number(summary[1]), eventsPerSecond: Number(summary[2]) } : {}),
        ...(maxRss ? { timePeakRssBytes: Number(maxRss[1]) * 1024 } : {}),
        sampledPeakRssBytes: peak,
        samples,
      });
    });
  });
}
