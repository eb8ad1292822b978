import { InvalidArgumentError } from '../errors.js';
import { assertValidId } from '../events/event-registry.js';
import type { RunOnceResult } from './command-log.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { ProcessedEvent, ProcessedEventStore } from './processed-event-store.js';

/**
 * A {@link ProcessedEventStore} in process memory. It has no transactions: the record is written
 * right after `work` resolves, so the effects of `work` are at-least-once (a crash between the two
 * loses the record, and memory is lost on restart anyway). For tests and prototypes.
 *
 * @example
 * ```ts
 * const processed = new InMemoryProcessedEventStore();
 * await processed.runOnce('shipping-emails', event.eventId, async () => sendMail(event));
 * ```
 *
 * @category Idempotency
 */
export class InMemoryProcessedEventStore implements ProcessedEventStore<undefined> {
  /** When each event was processed, per consumer. */
  readonly #processed = new Map<string, Map<string, Date>>();
  readonly #mutex = new KeyedMutex();

  async runOnce<T>(
    consumer: string,
    eventId: string,
    work: (unit: undefined) => Promise<T>,
  ): Promise<RunOnceResult<T, ProcessedEvent, undefined>> {
    assertKey(consumer, eventId);
    if (typeof work !== 'function') throw new InvalidArgumentError('runOnce needs a `work` function');
    return this.#mutex.run(JSON.stringify([consumer, eventId]), async () => {
      const existing = this.#find(consumer, eventId);
      if (existing) return { duplicate: true, result: undefined, record: existing };
      const result = await work(undefined);
      return { duplicate: false, result, record: this.#record(consumer, eventId) };
    });
  }

  async find(consumer: string, eventId: string): Promise<ProcessedEvent | undefined> {
    assertKey(consumer, eventId);
    return this.#find(consumer, eventId);
  }

  async record(consumer: string, eventId: string): Promise<boolean> {
    assertKey(consumer, eventId);
    if (this.#find(consumer, eventId)) return false;
    this.#record(consumer, eventId);
    return true;
  }

  #find(consumer: string, eventId: string): ProcessedEvent | undefined {
    const processedAt = this.#processed.get(consumer)?.get(eventId);
    return processedAt ? { consumer, eventId, processedAt: new Date(processedAt.getTime()) } : undefined;
  }

  #record(consumer: string, eventId: string): ProcessedEvent {
    let events = this.#processed.get(consumer);
    if (!events) {
      events = new Map();
      this.#processed.set(consumer, events);
    }
    const processedAt = new Date();
    events.set(eventId, processedAt);
    return { consumer, eventId, processedAt: new Date(processedAt.getTime()) };
  }
}

function assertKey(consumer: string, eventId: string): void {
  assertValidId('consumer', consumer);
  assertValidId('eventId', eventId);
}
