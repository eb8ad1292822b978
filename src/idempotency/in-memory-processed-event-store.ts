import { InvalidArgumentError } from '../errors.js';
import { assertValidId } from '../events/event-registry.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { ProcessedEventStore, RecordOnceResult } from './processed-event-store.js';

/**
 * A {@link ProcessedEventStore} in process memory. It has no transactions: the record is written
 * right after `work` resolves, so the effects of `work` are at-least-once (a crash between the two
 * loses the record, and memory is lost on restart anyway). For tests and prototypes.
 *
 * @example
 * ```ts
 * const processed = new InMemoryProcessedEventStore();
 * await processed.recordOnce('shipping-emails', event.eventId, async () => sendMail(event));
 * ```
 */
export class InMemoryProcessedEventStore implements ProcessedEventStore<undefined> {
  readonly #processed = new Map<string, Set<string>>();
  readonly #mutex = new KeyedMutex();

  async recordOnce<T>(
    consumer: string,
    eventId: string,
    work: (unit: undefined) => Promise<T>,
  ): Promise<RecordOnceResult<T>> {
    assertKey(consumer, eventId);
    if (typeof work !== 'function') throw new InvalidArgumentError('recordOnce needs a `work` function');
    return this.#mutex.run(JSON.stringify([consumer, eventId]), async () => {
      if (this.#has(consumer, eventId)) return { duplicate: true, result: undefined };
      const result = await work(undefined);
      this.#mark(consumer, eventId);
      return { duplicate: false, result };
    });
  }

  async hasProcessed(consumer: string, eventId: string): Promise<boolean> {
    assertKey(consumer, eventId);
    return this.#has(consumer, eventId);
  }

  async markProcessed(consumer: string, eventId: string): Promise<boolean> {
    assertKey(consumer, eventId);
    if (this.#has(consumer, eventId)) return false;
    this.#mark(consumer, eventId);
    return true;
  }

  #has(consumer: string, eventId: string): boolean {
    return this.#processed.get(consumer)?.has(eventId) ?? false;
  }

  #mark(consumer: string, eventId: string): void {
    let events = this.#processed.get(consumer);
    if (!events) {
      events = new Set();
      this.#processed.set(consumer, events);
    }
    events.add(eventId);
  }
}

function assertKey(consumer: string, eventId: string): void {
  assertValidId('consumer', consumer);
  assertValidId('eventId', eventId);
}
