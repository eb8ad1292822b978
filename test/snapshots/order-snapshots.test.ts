import { AggregateRepository, everyNEvents, InMemoryEventStore, InMemorySnapshotStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { OrderAggregate } from '../../examples/order/order-aggregate.js';
import { orderRegistry } from '../../examples/order/upcasters.js';

describe('OrderAggregate snapshots', () => {
  it('the Order example aggregate loads from its snapshot to the same state as a full replay', async () => {
    const store = new InMemoryEventStore({ registry: orderRegistry() });
    const snapshots = new InMemorySnapshotStore();
    const orders = new AggregateRepository(store, {
      create: (id) => new OrderAggregate(id),
      snapshots: { store: snapshots, policy: everyNEvents(3) },
      onWarning: (warning) => {
        throw new Error(warning.message);
      },
    });
    await orders.execute('order-1', (order) =>
      order.create('cust-1', [{ productId: 'a', quantity: 1, price: 2 }]),
    );
    for (const productId of ['b', 'c', 'd']) {
      await orders.execute('order-1', (order) => order.addItem(productId, 2, 1.5));
    }
    await orders.execute('order-1', (order) => order.ship('DHL', 'T-1'));
    expect(await snapshots.load('order-1')).toMatchObject({ version: 3, schemaVersion: 1 });

    const fromSnapshot = await orders.load('order-1');
    const replayed = new OrderAggregate('order-1').loadFromHistory(await store.load('order-1'));
    expect(fromSnapshot.version).toBe(5);
    for (const order of [fromSnapshot, replayed]) {
      expect(order).toMatchObject({ customerId: 'cust-1', status: 'shipped', totalAmount: 11 });
    }
    expect(fromSnapshot.items).toEqual(replayed.items);
  });

  it('a snapshot state that does not fit OrderState is refused on restore', () => {
    expect(() =>
      new OrderAggregate('order-2').restoreFromSnapshot({
        version: 1,
        state: { customerId: 'c', status: 'lost' },
      }),
    ).toThrow(/fails its schema/);
  });
});
