import { DomainRuleError, ErrorCode, isAnnalsError } from 'annals';
import { deciderScenario } from 'annals/testing';
import { describe, expect, it } from 'vitest';
import { accountDecider } from './account-decider.js';
import { accountRegistry } from './fixtures.js';

const account = () => deciderScenario(accountDecider, { id: 'acc-1' });

describe('deciderScenario', () => {
  it('given events, when a command, then these events; returns the state', async () => {
    const state = await account()
      .given([
        { type: 'Opened', payload: { owner: 'ada' } },
        { type: 'Deposited', payload: { amount: 10 } },
      ])
      .when({ type: 'withdraw', amount: 4 })
      .thenEvents([{ type: 'Withdrawn', payload: { amount: 4 } }]);
    expect(state).toEqual({ owner: 'ada', balance: 6, open: true });
  });

  it('without given events, from the initial state; several events in order', async () => {
    await account()
      .when({ type: 'openWithDeposit', owner: 'bob', amount: 3 })
      .thenEvents([
        { type: 'Opened', payload: { owner: 'bob' } },
        { type: 'Deposited', payload: { amount: 3 } },
      ]);
    await account()
      .given([{ type: 'Opened', payload: { owner: 'bob' } }])
      .when({ type: 'noop' })
      .thenEvents([]);
  });

  it('then an error, matched by class, code or predicate', async () => {
    const given = account().given([{ type: 'Opened', payload: { owner: 'ada' } }]);
    await given.when({ type: 'withdraw', amount: 1 }).thenError(DomainRuleError);
    await given.when({ type: 'open', owner: 'eve' }).thenError('ANNALS_DOMAIN_RULE');
    await account()
      .when({ type: 'deposit', amount: 1 })
      .thenError((error: unknown) => isAnnalsError(error, ErrorCode.DomainRule));
    // A payload that fails its schema is an error of the command, too.
    await account().when({ type: 'open', owner: '' }).thenError('ANNALS_EVENT_VALIDATION');
  });

  it('fails when the decided events differ', async () => {
    await expect(
      account()
        .given([{ type: 'Opened', payload: { owner: 'ada' } }])
        .when({ type: 'deposit', amount: 2 })
        .thenEvents([{ type: 'Deposited', payload: { amount: 3 } }]),
    ).rejects.toThrow();
  });

  it('with a registry, given events are read as a store would (validated)', async () => {
    const scenario = deciderScenario(accountDecider, { registry: accountRegistry() });
    await expect(
      scenario
        .given([{ type: 'Opened', payload: { owner: '' } }])
        .when({ type: 'deposit', amount: 1 })
        .thenEvents([]),
    ).rejects.toThrow(expect.objectContaining({ code: 'ANNALS_EVENT_VALIDATION' }));
  });
});
