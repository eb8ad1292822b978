import { AggregateRepository, type CommandMetadata, type EventBus, type IEventStore } from 'annals';
import type { OrderLine } from './events.js';
import { OrderAggregate } from './order-aggregate.js';

/** The Order domain's command handler: one method per command, each run through the repository. */
export class OrderCommandHandler {
  readonly orders: AggregateRepository<OrderAggregate>;

  constructor(store: IEventStore, options: { bus?: EventBus } = {}) {
    this.orders = new AggregateRepository(store, {
      create: (id) => new OrderAggregate(id),
      ...(options.bus ? { bus: options.bus } : {}),
    });
  }

  createOrder(orderId: string, customerId: string, items: readonly OrderLine[], metadata?: CommandMetadata) {
    return this.orders.execute(orderId, (order) => order.create(customerId, items), { metadata });
  }

  addItem(orderId: string, line: OrderLine, metadata?: CommandMetadata) {
    return this.orders.execute(orderId, (order) => order.addItem(line.productId, line.quantity, line.price), {
      metadata,
    });
  }

  shipOrder(orderId: string, carrier: string, trackingNumber: string, metadata?: CommandMetadata) {
    return this.orders.execute(orderId, (order) => order.ship(carrier, trackingNumber), { metadata });
  }

  cancelOrder(orderId: string, reason: string, metadata?: CommandMetadata) {
    return this.orders.execute(orderId, (order) => order.cancel(reason), { metadata });
  }
}
