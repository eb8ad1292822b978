import { afterAll, beforeAll, describe } from 'vitest';
import type { EventRegistry, IEventStore } from '../../core.js';
import { appendContract } from './append-contract.js';
import { type ContractContext, contractRegistry } from './fixtures.js';
import { inputContract } from './input-contract.js';
import { logContract } from './log-contract.js';

/**
 * How the contract suite gets a store to test.
 *
 * @category Testing
 */
export interface EventStoreContractOptions {
  /**
   * Creates the store under test, with the given registry (it holds the suite's event types).
   * Called once for the suite. The store may hold other data: the suite uses stream ids of its
   * own and measures the global log relative to its head.
   */
  readonly createStore: (registry: EventRegistry) => IEventStore | Promise<IEventStore>;
  /**
   * Cleans up after the suite.
   * @defaultValue calls `store.close()`
   */
  readonly disposeStore?: (store: IEventStore) => void | Promise<void>;
}

/**
 * Defines (with vitest's `describe`/`it`) the tests that every {@link IEventStore} must pass:
 * ordering, the four expected-version modes and their conflict errors, idempotent appends by
 * event id (retries of a whole stored append or of a prefix of it), validation that writes
 * nothing, input every store rejects alike (ids and text PostgreSQL cannot store exactly, malformed
 * positions and limits), serialisation edge cases, paging through the global log (also by event
 * type), head and counts, notifications and racing writers.
 *
 * @example
 * ```ts
 * // my-store.test.ts
 * import { describeEventStoreContract } from 'annals/testing';
 * describeEventStoreContract('MyStore', { createStore: (registry) => new MyStore({ registry }) });
 * ```
 *
 * @category Testing
 */
export function describeEventStoreContract(name: string, options: EventStoreContractOptions): void {
  describe(`IEventStore contract: ${name}`, () => {
    let store: IEventStore | undefined;
    const run = Math.random().toString(36).slice(2, 8);
    let counter = 0;
    const ctx: ContractContext = {
      store: () => {
        if (!store) throw new Error('the store under test was not created');
        return store;
      },
      streamId: (label) => `contract-${run}-${label}-${++counter}`,
    };
    beforeAll(async () => {
      store = await options.createStore(contractRegistry());
    });
    afterAll(async () => {
      if (!store) return;
      await (options.disposeStore ? options.disposeStore(store) : store.close());
    });
    appendContract(ctx);
    logContract(ctx);
    inputContract(ctx);
  });
}
