import type { StoredEvent } from '../events/event-envelope.js';
import { eventLogFields } from '../observability/log-fields.js';
import { type AnnalsLogger, getDefaultLogger, safeLog } from '../observability/logger.js';
import type { Unsubscribe } from '../store/event-store.js';
import type { EventBus, EventListener } from './event-bus.js';

/**
 * Options of {@link InMemoryEventBus}.
 *
 * @category Messaging
 */
export interface InMemoryEventBusOptions {
  /**
   * Called when a listener throws. Publishing goes on with the next listener either way, and
   * `publish` never rejects because of a listener.
   * @defaultValue an error of `logger`, with the event's ids
   */
  readonly onListenerError?: (error: unknown, event: StoredEvent) => void;
  /**
   * Where listener failures go when there is no `onListenerError`.
   * @defaultValue the default logger (`setDefaultLogger`)
   */
  readonly logger?: AnnalsLogger;
}

/**
 * An {@link EventBus} within one process. Listeners run one after another, in publish order.
 *
 * @example
 * ```ts
 * const bus = new InMemoryEventBus();
 * bus.subscribe('OrderShipped', (event) => console.log('shipped', event.aggregateId));
 * ```
 *
 * @category Messaging
 */
export class InMemoryEventBus implements EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #onListenerError: (error: unknown, event: StoredEvent) => void;

  constructor(options: InMemoryEventBusOptions = {}) {
    const logger = options.logger ?? getDefaultLogger();
    this.#onListenerError =
      options.onListenerError ??
      ((error, event) =>
        safeLog(
          logger,
          'error',
          { ...eventLogFields(event), err: error },
          `a listener failed on ${event.type} ${event.eventId}`,
        ));
  }

  subscribe(type: string, listener: EventListener): Unsubscribe {
    let listeners = this.#listeners.get(type);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(type, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  async publish(events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      const listeners = [...(this.#listeners.get(event.type) ?? []), ...(this.#listeners.get('*') ?? [])];
      for (const listener of listeners) {
        try {
          await listener(event);
        } catch (error) {
          this.#onListenerError(error, event);
        }
      }
    }
  }
}
