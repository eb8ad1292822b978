import { InMemoryProcessedEventStore, isInvalidArgumentError } from 'annals';
import { describe, expect, it } from 'vitest';

describe('InMemoryProcessedEventStore', () => {
  it('runs a handler once per consumer and event; other consumers are independent', async () => {
    const processed = new InMemoryProcessedEventStore();
    const effects: string[] = [];
    const handle = (consumer: string) => async () => {
      effects.push(consumer);
      return effects.length;
    };
    expect(await processed.recordOnce('emails', 'evt-1', handle('emails'))).toEqual({
      duplicate: false,
      result: 1,
    });
    expect(await processed.recordOnce('emails', 'evt-1', handle('emails'))).toEqual({
      duplicate: true,
      result: undefined,
    });
    expect(await processed.recordOnce('billing', 'evt-1', handle('billing'))).toEqual({
      duplicate: false,
      result: 2,
    });
    expect(effects).toEqual(['emails', 'billing']);
    expect(await processed.hasProcessed('emails', 'evt-1')).toBe(true);
    expect(await processed.hasProcessed('emails', 'evt-2')).toBe(false);
  });

  it('a failing handler records nothing, so the redelivered event runs again (at-least-once)', async () => {
    const processed = new InMemoryProcessedEventStore();
    let attempts = 0;
    const handler = async () => {
      attempts++;
      if (attempts === 1) throw new Error('smtp down');
      return 'sent';
    };
    await expect(processed.recordOnce('emails', 'evt-9', handler)).rejects.toThrow('smtp down');
    expect(await processed.hasProcessed('emails', 'evt-9')).toBe(false);
    expect(await processed.recordOnce('emails', 'evt-9', handler)).toEqual({
      duplicate: false,
      result: 'sent',
    });
    expect(attempts).toBe(2);
  });

  it('concurrent deliveries of one event to one consumer run the handler once', async () => {
    const processed = new InMemoryProcessedEventStore();
    let runs = 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        processed.recordOnce('projection', 'evt-3', async () => {
          runs++;
          await new Promise((resolve) => setImmediate(resolve));
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
  });

  it('markProcessed records once and says whether it did', async () => {
    const processed = new InMemoryProcessedEventStore();
    expect(await processed.markProcessed('audit', 'evt-4')).toBe(true);
    expect(await processed.markProcessed('audit', 'evt-4')).toBe(false);
    let ran = false;
    const result = await processed.recordOnce('audit', 'evt-4', async () => {
      ran = true;
    });
    expect(result.duplicate).toBe(true);
    expect(ran).toBe(false);
  });

  it('consumer names and event ids that contain separators do not collide', async () => {
    const processed = new InMemoryProcessedEventStore();
    await processed.markProcessed('a:b', 'c');
    expect(await processed.hasProcessed('a', 'b:c')).toBe(false);
    expect((await processed.recordOnce('a', 'b:c', async () => 1)).duplicate).toBe(false);
  });

  it('rejects empty or non-string consumers and event ids', async () => {
    const processed = new InMemoryProcessedEventStore();
    await expect(processed.recordOnce('', 'evt', async () => 1)).rejects.toSatisfy(isInvalidArgumentError);
    await expect(processed.markProcessed('c', '')).rejects.toSatisfy(isInvalidArgumentError);
    await expect(processed.hasProcessed(1 as never, 'evt')).rejects.toSatisfy(isInvalidArgumentError);
    await expect(processed.recordOnce('c', 'evt', undefined as never)).rejects.toSatisfy(
      isInvalidArgumentError,
    );
  });
});
