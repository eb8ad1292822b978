import {
  ErrorCode,
  isAnnalsError,
  logPositionOf,
  type ProjectionError,
  ProjectionHandlerError,
  ProjectionRunner,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { usePostgres } from '../../support/postgres.js';
import {
  appendOrders,
  catchUpTo,
  generateOrders,
  ledgerProjection,
  ledgerRows,
  logEventIds,
  openStores,
} from './fixtures.js';

const db = usePostgres();

describe('failing handlers on PostgreSQL', () => {
  it('retries a handler that fails twice, then applies the event once', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const last = await appendOrders(eventStore, generateOrders(4, 11, 'flaky'));
    const ids = await logEventIds(eventStore);
    const flaky = ids[3]!;
    const attempts: number[] = [];
    const ledger = ledgerProjection({
      name: 'flaky',
      before: (event, _context, info) => {
        if (event.eventId !== flaky) return;
        attempts.push(info.attempt);
        if (info.attempt <= 2) throw new Error(`flaky failure ${info.attempt}`);
      },
    });
    const errors: ProjectionError[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [ledger],
      batchSize: 10,
      retryDelayMs: 1,
      onError: (error) => errors.push(error),
    });
    await catchUpTo(runner, projectionStore, [ledger.name], logPositionOf(last!));
    const rows = await ledgerRows(db.pool, db.schema, ledger.name);
    expect(rows.map((row) => row.eventId)).toEqual(ids);
    expect(rows.find((row) => row.eventId === flaky)?.attempt).toBe(3);
    expect(attempts).toEqual([1, 2, 3]);
    expect(errors).toEqual([]);
    expect(await projectionStore.countDeadLetters(ledger.name)).toBe(0);
    const head = await eventStore.head();
    expect((await projectionStore.loadCheckpoint(ledger.name)).position).toEqual(head.position);
  });

  it('a handler that swallows an SQL error: the aborted transaction is dead-lettered after its retries, not retried forever', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const before = new Set(await logEventIds(eventStore));
    const last = await appendOrders(eventStore, generateOrders(3, 13, 'swallow'));
    const ids = await logEventIds(eventStore);
    const fresh = ids.filter((id) => !before.has(id));
    const culprit = fresh[2]!;
    const name = 'swallow';
    let divisions = 0;
    const ledger = ledgerProjection({
      name,
      before: async (event, context) => {
        if (event.eventId !== culprit) return;
        divisions += 1;
        // Caught and ignored: PostgreSQL has aborted the transaction all the same (25P02 later).
        await context.client.query('SELECT 1/0').catch(() => undefined);
      },
      // The handler writes nothing more: only the checkpoint's statement finds the aborted transaction.
      skipWrite: (event) => event.eventId === culprit,
    });
    const errors: ProjectionError[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [ledger],
      batchSize: 50,
      retryDelayMs: 1,
      maxRetryAttempts: 1,
      onError: (error) => errors.push(error),
    });
    await catchUpTo(runner, projectionStore, [name], logPositionOf(last!));

    // Every other event applied once; the culprit parked; the checkpoint at the head.
    const applied = (await ledgerRows(db.pool, db.schema, name)).map((row) => row.eventId);
    expect(applied).toEqual(ids.filter((id) => id !== culprit));
    expect((await projectionStore.loadCheckpoint(name)).position).toEqual((await eventStore.head()).position);
    const letters = await runner.listDeadLetters(name);
    expect(letters.map((letter) => letter.event.eventId)).toEqual([culprit]);
    expect(letters[0]!.attempts).toBe(2);
    expect(letters[0]!.error.name).toBe('StoreFailedError');
    expect(letters[0]!.error.message).toMatch(/25P02/);
    // A few runs (in a batch, alone, its one retry), not a loop.
    expect(divisions).toBeGreaterThanOrEqual(2);
    expect(divisions).toBeLessThanOrEqual(4);
    const handlerErrors = errors.filter((error) => error instanceof ProjectionHandlerError);
    expect(handlerErrors).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });

  it('parks an always failing event in projection_dead_letters and goes on; retry and discard', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const before = new Set(await logEventIds(eventStore));
    const last = await appendOrders(eventStore, generateOrders(4, 12, 'poison'));
    const ids = await logEventIds(eventStore);
    const fresh = ids.filter((id) => !before.has(id));
    const poisoned = new Set([fresh[1]!, fresh[4]!]);
    const name = 'poison';
    const ledger = ledgerProjection({
      name,
      before: (event) => {
        if (poisoned.has(event.eventId)) throw new TypeError(`cannot apply ${event.eventId}\u0000!`);
      },
    });
    const errors: ProjectionError[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [ledger],
      batchSize: 3,
      retryDelayMs: 1,
      maxRetryAttempts: 2,
      onError: (error) => errors.push(error),
    });
    await catchUpTo(runner, projectionStore, [name], logPositionOf(last!));

    // The projection went on past both events, which are parked.
    const applied = (await ledgerRows(db.pool, db.schema, name)).map((row) => row.eventId);
    expect(applied).toEqual(ids.filter((id) => !poisoned.has(id)));
    expect((await projectionStore.loadCheckpoint(name)).position).toEqual((await eventStore.head()).position);
    expect(errors.filter((error) => error instanceof ProjectionHandlerError)).toHaveLength(2);

    // The rows as an operator sees them.
    const { rows } = await db.pool.query<{
      event_id: string;
      event_type: string;
      error_name: string;
      error_message: string;
      attempts: number;
      global_position: string;
      payload: unknown;
    }>(
      `SELECT event_id, event_type, error_name, error_message, attempts, global_position::text AS global_position,
              event -> 'payload' AS payload
         FROM "${db.schema}".projection_dead_letters WHERE projection = $1 ORDER BY id`,
      [name],
    );
    expect(rows.map((row) => row.event_id)).toEqual(fresh.filter((id) => poisoned.has(id)));
    const stored = (await eventStore.readAll({ limit: 1000 })).events;
    const first = stored.find((event) => event.eventId === rows[0]!.event_id)!;
    expect(rows[0]).toMatchObject({
      event_type: first.type,
      error_name: 'TypeError',
      error_message: `cannot apply ${first.eventId}\uFFFD!`,
      attempts: 3,
      global_position: first.globalPosition.toString(),
    });
    expect(rows[0]!.payload).toEqual(first.payload);

    // Through the store: the event as it was read, positions exact.
    const letters = await runner.listDeadLetters(name);
    expect(letters.map((letter) => letter.event.eventId)).toEqual(rows.map((row) => row.event_id));
    expect(letters[0]!.event).toEqual({ ...first, metadata: first.metadata });
    expect(logPositionOf(letters[0]!.event)).toEqual(logPositionOf(first));
    expect(letters[0]!.error.stack).toContain('TypeError');
    expect(letters[0]!.failedAt).toBeInstanceOf(Date);

    // Fixed: the retry applies the event once and removes the dead letter, in one transaction.
    poisoned.delete(letters[0]!.event.eventId);
    await runner.retryDeadLetter(letters[0]!.id);
    const afterRetry = await ledgerRows(db.pool, db.schema, name);
    expect(afterRetry.filter((row) => row.eventId === letters[0]!.event.eventId)).toEqual([
      { eventId: letters[0]!.event.eventId, runner: 'default', attempt: 4 },
    ]);
    expect(await projectionStore.getDeadLetter(letters[0]!.id)).toBeUndefined();

    // Still failing: the dead letter stays; discarding removes it without applying.
    const error = await runner.retryDeadLetter(letters[1]!.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProjectionHandlerError);
    expect(await projectionStore.countDeadLetters(name)).toBe(1);
    await runner.discardDeadLetter(letters[1]!.id);
    expect(await projectionStore.countDeadLetters(name)).toBe(0);
    expect(await ledgerRows(db.pool, db.schema, name)).toHaveLength(afterRetry.length);
    const unknown = await runner.discardDeadLetter(letters[1]!.id).catch((caught: unknown) => caught);
    expect(String(unknown)).toMatch(/no dead letter/);
  });

  it("stops a 'stop' projection before the failing event, with its checkpoint before it", async () => {
    const { eventStore, projectionStore } = openStores(db);
    const before = new Set(await logEventIds(eventStore));
    await appendOrders(eventStore, generateOrders(3, 13, 'stopper'));
    const ids = await logEventIds(eventStore);
    const failing = ids.filter((id) => !before.has(id))[2]!;
    const ledger = ledgerProjection({
      name: 'stopper',
      onFailure: 'stop',
      before: (event) => {
        if (event.eventId === failing) throw new Error('broken handler');
      },
    });
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [ledger],
      retryDelayMs: 1,
      maxRetryAttempts: 1,
    });
    const error = await runner.catchUp().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProjectionHandlerError);
    expect(isAnnalsError(error, ErrorCode.Projection)).toBe(true);
    const applied = (await ledgerRows(db.pool, db.schema, ledger.name)).map((row) => row.eventId);
    expect(applied).toEqual(ids.slice(0, ids.indexOf(failing)));
    const stored = (await eventStore.readAll({ limit: 1000 })).events;
    const previous = stored[ids.indexOf(failing) - 1]!;
    expect((await projectionStore.loadCheckpoint(ledger.name)).position).toEqual(logPositionOf(previous));
    expect(await projectionStore.countDeadLetters(ledger.name)).toBe(0);
  });
});
