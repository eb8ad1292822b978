import { EventRegistry, type EventRegistryOptions, UpcasterRegistry } from 'annals';
import { type OrderLine, orderEvents } from './events.js';

/** `OrderCreated` as schema version 1 stored it: with a `totalAmount` derived from the lines. */
export interface OrderCreatedV1 {
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  /** The stored total. Derived state: it could disagree with the lines, and v2 drops it. */
  readonly totalAmount?: number;
}

/**
 * The Order domain's schema evolution. `OrderCreated` v1 → v2 drops the stored `totalAmount`:
 * the total is computed from the lines (`OrderAggregate.totalAmount`), so a v1 event whose stored
 * total disagrees with its lines can no longer mislead anyone. Stored events are not rewritten.
 */
export const orderUpcasters: UpcasterRegistry = new UpcasterRegistry().register({
  type: 'OrderCreated',
  fromSchemaVersion: 1,
  upcast: ({ totalAmount: _derived, ...rest }: OrderCreatedV1) => rest,
});

/**
 * The Order domain's {@link EventRegistry}: every Order event at its current schema version, with
 * {@link orderUpcasters} so that events stored at older versions load as current ones. Checks the
 * upcasters against the definitions (a gap in a chain throws at start-up, not on a read).
 */
export function orderRegistry(options: Omit<EventRegistryOptions, 'upcasters'> = {}): EventRegistry {
  const registry = new EventRegistry(orderEvents, { ...options, upcasters: orderUpcasters });
  orderUpcasters.verify(registry);
  return registry;
}
