import {
  defineEvent,
  defineProjection,
  InMemoryProjectionStore,
  type Projection,
  type ProjectionHandlerInfo,
  ProjectionRunner,
  type StoredEvent,
} from 'annals';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const Opened = defineEvent({ type: 'Opened', schema: z.object({ owner: z.string() }) });
const Deposited = defineEvent({ type: 'Deposited', schema: z.object({ amount: z.number() }) });

interface Accounts {
  balances: Map<string, number>;
}

describe('defineProjection types', () => {
  it('infers each handler event payload from the event definitions', () => {
    defineProjection<Accounts>()({
      name: 'balances',
      events: [Opened, Deposited],
      handlers: {
        Opened: (event, context, info) => {
          expectTypeOf(event.type).toEqualTypeOf<'Opened'>();
          expectTypeOf(event.payload).toEqualTypeOf<{ owner: string }>();
          expectTypeOf(event.globalPosition).toEqualTypeOf<bigint>();
          expectTypeOf(context).toEqualTypeOf<Accounts>();
          expectTypeOf(info).toEqualTypeOf<ProjectionHandlerInfo>();
        },
        Deposited: async (event, context) => {
          expectTypeOf(event.payload.amount).toEqualTypeOf<number>();
          context.balances.set(event.aggregateId, event.payload.amount);
        },
      },
      setup: (context) => {
        expectTypeOf(context).toEqualTypeOf<Accounts>();
      },
    });
  });

  it('returns a Projection of the context type', () => {
    const projection = defineProjection<Accounts>()({ name: 'p', events: [Opened], handlers: {} });
    expectTypeOf(projection).toEqualTypeOf<Projection<Accounts>>();
    expectTypeOf(projection.handlerFor('Opened')).toEqualTypeOf<
      | ((event: StoredEvent, context: Accounts, info: ProjectionHandlerInfo) => void | Promise<void>)
      | undefined
    >();
  });

  it('rejects handlers for unlisted types and wrong payload use', () => {
    defineProjection<Accounts>()({
      name: 'p',
      events: [Opened],
      handlers: {
        // @ts-expect-error Deposited is not one of the listed events
        Deposited: () => {},
      },
    });
    defineProjection<Accounts>()({
      name: 'p',
      events: [Opened],
      handlers: {
        Opened: (event) => {
          // @ts-expect-error Opened has no amount
          void event.payload.amount;
        },
      },
    });
  });

  it('ties a runner to projections and a store of the same context', () => {
    const store = new InMemoryProjectionStore<Accounts>({ initialState: { balances: new Map() } });
    const accounts = defineProjection<Accounts>()({ name: 'p', events: [Opened], handlers: {} });
    const other = defineProjection<{ rows: string[] }>()({ name: 'q', events: [Opened], handlers: {} });
    const eventStore = {} as ConstructorParameters<typeof ProjectionRunner>[0]['eventStore'];
    expectTypeOf(
      new ProjectionRunner({ eventStore, projectionStore: store, projections: [accounts] }),
    ).toEqualTypeOf<ProjectionRunner<Accounts>>();
    // @ts-expect-error the projection's context does not match the store's
    new ProjectionRunner({ eventStore, projectionStore: store, projections: [other] });
  });
});
