import { type AggregateEventHandlers, DomainRuleError, SnapshotAggregateRoot } from 'annals';
import { z } from 'zod';
import {
  OrderCancelled,
  OrderCreated,
  type OrderEvent,
  OrderItemAdded,
  OrderLine,
  OrderShipped,
} from './events.js';

export const OrderStatus = z.enum(['open', 'shipped', 'cancelled']);
export type OrderStatus = z.infer<typeof OrderStatus>;

/** The Order aggregate's snapshot state (snapshot schema version 1). */
export const OrderState = z.object({
  customerId: z.string().min(1),
  status: OrderStatus,
  items: z.array(OrderLine),
});
export type OrderState = z.infer<typeof OrderState>;

/**
 * The Order aggregate: the consistency boundary for one order. Its state changes only by
 * applying events; its command methods check the business rules, then raise events.
 *
 * It can be snapshotted: a repository with `snapshots` loads it from its latest snapshot and the
 * events after it. Raise {@link OrderAggregate.snapshotSchemaVersion} when {@link OrderState}
 * changes; older snapshots are then ignored.
 */
export class OrderAggregate extends SnapshotAggregateRoot<OrderEvent, OrderState> {
  readonly aggregateType = 'Order';
  readonly snapshotSchemaVersion = 1;
  protected override readonly snapshotSchema = OrderState;
  customerId = '';
  status: OrderStatus = 'open';
  items: OrderLine[] = [];

  protected readonly handlers: AggregateEventHandlers<OrderEvent> = {
    OrderCreated: (event) => {
      this.customerId = event.payload.customerId;
      this.items = [...event.payload.items];
      this.status = 'open';
    },
    OrderItemAdded: (event) => {
      this.items.push(event.payload);
    },
    OrderShipped: () => {
      this.status = 'shipped';
    },
    OrderCancelled: () => {
      this.status = 'cancelled';
    },
  };

  /** The order's total, derived from its lines (never stored in an event). */
  get totalAmount(): number {
    return Math.round(this.items.reduce((sum, line) => sum + line.price * line.quantity, 0) * 100) / 100;
  }

  protected toSnapshot(): OrderState {
    return {
      customerId: this.customerId,
      status: this.status,
      items: this.items.map((line) => ({ ...line })),
    };
  }

  protected fromSnapshot(state: OrderState): void {
    this.customerId = state.customerId;
    this.status = state.status;
    this.items = state.items.map((line) => ({ ...line }));
  }

  create(customerId: string, items: readonly OrderLine[] = []): void {
    for (const line of items) assertValidLine(line);
    this.raiseCreation(OrderCreated, { customerId, items: [...items] });
  }

  addItem(productId: string, quantity: number, price: number): void {
    this.assertExists();
    this.assertOpen('add items to');
    assertValidLine({ productId, quantity, price });
    this.raise(OrderItemAdded, { productId, quantity, price });
  }

  ship(carrier: string, trackingNumber: string): void {
    this.assertExists();
    this.assertOpen('ship');
    if (this.items.length === 0)
      throw new DomainRuleError('An order without items cannot be shipped', 'order-empty');
    this.raise(OrderShipped, { carrier, trackingNumber });
  }

  cancel(reason: string): void {
    this.assertExists();
    if (this.status === 'cancelled') return; // cancelling twice changes nothing
    this.assertOpen('cancel');
    this.raise(OrderCancelled, { reason });
  }

  private assertOpen(action: string): void {
    if (this.status !== 'open') {
      throw new DomainRuleError(
        `Cannot ${action} order ${this.id}: it is ${this.status}`,
        `order-${this.status}`,
      );
    }
  }
}

function assertValidLine(line: OrderLine): void {
  if (!Number.isInteger(line.quantity) || line.quantity <= 0) {
    throw new DomainRuleError(
      `Quantity must be a positive whole number, got ${line.quantity}`,
      'quantity-positive',
    );
  }
  if (!(line.price >= 0))
    throw new DomainRuleError(`Price must not be negative, got ${line.price}`, 'price-positive');
}
