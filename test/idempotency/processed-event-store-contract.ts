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
      expect(await processed.recordOnce(emails, eventId, handle(emails))).toEqual({
        duplicate: false,
        result: 1,
      });
      expect(await processed.recordOnce(emails, eventId, handle(emails))).toEqual({
        duplicate: true,
        result: undefined,
      });
      expect(await processed.recordOnce(billing, eventId, handle(billing))).toEqual({
        duplicate: false,
        result: 2,
      });
      expect(effects).toEqual([emails, billing]);
      expect(await processed.hasProcessed(emails, eventId)).toBe(true);
      expect(await processed.hasProcessed(emails, unique('evt'))).toBe(false);
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
      await expect(processed.recordOnce(consumer, eventId, handler)).rejects.toThrow('smtp down');
      expect(await processed.hasProcessed(consumer, eventId)).toBe(false);
      expect(await processed.recordOnce(consumer, eventId, handler)).toEqual({
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
          processed.recordOnce(consumer, eventId, async () => {
            runs++;
            await new Promise((resolve) => setImmediate(resolve));
          }),
        ),
      );
      expect(runs).toBe(1);
      expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    });

    it('markProcessed records once and says whether it did', async () => {
      const processed = await create();
      const [consumer, eventId] = [unique('audit'), unique('evt')];
      expect(await processed.markProcessed(consumer, eventId)).toBe(true);
      expect(await processed.markProcessed(consumer, eventId)).toBe(false);
      let ran = false;
      const result = await processed.recordOnce(consumer, eventId, async () => {
        ran = true;
      });
      expect(result.duplicate).toBe(true);
      expect(ran).toBe(false);
    });

    it('consumer names and event ids that contain separators do not collide', async () => {
      const processed = await create();
      const prefix = unique('a');
      await processed.markProcessed(`${prefix}:b`, 'c');
      expect(await processed.hasProcessed(prefix, 'b:c')).toBe(false);
      expect((await processed.recordOnce(prefix, 'b:c', async () => 1)).duplicate).toBe(false);
    });

    it('rejects empty or non-string consumers and event ids, and a missing handler', async () => {
      const processed = await create();
      await expect(processed.recordOnce('', 'evt', async () => 1)).rejects.toSatisfy(isInvalidArgumentError);
      await expect(processed.markProcessed('c', '')).rejects.toSatisfy(isInvalidArgumentError);
      await expect(processed.hasProcessed(1 as never, 'evt')).rejects.toSatisfy(isInvalidArgumentError);
      await expect(processed.recordOnce('c', 'evt', undefined as never)).rejects.toSatisfy(
        isInvalidArgumentError,
      );
    });
  });
}
