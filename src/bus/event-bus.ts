import type { StoredEvent } from '../events/event-envelope.js';
import type { Unsubscribe } from '../store/event-store.js';

/**
 * A function that receives published events.
 *
 * @category Messaging
 */
export type EventListener = (event: StoredEvent) => void | Promise<void>;

/**
 * Publishes stored events to in-process listeners, as the command handler of the reference
 * article does after an append. Delivery is after the commit and at most once: a crash between
 * the append and the publish loses the notification, never the event. Read models that must not
 * miss events follow the global log with a projection runner instead.
 *
 * @example
 * ```ts
 * import { type EventBus, type IEventStore, InMemoryEventBus, NO_STREAM } from 'annals';
 *
 * const bus: EventBus = new InMemoryEventBus();
 * bus.subscribe('OrderPlaced', (event) => console.log('placed', event.aggregateId));
 *
 * // After an append commits, publish what it stored (delivery is at most once).
 * async function placeOrder(store: IEventStore, orderId: string, total: number) {
 *   const { events } = await store.append(orderId, NO_STREAM, [
 *     { type: 'OrderPlaced', aggregateType: 'Order', payload: { total } },
 *   ]);
 *   await bus.publish(events);
 * }
 * ```
 *
 * @category Messaging
 */
export interface EventBus {
  /** Delivers each event, in order, to the listeners of its type and to `'*'` listeners. */
  publish(events: readonly StoredEvent[]): Promise<void>;
  /** Listens to one event type, or to all with `'*'`. */
  subscribe(type: string, listener: EventListener): Unsubscribe;
}
