import {
  defineEvent,
  ErrorCode,
  EventRegistry,
  type EventValidationError,
  InMemoryEventStore,
  isAnnalsError,
  type RawStoredEvent,
  type StandardSchemaV1,
} from 'annals';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod3';

const zod4Event = defineEvent({
  type: 'Zod4Deposited',
  schema: z.object({ amount: z.number().positive(), note: z.string().default('none') }),
});
const zod3Event = defineEvent({
  type: 'Zod3Deposited',
  schema: z3.object({ amount: z3.number().positive(), note: z3.string().default('none') }),
});
const valibotEvent = defineEvent({
  type: 'ValibotDeposited',
  schema: v.object({ amount: v.pipe(v.number(), v.minValue(1)), note: v.optional(v.string(), 'none') }),
});

/** A hand-written Standard Schema: no vendor codes, path segments as `{ key }` objects. */
const handWritten: StandardSchemaV1<{ lines: { qty: number }[] }> = {
  '~standard': {
    version: 1,
    vendor: 'hand',
    validate: (value) => {
      const lines = (value as { lines?: { qty?: unknown }[] })?.lines;
      const bad = lines?.findIndex((line) => typeof line.qty !== 'number') ?? -1;
      return bad === -1
        ? { value: value as { lines: { qty: number }[] } }
        : { issues: [{ message: 'qty must be a number', path: [{ key: 'lines' }, { key: bad }, 'qty'] }] };
    },
  },
};
const handEvent = defineEvent({ type: 'HandWritten', schema: handWritten });

const registry = new EventRegistry([zod4Event, zod3Event, valibotEvent, handEvent]);

const raw = (type: string, payload: unknown): RawStoredEvent => ({
  eventId: 'e-1',
  aggregateId: 'a-1',
  aggregateType: 'Account',
  type,
  version: 1,
  schemaVersion: 1,
  timestamp: new Date(0),
  payload,
  metadata: {},
  globalPosition: 1n,
  transactionId: 1n,
});

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe.each([
  { validator: 'zod 4', definition: zod4Event, code: 'too_small' },
  { validator: 'zod 3', definition: zod3Event, code: 'too_small' },
  { validator: 'valibot', definition: valibotEvent, code: 'min_value' },
])('payloads validated by $validator', ({ definition, code }) => {
  it('appends and reads back the schema output (defaults applied)', async () => {
    const store = new InMemoryEventStore({ registry });
    const appended = await store.append('account-1', 'no_stream', [
      { type: definition.type, aggregateType: 'Account', payload: { amount: 5 } },
    ]);
    expect(appended.events[0]!.payload).toEqual({ amount: 5, note: 'none' });
    const [loaded] = await store.load('account-1');
    expect(loaded!.payload).toEqual({ amount: 5, note: 'none' });
    const { events } = await store.readAll();
    expect(events.map((event) => event.payload)).toEqual([{ amount: 5, note: 'none' }]);
  });

  it('refuses a bad payload on append with EventValidationError and its issues; writes nothing', async () => {
    const store = new InMemoryEventStore({ registry });
    const error = await rejected(
      store.append('account-1', 'any', [
        { type: definition.type, aggregateType: 'Account', payload: { amount: 0 }, eventId: 'bad-1' },
      ]),
    );
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    const { eventType, eventId, issues, message } = error as EventValidationError;
    expect(eventType).toBe(definition.type);
    expect(eventId).toBe('bad-1');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: ['amount'], code });
    expect(issues[0]!.message).toEqual(expect.any(String));
    expect(message).toMatch(new RegExp(`"${definition.type}": amount: `));
    expect(await store.streamVersion('account-1')).toBe(0);
  });

  it('reports the root of a payload of the wrong kind with an empty path', () => {
    const error = caught(() => registry.encode({ type: definition.type, aggregateType: 'A', payload: 'x' }));
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect((error as EventValidationError).issues[0]!.path).toEqual([]);
  });

  it('refuses a stored payload that fails the schema on read', () => {
    const error = caught(() => registry.decode(raw(definition.type, { amount: 'lots' })));
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect((error as EventValidationError).eventId).toBe('e-1');
    expect((error as EventValidationError).issues[0]!.path).toEqual(['amount']);
  });
});

describe('any Standard Schema', () => {
  it('maps `{ key }` path segments to keys and leaves out a missing code', () => {
    const ok = registry.encode({ type: 'HandWritten', aggregateType: 'A', payload: { lines: [{ qty: 1 }] } });
    expect(ok.payloadJson).toBe('{"lines":[{"qty":1}]}');
    const error = caught(() =>
      registry.encode({ type: 'HandWritten', aggregateType: 'A', payload: { lines: [{ qty: 1 }, {}] } }),
    );
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    const [issue] = (error as EventValidationError).issues;
    expect(issue).toEqual({ path: ['lines', 1, 'qty'], message: 'qty must be a number' });
    expect((error as Error).message).toContain('lines.1.qty: qty must be a number');
  });

  it('refuses objects that are not Standard Schemas, and other versions of the standard', () => {
    expect(() => defineEvent({ type: 'X', schema: { parse: () => ({}) } as never })).toThrow(
      /must be a Standard Schema/,
    );
    const v2 = { '~standard': { version: 2, vendor: 'future', validate: () => ({ value: 1 }) } };
    expect(
      isAnnalsError(
        caught(() => defineEvent({ type: 'X', schema: v2 as never })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
  });
});

describe('async validation is not supported', () => {
  const asyncZod = defineEvent({
    type: 'AsyncZod',
    schema: z.object({ name: z.string() }).refine(async () => true),
  });
  const asyncValibot = defineEvent({
    type: 'AsyncValibot',
    schema: v.objectAsync({
      name: v.pipeAsync(
        v.string(),
        v.checkAsync(async () => true),
      ),
    }),
  });
  const asyncRegistry = new EventRegistry([asyncZod, asyncValibot]);

  it.each(['AsyncZod', 'AsyncValibot'])('%s: append rejects with InvalidArgumentError', async (type) => {
    const store = new InMemoryEventStore({ registry: asyncRegistry });
    const error = await rejected(
      store.append('s-1', 'any', [{ type, aggregateType: 'A', payload: { name: 'n' } }]),
    );
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect((error as Error).message).toMatch(/validated asynchronously.*synchronously/);
    expect(await store.streamVersion('s-1')).toBe(0);
  });

  it('read rejects with InvalidArgumentError', () => {
    const error = caught(() => asyncRegistry.decode(raw('AsyncValibot', { name: 'n' })));
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
  });
});
