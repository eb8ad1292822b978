import {
  createEvent,
  type DecidedEvent,
  type DeciderCommand,
  type DeciderEvent,
  DeciderRepository,
  type DeciderResult,
  type DeciderState,
  defineDecider,
  defineEvent,
  type EventOf,
  InMemoryEventStore,
  InMemorySnapshotStore,
} from 'annals';
import { deciderScenario } from 'annals/testing';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const Opened = defineEvent({ type: 'Opened', schema: z.object({ owner: z.string() }) });
const Deposited = defineEvent({
  type: 'Deposited',
  schema: z.object({ amount: z.number(), note: z.string().default('') }),
});
type Command = { type: 'open'; owner: string } | { type: 'deposit'; amount: number };

const account = defineDecider({
  aggregateType: 'Account',
  events: [Opened, Deposited],
  initialState: () => ({ owner: '', balance: 0 }),
  evolve: (state, event) => {
    expectTypeOf(event).toEqualTypeOf<EventOf<typeof Opened | typeof Deposited>>();
    if (event.type === 'Opened') return { ...state, owner: event.payload.owner };
    expectTypeOf(event.payload).toEqualTypeOf<{ amount: number; note: string }>();
    return { ...state, balance: state.balance + event.payload.amount };
  },
  decide: (command: Command, state) => {
    if (command.type === 'open') return createEvent(Opened, { owner: command.owner });
    if (state.balance > 100) return [];
    return [
      createEvent(Deposited, { amount: command.amount }),
      { type: 'Deposited', payload: { amount: 1, note: 'bonus' } },
    ];
  },
});

describe('deciders are typed from their definitions', () => {
  it('infers the state, the command and the event union', () => {
    expectTypeOf<DeciderState<typeof account>>().toEqualTypeOf<{ owner: string; balance: number }>();
    expectTypeOf<DeciderCommand<typeof account>>().toEqualTypeOf<Command>();
    expectTypeOf<DeciderEvent<typeof account>['type']>().toEqualTypeOf<'Opened' | 'Deposited'>();
  });

  it('createEvent takes the schema input and gives a typed decided event', () => {
    const event = createEvent(Deposited, { amount: 1 }); // `note` has a default: optional on input
    expectTypeOf(event.type).toEqualTypeOf<'Deposited'>();
    expectTypeOf(event.payload).toEqualTypeOf<{ amount: number; note?: string | undefined }>();
    // @ts-expect-error the payload does not fit the schema
    createEvent(Deposited, { amount: '1' });
    expectTypeOf<DecidedEvent<typeof Opened | typeof Deposited>['type']>().toEqualTypeOf<
      'Opened' | 'Deposited'
    >();
  });

  it('decide may only return events of the decider', () => {
    defineDecider({
      aggregateType: 'Account',
      events: [Opened],
      initialState: () => 0,
      evolve: (state) => state + 1,
      // @ts-expect-error Deposited is not one of the decider's events
      decide: (_command: string) => createEvent(Deposited, { amount: 1 }),
    });
    defineDecider({
      aggregateType: 'Account',
      events: [Opened, Deposited],
      initialState: () => 0,
      evolve: (state) => state + 1,
      // @ts-expect-error a plain event's payload is checked against its type's schema
      decide: (_command: string) => ({ type: 'Opened', payload: { amount: 1 } }),
    });
    defineDecider({
      aggregateType: 'Account',
      events: [Opened],
      // @ts-expect-error evolve must return the state
      evolve: (state: number) => String(state),
      initialState: () => 0,
      decide: () => [],
    });
  });

  it('the repository takes the decider commands and returns its state and events', async () => {
    const store = new InMemoryEventStore({ registry: undefined as never });
    const accounts = new DeciderRepository(store, {
      decider: account,
      snapshots: {
        store: new InMemorySnapshotStore(),
        toSnapshot: (state) => [state.owner, state.balance] as const,
        fromSnapshot: (snapshot) => ({ owner: snapshot[0], balance: snapshot[1] }),
      },
    });
    const result = await accounts.execute('a-1', { type: 'deposit', amount: 5 });
    expectTypeOf(result).toEqualTypeOf<
      DeciderResult<{ owner: string; balance: number }, typeof Opened | typeof Deposited>
    >();
    expectTypeOf(result.state.balance).toEqualTypeOf<number>();
    expectTypeOf(result.events[0]!.type).toEqualTypeOf<'Opened' | 'Deposited'>();
    expectTypeOf((await accounts.load('a-1')).state.owner).toEqualTypeOf<string>();
    // @ts-expect-error not a command of the decider
    await accounts.execute('a-1', { type: 'close' });
  });

  it('deciderScenario types given events, commands and expected events', async () => {
    const state = await deciderScenario(account)
      .given([{ type: 'Opened', payload: { owner: 'ada' } }])
      .when({ type: 'deposit', amount: 5 })
      .thenEvents([{ type: 'Deposited', payload: { amount: 5, note: '' } }]);
    expectTypeOf(state).toEqualTypeOf<{ owner: string; balance: number }>();
    // @ts-expect-error a given payload of the wrong shape
    deciderScenario(account).given([{ type: 'Opened', payload: { amount: 1 } }]);
    // @ts-expect-error not a command of the decider
    deciderScenario(account).when({ type: 'close' });
  });
});
