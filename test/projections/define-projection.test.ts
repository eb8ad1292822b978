import { defineProjection, ErrorCode, isAnnalsError, type StoredEvent } from 'annals';
import { describe, expect, it } from 'vitest';
import { applyProjectionEvent } from '../../src/projections/define-projection.js';
import { CartItemAdded, CartOpened, cartEvents } from './fixtures.js';

const event = (type: string, payload: unknown): StoredEvent => ({
  eventId: `event-${type}`,
  aggregateId: 'cart-1',
  aggregateType: 'Cart',
  type,
  version: 1,
  schemaVersion: 1,
  timestamp: new Date(0),
  payload,
  metadata: { correlationId: 'request-1' },
  globalPosition: 1n,
  transactionId: 1n,
});

function thrown(define: () => unknown): unknown {
  try {
    define();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('defineProjection', () => {
  it('accepts names made of letters, digits and _ . : -, up to 100 characters', () => {
    for (const name of ['orders', 'order_summary.v2', 'billing:invoices-2026', 'x'.repeat(100)]) {
      expect(defineProjection<unknown>()({ name, events: [], handlers: {} }).name).toBe(name);
    }
  });

  it('rejects other names with InvalidArgumentError', () => {
    for (const name of ['', 'with space', 'semi;colon', "quote'", 'x'.repeat(101), 'ünïcode', 42]) {
      const error = thrown(() =>
        defineProjection<unknown>()({ name: name as string, events: [], handlers: {} }),
      );
      expect(isAnnalsError(error, ErrorCode.InvalidArgument), String(name)).toBe(true);
    }
  });

  it('rejects handlers for types it does not list, handlers that are not functions, bad options', () => {
    const cases = [
      () =>
        defineProjection<unknown>()({
          name: 'p',
          events: [CartOpened],
          handlers: { Other: () => {} } as never,
        }),
      () =>
        defineProjection<unknown>()({
          name: 'p',
          events: [CartOpened],
          handlers: { CartOpened: 1 } as never,
        }),
      () => defineProjection<unknown>()({ name: 'p', events: [], handlers: {}, onFailure: 'retry' as never }),
      () => defineProjection<unknown>()({ name: 'p', events: [], handlers: {}, reset: 'drop' as never }),
      () => defineProjection<unknown>()({ name: 'p', events: 'all' as never, handlers: {} }),
      () => defineProjection<unknown>()({ name: 'p', events: [], handlers: null as never }),
    ];
    for (const define of cases) expect(isAnnalsError(thrown(define), ErrorCode.InvalidArgument)).toBe(true);
  });

  it('applies one event through its handler, and skips types without one', async () => {
    const calls: unknown[] = [];
    const projection = defineProjection<{ rows: string[] }>()({
      name: 'rows',
      events: cartEvents,
      handlers: {
        CartOpened: (opened, context, info) => {
          context.rows.push(opened.payload.customerId);
          calls.push(info);
        },
        CartItemAdded: async (added, context) => {
          await Promise.resolve();
          context.rows.push(`${added.payload.sku} x${added.payload.quantity}`);
        },
      },
    });
    expect(projection.eventTypes).toEqual(['CartOpened', 'CartItemAdded']);
    expect(projection.onFailure).toBe('dead-letter');
    const context = { rows: [] as string[] };
    expect(await applyProjectionEvent(projection, event('CartOpened', { customerId: 'c-1' }), context)).toBe(
      true,
    );
    expect(
      await applyProjectionEvent(
        projection,
        event(CartItemAdded.type, { sku: 's', quantity: 2, price: 1 }),
        context,
        { attempt: 3, rebuilding: true },
      ),
    ).toBe(true);
    expect(await applyProjectionEvent(projection, event('CartNoted', { text: 'hi' }), context)).toBe(false);
    expect(context.rows).toEqual(['c-1', 's x2']);
    expect(calls).toEqual([{ projection: 'rows', attempt: 1, rebuilding: false }]);
  });

  it("propagates a handler's error unchanged", async () => {
    const failure = new RangeError('bad');
    const projection = defineProjection<unknown>()({
      name: 'failing',
      events: [CartOpened],
      handlers: {
        CartOpened: () => {
          throw failure;
        },
      },
    });
    await expect(applyProjectionEvent(projection, event('CartOpened', { customerId: 'c' }), {})).rejects.toBe(
      failure,
    );
  });
});
