import {
  defineEvent,
  defineProjection,
  EventRegistry,
  InMemoryEventStore,
  InMemoryProjectionStore,
  type NewEvent,
  type ProjectionFailurePolicy,
  type ProjectionHandlerInfo,
  type ProjectionStore,
  type StoredEvent,
} from 'annals';
import { z } from 'zod';

export const CartOpened = defineEvent({
  type: 'CartOpened',
  schema: z.object({ customerId: z.string().min(1) }),
});
export const CartItemAdded = defineEvent({
  type: 'CartItemAdded',
  schema: z.object({ sku: z.string().min(1), quantity: z.number().int().positive(), price: z.number() }),
});
export const CartCheckedOut = defineEvent({ type: 'CartCheckedOut', schema: z.object({}) });
/** An event type the cart projection has no handler for. */
export const CartNoted = defineEvent({ type: 'CartNoted', schema: z.object({ text: z.string() }) });

export const cartEvents = [CartOpened, CartItemAdded, CartCheckedOut, CartNoted] as const;

export interface CartRow {
  customerId: string;
  itemCount: number;
  total: number;
  status: 'open' | 'checked-out';
}

/** The in-memory read model of the cart projection. */
export interface CartState {
  carts: Record<string, CartRow>;
  /** Every event id a handler applied, in order: shows double or missing applications. */
  applied: string[];
}

export const emptyCartState = (): CartState => ({ carts: {}, applied: [] });

export function newEventStore(): InMemoryEventStore {
  return new InMemoryEventStore({ registry: new EventRegistry(cartEvents) });
}

export function newProjectionStore(
  options: { leaseTtlMs?: number } = {},
): InMemoryProjectionStore<CartState> {
  return new InMemoryProjectionStore({ initialState: emptyCartState(), ...options });
}

/** Options of {@link cartProjection}. */
export interface CartProjectionOptions {
  readonly name?: string;
  readonly onFailure?: ProjectionFailurePolicy;
  /** Called before each handler; throw from it to make the handler fail. */
  readonly beforeHandler?: (event: StoredEvent, info: ProjectionHandlerInfo) => void;
}

/** A projection that keeps one row per cart. */
export function cartProjection(options: CartProjectionOptions = {}) {
  const before = options.beforeHandler ?? (() => {});
  return defineProjection<CartState>()({
    name: options.name ?? 'carts',
    events: cartEvents,
    onFailure: options.onFailure,
    handlers: {
      CartOpened: (event, state, info) => {
        before(event, info);
        state.carts[event.aggregateId] = {
          customerId: event.payload.customerId,
          itemCount: 0,
          total: 0,
          status: 'open',
        };
        state.applied.push(event.eventId);
      },
      CartItemAdded: (event, state, info) => {
        before(event, info);
        const cart = state.carts[event.aggregateId];
        if (!cart) throw new Error(`cart ${event.aggregateId} does not exist`);
        cart.itemCount += event.payload.quantity;
        cart.total = Math.round((cart.total + event.payload.quantity * event.payload.price) * 100) / 100;
        state.applied.push(event.eventId);
      },
      CartCheckedOut: async (event, state, info) => {
        await Promise.resolve();
        before(event, info);
        const cart = state.carts[event.aggregateId];
        if (cart) cart.status = 'checked-out';
        state.applied.push(event.eventId);
      },
    },
    reset: (state) => {
      state.carts = {};
      state.applied = [];
    },
  });
}

export const opened = (customerId: string, extra: Partial<NewEvent> = {}): NewEvent => ({
  type: 'CartOpened',
  aggregateType: 'Cart',
  payload: { customerId },
  ...extra,
});
export const itemAdded = (
  sku: string,
  quantity = 1,
  price = 10,
  extra: Partial<NewEvent> = {},
): NewEvent => ({
  type: 'CartItemAdded',
  aggregateType: 'Cart',
  payload: { sku, quantity, price },
  ...extra,
});
export const checkedOut = (extra: Partial<NewEvent> = {}): NewEvent => ({
  type: 'CartCheckedOut',
  aggregateType: 'Cart',
  payload: {},
  ...extra,
});
export const noted = (text: string, extra: Partial<NewEvent> = {}): NewEvent => ({
  type: 'CartNoted',
  aggregateType: 'Cart',
  payload: { text },
  ...extra,
});

/** Appends `count` carts, each opened with two items: 3 events per cart, one append each. */
export async function seedCarts(
  store: InMemoryEventStore,
  count: number,
  prefix = 'cart',
): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const id = `${prefix}-${index}`;
    const result = await store.append(id, 'no_stream', [
      opened(`customer-${index}`),
      itemAdded('a', 1, 5),
      itemAdded('b', 2, 2.5),
    ]);
    ids.push(...result.events.map((event) => event.eventId));
  }
  return ids;
}

/** Every event id of the log, in log order. */
export async function logEventIds(store: InMemoryEventStore, types?: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  let after: StoredEvent | undefined;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    for (const event of page.events) if (!types || types.includes(event.type)) ids.push(event.eventId);
    after = page.events.at(-1) ?? after;
    if (page.caughtUp) return ids;
  }
}

/** Polls `condition` until it holds; fails after `timeoutMs`. Not a timing assertion. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Handled types of the cart projection (CartNoted has no handler). */
export const handledTypes = ['CartOpened', 'CartItemAdded', 'CartCheckedOut'] as const;

/** A projection store that forwards to `inner`, except for `overrides`. */
export function wrapStore<TContext>(
  inner: ProjectionStore<TContext>,
  overrides: Partial<ProjectionStore<TContext>>,
): ProjectionStore<TContext> {
  return {
    transaction: (work) => inner.transaction(work),
    loadCheckpoint: (projection) => inner.loadCheckpoint(projection),
    getDeadLetter: (id) => inner.getDeadLetter(id),
    listDeadLetters: (projection, options) => inner.listDeadLetters(projection, options),
    countDeadLetters: (projection) => inner.countDeadLetters(projection),
    tryAcquireLease: (projection, owner) => inner.tryAcquireLease(projection, owner),
    ...overrides,
  };
}

/** A deterministic pseudo-random sequence (mulberry32). */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
