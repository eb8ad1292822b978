import {
  AggregateRepository,
  type CommandLog,
  type CommandMetadata,
  type EventBus,
  type IEventStore,
  type RepositorySnapshotOptions,
} from 'annals';
import type { OrderLine } from './events.js';
import { OrderAggregate } from './order-aggregate.js';

/** What the Order command handler can be given besides its event store. */
export interface OrderCommandHandlerOptions {
  /** Receives stored events in process after each command. */
  readonly bus?: EventBus;
  /** De-duplicates commands that carry a `commandId`. */
  readonly commands?: CommandLog;
  /** Loads orders from snapshots and takes them per policy. */
  readonly snapshots?: RepositorySnapshotOptions;
}

/** The Order domain's command handler: one method per command, each run through the repository. */
export class OrderCommandHandler {
  readonly orders: AggregateRepository<OrderAggregate>;

  constructor(store: IEventStore, options: OrderCommandHandlerOptions = {}) {
    this.orders = new AggregateRepository(store, {
      create: (id) => new OrderAggregate(id),
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.commands ? { commands: options.commands } : {}),
      ...(options.snapshots ? { snapshots: options.snapshots } : {}),
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
