import {
  type AggregateEventHandlers,
  AggregateRoot,
  DomainRuleError,
  defineEvent,
  type EventOf,
  EventRegistry,
} from 'annals';
import { z } from 'zod';

export const Opened = defineEvent({ type: 'Opened', schema: z.object({ owner: z.string().min(1) }) });
export const Deposited = defineEvent({
  type: 'Deposited',
  schema: z.object({ amount: z.number().positive() }),
});
export const Withdrawn = defineEvent({
  type: 'Withdrawn',
  schema: z.object({ amount: z.number().positive() }),
});
export type AccountEvent = EventOf<typeof Opened | typeof Deposited | typeof Withdrawn>;

export const accountRegistry = () => new EventRegistry([Opened, Deposited, Withdrawn]);

/** A small bank account aggregate for the core's unit tests. */
export class Account extends AggregateRoot<AccountEvent> {
  readonly aggregateType = 'Account';
  owner = '';
  balance = 0;
  protected readonly handlers: AggregateEventHandlers<AccountEvent> = {
    Opened: (event) => {
      this.owner = event.payload.owner;
    },
    Deposited: (event) => {
      this.balance += event.payload.amount;
    },
    Withdrawn: (event) => {
      this.balance -= event.payload.amount;
    },
  };

  open(owner: string) {
    this.raiseCreation(Opened, { owner });
  }
  deposit(amount: number) {
    this.raise(Deposited, { amount });
  }
  withdraw(amount: number) {
    if (amount > this.balance) throw new DomainRuleError('insufficient funds', 'balance');
    this.raise(Withdrawn, { amount });
  }
}
