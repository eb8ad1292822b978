import { InvalidArgumentError } from '../errors.js';
import { assertValidId } from '../events/event-registry.js';
import {
  type CommandLog,
  type CommandLogOptions,
  commandResultJson,
  type EventAppender,
  type ProcessedCommand,
  type RunOnceResult,
  resolveCommandTtlMs,
} from './command-log.js';
import { KeyedMutex } from './keyed-mutex.js';

/**
 * Options of {@link InMemoryCommandLog}.
 *
 * @category Idempotency
 */
export interface InMemoryCommandLogOptions extends CommandLogOptions {
  /** The event store the commands append to; `runOnce` hands it to the work. */
  readonly store: EventAppender;
}

interface MemoryRecord {
  readonly resultJson: string;
  readonly processedAt: Date;
  readonly expiresAt: Date;
}

/**
 * A {@link CommandLog} in process memory, for tests, examples and single-process prototypes.
 *
 * Calls with one command id run one after another: a duplicate waits for the running call and
 * then returns its result, or runs itself when that call failed, as a second PostgreSQL
 * transaction waits on the first one's unique key. The record is written as soon as `work`
 * resolves. Memory has no transactions, though: if `work` appends and then throws, the events
 * stay and nothing is recorded, so do the append last (as {@link AggregateRepository} does).
 *
 * @example
 * ```ts
 * const commands = new InMemoryCommandLog({ store });
 * const orders = new AggregateRepository(store, { create: (id) => new OrderAggregate(id), commands });
 * await orders.execute('order-1', (order) => order.ship('DHL', 'T-1'), { metadata: { commandId: 'cmd-9' } });
 * ```
 *
 * @category Idempotency
 */
export class InMemoryCommandLog implements CommandLog<EventAppender> {
  readonly #store: EventAppender;
  readonly #ttlMs: number;
  readonly #clock: () => Date;
  readonly #records = new Map<string, MemoryRecord>();
  readonly #mutex = new KeyedMutex();

  constructor(options: InMemoryCommandLogOptions) {
    if (typeof options?.store?.append !== 'function') {
      throw new InvalidArgumentError('InMemoryCommandLog needs the `store` the commands append to');
    }
    this.#store = options.store;
    this.#ttlMs = resolveCommandTtlMs(options.ttlHours);
    this.#clock = options.clock ?? (() => new Date());
  }

  async runOnce<T>(commandId: string, work: (unit: EventAppender) => Promise<T>): Promise<RunOnceResult<T>> {
    assertValidId('commandId', commandId);
    if (typeof work !== 'function') throw new InvalidArgumentError('runOnce needs a `work` function');
    return this.#mutex.run(commandId, async () => {
      const existing = this.#live(commandId);
      if (existing) return { duplicate: true, result: existing.result as T, record: existing };
      const result = await work(this.#store);
      const resultJson = commandResultJson(commandId, result);
      const processedAt = this.#clock();
      this.#records.set(commandId, {
        resultJson,
        processedAt,
        expiresAt: new Date(processedAt.getTime() + this.#ttlMs),
      });
      return { duplicate: false, result, record: this.#toRecord(commandId, this.#records.get(commandId)!) };
    });
  }

  async find(commandId: string): Promise<ProcessedCommand | undefined> {
    assertValidId('commandId', commandId);
    return this.#live(commandId);
  }

  async purgeExpired(): Promise<number> {
    const now = this.#clock().getTime();
    let purged = 0;
    for (const [commandId, record] of this.#records) {
      if (record.expiresAt.getTime() <= now) {
        this.#records.delete(commandId);
        purged++;
      }
    }
    return purged;
  }

  /** How many records are held, expired ones included (for tests and metrics). */
  get size(): number {
    return this.#records.size;
  }

  #live(commandId: string): ProcessedCommand | undefined {
    const record = this.#records.get(commandId);
    if (!record || record.expiresAt.getTime() <= this.#clock().getTime()) return undefined;
    return this.#toRecord(commandId, record);
  }

  #toRecord(commandId: string, record: MemoryRecord): ProcessedCommand {
    return {
      commandId,
      result: JSON.parse(record.resultJson),
      processedAt: new Date(record.processedAt.getTime()),
      expiresAt: new Date(record.expiresAt.getTime()),
    };
  }
}
