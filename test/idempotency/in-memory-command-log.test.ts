import {
  type AppendResult,
  DEFAULT_COMMAND_TTL_HOURS,
  InMemoryCommandLog,
  isInvalidArgumentError,
  NO_STREAM,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { walletStore } from '../snapshots/wallet.js';

const HOUR_MS = 3_600_000;

/** A clock the test moves by hand. */
function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => new Date(now),
    advanceHours: (hours: number) => {
      now += hours * HOUR_MS;
    },
  };
}

const opened = (owner: string) => ({ type: 'WalletOpened', aggregateType: 'Wallet', payload: { owner } });

describe('InMemoryCommandLog', () => {
  it('runs a command once; a repeat returns the recorded result without running', async () => {
    const store = walletStore();
    const clock = manualClock();
    const log = new InMemoryCommandLog({ store, clock: clock.now });
    let runs = 0;
    const work = async (unit: { append: typeof store.append }) => {
      runs++;
      const result = await unit.append('w-1', NO_STREAM, [opened('ada')]);
      return { version: result.nextExpectedVersion, at: new Date(0) };
    };
    const first = await log.runOnce('cmd-1', work);
    const second = await log.runOnce('cmd-1', work);
    expect(runs).toBe(1);
    expect(first).toMatchObject({ duplicate: false, result: { version: 1, at: new Date(0) } });
    // The duplicate gets the JSON copy: the Date became a string.
    expect(second).toMatchObject({ duplicate: true, result: { version: 1, at: '1970-01-01T00:00:00.000Z' } });
    expect(second.record.processedAt).toEqual(clock.now());
    expect(second.record.expiresAt.getTime() - second.record.processedAt.getTime()).toBe(
      DEFAULT_COMMAND_TTL_HOURS * HOUR_MS,
    );
    expect(await store.streamVersion('w-1')).toBe(1);
    expect(await log.find('cmd-1')).toMatchObject({ commandId: 'cmd-1', result: { version: 1 } });
    expect(await log.find('cmd-2')).toBeUndefined();
  });

  it('20 concurrent runs of one command id: exactly one runs and appends, the others get its result', async () => {
    const store = walletStore();
    const log = new InMemoryCommandLog({ store });
    let runs = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        log.runOnce('cmd-concurrent', async (unit) => {
          runs++;
          await Promise.resolve();
          const appended: AppendResult = await unit.append('w-2', 'any', [opened('bob')]);
          return appended.nextExpectedVersion;
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    expect(results.every((result) => result.result === 1)).toBe(true);
    expect(await store.streamVersion('w-2')).toBe(1);
  });

  it('a failing run records nothing: a waiting duplicate runs itself, and a later retry runs', async () => {
    const log = new InMemoryCommandLog({ store: walletStore() });
    let runs = 0;
    const failing = log.runOnce('cmd-fail', async () => {
      runs++;
      throw new Error('domain says no');
    });
    const waiting = log.runOnce('cmd-fail', async () => {
      runs++;
      return 'second';
    });
    await expect(failing).rejects.toThrow('domain says no');
    await expect(waiting).resolves.toMatchObject({ duplicate: false, result: 'second' });
    expect(runs).toBe(2);
    expect(await log.runOnce('cmd-fail', async () => 'third')).toMatchObject({
      duplicate: true,
      result: 'second',
    });
  });

  it('expired records count as absent and are purged by purgeExpired()', async () => {
    const clock = manualClock();
    const log = new InMemoryCommandLog({ store: walletStore(), ttlHours: 2, clock: clock.now });
    await log.runOnce('cmd-old', async () => 1);
    clock.advanceHours(1);
    await log.runOnce('cmd-new', async () => 2);
    expect(await log.purgeExpired()).toBe(0);
    clock.advanceHours(1);
    // cmd-old is exactly 2 hours old: expired. cmd-new is 1 hour old: alive.
    expect(await log.find('cmd-old')).toBeUndefined();
    expect(await log.find('cmd-new')).toMatchObject({ result: 2 });
    expect(log.size).toBe(2);
    expect(await log.purgeExpired()).toBe(1);
    expect(log.size).toBe(1);
    // The id counts as new again.
    expect(await log.runOnce('cmd-old', async () => 'again')).toMatchObject({
      duplicate: false,
      result: 'again',
    });
  });

  it('an expired record that was not purged yet does not block the command', async () => {
    const clock = manualClock();
    const log = new InMemoryCommandLog({ store: walletStore(), ttlHours: 0.5, clock: clock.now });
    await log.runOnce('cmd-x', async () => 'first');
    clock.advanceHours(0.5);
    expect(await log.runOnce('cmd-x', async () => 'second')).toMatchObject({
      duplicate: false,
      result: 'second',
    });
  });

  it('rejects a result that is not JSON, recording nothing', async () => {
    const log = new InMemoryCommandLog({ store: walletStore() });
    const error = await log.runOnce('cmd-big', async () => ({ n: 1n })).catch((caught: unknown) => caught);
    expect(isInvalidArgumentError(error)).toBe(true);
    expect((error as Error).message).toContain('cmd-big');
    expect(await log.find('cmd-big')).toBeUndefined();
  });

  it('rejects bad ids, bad options and a missing store', async () => {
    const log = new InMemoryCommandLog({ store: walletStore() });
    await expect(log.runOnce('', async () => 1)).rejects.toSatisfy(isInvalidArgumentError);
    await expect(log.runOnce(42 as never, async () => 1)).rejects.toSatisfy(isInvalidArgumentError);
    await expect(log.runOnce('cmd', 'nope' as never)).rejects.toSatisfy(isInvalidArgumentError);
    for (const ttlHours of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new InMemoryCommandLog({ store: walletStore(), ttlHours })).toThrow(
        expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
      );
    }
    expect(() => new InMemoryCommandLog({} as never)).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
  });
});
