import { InMemoryCommandLog, InMemoryEventStore } from 'annals';
import { describeCommandLogContract } from 'annals/testing';
import { describe, expect, it } from 'vitest';

describeCommandLogContract('InMemoryCommandLog', {
  createLog: ({ registry, ...options }) => {
    const store = new InMemoryEventStore({ registry });
    return { log: new InMemoryCommandLog({ store, ...options }), store };
  },
});

describe('InMemoryCommandLog', () => {
  it('needs a store to hand to the work', () => {
    expect(() => new InMemoryCommandLog({} as never)).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
  });
});
