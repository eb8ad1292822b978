import { createEvent, DomainRuleError, defineDecider } from 'annals';
import { MoneyDeposited, MoneyWithdrawn, WalletOpened } from './wallet.js';

/** The commands of the wallet decider. */
export type WalletCommand =
  | { readonly type: 'open'; readonly owner: string }
  | { readonly type: 'deposit'; readonly amount: number }
  | { readonly type: 'withdraw'; readonly amount: number };

/** The wallet of wallet.ts in the functional style; `evolved` counts evolve calls (for the tests). */
export const walletDecider = defineDecider({
  aggregateType: 'Wallet',
  events: [WalletOpened, MoneyDeposited, MoneyWithdrawn],
  initialState: () => ({ owner: '', balance: 0 }),
  evolve: (state, event) => {
    walletDeciderStats.evolved++;
    switch (event.type) {
      case 'WalletOpened':
        return { ...state, owner: event.payload.owner };
      case 'MoneyDeposited':
        return { ...state, balance: state.balance + event.payload.amount };
      case 'MoneyWithdrawn':
        return { ...state, balance: state.balance - event.payload.amount };
    }
  },
  decide: (command: WalletCommand, state) => {
    if (command.type === 'open') return createEvent(WalletOpened, { owner: command.owner });
    if (state.owner === '') throw new DomainRuleError('no such wallet');
    if (command.type === 'deposit') return createEvent(MoneyDeposited, { amount: command.amount });
    if (command.amount > state.balance) throw new DomainRuleError('insufficient funds', 'balance');
    return createEvent(MoneyWithdrawn, { amount: command.amount });
  },
});

/** How often the wallet decider's `evolve` ran. */
export const walletDeciderStats = { evolved: 0 };
