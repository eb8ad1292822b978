import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsxLoader = pathToFileURL(`${root}node_modules/tsx/dist/loader.mjs`).href;

interface ChildReport {
  readonly afterImport: number;
  readonly attempts: string[];
  readonly loaded: string[];
  readonly state: { active: boolean; tracing: boolean; metrics: boolean };
  readonly traceparent: string | null;
}

async function runChild(hide: boolean): Promise<ChildReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', tsxLoader, 'test/support/telemetry-absent-child.ts'],
    { cwd: root, env: { ...process.env, HIDE_OTEL: hide ? '1' : '0' } },
  );
  return JSON.parse(stdout) as ChildReport;
}

describe('telemetry without the optional peer', () => {
  it('loads nothing of @opentelemetry: one lookup when first needed, then plain calls', async () => {
    const report = await runChild(true);
    // Importing annals looks for nothing; the first command looks once, never again.
    expect(report.afterImport).toBe(0);
    expect(report.attempts).toEqual(['@opentelemetry/api']);
    expect(report.loaded).toEqual([]);
    expect(report.state).toEqual({ active: false, tracing: false, metrics: false });
    expect(report.traceparent).toBeNull();
  });

  it('control: with the peer resolvable, the same workload loads @opentelemetry/api', async () => {
    const report = await runChild(false);
    expect(report.afterImport).toBe(0);
    expect(report.attempts).toEqual(['@opentelemetry/api']);
    expect(report.loaded.some((path) => path.includes('@opentelemetry/api'))).toBe(true);
    expect(report.state).toEqual({ active: true, tracing: true, metrics: true });
  });
});
