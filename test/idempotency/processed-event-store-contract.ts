import { isInvalidArgumentError, type ProcessedEventStore } from 'annals';
import { afterAll, describe, expect, it } from 'vitest';

let sequence = 0;
const unique = (label: string) => `${label}-${process.pid}-${++sequence}-${Date.now()}`;

/**
 * The {@link ProcessedEventStore} contract: every implementation (in memory, PostgreSQL) runs it.
 * Consumer names and event ids are unique per run, so one database can serve several runs.
 */
export function describeProcessedEventStoreContract(
  name: string,
  create: () => Promise<ProcessedEventStore<any>>,
  options: { readonly close?: () => Promise<void> } = {},
): void {
  describe(`${name}: ProcessedEventStore contract`, () => {
    if (options.close) afterAll(options.close);

    it('runs a handler once per consumer and event; other consumers are independent', async () => {
      const processed = await create();
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
      const processed = await create();
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
      const processed = await create();
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
      const processed = await create();
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
      const processed = await create();
      const prefix = unique('a');
      await processed.record(`${prefix}:b`, 'c');
      expect(await processed.find(prefix, 'b:c')).toBeUndefined();
      expect((await processed.runOnce(prefix, 'b:c', async () => 1)).duplicate).toBe(false);
    });

    it('rejects empty or non-string consumers and event ids, and a missing handler', async () => {
      const processed = await create();
      await expect(processed.runOnce('', 'evt', async () => 1)).rejects.toSatisfy(isInvalidArgumentError);
      await expect(processed.record('c', '')).rejects.toSatisfy(isInvalidArgumentError);
      await expect(processed.find(1 as never, 'evt')).rejects.toSatisfy(isInvalidArgumentError);
      await expect(processed.runOnce('c', 'evt', undefined as never)).rejects.toSatisfy(
        isInvalidArgumentError,
      );
    });
  });
}
