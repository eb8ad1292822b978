import {
  defineEvent,
  type EventOf,
  type PayloadInputOf,
  type PayloadOf,
  type StandardSchemaV1,
  type StoredEventOf,
} from 'annals';
import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod3';

const Zod4Added = defineEvent({
  type: 'Zod4Added',
  schema: z.object({ sku: z.string(), quantity: z.number().default(1), note: z.string().optional() }),
});
const Zod3Added = defineEvent({
  type: 'Zod3Added',
  schema: z3.object({ sku: z3.string(), quantity: z3.number().default(1), note: z3.string().optional() }),
});
const ValibotAdded = defineEvent({
  type: 'ValibotAdded',
  schema: v.object({ sku: v.string(), quantity: v.optional(v.number(), 1), note: v.optional(v.string()) }),
});

type Output = { sku: string; quantity: number; note?: string | undefined };
type Input = { sku: string; quantity?: number | undefined; note?: string | undefined };

describe('payload types are inferred from any Standard Schema', () => {
  it('zod 4: output and input types', () => {
    expectTypeOf(Zod4Added.type).toEqualTypeOf<'Zod4Added'>();
    expectTypeOf<PayloadOf<typeof Zod4Added>>().toEqualTypeOf<Output>();
    expectTypeOf<PayloadInputOf<typeof Zod4Added>>().toEqualTypeOf<Input>();
  });

  it('zod 3: output and input types', () => {
    expectTypeOf(Zod3Added.type).toEqualTypeOf<'Zod3Added'>();
    expectTypeOf<PayloadOf<typeof Zod3Added>>().toEqualTypeOf<Output>();
    expectTypeOf<PayloadInputOf<typeof Zod3Added>>().toEqualTypeOf<Input>();
  });

  it('valibot: output and input types', () => {
    expectTypeOf(ValibotAdded.type).toEqualTypeOf<'ValibotAdded'>();
    expectTypeOf<PayloadOf<typeof ValibotAdded>>().toEqualTypeOf<Output>();
    expectTypeOf<PayloadInputOf<typeof ValibotAdded>>().toEqualTypeOf<Input>();
  });

  it('a hand-written Standard Schema', () => {
    const schema = {} as StandardSchemaV1<{ at: string }, { at: Date }>;
    const Timed = defineEvent({ type: 'Timed', schema });
    expectTypeOf<PayloadOf<typeof Timed>>().toEqualTypeOf<{ at: Date }>();
    expectTypeOf<PayloadInputOf<typeof Timed>>().toEqualTypeOf<{ at: string }>();
  });

  it('mixes validators in one discriminated union', () => {
    type Event = EventOf<typeof Zod4Added | typeof Zod3Added | typeof ValibotAdded>;
    expectTypeOf<Event['type']>().toEqualTypeOf<'Zod4Added' | 'Zod3Added' | 'ValibotAdded'>();
    const handle = (event: Event) => {
      if (event.type === 'ValibotAdded') expectTypeOf(event.payload.quantity).toEqualTypeOf<number>();
      else if (event.type === 'Zod3Added') expectTypeOf(event.payload.sku).toEqualTypeOf<string>();
    };
    expectTypeOf(handle).toBeFunction();
    expectTypeOf<StoredEventOf<typeof ValibotAdded>['payload']>().toEqualTypeOf<Output>();
  });

  it('narrows with is()', () => {
    const narrow = (event: EventOf<typeof Zod4Added | typeof ValibotAdded>) => {
      if (ValibotAdded.is(event)) expectTypeOf(event.payload).toEqualTypeOf<Output>();
    };
    expectTypeOf(narrow).toBeFunction();
  });

  it('refuses a schema that is not a Standard Schema', () => {
    // @ts-expect-error a plain object is no schema
    defineEvent({ type: 'Nope', schema: { parse: (value: unknown) => value } });
  });
});
