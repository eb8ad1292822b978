import {
  ErrorCode,
  EventRegistry,
  type IEventStore,
  isAnnalsError,
  LOG_START,
  logPositionOf,
  ProjectionHandlerError,
  ProjectionRunner,
  type ProjectionStore,
  type StoredEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import {
  CartItemAdded,
  CartOpened,
  type CartState,
  cartEvents,
  cartProjection,
  checkedOut,
  eventually,
  handledTypes,
  itemAdded,
  logEventIds,
  newEventStore,
  newProjectionStore,
  noted,
  opened,
  seedCarts,
  wrapStore,
} from './fixtures.js';

/** An event store that delegates to `inner`, except for `overrides`. */
function wrapEventStore(inner: IEventStore, overrides: Partial<IEventStore> = {}): IEventStore {
  return {
    append: (...args) => inner.append(...args),
    load: (...args) => inner.load(...args),
    streamVersion: (...args) => inner.streamVersion(...args),
    readAll: (...args) => inner.readAll(...args),
    head: () => inner.head(),
    countAfter: (...args) => inner.countAfter(...args),
    onAppended: (...args) => inner.onAppended(...args),
    close: () => inner.close(),
    ...overrides,
  };
}

/**
 * An event store whose first `lateReads` log reads do not show `from` and the events after it
 * yet (a commit shown a moment late); `reads()` counts the log reads.
 */
function showingLateFrom(inner: IEventStore, from: StoredEvent, lateReads: number) {
  let reads = 0;
  const eventStore = wrapEventStore(inner, {
    readAll: async (options) => {
      const page = await inner.readAll(options);
      if (++reads > lateReads) return page;
      const events = page.events.filter((event) => event.globalPosition < from.globalPosition);
      // A consistent page: `next` covers only what it returned.
      return {
        ...page,
        events,
        next: events.at(-1) ? logPositionOf(events.at(-1)!) : (options?.after ?? LOG_START),
        caughtUp: true,
      };
    },
  });
  return { eventStore, reads: () => reads };
}

/** Counts the units of work and the checkpoints saved through a store. */
function countingStore(inner: ProjectionStore<CartState>) {
  const counts = { transactions: 0, checkpoints: [] as bigint[] };
  const store = wrapStore(inner, {
    transaction: (work) =>
      inner.transaction((transaction) => {
        counts.transactions++;
        return work({
          ...transaction,
          saveCheckpoint: async (projection, update) => {
            const saved = await transaction.saveCheckpoint(projection, update);
            if (saved) counts.checkpoints.push(update.position.globalPosition);
            return saved;
          },
        });
      }),
  });
  return { store, counts };
}

describe('ProjectionRunner: batches and checkpoints', () => {
  it('processes the log in batches of batchSize, one unit of work and one checkpoint each', async () => {
    const eventStore = newEventStore();
    const memory = newProjectionStore();
    const { store, counts } = countingStore(memory);
    const ids = await seedCarts(eventStore, 10); // 30 events
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: store,
      projections: [cartProjection()],
      batchSize: 8,
    });
    await runner.catchUp();
    expect(memory.state.applied).toEqual(ids);
    expect(counts.checkpoints).toEqual([8n, 16n, 24n, 30n]);
    expect(counts.transactions).toBe(4);
    const checkpoint = await memory.loadCheckpoint('carts');
    expect(checkpoint.position.globalPosition).toBe(30n);
    expect(memory.state.carts['cart-3']).toEqual({
      customerId: 'customer-3',
      itemCount: 3,
      total: 10,
      status: 'open',
    });
  });

  it('skips events without a handler and still moves the checkpoint past them', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await eventStore.append('cart-1', 'no_stream', [opened('c'), noted('hello'), itemAdded('x')]);
    await eventStore.append('cart-1', 3, [noted('only a note')]);
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [cartProjection()] });
    await runner.catchUp();
    expect(projectionStore.state.applied).toEqual(await logEventIds(eventStore, handledTypes));
    expect(projectionStore.state.applied).toHaveLength(2);
    expect((await projectionStore.loadCheckpoint('carts')).position).toEqual(
      (await eventStore.head()).position,
    );
  });

  it('continues from the stored checkpoint in a new runner', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await seedCarts(eventStore, 3, 'first');
    await new ProjectionRunner({ eventStore, projectionStore, projections: [cartProjection()] }).catchUp();
    await seedCarts(eventStore, 2, 'second');
    await new ProjectionRunner({ eventStore, projectionStore, projections: [cartProjection()] }).catchUp();
    expect(projectionStore.state.applied).toEqual(await logEventIds(eventStore));
  });

  it('follows new appends once started, and catchUp() waits for them', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection()],
      pollIntervalMs: 60_000,
    });
    runner.start();
    await eventually(async () => (await runner.status('carts')).state === 'running');
    await seedCarts(eventStore, 4);
    // The poll interval is a minute: only the append notification can wake the runner.
    await runner.catchUp();
    expect(projectionStore.state.applied).toEqual(await logEventIds(eventStore));
    await eventStore.append('cart-0', 3, [checkedOut()]);
    await runner.catchUp();
    expect(projectionStore.state.carts['cart-0']?.status).toBe('checked-out');
    await runner.stop();
    expect((await runner.status('carts')).state).toBe('stopped');
  });

  it('stops gracefully: the batch in progress commits with its checkpoint', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await seedCarts(eventStore, 20); // 60 events
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached: () => void = () => {};
    const inBatch = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const projection = cartProjection({
      beforeHandler: (event) => {
        if (event.globalPosition === 5n) reached();
      },
    });
    const slowStore = wrapStore(projectionStore, {
      transaction: (work) =>
        projectionStore.transaction(async (transaction) => {
          const result = await work(transaction);
          if ((await projectionStore.loadCheckpoint('carts')).position.globalPosition === 0n) await gate;
          return result;
        }),
    });
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: slowStore,
      projections: [projection],
      batchSize: 10,
    });
    runner.start();
    await inBatch;
    const stopped = runner.stop();
    release();
    await stopped;
    const checkpoint = await projectionStore.loadCheckpoint('carts');
    expect(checkpoint.position.globalPosition).toBe(10n);
    expect(projectionStore.state.applied).toEqual((await logEventIds(eventStore)).slice(0, 10));
    expect(await projectionStore.tryAcquireLease('carts', 'someone-else')).toBeDefined();
  });

  it('rejects bad options and unknown projections with InvalidArgumentError', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const projections = [cartProjection()];
    for (const bad of [
      { batchSize: 0 },
      { batchSize: 1.5 },
      { pollIntervalMs: 0 },
      { maxRetryAttempts: -1 },
      { retryDelayMs: -5 },
      { leaseRetryMs: Number.NaN },
    ]) {
      expect(() => new ProjectionRunner({ eventStore, projectionStore, projections, ...bad })).toThrow(
        expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
      );
    }
    expect(
      () =>
        new ProjectionRunner({
          eventStore,
          projectionStore,
          projections: [cartProjection(), cartProjection()],
        }),
    ).toThrow(/listed twice/);
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections });
    const error = await runner.status('nope').catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
  });
});

