import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  isAnnalsError,
  LOG_START,
  type LogPosition,
  type NewDeadLetter,
  type ProjectionLease,
  type ProjectionStore,
  type StoredEvent,
} from '../core.js';

/**
 * How the projection-store contract suite gets a store, and reads and writes its read model.
 *
 * @category Testing
 */
export interface ProjectionStoreContractOptions<TContext> {
  /**
   * Creates the store under test, once for the suite. It may hold other data: the suite uses
   * projection names and markers of its own.
   */
  readonly createStore: () => ProjectionStore<TContext> | Promise<ProjectionStore<TContext>>;
  /**
   * Cleans up after the suite.
   * @defaultValue nothing
   */
  readonly disposeStore?: (store: ProjectionStore<TContext>) => void | Promise<void>;
  /** Writes `marker` into the read model through a unit of work's context (an insert, a push). */
  readonly writeMarker: (context: TContext, marker: string) => void | Promise<void>;
  /** Reads the markers the read model holds after commits (outside any unit of work). */
  readonly readMarkers: (store: ProjectionStore<TContext>) => readonly string[] | Promise<readonly string[]>;
  /**
   * The store fences its leases ({@link ProjectionLease.fence}); `false` skips the fence tests,
   * for stores whose leases carry no fence.
   * @defaultValue true
   */
  readonly fencedLeases?: boolean;
}

/**
 * Defines (with vitest) the tests every {@link ProjectionStore} must pass: checkpoints that start
 * at `LOG_START` and move only by compare-and-set, units of work that commit the read model's
 * writes, the checkpoint and dead letters together or not at all, resets, dead letters,
 * exclusive leases, and lease fences: each new holder's fence is greater, is given out only after
 * a unit of work that saved under the old one has ended, and refuses saves under older fences.
 *
 * @example
 * ```ts
 * describeProjectionStoreContract('InMemoryProjectionStore', {
 *   createStore: () => new InMemoryProjectionStore({ initialState: { markers: [] as string[] } }),
 *   writeMarker: (state, marker) => { state.markers.push(marker); },
 *   readMarkers: (store) => (store as InMemoryProjectionStore<{ markers: string[] }>).state.markers,
 * });
 * ```
 *
 * @category Testing
 */
