import { afterAll, describe, expect, it } from 'vitest';
import {
  type CommandLog,
  type CommandLogOptions,
  DEFAULT_COMMAND_TTL_HOURS,
  ErrorCode,
  type EventAppender,
  type EventRegistry,
  type IEventStore,
  isAnnalsError,
  NO_STREAM,
} from '../core.js';
import { contractRegistry, note } from './contract/fixtures.js';

/**
 * A command log under test and the event store its units of work append to.
 *
 * @category Testing
 */
export interface CommandLogContractFixture {
  /** The log under test. */
  readonly log: CommandLog;
  /** The event store the log's units of work append to (the suite reads what was appended). */
  readonly store: IEventStore;
}

/**
 * How the command-log contract suite gets a log to test.
 *
 * @category Testing
 */
export interface CommandLogContractOptions {
  /**
   * Creates a log with the given options (a `clock` and a `ttlHours` of the suite's choosing, or
   * none) over an event store made with the given `registry`, which holds the suite's event
   * types. Called by every test. The store may hold other data: command and stream ids are unique
   * per run.
   */
  readonly createLog: (
    options: CommandLogOptions & { readonly registry: EventRegistry },
  ) => CommandLogContractFixture | Promise<CommandLogContractFixture>;
  /**
   * True when the log's unit of work is a transaction, so a failed run's appends roll back (as in
   * PostgreSQL). Without it the suite expects them to stay, as in memory.
   * @defaultValue false
   */
  readonly transactional?: boolean;
  /**
   * Cleans up after the suite (closes pools, for example).
   * @defaultValue nothing
   */
  readonly dispose?: () => void | Promise<void>;
}

const HOUR_MS = 3_600_000;

/** A clock the suite moves by hand. */
function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => new Date(now),
    advanceHours: (hours: number) => {
      now += hours * HOUR_MS;
    },
  };
}

let streams = 0;
let purgeRuns = 0;
const streamId = (label: string) => `${label}-${process.pid}-${++streams}-${Date.now()}`;

/**
 * Defines (with vitest) the tests every {@link CommandLog} must pass: `runOnce` runs a command
 * once and answers a repeat with the recorded result (its JSON copy) as a duplicate; concurrent
 * runs of one command id run the work once; a failing run records nothing and a waiting
 * duplicate then runs itself; expired records count as absent and `purgeExpired()` deletes them;
 * results that are not JSON, bad command ids, a missing work function and a bad `ttlHours` are
 * rejected with `InvalidArgumentError`.
 *
 * The suite appends `ContractNote` events (of {@link contractRegistry}) through the unit of work:
 * create the log's event store with the `registry` that `createLog` receives. Its expiry test
 * runs on clocks in 2001, so records of earlier runs expire in its first `purgeExpired()`.
 *
 * @example
 * ```ts
 * import { InMemoryCommandLog, InMemoryEventStore } from 'annals';
 * import { describeCommandLogContract } from 'annals/testing';
 *
 * describeCommandLogContract('InMemoryCommandLog', {
 *   createLog: ({ registry, ...options }) => {
 *     const store = new InMemoryEventStore({ registry });
 *     return { log: new InMemoryCommandLog({ store, ...options }), store };
 *   },
 * });
 * ```
 *
 * @category Testing
 */