describe('ProjectionRunner: failing handlers', () => {
  it('retries a handler that fails twice, then applies the event once', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const ids = await seedCarts(eventStore, 3);
    const flaky = ids[4]!;
    const attempts: number[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [
        cartProjection({
          beforeHandler: (event, info) => {
            if (event.eventId !== flaky) return;
            attempts.push(info.attempt);
            if (info.attempt <= 2) throw new Error(`flaky attempt ${info.attempt}`);
          },
        }),
      ],
      retryDelayMs: 1,
    });
    await runner.catchUp();
    expect(attempts).toEqual([1, 2, 3]);
    expect(projectionStore.state.applied).toEqual(ids);
    expect(await projectionStore.countDeadLetters('carts')).toBe(0);
    expect(projectionStore.state.carts['cart-1']?.itemCount).toBe(3);
  });

  it('parks an always-failing event as a dead letter and goes on', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const ids = await seedCarts(eventStore, 4);
    const poison = ids[7]!;
    const reported: string[] = [];
    let calls = 0;
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [
        cartProjection({
          beforeHandler: (event) => {
            if (event.eventId !== poison) return;
            calls++;
            throw new TypeError('cannot apply this one');
          },
        }),
      ],
      retryDelayMs: 1,
      maxRetryAttempts: 3,
      now: () => Date.UTC(2026, 5, 1),
      onError: (error) => reported.push(error.message),
    });
    await runner.catchUp();
    expect(calls).toBe(4);
    expect(projectionStore.state.applied).toEqual(ids.filter((id) => id !== poison));
    const letters = await runner.listDeadLetters('carts');
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter.event.eventId).toBe(poison);
    expect(letter.attempts).toBe(4);
    expect(letter.error.name).toBe('TypeError');
    expect(letter.error.message).toBe('cannot apply this one');
    expect(letter.error.stack).toContain('cannot apply this one');
    expect(letter.failedAt.getTime()).toBe(Date.UTC(2026, 5, 1));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toContain(poison);
    const status = await runner.status('carts');
    expect(status.deadLetters).toBe(1);
    expect(status.lagEvents).toBe(0n);
    expect(status.lastError?.message).toContain('failed after 4 attempt(s)');
  });

  it("stops before an always-failing event under the 'stop' policy", async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const ids = await seedCarts(eventStore, 4);
    const poison = ids[7]!;
    const projection = cartProjection({
      onFailure: 'stop',
      beforeHandler: (event) => {
        if (event.eventId === poison) throw new Error('poison');
      },
    });
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [projection],
      retryDelayMs: 1,
      maxRetryAttempts: 2,
    });
    const error = await runner.catchUp().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProjectionHandlerError);
    expect(isAnnalsError(error, ErrorCode.Projection)).toBe(true);
    const handlerError = error as ProjectionHandlerError;
    expect(handlerError.eventId).toBe(poison);
    expect(handlerError.attempts).toBe(3);
    expect((handlerError.cause as Error).message).toBe('poison');
    expect(projectionStore.state.applied).toEqual(ids.slice(0, 7));
    const checkpoint = await projectionStore.loadCheckpoint('carts');
    expect(checkpoint.position.globalPosition).toBe(7n);
    expect(await projectionStore.countDeadLetters('carts')).toBe(0);
    const status = await runner.status('carts');
    expect(status.state).toBe('failed');
    expect(status.lagEvents).toBe(5n);
  });

  it("a started runner marks a 'stop' projection failed and rejects catchUp()", async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const ids = await seedCarts(eventStore, 2);
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [
        cartProjection({
          onFailure: 'stop',
          beforeHandler: (event) => {
            if (event.eventId === ids[3]) throw new Error('poison');
          },
        }),
      ],
      retryDelayMs: 1,
      maxRetryAttempts: 0,
    });
    runner.start();
    const error = await runner.catchUp().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProjectionHandlerError);
    await eventually(async () => (await runner.status('carts')).state === 'failed');
    expect(projectionStore.state.applied).toEqual(ids.slice(0, 3));
    await runner.stop();
  });

  it('retries a failing store instead of parking events, and reloads the checkpoint', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const ids = await seedCarts(eventStore, 3);
    let failures = 2;
    const flakyStore = wrapStore(projectionStore, {
      loadCheckpoint: async (name) => {
        if (failures-- > 0) throw new Error('connection reset');
        return projectionStore.loadCheckpoint(name);
      },
    });
    const errors: string[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: flakyStore,
      projections: [cartProjection()],
      retryDelayMs: 1,
      onError: (error) => errors.push(error.message),
    });
    runner.start();
    await eventually(() => projectionStore.state.applied.length === ids.length);
    await runner.stop();
    expect(projectionStore.state.applied).toEqual(ids);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toContain('connection reset');
    expect(await projectionStore.countDeadLetters('carts')).toBe(0);
  });
});

