import { ErrorCode, isAnnalsError, type RawStoredEvent } from 'annals';
import { describe, expect, it } from 'vitest';
import { OrderCreated } from '../../examples/order/events.js';
import { orderRegistry, orderUpcasters } from '../../examples/order/upcasters.js';

const line = { productId: 'sku-1', quantity: 2, price: 5 };

function rawCreated(schemaVersion: number, payload: unknown): RawStoredEvent {
  return {
    eventId: `evt-created-v${schemaVersion}`,
    aggregateId: 'order-1',
    aggregateType: 'Order',
    type: 'OrderCreated',
    version: 1,
    schemaVersion,
    timestamp: new Date(0),
    payload,
    metadata: {},
    globalPosition: 1n,
    transactionId: 1n,
  };
}

describe('the Order example schema evolution', () => {
  it('OrderCreated is at schema version 2; orderRegistry() verifies its upcasters', () => {
    expect(OrderCreated.schemaVersion).toBe(2);
    const registry = orderRegistry();
    expect(() => orderUpcasters.verify(registry)).not.toThrow();
    expect(registry.types()).toContain('OrderCreated');
  });

  it('v1 → v2 drops the stored totalAmount (derived state), keeping the lines', () => {
    const decoded = orderRegistry().decode(
      rawCreated(1, { customerId: 'c-1', items: [line], totalAmount: 999 }),
    );
    expect(decoded.schemaVersion).toBe(2);
    expect(decoded.payload).toEqual({ customerId: 'c-1', items: [line] });
  });

  it('a v1 event without a total loads too; a current one passes unchanged', () => {
    const registry = orderRegistry();
    expect(registry.decode(rawCreated(1, { customerId: 'c-1', items: [] })).payload).toEqual({
      customerId: 'c-1',
      items: [],
    });
    expect(registry.decode(rawCreated(2, { customerId: 'c-2', items: [line] })).payload).toEqual({
      customerId: 'c-2',
      items: [line],
    });
  });

  it('new OrderCreated events are written at version 2; writing a v1 payload is refused', () => {
    const registry = orderRegistry();
    const encoded = registry.encode({
      type: 'OrderCreated',
      aggregateType: 'Order',
      payload: { customerId: 'c-1', items: [line] },
    });
    expect(encoded.schemaVersion).toBe(2);
    expect(() =>
      registry.encode({
        type: 'OrderCreated',
        aggregateType: 'Order',
        schemaVersion: 1,
        payload: { customerId: 'c-1', items: [line] },
      }),
    ).toThrow(expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }));
  });

  it('a v1 payload that fails the v2 schema after upcasting, and a v3 row, are typed errors', () => {
    const registry = orderRegistry();
    const invalid = (() => {
      try {
        return registry.decode(rawCreated(1, { customer: 'c-1', totalAmount: 3 }));
      } catch (error) {
        return error;
      }
    })();
    expect(isAnnalsError(invalid, ErrorCode.EventValidation)).toBe(true);
    expect(invalid).toMatchObject({ eventId: 'evt-created-v1', eventType: 'OrderCreated' });
    expect((invalid as Error).message).toContain(
      'event evt-created-v1, after upcasting from schema version 1 to 2',
    );
    // A current event that fails its schema says nothing about upcasting.
    expect(() => registry.decode(rawCreated(2, { customer: 'c-1' }))).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('upcasting') }),
    );
    expect(() => registry.decode(rawCreated(3, { customerId: 'c', items: [] }))).toThrow(
      expect.toSatisfy((error: unknown) => isAnnalsError(error, ErrorCode.Upcast)),
    );
  });
});