export function describeProjectionStoreContract<TContext>(
  name: string,
  options: ProjectionStoreContractOptions<TContext>,
): void {
  describe(`ProjectionStore contract: ${name}`, () => {
    let created: ProjectionStore<TContext> | undefined;
    const run = Math.random().toString(36).slice(2, 8);
    let counter = 0;
    const unique = (label: string) => `contract-${run}-${label}-${++counter}`;
    const store = () => {
      if (!created) throw new Error('the projection store under test was not created');
      return created;
    };
    const markers = async () => [...(await options.readMarkers(store()))];

    beforeAll(async () => {
      created = await options.createStore();
    });
    afterAll(async () => {
      if (created) await options.disposeStore?.(created);
    });

    it('starts every projection at LOG_START, without timestamps', async () => {
      const checkpoint = await store().loadCheckpoint(unique('fresh'));
      expect(checkpoint.position).toEqual(LOG_START);
      expect(checkpoint.lastEventTimestamp).toBeUndefined();
      expect(checkpoint.updatedAt).toBeUndefined();
    });

    it('rejects invalid projection names with InvalidArgumentError', async () => {
      const error = await store()
        .loadCheckpoint('not a valid name!')
        .catch((caught: unknown) => caught);
      expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    });

    it("commits the context's writes, the checkpoint and a dead letter together", async () => {
      const projection = unique('commit');
      const marker = unique('marker');
      const event = sampleEvent(3n, 7n);
      const result = await store().transaction(async (transaction) => {
        await options.writeMarker(transaction.context, marker);
        const saved = await transaction.saveCheckpoint(projection, checkpointUpdate(LOG_START, event));
        const id = await transaction.addDeadLetter(deadLetter(projection, event));
        return { saved, id };
      });
      expect(result.saved).toBe(true);
      expect(await markers()).toContain(marker);
      const checkpoint = await store().loadCheckpoint(projection);
      expect(checkpoint.position).toEqual({ transactionId: 3n, globalPosition: 7n });
      expect(checkpoint.lastEventTimestamp?.getTime()).toBe(event.timestamp.getTime());
      expect(checkpoint.updatedAt).toBeInstanceOf(Date);
      expect((await store().getDeadLetter(result.id))?.projection).toBe(projection);
    });

    it('keeps nothing of a unit of work that throws, and rethrows its error', async () => {
      const projection = unique('rollback');
      const marker = unique('marker');
      const failure = new Error('handler failed');
      const error = await store()
        .transaction(async (transaction) => {
          await options.writeMarker(transaction.context, marker);
          await transaction.saveCheckpoint(projection, checkpointUpdate(LOG_START, sampleEvent(1n, 1n)));
          await transaction.addDeadLetter(deadLetter(projection, sampleEvent(1n, 1n)));
          throw failure;
        })
        .catch((caught: unknown) => caught);
      expect(error).toBe(failure);
      expect(await markers()).not.toContain(marker);
      expect((await store().loadCheckpoint(projection)).position).toEqual(LOG_START);
      expect(await store().countDeadLetters(projection)).toBe(0);
    });

    it('saves a checkpoint only on top of the expected one', async () => {
      const projection = unique('cas');
      const first = sampleEvent(2n, 5n);
      const second = sampleEvent(4n, 9n);
      const save = (expected: LogPosition, event: StoredEvent) =>
        store().transaction((transaction) =>
          transaction.saveCheckpoint(projection, checkpointUpdate(expected, event)),
        );
      expect(await save({ transactionId: 1n, globalPosition: 1n }, first)).toBe(false);
      expect(await save(LOG_START, first)).toBe(true);
      expect(await save(LOG_START, second)).toBe(false);
      expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(first));
      expect(await save(positionOf(first), second)).toBe(true);
      expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(second));
    });

    it('lets exactly one of two racing units of work build on a checkpoint', async () => {
      const projection = unique('race');
      const events = [sampleEvent(5n, 10n), sampleEvent(5n, 11n)];
      const results = await Promise.all(
        events.map((event) =>
          store().transaction((transaction) =>
            transaction.saveCheckpoint(projection, checkpointUpdate(LOG_START, event)),
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = events[results.indexOf(true)]!;
      expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(winner));
    });

    it("resets a checkpoint and drops that projection's dead letters only", async () => {
      const projection = unique('reset');
      const other = unique('other');
      const event = sampleEvent(6n, 12n);
      await store().transaction(async (transaction) => {
        await transaction.saveCheckpoint(projection, checkpointUpdate(LOG_START, event));
        await transaction.saveCheckpoint(other, checkpointUpdate(LOG_START, event));
        await transaction.addDeadLetter(deadLetter(projection, event));
        await transaction.addDeadLetter(deadLetter(other, event));
      });
      expect(await store().transaction((transaction) => transaction.resetCheckpoint(projection))).toBe(true);
      expect((await store().loadCheckpoint(projection)).position).toEqual(LOG_START);
      expect(await store().countDeadLetters(projection)).toBe(0);
      expect((await store().loadCheckpoint(other)).position).toEqual(positionOf(event));
      expect(await store().countDeadLetters(other)).toBe(1);
      const restarted = await store().transaction((transaction) =>
        transaction.saveCheckpoint(projection, checkpointUpdate(LOG_START, event)),
      );
      expect(restarted).toBe(true);
    });

    it('keeps dead letters with their event intact, in order, and removes each once', async () => {
      const projection = unique('dead');
      const events = [sampleEvent(7n, 20n), sampleEvent(7n, 21n), sampleEvent(8n, 22n)];
      const ids = await store().transaction(async (transaction) => {
        const added: string[] = [];
        for (const event of events)
          added.push(await transaction.addDeadLetter(deadLetter(projection, event)));
        return added;
      });
      expect(new Set(ids).size).toBe(3);
      expect(await store().countDeadLetters(projection)).toBe(3);
      const listed = await store().listDeadLetters(projection);
      expect(listed.map((letter) => letter.id)).toEqual(ids);
      const letter = listed[0]!;
      expect(letter.projection).toBe(projection);
      expect(letter.attempts).toBe(6);
      expect(letter.failedAt).toBeInstanceOf(Date);
      expect(letter.error).toEqual({ name: 'Error', message: 'boom', stack: 'Error: boom\n    at handler' });
      expect(letter.event.globalPosition).toBe(20n);
      expect(letter.event.transactionId).toBe(7n);
      expect(letter.event.timestamp.getTime()).toBe(events[0]!.timestamp.getTime());
      expect(letter.event.payload).toEqual(events[0]!.payload);
      expect(letter.event.metadata).toEqual(events[0]!.metadata);
      expect(letter.event.eventId).toBe(events[0]!.eventId);
      const page = await store().listDeadLetters(projection, { limit: 1, offset: 1 });
      expect(page.map((each) => each.id)).toEqual([ids[1]]);
      expect(await store().transaction((transaction) => transaction.removeDeadLetter(ids[1]!))).toBe(true);
      expect(await store().transaction((transaction) => transaction.removeDeadLetter(ids[1]!))).toBe(false);
      expect(await store().getDeadLetter(ids[1]!)).toBeUndefined();
      expect(await store().countDeadLetters(projection)).toBe(2);
    });

    it('gives a lease to one holder at a time, and again once released', async () => {
      const projection = unique('lease');
      const first = await store().tryAcquireLease(projection, 'owner-a');
      expect(first?.owner).toBe('owner-a');
      expect(first?.projection).toBe(projection);
      expect(await store().tryAcquireLease(projection, 'owner-b')).toBeUndefined();
      expect(await store().tryAcquireLease(projection, 'owner-a')).toBeUndefined();
      const elsewhere = await store().tryAcquireLease(unique('lease-other'), 'owner-b');
      expect(elsewhere).toBeDefined();
      expect(await first!.renew()).toBe(true);
      await first!.release();
      await first!.release();
      expect(await first!.renew()).toBe(false);
      const second = await store().tryAcquireLease(projection, 'owner-b');
      expect(second?.owner).toBe('owner-b');
      await second!.release();
      await elsewhere!.release();
    });

    const fenced = options.fencedLeases ?? true;

    it.runIf(fenced)('gives each new holder of a lease a greater fence', async () => {
      const projection = unique('fence');
      const fences: bigint[] = [];
      for (const owner of ['owner-a', 'owner-b', 'owner-a']) {
        const lease = await store().tryAcquireLease(projection, owner);
        expect(typeof lease?.fence).toBe('bigint');
        fences.push(lease!.fence!);
        await lease!.release();
      }
      expect(fences[1]! > fences[0]!).toBe(true);
      expect(fences[2]! > fences[1]!).toBe(true);
      const other = await store().tryAcquireLease(unique('fence-other'), 'owner-a');
      expect(typeof other?.fence).toBe('bigint');
      await other!.release();
    });

    it.runIf(fenced)('refuses a checkpoint saved under the fence of an earlier holder', async () => {
      const projection = unique('fenced-save');
      const events = [sampleEvent(9n, 30n), sampleEvent(9n, 31n), sampleEvent(10n, 32n)];
      const save = (expected: LogPosition, event: StoredEvent, fence: bigint | undefined) =>
        store().transaction((transaction) =>
          transaction.saveCheckpoint(projection, { ...checkpointUpdate(expected, event), fence }),
        );
      const first = await store().tryAcquireLease(projection, 'owner-a');
      expect((await store().loadCheckpoint(projection)).position).toEqual(LOG_START);
      expect(await save(LOG_START, events[0]!, first!.fence)).toBe(true);
      await first!.release();
      const second = await store().tryAcquireLease(projection, 'owner-b');
      expect(await save(positionOf(events[0]!), events[1]!, first!.fence)).toBe(false);
      expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(events[0]!));
      expect(await save(positionOf(events[0]!), events[1]!, second!.fence)).toBe(true);
      // A reset moves the checkpoint, not the fence.
      await store().transaction((transaction) => transaction.resetCheckpoint(projection));
      expect(await save(LOG_START, events[2]!, first!.fence)).toBe(false);
      expect(await save(LOG_START, events[2]!, second!.fence)).toBe(true);
      expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(events[2]!));
      await second!.release();
    });

    it.runIf(fenced)(
      'refuses a reset under the fence of an earlier holder, and keeps its dead letters',
      async () => {
        const projection = unique('fenced-reset');
        const event = sampleEvent(11n, 40n);
        const first = await store().tryAcquireLease(projection, 'owner-a');
        await store().transaction(async (transaction) => {
          await transaction.saveCheckpoint(projection, {
            ...checkpointUpdate(LOG_START, event),
            fence: first!.fence,
          });
          await transaction.addDeadLetter(deadLetter(projection, event));
        });
        await first!.release();
        const second = await store().tryAcquireLease(projection, 'owner-b');
        const reset = (fence: bigint | undefined) =>
          store().transaction((transaction) => transaction.resetCheckpoint(projection, { fence }));
        expect(await reset(first!.fence)).toBe(false);
        expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(event));
        expect(await store().countDeadLetters(projection)).toBe(1);
        expect(await reset(second!.fence)).toBe(true);
        expect((await store().loadCheckpoint(projection)).position).toEqual(LOG_START);
        expect(await store().countDeadLetters(projection)).toBe(0);
        await second!.release();
      },
    );

    it.runIf(fenced)(
      'gives out a new fence only after a unit of work that saved under the old one has ended',
      async () => {
        const projection = unique('fence-wait');
        const event = sampleEvent(11n, 40n);
        const first = await store().tryAcquireLease(projection, 'owner-a');
        let open!: () => void;
        const gate = new Promise<void>((resolve) => {
          open = resolve;
        });
        let saved: boolean | undefined;
        const unit = store().transaction(async (transaction) => {
          saved = await transaction.saveCheckpoint(projection, {
            ...checkpointUpdate(LOG_START, event),
            fence: first!.fence,
          });
          await gate;
        });
        await until(() => saved !== undefined);
        await first!.release(); // say the lease was lost, with the unit of work still open
        const acquiring = store().tryAcquireLease(projection, 'owner-b');
        setTimeout(open, 50);
        const second = await acquiring;
        // Where the new holder starts: after the old holder's unit, which committed.
        expect((await store().loadCheckpoint(projection)).position).toEqual(positionOf(event));
        await unit;
        expect(saved).toBe(true);
        expect(second!.fence! > first!.fence!).toBe(true);
        await second!.release();
      },
    );
  });
}

