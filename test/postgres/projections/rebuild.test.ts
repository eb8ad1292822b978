import { compareLogPositions, logPositionOf, ProjectionRunner, type RebuildProgress } from 'annals';
import { describe, expect, it } from 'vitest';
import { ORDER_READ_MODEL, orderReadModel } from '../../../examples/order/order-read-model.js';
import { usePostgres } from '../../support/postgres.js';
import {
  appendOrders,
  catchUpTo,
  eventually,
  generateOrders,
  openStores,
  orderReadRows,
} from './fixtures.js';

const db = usePostgres();

describe('rebuilding the Order read model', () => {
  it('gives the same rows as the live build, over a few thousand random events', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const generated = generateOrders(700, 2026, 'order');
    expect(generated.eventCount).toBeGreaterThan(2000);
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [orderReadModel],
      pollIntervalMs: 20,
    });
    // Live: the runner follows the log while the orders are written.
    runner.start();
    const last = await appendOrders(eventStore, generated);
    await eventually(async () => {
      const { checkpoint } = await runner.status(ORDER_READ_MODEL);
      return compareLogPositions(checkpoint, logPositionOf(last!)) >= 0;
    }, 120_000);
    const live = await orderReadRows(db.pool, db.schema);
    expect(live).toEqual(generated.expected);
    await runner.stop();

    const progress: RebuildProgress[] = [];
    const result = await runner.rebuild(ORDER_READ_MODEL, {
      onProgress: (report) => progress.push(report),
    });
    const rebuilt = await orderReadRows(db.pool, db.schema);
    expect(rebuilt).toEqual(live);

    expect(result.processed).toBe(generated.eventCount);
    expect(result.deadLetters).toBe(0);
    expect(progress[0]).toMatchObject({ processed: 0, total: generated.eventCount });
    expect(progress.at(-1)).toMatchObject({
      processed: generated.eventCount,
      total: generated.eventCount,
      estimatedRemainingMs: 0,
    });
    const counts = progress.map((report) => report.processed);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(progress.length).toBeGreaterThan(generated.eventCount / 50);
    const status = await runner.status(ORDER_READ_MODEL);
    expect(status.lagEvents).toBe(0n);
    expect(status.checkpoint).toEqual(logPositionOf(last!));
  });

  it('rebuilds by hand as in the Quick Start: drop, reset the checkpoint, restart', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const before = await orderReadRows(db.pool, db.schema);
    expect(before.length).toBeGreaterThan(0);
    const { position: head } = await projectionStore.loadCheckpoint(ORDER_READ_MODEL);
    await projectionStore.transaction(async (transaction) => {
      await orderReadModel.reset?.(transaction.context);
      await transaction.resetCheckpoint(ORDER_READ_MODEL);
    });
    const { rows } = await db.pool.query<{ present: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [`"${db.schema}".order_read`],
    );
    expect(rows[0]?.present).toBe(false);
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [orderReadModel] });
    await catchUpTo(runner, projectionStore, [ORDER_READ_MODEL], head);
    expect(await orderReadRows(db.pool, db.schema)).toEqual(before);
  });
});
