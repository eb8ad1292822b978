import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isAnnalsError, type ProcessedEventStore } from '../core.js';

/**
 * How the processed-event-store contract suite gets a store to test.
 *
 * @category Testing
 */
export interface ProcessedEventStoreContractOptions<TUnit> {
  /**
   * Creates the store under test, once for the suite. It may hold other data: consumer names and
   * event ids are unique per run.
   */
  readonly createStore: () => ProcessedEventStore<TUnit> | Promise<ProcessedEventStore<TUnit>>;
  /**
   * Cleans up after the suite (closes pools, for example).
   * @defaultValue nothing
   */
  readonly disposeStore?: (store: ProcessedEventStore<TUnit>) => void | Promise<void>;
}

let sequence = 0;
const unique = (label: string) => `${label}-${process.pid}-${++sequence}-${Date.now()}`;

/**
 * Defines (with vitest) the tests every {@link ProcessedEventStore} must pass: `runOnce` runs a
 * handler once per consumer and event and answers a repeat as a duplicate with the first run's
 * record (consumers are independent); a failing handler records nothing, so a redelivery runs
 * again; concurrent deliveries run the handler once; `record()` records once and says whether
 * it did; `find()` returns the record or `undefined`; consumer names and event ids with
 * separators do not collide; empty or non-string ids and a missing handler are rejected with
 * `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * import { InMemoryProcessedEventStore } from 'annals';
 * import { describeProcessedEventStoreContract } from 'annals/testing';
 *
 * describeProcessedEventStoreContract('InMemoryProcessedEventStore', {
 *   createStore: () => new InMemoryProcessedEventStore(),
 * });
 * ```
 *
 * @category Testing
 */
export function describeProcessedEventStoreContract<TUnit>(
  name: string,
  options: ProcessedEventStoreContractOptions<TUnit>,
): void {
  describe(`${name}: ProcessedEventStore contract`, () => {
    let created: ProcessedEventStore<TUnit> | undefined;
    const store = () => {
      if (!created) throw new Error('the processed-event store under test was not created');
      return created;
    };

    beforeAll(async () => {
      created = await options.createStore();
    });
    afterAll(async () => {
      if (created) await options.disposeStore?.(created);
    });

    it('runs a handler once per consumer and event; other consumers are independent', async () => {
      const processed = store();
      const [emails, billing, eventId] = [unique('emails'), unique('billing'), unique('evt')];
      const effects: string[] = [];
      const handle = (consumer: string) => async () => {
        effects.push(consumer);
        return effects.length;
      };
      const first = await processed.runOnce(emails, eventId, handle(emails));
      expect(first).toMatchObject({ duplicate: false, result: 1, record: { consumer: emails, eventId } });
      expect(first.record.processedAt).toBeInstanceOf(Date);
      const repeat = await processed.runOnce(emails, eventId, handle(emails));
      expect(repeat).toMatchObject({ duplicate: true, result: undefined });
      expect(repeat.record).toEqual(first.record);
      expect(await processed.runOnce(billing, eventId, handle(billing))).toMatchObject({
        duplicate: false,
        result: 2,
        record: { consumer: billing, eventId },
      });
      expect(effects).toEqual([emails, billing]);
      expect(await processed.find(emails, eventId)).toEqual(first.record);
      expect(await processed.find(emails, unique('evt'))).toBeUndefined();
    });

    it('a failing handler records nothing, so the redelivered event runs again', async () => {
      const processed = store();
      const [consumer, eventId] = [unique('emails'), unique('evt')];
      let attempts = 0;
      const handler = async () => {
        attempts++;
        if (attempts === 1) throw new Error('smtp down');
        return 'sent';
      };
      await expect(processed.runOnce(consumer, eventId, handler)).rejects.toThrow('smtp down');
      expect(await processed.find(consumer, eventId)).toBeUndefined();
      expect(await processed.runOnce(consumer, eventId, handler)).toMatchObject({
        duplicate: false,
        result: 'sent',
      });
      expect(attempts).toBe(2);
    });

    it('concurrent deliveries of one event to one consumer run the handler once', async () => {
      const processed = store();
      const [consumer, eventId] = [unique('projection'), unique('evt')];
      let runs = 0;
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          processed.runOnce(consumer, eventId, async () => {
            runs++;
            await new Promise((resolve) => setImmediate(resolve));
          }),
        ),
      );
      expect(runs).toBe(1);
      expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    });

    it('record() records once and says whether it did', async () => {
      const processed = store();
      const [consumer, eventId] = [unique('audit'), unique('evt')];
      expect(await processed.record(consumer, eventId)).toBe(true);
      expect(await processed.record(consumer, eventId)).toBe(false);
      expect(await processed.find(consumer, eventId)).toMatchObject({ consumer, eventId });
      let ran = false;
      const result = await processed.runOnce(consumer, eventId, async () => {
        ran = true;
      });
      expect(result.duplicate).toBe(true);
      expect(ran).toBe(false);
    });

    it('consumer names and event ids that contain separators do not collide', async () => {
      const processed = store();
      const prefix = unique('a');
      await processed.record(`${prefix}:b`, 'c');
      expect(await processed.find(prefix, 'b:c')).toBeUndefined();
      expect((await processed.runOnce(prefix, 'b:c', async () => 1)).duplicate).toBe(false);
    });

    it('rejects empty or non-string consumers and event ids, and a missing handler', async () => {
      const processed = store();
      await expect(processed.runOnce('', 'evt', async () => 1)).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(processed.record('c', '')).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(processed.find(1 as never, 'evt')).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
      await expect(processed.runOnce('c', 'evt', undefined as never)).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
    });
  });
}
