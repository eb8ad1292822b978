import { DomainRuleError, ErrorCode } from 'annals';
import { aggregateScenario } from 'annals/testing';
import { describe, expect, it } from 'vitest';
import { OrderAggregate } from '../../examples/order/order-aggregate.js';

const order = () => aggregateScenario(() => new OrderAggregate('order-1'));
const created = { type: 'OrderCreated', payload: { customerId: 'c-1', items: [] } };
const item = { type: 'OrderItemAdded', payload: { productId: 'p-1', quantity: 2, price: 3.5 } };

describe('OrderAggregate', () => {
  it('creates an order', async () => {
    await order()
      .when((o) => o.create('c-1', [{ productId: 'p-1', quantity: 1, price: 2 }]))
      .thenEvents([
        {
          type: 'OrderCreated',
          payload: { customerId: 'c-1', items: [{ productId: 'p-1', quantity: 1, price: 2 }] },
        },
      ]);
  });

  it('adds items and derives the total without storing it', async () => {
    const aggregate = await order()
      .given([created, item])
      .when((o) => o.addItem('p-2', 1, 10))
      .thenEvents([{ type: 'OrderItemAdded', payload: { productId: 'p-2', quantity: 1, price: 10 } }]);
    expect(aggregate.totalAmount).toBe(17);
  });

  it('rejects non-positive quantities and negative prices', async () => {
    await order()
      .given([created])
      .when((o) => o.addItem('p', 0, 1))
      .thenError(ErrorCode.DomainRule);
    await order()
      .given([created])
      .when((o) => o.addItem('p', -2, 1))
      .thenError(DomainRuleError);
    await order()
      .given([created])
      .when((o) => o.addItem('p', 1, -1))
      .thenError(ErrorCode.DomainRule);
    await order()
      .when((o) => o.create('c', [{ productId: 'p', quantity: 0, price: 1 }]))
      .thenError(ErrorCode.DomainRule);
  });

  it('refuses items after shipping or cancelling', async () => {
    const shipped = { type: 'OrderShipped', payload: { carrier: 'DHL', trackingNumber: 't' } };
    const cancelled = { type: 'OrderCancelled', payload: { reason: 'changed mind' } };
    await order()
      .given([created, item, shipped])
      .when((o) => o.addItem('p', 1, 1))
      .thenError(DomainRuleError);
    await order()
      .given([created, cancelled])
      .when((o) => o.addItem('p', 1, 1))
      .thenError(DomainRuleError);
    await order()
      .given([created, item, shipped])
      .when((o) => o.cancel('late'))
      .thenError(DomainRuleError);
    await order()
      .given([created, cancelled])
      .when((o) => o.ship('DHL', 't'))
      .thenError(DomainRuleError);
    await order()
      .given([created, cancelled])
      .when((o) => o.cancel('again'))
      .thenEvents([]);
  });

  it('ships only orders with items', async () => {
    await order()
      .given([created])
      .when((o) => o.ship('DHL', 't'))
      .thenError((e) => (e as DomainRuleError).rule === 'order-empty');
    await order()
      .given([created, item])
      .when((o) => o.ship('DHL', 't-1'))
      .thenEvents([{ type: 'OrderShipped', payload: { carrier: 'DHL', trackingNumber: 't-1' } }]);
  });

  it('commands on a missing order fail with AggregateNotFound', async () => {
    await order()
      .when((o) => o.addItem('p', 1, 1))
      .thenError(ErrorCode.AggregateNotFound);
  });

  it('the scenario helper fails when events differ', async () => {
    await expect(
      order()
        .given([created])
        .when((o) => o.addItem('p', 1, 1))
        .thenEvents([]),
    ).rejects.toThrow();
    await expect(
      order()
        .given([created])
        .when((o) => o.addItem('p', 1, 1))
        .thenError(DomainRuleError),
    ).rejects.toThrow();
  });
});

describe('aggregateScenario with the Order registry', () => {
  it('reads given events as a store would: v1 OrderCreated is upcast, invalid payloads are refused', async () => {
    const { orderRegistry } = await import('../../examples/order/upcasters.js');
    const withRegistry = () =>
      aggregateScenario(() => new OrderAggregate('order-9'), { registry: orderRegistry() });
    const v1 = {
      type: 'OrderCreated',
      schemaVersion: 1,
      payload: { customerId: 'c-9', items: [{ productId: 'p', quantity: 2, price: 5 }], totalAmount: 999 },
    };
    const aggregate = await withRegistry()
      .given([v1])
      .when((o) => o.addItem('q', 1, 1))
      .thenEvents([{ type: 'OrderItemAdded', payload: { productId: 'q', quantity: 1, price: 1 } }]);
    expect(aggregate.totalAmount).toBe(11);
    await expect(
      withRegistry()
        .given([{ type: 'OrderItemAdded', payload: { productId: 'p', quantity: 'two', price: 1 } }])
        .when(() => undefined)
        .thenEvents([]),
    ).rejects.toMatchObject({ code: ErrorCode.EventValidation });
  });
});