export function describeCommandLogContract(name: string, options: CommandLogContractOptions): void {
  describe(`${name}: CommandLog contract`, () => {
    if (options.dispose) afterAll(options.dispose);
    const registry = contractRegistry();
    const create = async (logOptions: CommandLogOptions) => options.createLog({ ...logOptions, registry });

    it('runs a command once; a repeat returns the recorded result (as JSON) without running', async () => {
      const clock = manualClock();
      const { log, store } = await create({ clock: clock.now });
      const id = streamId('w');
      const commandId = streamId('cmd');
      let runs = 0;
      const work = async (unit: EventAppender) => {
        runs++;
        const result = await unit.append(id, NO_STREAM, [note('ada')]);
        return { version: result.nextExpectedVersion, at: new Date(0) };
      };
      const first = await log.runOnce(commandId, work);
      const second = await log.runOnce(commandId, work);
      expect(runs).toBe(1);
      expect(first).toMatchObject({ duplicate: false, result: { version: 1, at: new Date(0) } });
      expect(second).toMatchObject({
        duplicate: true,
        result: { version: 1, at: '1970-01-01T00:00:00.000Z' },
      });
      expect(second.record.commandId).toBe(commandId);
      expect(second.record.processedAt).toEqual(clock.now());
      expect(second.record.expiresAt.getTime() - second.record.processedAt.getTime()).toBe(
        DEFAULT_COMMAND_TTL_HOURS * HOUR_MS,
      );
      expect(await store.streamVersion(id)).toBe(1);
      expect(await log.find(commandId)).toMatchObject({ commandId, result: { version: 1 } });
      expect(await log.find(streamId('never'))).toBeUndefined();
    });

    it('20 concurrent runs of one command id: exactly one runs and appends, the others get its result', async () => {
      const { log, store } = await create({});
      const id = streamId('w');
      const commandId = streamId('cmd');
      let runs = 0;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          log.runOnce(commandId, async (unit) => {
            runs++;
            await new Promise((resolve) => setImmediate(resolve));
            return (await unit.append(id, 'any', [note('bob')])).nextExpectedVersion;
          }),
        ),
      );
      expect(runs).toBe(1);
      expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
      expect(results.every((result) => result.result === 1)).toBe(true);
      expect(await store.streamVersion(id)).toBe(1);
    });

    it('a failing run records nothing and appends nothing: a waiting duplicate then runs itself', async () => {
      const { log, store } = await create({});
      const id = streamId('w');
      const commandId = streamId('cmd');
      let started!: () => void;
      const firstStarted = new Promise<void>((resolve) => {
        started = resolve;
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const failing = log.runOnce(commandId, async (unit) => {
        await unit.append(id, NO_STREAM, [note('first')]);
        started();
        await gate;
        throw new Error('domain says no');
      });
      await firstStarted;
      const waiting = log.runOnce(commandId, async (unit) => {
        await unit.append(id, 'any', [note('second')]);
        return 'second';
      });
      release();
      await expect(failing).rejects.toThrow('domain says no');
      await expect(waiting).resolves.toMatchObject({ duplicate: false, result: 'second' });
      expect(await log.runOnce(commandId, async () => 'third')).toMatchObject({
        duplicate: true,
        result: 'second',
      });
      const texts = (await store.load(id)).map((event) => (event.payload as { text: string }).text);
      // In a transactional log the failed run's append rolled back; in memory it stays (documented).
      expect(texts).toEqual(options.transactional ? ['second'] : ['first', 'second']);
    });

    it('expired records count as absent and are purged by purgeExpired()', async () => {
      // purgeExpired counts every expired record of the log's storage, and a database table may
      // hold records of earlier runs. This test's clock runs in 2001, a month later per run, so
      // no record of another test expires within its window, and a first purge clears earlier runs.
      const clock = manualClock(Date.UTC(2001, 0, 1) + ++purgeRuns * 30 * 24 * HOUR_MS);
      const { log } = await create({ ttlHours: 2, clock: clock.now });
      await log.purgeExpired();
      const old = streamId('cmd-old');
      const young = streamId('cmd-new');
      await log.runOnce(old, async () => 1);
      clock.advanceHours(1);
      await log.runOnce(young, async () => 2);
      expect(await log.purgeExpired()).toBe(0);
      clock.advanceHours(1);
      // `old` is exactly 2 hours old: expired. `young` is 1 hour old: alive.
      expect(await log.find(old)).toBeUndefined();
      expect(await log.find(young)).toMatchObject({ result: 2 });
      expect(await log.purgeExpired()).toBe(1);
      expect(await log.purgeExpired()).toBe(0);
      expect(await log.find(young)).toMatchObject({ result: 2 });
      expect(await log.runOnce(old, async () => 'again')).toMatchObject({
        duplicate: false,
        result: 'again',
      });
    });

    it('an expired record that was not purged yet does not block the command', async () => {
      const clock = manualClock();
      const { log } = await create({ ttlHours: 0.5, clock: clock.now });
      const commandId = streamId('cmd');
      await log.runOnce(commandId, async () => 'first');
      clock.advanceHours(0.5);
      expect(await log.runOnce(commandId, async () => 'second')).toMatchObject({
        duplicate: false,
        result: 'second',
      });
      expect(await log.find(commandId)).toMatchObject({ result: 'second' });
    });

    it('rejects a result that is not JSON, recording nothing', async () => {
      const { log } = await create({});
      const commandId = streamId('cmd-big');
      const error = await log.runOnce(commandId, async () => ({ n: 1n })).catch((caught: unknown) => caught);
      expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
      expect((error as Error).message).toContain(commandId);
      expect(await log.find(commandId)).toBeUndefined();
    });

    it('rejects bad command ids, a missing work function and a bad ttlHours', async () => {
      const { log } = await create({});
      await expect(log.runOnce('', async () => 1)).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(log.runOnce(42 as never, async () => 1)).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(log.runOnce('x'.repeat(513), async () => 1)).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(log.runOnce(streamId('cmd'), 'nope' as never)).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(log.find('')).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      for (const ttlHours of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(create({ ttlHours })).rejects.toSatisfy((error: unknown) =>
          isAnnalsError(error, ErrorCode.InvalidArgument),
        );
      }
    });
  });
}
