import { SnapshotAggregateRoot } from 'annals';
import { z } from 'zod';
import { handlersOf, MoneyDeposited, type WalletEvent, WalletOpened } from './wallet.js';

export const WalletState = z.object({ owner: z.string().min(1), balance: z.number() });
export type WalletState = z.infer<typeof WalletState>;

/** A wallet that can be snapshotted; `restores` counts snapshot restores (for the tests). */
export class SnapshotWallet extends SnapshotAggregateRoot<WalletEvent, WalletState> {
  static restores = 0;
  readonly aggregateType = 'Wallet';
  readonly snapshotSchemaVersion: number = 1;
  protected override readonly snapshotSchema = WalletState;
  owner = '';
  balance = 0;
  protected readonly handlers = handlersOf(this);

  open(owner: string) {
    this.raiseCreation(WalletOpened, { owner });
  }
  deposit(amount: number) {
    this.raise(MoneyDeposited, { amount });
  }
  protected toSnapshot(): WalletState {
    return { owner: this.owner, balance: this.balance };
  }
  protected fromSnapshot(state: WalletState): void {
    SnapshotWallet.restores++;
    this.owner = state.owner;
    this.balance = state.balance;
  }
}
