import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run example', () => {
  it('runs the Order example end to end and exits 0', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'example'], {
      cwd: root,
      env: { ...process.env },
      timeout: 120_000,
    });
    expect(stdout).toContain('OrderCreated');
    expect(stdout).toContain('OrderItemAdded');
    expect(stdout).toContain('OrderShipped');
    expect(stdout).toMatch(/rejected: .*positive/);
    expect(stdout).toContain('status shipped, 2 lines, total 89.80');
    expect(stdout.trim().endsWith('Done.')).toBe(true);
  });
});
