import {
  type AggregateEventHandlers,
  defineEvent,
  type EventOf,
  type PayloadOf,
  type StoredEventOf,
} from 'annals';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { OrderEvent } from '../../examples/order/events.js';

const ItemAdded = defineEvent({
  type: 'ItemAdded',
  schema: z.object({ sku: z.string(), quantity: z.number().int(), note: z.string().optional() }),
});
const Shipped = defineEvent({ type: 'Shipped', schema: z.object({ at: z.iso.datetime() }) });

describe('event types are inferred from zod schemas', () => {
  it('infers the literal type name and the payload', () => {
    expectTypeOf(ItemAdded.type).toEqualTypeOf<'ItemAdded'>();
    expectTypeOf<PayloadOf<typeof ItemAdded>>().toEqualTypeOf<{
      sku: string;
      quantity: number;
      note?: string | undefined;
    }>();
  });

  it('makes a discriminated union of definitions', () => {
    type Event = EventOf<typeof ItemAdded | typeof Shipped>;
    expectTypeOf<Event['type']>().toEqualTypeOf<'ItemAdded' | 'Shipped'>();
    const handle = (event: Event) => {
      if (event.type === 'ItemAdded') expectTypeOf(event.payload.quantity).toEqualTypeOf<number>();
      else expectTypeOf(event.payload.at).toEqualTypeOf<string>();
    };
    expectTypeOf(handle).toBeFunction();
    expectTypeOf<StoredEventOf<typeof Shipped>['globalPosition']>().toEqualTypeOf<bigint>();
  });

  it('requires one typed handler per event type', () => {
    type Event = EventOf<typeof ItemAdded | typeof Shipped>;
    expectTypeOf<AggregateEventHandlers<Event>>().toHaveProperty('ItemAdded');
    expectTypeOf<Parameters<AggregateEventHandlers<Event>['Shipped']>[0]['payload']>().toEqualTypeOf<{
      at: string;
    }>();
    // @ts-expect-error a handler is missing
    const missing: AggregateEventHandlers<Event> = { ItemAdded: () => {} };
    expectTypeOf(missing).not.toBeNever();
  });

  it('types the Order example events', () => {
    expectTypeOf<
      Extract<OrderEvent, { type: 'OrderItemAdded' }>['payload']['price']
    >().toEqualTypeOf<number>();
  });
});
