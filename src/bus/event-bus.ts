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
 * @category Messaging
 */
export interface EventBus {
  /** Delivers each event, in order, to the listeners of its type and to `'*'` listeners. */
  publish(events: readonly StoredEvent[]): Promise<void>;
  /** Listens to one event type, or to all with `'*'`. */
  subscribe(type: string, listener: EventListener): Unsubscribe;
}
