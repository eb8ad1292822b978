import { createEvent, DomainRuleError, defineDecider } from 'annals';
import { Deposited, Opened, Withdrawn } from './fixtures.js';

/** The commands of the account decider. */
export type AccountCommand =
  | { readonly type: 'open'; readonly owner: string }
  | { readonly type: 'deposit'; readonly amount: number }
  | { readonly type: 'withdraw'; readonly amount: number }
  | { readonly type: 'openWithDeposit'; readonly owner: string; readonly amount: number }
  | { readonly type: 'noop' };

/** The account of fixtures.ts in the functional style: the same events, a plain state. */
export const accountDecider = defineDecider({
  aggregateType: 'Account',
  events: [Opened, Deposited, Withdrawn],
  initialState: () => ({ owner: '', balance: 0, open: false }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'Opened':
        return { ...state, owner: event.payload.owner, open: true };
      case 'Deposited':
        return { ...state, balance: state.balance + event.payload.amount };
      case 'Withdrawn':
        return { ...state, balance: state.balance - event.payload.amount };
    }
  },
  decide: (command: AccountCommand, state) => {
    if (command.type === 'open' || command.type === 'openWithDeposit') {
      if (state.open) throw new DomainRuleError('account already open', 'already-open');
      if (command.type === 'open') return createEvent(Opened, { owner: command.owner });
      // Several events, the second a plain object: both are typed by the decider's events.
      return [
        createEvent(Opened, { owner: command.owner }),
        { type: 'Deposited', payload: { amount: command.amount } },
      ];
    }
    if (!state.open) throw new DomainRuleError('no such account', 'not-open');
    switch (command.type) {
      case 'deposit':
        return createEvent(Deposited, { amount: command.amount });
      case 'withdraw':
        if (command.amount > state.balance) throw new DomainRuleError('insufficient funds', 'balance');
        return createEvent(Withdrawn, { amount: command.amount });
      case 'noop':
        return [];
    }
  },
});