describe('ProjectionRunner: status and lag', () => {
  it('reports checkpoint, head and lag in events and time while events arrive', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection()],
      batchSize: 2,
    });
    const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));

    let status = await runner.status('carts');
    expect(status).toMatchObject({ checkpoint: LOG_START, head: LOG_START, lagEvents: 0n, lagMs: 0 });
    expect(status.state).toBe('stopped');

    const first = await eventStore.append('cart-1', 'no_stream', [
      opened('c', { timestamp: at(0) }),
      itemAdded('a', 1, 1, { timestamp: at(10) }),
      itemAdded('b', 1, 1, { timestamp: at(25) }),
    ]);
    status = await runner.status('carts');
    expect(status.lagEvents).toBe(3n);
    expect(status.lagMs).toBe(25_000); // never processed: from the first unprocessed event
    expect(status.head).toEqual(logPositionOf(first.events[2]!));
    expect(status.lastEventTimestamp).toBeUndefined();

    await runner.catchUp();
    status = await runner.status('carts');
    expect(status.checkpoint).toEqual(status.head);
    expect(status.lagEvents).toBe(0n);
    expect(status.lagMs).toBe(0);
    expect(status.lastEventTimestamp).toEqual(at(25));
    expect(status.checkpointUpdatedAt).toBeInstanceOf(Date);

    await eventStore.append('cart-1', 3, [
      itemAdded('c', 1, 1, { timestamp: at(40) }),
      checkedOut({ timestamp: at(70) }),
    ]);
    status = await runner.status('carts');
    expect(status.lagEvents).toBe(2n);
    expect(status.lagMs).toBe(45_000);
    expect(status.deadLetters).toBe(0);
    const all = await runner.statusAll();
    expect(all.map((each) => each.projection)).toEqual(['carts']);
  });
});

