import { InMemoryCommandLog, InMemoryEventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { describeCommandLogContract } from './command-log-contract.js';

describeCommandLogContract('InMemoryCommandLog', async ({ registry, ...options }) => {
  const store = new InMemoryEventStore({ registry });
  return { log: new InMemoryCommandLog({ store, ...options }), store };
});

describe('InMemoryCommandLog', () => {
  it('needs a store to hand to the work', () => {
    expect(() => new InMemoryCommandLog({} as never)).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
  });
});
