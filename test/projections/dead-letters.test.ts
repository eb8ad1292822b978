import {
  ErrorCode,
  isAnnalsError,
  LOG_START,
  ProjectionHandlerError,
  ProjectionRunner,
  type StoredEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { cartProjection, newEventStore, newProjectionStore, seedCarts } from './fixtures.js';

/** A runner over 3 carts whose handler fails on the 5th event while `poisoned.on` is true. */
async function withPoisonedEvent() {
  const eventStore = newEventStore();
  const projectionStore = newProjectionStore();
  const ids = await seedCarts(eventStore, 3);
  const poisoned = { on: true, attempts: [] as number[] };
  const runner = new ProjectionRunner({
    eventStore,
    projectionStore,
    projections: [
      cartProjection({
        beforeHandler: (event, info) => {
          if (event.eventId !== ids[4]) return;
          poisoned.attempts.push(info.attempt);
          if (poisoned.on) throw new Error('poison');
        },
      }),
    ],
    retryDelayMs: 1,
    maxRetryAttempts: 1,
  });
  await runner.catchUp();
  const [letter] = await runner.listDeadLetters('carts');
  if (!letter) throw new Error('expected a dead letter');
  return { eventStore, projectionStore, ids, poisoned, runner, letter };
}

describe('dead letters', () => {
  it('retries a dead letter once the handler is fixed: applied once, letter removed', async () => {
    const { projectionStore, ids, poisoned, runner, letter } = await withPoisonedEvent();
    expect(letter.event.eventId).toBe(ids[4]);
    expect(projectionStore.state.carts['cart-1']?.itemCount).toBe(2);
    poisoned.on = false;
    await runner.retryDeadLetter(letter.id);
    expect(poisoned.attempts).toEqual([1, 2, 3]);
    expect(projectionStore.state.carts['cart-1']?.itemCount).toBe(3);
    expect(projectionStore.state.applied.filter((id) => id === ids[4])).toHaveLength(1);
    expect(await runner.listDeadLetters('carts')).toEqual([]);
    expect((await runner.status('carts')).deadLetters).toBe(0);
  });

  it('keeps the dead letter when its retry fails again', async () => {
    const { projectionStore, runner, letter } = await withPoisonedEvent();
    const before = structuredClone(projectionStore.state);
    const error = await runner.retryDeadLetter(letter.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProjectionHandlerError);
    expect((error as ProjectionHandlerError).attempts).toBe(3);
    expect(projectionStore.state).toEqual(before);
    expect((await runner.listDeadLetters('carts')).map((each) => each.id)).toEqual([letter.id]);
  });

  it('applies a dead letter once when two retries race', async () => {
    const { projectionStore, ids, poisoned, runner, letter } = await withPoisonedEvent();
    poisoned.on = false;
    const results = await Promise.allSettled([
      runner.retryDeadLetter(letter.id),
      runner.retryDeadLetter(letter.id),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(
      isAnnalsError(rejected.reason, ErrorCode.Projection) ||
        isAnnalsError(rejected.reason, ErrorCode.InvalidArgument),
    ).toBe(true);
    expect(projectionStore.state.applied.filter((id) => id === ids[4])).toHaveLength(1);
  });

  it('discards a dead letter without applying it', async () => {
    const { projectionStore, ids, runner, letter } = await withPoisonedEvent();
    await runner.discardDeadLetter(letter.id);
    expect(await runner.listDeadLetters('carts')).toEqual([]);
    expect(projectionStore.state.applied).not.toContain(ids[4]);
    const again = await runner.discardDeadLetter(letter.id).catch((caught: unknown) => caught);
    expect(isAnnalsError(again, ErrorCode.InvalidArgument)).toBe(true);
    const unknown = await runner.retryDeadLetter('no-such-id').catch((caught: unknown) => caught);
    expect(isAnnalsError(unknown, ErrorCode.InvalidArgument)).toBe(true);
  });

  it('reads the event again from the event store, and says so when it is gone', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [cartProjection()] });
    const ghost: StoredEvent = {
      eventId: 'ghost',
      aggregateId: 'cart-ghost',
      aggregateType: 'Cart',
      type: 'CartOpened',
      version: 1,
      schemaVersion: 1,
      timestamp: new Date(),
      payload: { customerId: 'c' },
      metadata: {},
      ...LOG_START,
    };
    const id = await projectionStore.transaction((transaction) =>
      transaction.addDeadLetter({
        projection: 'carts',
        event: ghost,
        error: { name: 'Error', message: 'x', stack: undefined },
        attempts: 1,
        failedAt: new Date(),
      }),
    );
    const error = await runner.retryDeadLetter(id).catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.Projection)).toBe(true);
    expect((error as Error).message).toContain('no longer in the event store');
    expect(projectionStore.state.applied).toEqual([]);
  });
});
