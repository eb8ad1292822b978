import { z } from 'zod';
import { defineEvent, EventRegistry, type IEventStore, type NewEvent } from '../../core.js';

/** An event type of the contract suite: an item added to a cart-like stream. */
export const ContractItemAdded = defineEvent({
  type: 'ContractItemAdded',
  schema: z.object({ sku: z.string().min(1), quantity: z.number().int().positive() }),
});

/** An event type of the contract suite with a free-form payload, for serialisation edge cases. */
export const ContractNote = defineEvent({
  type: 'ContractNote',
  schema: z.object({ text: z.string(), data: z.unknown().optional() }),
});

/** The registry every store under contract test must be created with. */
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
