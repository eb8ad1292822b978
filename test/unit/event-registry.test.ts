import { defineEvent, ErrorCode, EventRegistry, isAnnalsError, type RawStoredEvent } from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Deposited, Opened } from './fixtures.js';

const raw = (overrides: Partial<RawStoredEvent> = {}): RawStoredEvent => ({
  eventId: 'e-1',
  aggregateId: 'a-1',
  aggregateType: 'Account',
  type: 'Deposited',
  version: 1,
  schemaVersion: 1,
  timestamp: new Date(0),
  payload: { amount: 5 },
  metadata: {},
  globalPosition: 2n ** 60n,
  transactionId: 9n,
  ...overrides,
});

describe('defineEvent', () => {
  it('rejects empty types, bad schema versions and non-schemas', () => {
    expect(() => defineEvent({ type: '', schema: z.object({}) })).toThrow(/non-empty/);
    expect(() => defineEvent({ type: 'X', schema: z.object({}), schemaVersion: 0 })).toThrow(/schemaVersion/);
    expect(() => defineEvent({ type: 'X', schema: {} as never })).toThrow(/must be a Standard Schema/);
    expect(Deposited.schemaVersion).toBe(1);
  });

  it('narrows events with is()', () => {
    const event = { type: 'Deposited' } as never;
    expect(Deposited.is(event)).toBe(true);
    expect(Opened.is(event)).toBe(false);
  });
});

describe('EventRegistry', () => {
  const registry = new EventRegistry([Opened, Deposited]);

  it('refuses two definitions of one type', () => {
    const twin = defineEvent({ type: 'Opened', schema: z.object({}) });
    expect(() => new EventRegistry([Opened, twin])).toThrow(/defined twice/);
  });

  it('encodes valid events with defaults filled in', () => {
    const encoded = registry.encode({ type: 'Deposited', aggregateType: 'Account', payload: { amount: 3 } });
    expect(encoded.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(encoded.schemaVersion).toBe(1);
    expect(encoded.payloadJson).toBe('{"amount":3}');
    expect(encoded.metadataJson).toBe('{}');
    expect(encoded.timestamp).toBeInstanceOf(Date);
  });

  it('rejects bad events with typed errors', () => {
    const base = { type: 'Deposited', aggregateType: 'Account', payload: { amount: 3 } };
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, payload: { amount: -1 } })),
        ErrorCode.EventValidation,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, type: 'Nope' })),
        ErrorCode.UnknownEventType,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, schemaVersion: 2 })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, aggregateType: '' })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, eventId: '' })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, timestamp: new Date('x') })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, metadata: [] as never })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => registry.encode({ ...base, metadata: { n: 1n } })),
        ErrorCode.Serialization,
      ),
    ).toBe(true);
  });

  it('decodes rows, keeping positions exact beyond 2^53', () => {
    const event = registry.decode(raw());
    expect(event.globalPosition).toBe(1152921504606846976n);
    expect(event.payload).toEqual({ amount: 5 });
  });

  it('validates on read and names the event', () => {
    const error = catchError(() => registry.decode(raw({ payload: { amount: 'five' } })));
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect(error).toMatchObject({ eventType: 'Deposited', eventId: 'e-1' });
    expect(
      isAnnalsError(
        catchError(() => registry.decode(raw({ type: 'Gone' }))),
        ErrorCode.UnknownEventType,
      ),
    ).toBe(true);
  });

  it('refuses events at another schema version without upcasters', () => {
    const newer = catchError(() => registry.decode(raw({ schemaVersion: 3 })));
    expect(isAnnalsError(newer, ErrorCode.Upcast)).toBe(true);
    expect((newer as Error).message).toMatch(/newer than this code knows/);
    const older = defineEvent({
      type: 'Deposited',
      schema: z.object({ amount: z.number() }),
      schemaVersion: 2,
    });
    expect(
      isAnnalsError(
        catchError(() => new EventRegistry([older]).decode(raw())),
        ErrorCode.Upcast,
      ),
    ).toBe(true);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
