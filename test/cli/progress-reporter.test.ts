import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../src/cli/progress-reporter.js';
import { rebuildProgress } from '../../src/projections/rebuild-progress.js';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, stream: { isTTY, columns: 200, write: (text: string) => written.push(text) } };
}

describe('rebuild progress', () => {
  it('draws a bar in place on a terminal, throttled, and ends its line', () => {
    let clock = 0;
    const { written, stream: tty } = stream(true);
    const reporter = progressReporter(tty, { now: () => clock, redrawIntervalMs: 100 });
    reporter.update(rebuildProgress('orders', 0, 1000, 0));
    clock = 50;
    reporter.update(rebuildProgress('orders', 100, 1000, 50)); // within 100 ms: not drawn
    clock = 200;
    reporter.update(rebuildProgress('orders', 500, 1000, 200));
    clock = 250;
    reporter.update(rebuildProgress('orders', 1000, 1000, 250));
    reporter.done();
    expect(written).toHaveLength(4);
    expect(written.slice(0, 3).every((text) => text.startsWith('\r'))).toBe(true);
    expect(written[0]).toContain(`orders ${'░'.repeat(30)} 0/1000 events (0%), rate unknown`);
    expect(written[1]).toContain(
      `${'█'.repeat(15)}${'░'.repeat(15)} 500/1000 events (50%), 2500 events/s, 200ms left`,
    );
    expect(written[2]).toContain(`${'█'.repeat(30)} 1000/1000 events (100%), 4000 events/s, 0ms left`);
    expect(written[3]).toBe('\n');
  });

  it('writes plain lines elsewhere, at most one per interval, plus the last', () => {
    let clock = 0;
    const { written, stream: pipe } = stream(false);
    const reporter = progressReporter(pipe, { now: () => clock, lineIntervalMs: 1000 });
    for (let processed = 0; processed <= 5000; processed += 50) {
      clock = processed; // 1 ms per event
      reporter.update(rebuildProgress('orders', processed, 5000, clock));
    }
    reporter.done();
    expect(written.every((text) => text.endsWith('\n') && !text.includes('\r'))).toBe(true);
    expect(written.map((text) => text.split(':')[1]!.trim().split(' ')[0])).toEqual([
      '0/5000',
      '1000/5000',
      '2000/5000',
      '3000/5000',
      '4000/5000',
      '5000/5000',
    ]);
    expect(written.at(-1)).toBe('rebuild orders: 5000/5000 events (100%), 1000 events/s, 0ms left\n');
  });
});
