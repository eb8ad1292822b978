import { defineEvent, type EventOf } from 'annals';
import { z } from 'zod';

/** One line of an order. Totals are never stored: they are computed from the lines. */
export const OrderLine = z.object({
  productId: z.string().min(1),
  quantity: z.number().int().positive(),
  price: z.number().nonnegative(),
});
export type OrderLine = z.infer<typeof OrderLine>;

/**
 * An order was opened. Schema version 2: version 1 also stored a `totalAmount`, derived state
 * that could disagree with the lines; {@link orderUpcasters} drop it from v1 events on every read.
 */
export const OrderCreated = defineEvent({
  type: 'OrderCreated',
  schemaVersion: 2,
  schema: z.object({ customerId: z.string().min(1), items: z.array(OrderLine) }),
});

export const OrderItemAdded = defineEvent({
  type: 'OrderItemAdded',
  schema: OrderLine,
});

export const OrderShipped = defineEvent({
  type: 'OrderShipped',
  schema: z.object({ carrier: z.string().min(1), trackingNumber: z.string().min(1) }),
});

export const OrderCancelled = defineEvent({
  type: 'OrderCancelled',
  schema: z.object({ reason: z.string().min(1) }),
});

/** Every event of the Order domain. */
export const orderEvents = [OrderCreated, OrderItemAdded, OrderShipped, OrderCancelled] as const;

/** The union of the Order aggregate's events, with payload types inferred from the schemas. */
export type OrderEvent = EventOf<(typeof orderEvents)[number]>;