/** Polls `condition` every few milliseconds until it holds (at most 10 s). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

let eventCounter = 0;

function sampleEvent(transactionId: bigint, globalPosition: bigint): StoredEvent {
  eventCounter += 1;
  return {
    eventId: `contract-event-${Math.random().toString(36).slice(2, 10)}-${eventCounter}`,
    aggregateId: `contract-aggregate-${eventCounter}`,
    aggregateType: 'ContractCart',
    type: 'ContractItemAdded',
    version: 1,
    schemaVersion: 1,
    timestamp: new Date(Date.UTC(2026, 0, 1, 12, 0, eventCounter % 60)),
    payload: { sku: `sku-${eventCounter}`, quantity: 2 },
    metadata: { correlationId: `correlation-${eventCounter}` },
    globalPosition,
    transactionId,
  };
}

function positionOf(event: StoredEvent): LogPosition {
  return { transactionId: event.transactionId, globalPosition: event.globalPosition };
}

function checkpointUpdate(expected: LogPosition, event: StoredEvent) {
  return { expected, position: positionOf(event), lastEventTimestamp: event.timestamp };
}

function deadLetter(projection: string, event: StoredEvent): NewDeadLetter {
  return {
    projection,
    event,
    error: { name: 'Error', message: 'boom', stack: 'Error: boom\n    at handler' },
    attempts: 6,
    failedAt: new Date(),
  };
}
