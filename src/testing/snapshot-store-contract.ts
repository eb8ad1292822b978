import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, isAnnalsError, type Snapshot, type SnapshotStore } from '../core.js';

/**
 * How the snapshot-store contract suite gets a store to test.
 *
 * @category Testing
 */
export interface SnapshotStoreContractOptions {
  /**
   * Creates the store under test; called by each test. It may hold other data: aggregate ids are
   * unique per run.
   */
  readonly createStore: () => SnapshotStore | Promise<SnapshotStore>;
  /**
   * Cleans up after the suite (closes pools, for example).
   * @defaultValue nothing
   */
  readonly dispose?: () => void | Promise<void>;
}

let sequence = 0;
const unique = (label: string) => `${label}-${process.pid}-${++sequence}-${Date.now()}`;

const snapshotOf = (aggregateId: string, overrides: Partial<Snapshot> = {}): Snapshot => ({
  aggregateId,
  aggregateType: 'Wallet',
  version: 3,
  schemaVersion: 1,
  state: { owner: 'ada', balance: 2, tags: ['a', 'b'], nested: { ok: true } },
  createdAt: new Date(Date.UTC(2026, 0, 1)),
  ...overrides,
});

/**
 * Defines (with vitest) the tests every {@link SnapshotStore} must pass: one snapshot per
 * aggregate, replaced by each save; states kept as JSON; a delete; bad snapshots and ids rejected
 * with `InvalidArgumentError`. Aggregate ids are unique per run, so one database can serve
 * several runs.
 *
 * @example
 * ```ts
 * import { InMemorySnapshotStore } from 'annals';
 * import { describeSnapshotStoreContract } from 'annals/testing';
 *
 * describeSnapshotStoreContract('InMemorySnapshotStore', {
 *   createStore: () => new InMemorySnapshotStore(),
 * });
 * ```
 *
 * @category Testing
 */
export function describeSnapshotStoreContract(name: string, options: SnapshotStoreContractOptions): void {
  const create = async () => options.createStore();
  describe(`${name}: SnapshotStore contract`, () => {
    if (options.dispose) afterAll(options.dispose);

    it('keeps one snapshot per aggregate, replaced by each save, whatever its version', async () => {
      const store = await create();
      const id = unique('w');
      expect(await store.load(id)).toBeUndefined();
      await store.save(snapshotOf(id));
      expect(await store.load(id)).toEqual(snapshotOf(id));
      await store.save(snapshotOf(id, { version: 7, schemaVersion: 2, state: { v: 7 } }));
      expect(await store.load(id)).toMatchObject({ version: 7, schemaVersion: 2, state: { v: 7 } });
      await store.save(snapshotOf(id, { version: 2, state: { v: 2 } }));
      expect(await store.load(id)).toMatchObject({ version: 2, state: { v: 2 } });
      expect(await store.load(unique('other'))).toBeUndefined();
    });

    it('stores a copy: later changes to the saved or loaded state do not leak', async () => {
      const store = await create();
      const id = unique('w');
      const state = { owner: 'ada', balance: 2 };
      await store.save(snapshotOf(id, { state }));
      state.balance = 99;
      const loaded = await store.load(id);
      expect(loaded?.state).toEqual({ owner: 'ada', balance: 2 });
      (loaded?.state as { balance: number }).balance = 7;
      expect((await store.load(id))?.state).toEqual({ owner: 'ada', balance: 2 });
    });

    it('delete removes the snapshot; deleting a missing one is fine', async () => {
      const store = await create();
      const id = unique('w');
      await store.save(snapshotOf(id));
      await store.delete(id);
      expect(await store.load(id)).toBeUndefined();
      await expect(store.delete(id)).resolves.toBeUndefined();
    });

    it('rejects malformed snapshots and states that are not JSON, keeping the previous one', async () => {
      const store = await create();
      const id = unique('w');
      await store.save(snapshotOf(id));
      for (const bad of [
        snapshotOf(id, { version: 0 }),
        snapshotOf(id, { schemaVersion: 1.5 }),
        snapshotOf('', {}),
        snapshotOf(id, { aggregateType: '' }),
        snapshotOf(id, { createdAt: new Date(Number.NaN) }),
        snapshotOf(id, { state: { big: 1n } }),
        snapshotOf(id, { state: undefined }),
      ]) {
        await expect(store.save(bad)).rejects.toSatisfy((error: unknown) =>
          isAnnalsError(error, ErrorCode.InvalidArgument),
        );
      }
      expect(await store.load(id)).toEqual(snapshotOf(id));
      await expect(store.load('')).rejects.toSatisfy((error: unknown) =>
        isAnnalsError(error, ErrorCode.InvalidArgument),
      );
    });
  });
}