describe('applyProjectionEvent through the runner API', () => {
  it('hands handlers the rebuilding flag and attempt number', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await eventStore.append('cart-1', 'no_stream', [opened('c')]);
    const seen: Array<{ rebuilding: boolean; attempt: number; projection: string }> = [];
    const projection = cartProjection({
      beforeHandler: (_event: StoredEvent, info) => seen.push({ ...info }),
    });
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [projection] });
    await runner.catchUp();
    await runner.rebuild('carts');
    expect(seen).toEqual([
      { projection: 'carts', attempt: 1, rebuilding: false },
      { projection: 'carts', attempt: 1, rebuilding: true },
    ]);
  });
});

describe('ProjectionRunner: option messages', () => {
  it('names the option the user passed, not the retry settings it becomes', () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const projections = [cartProjection()];
    const message = (options: object) => {
      try {
        new ProjectionRunner({ eventStore, projectionStore, projections, ...options });
      } catch (error) {
        expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    for (const [options, named] of [
      [{ retryDelayMs: -1 }, /^ProjectionRunner: retryDelayMs must be a finite number >= 0; got -1$/],
      [{ retryDelayMs: Number.NaN }, /retryDelayMs .* got NaN$/],
      [{ maxRetryDelayMs: -3 }, /^ProjectionRunner: maxRetryDelayMs must be .*; got -3$/],
      [
        { retryDelayMs: 500, maxRetryDelayMs: 100 },
        /maxRetryDelayMs must be .*>= retryDelayMs \(500\); got 100$/,
      ],
      [{ maxRetryAttempts: 1.5 }, /maxRetryAttempts must be an integer >= 0; got 1\.5$/],
    ] as const) {
      const text = message(options);
      expect(text).toMatch(named);
      expect(text).not.toMatch(/initialDelayMs|maxDelayMs|maxAttempts|retry\./);
    }
  });
});

describe('ProjectionRunner: handlers for types the registry lacks', () => {
  /** An event store that exposes a registry, as PostgresEventStore does. */
  function storeWithRegistry(registry: EventRegistry): IEventStore & { registry: EventRegistry } {
    return { ...wrapEventStore(newEventStore()), registry };
  }

  it('rejects a projection that handles a type the event store cannot read, naming both', () => {
    const eventStore = storeWithRegistry(new EventRegistry([CartOpened, CartItemAdded]));
    const error = (() => {
      try {
        new ProjectionRunner({
          eventStore,
          projectionStore: newProjectionStore(),
          projections: [cartProjection()],
        });
      } catch (caught) {
        return caught;
      }
    })();
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect((error as Error).message).toBe(
      'ProjectionRunner: projection "carts" has a handler for "CartCheckedOut", which the event store\'s registry does not know; register the event type or remove the handler',
    );
  });

  it('accepts it when the registry has every handled type, or the store shows no registry', () => {
    const full = storeWithRegistry(new EventRegistry(cartEvents));
    expect(
      () =>
        new ProjectionRunner({
          eventStore: full,
          projectionStore: newProjectionStore(),
          projections: [cartProjection()],
        }),
    ).not.toThrow();
    const { registry: _, ...withoutRegistry } = storeWithRegistry(new EventRegistry([]));
    expect(
      () =>
        new ProjectionRunner({
          eventStore: withoutRegistry,
          projectionStore: newProjectionStore(),
          projections: [cartProjection()],
        }),
    ).not.toThrow();
  });
});

describe('ProjectionRunner: catchUp({ until })', () => {
  it('a started runner waits for the given position even when head() lags behind it', async () => {
    const inner = newEventStore();
    // A head that lags (as a PostgreSQL head may while an older transaction is open).
    const eventStore = wrapEventStore(inner, {
      head: async () => ({ position: LOG_START, timestamp: undefined }),
    });
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [
        cartProjection({ beforeHandler: () => new Promise((resolve) => setTimeout(resolve, 2)) }),
      ],
    });
    runner.start();
    try {
      await eventually(async () => (await runner.status('carts')).state === 'running');
      const appended = await inner.append('cart-1', 'no_stream', [
        opened('c'),
        itemAdded('a', 1, 2),
        checkedOut(),
      ]);
      await runner.catchUp({ until: logPositionOf(appended.events.at(-1)!) });
      expect(projectionStore.state.carts['cart-1']?.status).toBe('checked-out');
    } finally {
      await runner.stop();
    }
  });

  it('a runner that is not started processes until the position is readable and processed', async () => {
    const inner = newEventStore();
    const appended = await inner.append('cart-1', 'no_stream', [opened('c'), checkedOut()]);
    const last = appended.events.at(-1)!;
    // The last event becomes readable only on the third read (a transaction still committing).
    const { eventStore } = showingLateFrom(inner, last, 2);
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection()],
      pollIntervalMs: 5,
    });
    await runner.catchUp({ until: logPositionOf(last) });
    expect(projectionStore.state.carts['cart-1']?.status).toBe('checked-out');
    expect((await runner.status('carts')).checkpoint).toEqual(logPositionOf(last));
  });

  it('without until, a runner that is not started goes on to the head even when a page shows less', async () => {
    const inner = newEventStore();
    const appended = await inner.append('cart-1', 'no_stream', [opened('c'), checkedOut()]);
    const last = appended.events.at(-1)!;
    // The log shows the last commit a moment late (the first two reads), as a PostgreSQL read
    // can while a transaction of another database ends; head() shows it.
    const { eventStore, reads } = showingLateFrom(inner, last, 2);
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [cartProjection()] });
    await runner.catchUp();
    expect(reads()).toBeGreaterThan(2);
    expect(projectionStore.state.carts['cart-1']?.status).toBe('checked-out');
    expect((await runner.status('carts')).checkpoint).toEqual(logPositionOf(last));
  });

  it('a position already processed returns at once; a bad one is an InvalidArgumentError; an abort rejects', async () => {
    const eventStore = newEventStore();
    await seedCarts(eventStore, 2);
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection()],
      pollIntervalMs: 5,
    });
    await runner.catchUp();
    const head = (await eventStore.head()).position;
    await runner.catchUp({ until: head });
    await runner.catchUp({ until: LOG_START });
    for (const bad of [5, '1:2', { globalPosition: 1n }, { transactionId: -1n, globalPosition: 1n }, null]) {
      const error = await runner.catchUp({ until: bad as never }).catch((caught: unknown) => caught);
      expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    }
    const never = { transactionId: head.transactionId + 100n, globalPosition: head.globalPosition + 100n };
    const aborted = await runner
      .catchUp({ until: never, signal: AbortSignal.timeout(30) })
      .catch((caught: unknown) => caught);
    expect((aborted as Error).name).toBe('TimeoutError');
    runner.start();
    try {
      const started = await runner
        .catchUp({ until: never, signal: AbortSignal.timeout(30) })
        .catch((caught: unknown) => caught);
      expect((started as Error).name).toBe('TimeoutError');
    } finally {
      await runner.stop();
    }
  });
});
