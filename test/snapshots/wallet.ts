import {
  type AggregateEventHandlers,
  AggregateRoot,
  DomainRuleError,
  defineEvent,
  type EventOf,
  EventRegistry,
  type IEventStore,
  InMemoryEventStore,
  type LoadOptions,
} from 'annals';
import { z } from 'zod';

/** Test fixtures of the evolution, idempotency and snapshot tests: a wallet with deposits. */
export const WalletOpened = defineEvent({
  type: 'WalletOpened',
  schema: z.object({ owner: z.string().min(1) }),
});
export const MoneyDeposited = defineEvent({
  type: 'MoneyDeposited',
  schema: z.object({ amount: z.number().positive() }),
});
export const MoneyWithdrawn = defineEvent({
  type: 'MoneyWithdrawn',
  schema: z.object({ amount: z.number().positive() }),
});
export const walletEvents = [WalletOpened, MoneyDeposited, MoneyWithdrawn] as const;
export type WalletEvent = EventOf<(typeof walletEvents)[number]>;

export const walletRegistry = () => new EventRegistry(walletEvents);
export const walletStore = () => new InMemoryEventStore({ registry: walletRegistry() });

export function handlersOf(wallet: { owner: string; balance: number }): AggregateEventHandlers<WalletEvent> {
  return {
    WalletOpened: (event) => {
      wallet.owner = event.payload.owner;
    },
    MoneyDeposited: (event) => {
      wallet.balance += event.payload.amount;
    },
    MoneyWithdrawn: (event) => {
      wallet.balance -= event.payload.amount;
    },
  };
}

/** A wallet without snapshot support. */
export class Wallet extends AggregateRoot<WalletEvent> {
  readonly aggregateType = 'Wallet';
  owner = '';
  balance = 0;
  protected readonly handlers = handlersOf(this);

  open(owner: string) {
    this.raiseCreation(WalletOpened, { owner });
  }
  deposit(amount: number) {
    this.raise(MoneyDeposited, { amount });
  }
  withdraw(amount: number) {
    if (amount > this.balance) throw new DomainRuleError('insufficient funds', 'balance');
    this.raise(MoneyWithdrawn, { amount });
  }
}

/** An event store that records the arguments of every `load` and counts appends. */
export function spyingStore(store: IEventStore = walletStore()) {
  const loads: Array<{ aggregateId: string; options: LoadOptions | undefined }> = [];
  let appends = 0;
  const spy: IEventStore = {
    append: (...args) => {
      appends++;
      return store.append(...args);
    },
    load: (aggregateId, options) => {
      loads.push({ aggregateId, options });
      return store.load(aggregateId, options);
    },
    streamVersion: (aggregateId) => store.streamVersion(aggregateId),
    readAll: (options) => store.readAll(options),
    head: () => store.head(),
    countAfter: (position) => store.countAfter(position),
    onAppended: (listener) => store.onAppended(listener),
    close: () => store.close(),
  };
  return {
    store: spy,
    loads,
    get appends() {
      return appends;
    },
  };
}
