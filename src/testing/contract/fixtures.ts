import { vi } from 'vitest';
import {
  compareLogPositions,
  defineEvent,
  EventRegistry,
  type IEventStore,
  type LogHead,
  type NewEvent,
  type StandardSchemaV1,
} from '../../core.js';

type Issue = StandardSchemaV1.Issue;

/**
 * A Standard Schema written by hand, so that `annals/testing` needs no validator package: the
 * suites run for users of zod, valibot or ArkType alike.
 */
function objectSchema<T>(check: (value: Record<string, unknown>, issues: Issue[]) => T): StandardSchemaV1<T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'annals-testing',
      validate(value) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          return { issues: [{ message: 'Expected an object' }] };
        }
        const issues: Issue[] = [];
        const output = check(value as Record<string, unknown>, issues);
        return issues.length > 0 ? { issues } : { value: output };
      },
    },
  };
}

/**
 * An event type of the contract suite: an item added to a cart-like stream.
 *
 * @category Testing
 */
export const ContractItemAdded = defineEvent({
  type: 'ContractItemAdded',
  schema: objectSchema<{
    /** The item's stock-keeping unit: a non-empty string. */
    sku: string;
    /** How many: a positive integer. */
    quantity: number;
  }>(({ sku, quantity }, issues) => {
    if (typeof sku !== 'string' || sku.length === 0) {
      issues.push({ message: 'Expected a non-empty string', path: ['sku'] });
    }
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) {
      issues.push({ message: 'Expected a positive integer', path: ['quantity'] });
    }
    return { sku: sku as string, quantity: quantity as number };
  }),
});

/**
 * An event type of the contract suite with a free-form payload, for serialisation edge cases.
 *
 * @category Testing
 */
export const ContractNote = defineEvent({
  type: 'ContractNote',
  schema: objectSchema<{
    /** Any string. */
    text: string;
    /** Any JSON value, for serialisation edge cases. */
    data?: unknown;
  }>((value, issues) => {
    if (typeof value.text !== 'string') issues.push({ message: 'Expected a string', path: ['text'] });
    return value.data === undefined
      ? { text: value.text as string }
      : { text: value.text as string, data: value.data };
  }),
});

/**
 * The registry every store under contract test must be created with.
 *
 * @category Testing
 */
export function contractRegistry(): EventRegistry {
  return new EventRegistry([ContractItemAdded, ContractNote]);
}

/** State shared by the tests of one contract run. */
export interface ContractContext {
  /** The store under test. */
  store(): IEventStore;
  /** A stream id unique to this run and this call. */
  streamId(label: string): string;
}

/** An item-added event for the contract suite. */
export function item(sku: string, quantity = 1, extra: Partial<NewEvent> = {}): NewEvent {
  return {
    type: ContractItemAdded.type,
    aggregateType: 'ContractCart',
    payload: { sku, quantity },
    ...extra,
  };
}

/** A note event for the contract suite. */
export function note(text: string, data?: unknown, extra: Partial<NewEvent> = {}): NewEvent {
  return { type: ContractNote.type, aggregateType: 'ContractCart', payload: { text, data }, ...extra };
}

/**
 * The log's head as far as the store shows it: the furthest of three reads. A store may show a
 * commit a moment late (the PostgreSQL store, while a transaction of another database ends; see
 * docs/postgres.md), and a read held back only ever shows less.
 */
export async function settledHead(store: IEventStore): Promise<LogHead> {
  let best = await store.head();
  for (let read = 1; read < 3; read++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const head = await store.head();
    if (compareLogPositions(head.position, best.position) > 0) best = head;
  }
  return best;
}

/**
 * Runs `check` (reads of the log and assertions on them) until it passes, for up to 10 s: the log
 * may show appends a moment late (see {@link settledHead}), never wrongly.
 */
export function eventually(check: () => Promise<void>): Promise<void> {
  return vi.waitFor(check, { timeout: 10_000, interval: 20 });
}
