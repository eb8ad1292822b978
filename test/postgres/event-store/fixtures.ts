import { defineEvent, EventRegistry, type NewEvent } from 'annals';
import { z } from 'zod';

/** An event of the PostgreSQL store's own tests. */
export const ItemAdded = defineEvent({
  type: 'ItemAdded',
  schema: z.object({ sku: z.string().min(1), quantity: z.number().int().positive() }),
});

/** A free-form event for serialisation edge cases. */
export const Noted = defineEvent({
  type: 'Noted',
  schema: z.object({ text: z.string(), data: z.unknown().optional() }),
});

/** The registry of these tests. */
export function registry(): EventRegistry {
  return new EventRegistry([ItemAdded, Noted]);
}

/** An ItemAdded event. */
export function added(sku: string, extra: Partial<NewEvent> = {}): NewEvent {
  return { type: ItemAdded.type, aggregateType: 'Cart', payload: { sku, quantity: 1 }, ...extra };
}

/** A Noted event. */
export function noted(text: string, data?: unknown): NewEvent {
  return { type: Noted.type, aggregateType: 'Cart', payload: { text, data } };
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}

/** A stream id unique to this process. */
export function streamId(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
