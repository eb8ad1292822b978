import { describe, expect, it } from 'vitest';
import { ANY, ConcurrencyError, ErrorCode, isAnnalsError, NO_STREAM, STREAM_EXISTS } from '../../core.js';
import { type ContractContext, item, note, settledHead } from './fixtures.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}

/** Appends: ordering, expected-version modes, idempotency, validation. */
export function appendContract(ctx: ContractContext): void {
  describe('append and load', () => {
    it('stores events in order with versions 1..n and round-trips every field', async () => {
      const id = ctx.streamId('order');
      const timestamp = new Date('2026-01-02T03:04:05.678Z');
      const result = await ctx
        .store()
        .append(id, NO_STREAM, [
          item('a', 1, { eventId: `${id}-e1`, timestamp, metadata: { correlationId: 'c-1', tenant: 't' } }),
          item('b', 2),
          note('third'),
        ]);
      expect(result.nextExpectedVersion).toBe(3);
      expect(result.duplicate).toBe(false);
      expect(result.events.map((event) => event.version)).toEqual([1, 2, 3]);

      const loaded = await ctx.store().load(id);
      expect(loaded.map((event) => event.version)).toEqual([1, 2, 3]);
      expect(loaded.map((event) => event.type)).toEqual([
        'ContractItemAdded',
        'ContractItemAdded',
        'ContractNote',
      ]);
      const first = loaded[0]!;
      expect(first).toMatchObject({
        eventId: `${id}-e1`,
        aggregateId: id,
        aggregateType: 'ContractCart',
        schemaVersion: 1,
        payload: { sku: 'a', quantity: 1 },
        metadata: { correlationId: 'c-1', tenant: 't' },
      });
      expect(first.timestamp.toISOString()).toBe(timestamp.toISOString());
      expect(typeof first.globalPosition).toBe('bigint');
      expect(typeof first.transactionId).toBe('bigint');
      expect(loaded[1]!.globalPosition > first.globalPosition).toBe(true);
      expect(loaded.map((event) => event.eventId)).toEqual(result.events.map((event) => event.eventId));
      expect(loaded.map((event) => event.globalPosition)).toEqual(
        result.events.map((event) => event.globalPosition),
      );
    });

    it('loads a version range and reports stream versions', async () => {
      const id = ctx.streamId('range');
      await ctx.store().append(id, NO_STREAM, [item('a'), item('b'), item('c'), item('d')]);
      const middle = await ctx.store().load(id, { fromVersion: 2, toVersion: 3 });
      expect(middle.map((event) => event.version)).toEqual([2, 3]);
      expect((await ctx.store().load(id, { fromVersion: 4 })).map((event) => event.version)).toEqual([4]);
      expect(await ctx.store().load(ctx.streamId('missing'))).toEqual([]);
      expect(await ctx.store().streamVersion(id)).toBe(4);
      expect(await ctx.store().streamVersion(ctx.streamId('missing'))).toBe(0);
    });
  });

  describe('expected versions', () => {
    it('exact: appends when the version matches, else throws ConcurrencyError with the actual version', async () => {
      const id = ctx.streamId('exact');
      await ctx.store().append(id, 0, [item('a')]);
      await ctx.store().append(id, 1, [item('b'), item('c')]);
      const error = await rejection(ctx.store().append(id, 1, [item('late')]));
      expect(isAnnalsError(error, ErrorCode.Concurrency)).toBe(true);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({
        code: ErrorCode.Concurrency,
        aggregateId: id,
        expectedVersion: 1,
        actualVersion: 3,
      });
      expect(await ctx.store().streamVersion(id)).toBe(3);
      const ahead = await rejection(ctx.store().append(id, 7, [item('ahead')]));
      expect(ahead).toMatchObject({ code: ErrorCode.Concurrency, actualVersion: 3 });
    });

    it('no_stream: only for a stream without events', async () => {
      const id = ctx.streamId('nostream');
      await ctx.store().append(id, NO_STREAM, [item('a')]);
      const error = await rejection(ctx.store().append(id, NO_STREAM, [item('b')]));
      expect(error).toMatchObject({
        code: ErrorCode.Concurrency,
        expectedVersion: NO_STREAM,
        actualVersion: 1,
      });
      expect(await ctx.store().streamVersion(id)).toBe(1);
    });

    it('stream_exists: only for a stream with events', async () => {
      const id = ctx.streamId('exists');
      const error = await rejection(ctx.store().append(id, STREAM_EXISTS, [item('a')]));
      expect(error).toMatchObject({
        code: ErrorCode.Concurrency,
        expectedVersion: STREAM_EXISTS,
        actualVersion: 0,
      });
      expect(await ctx.store().streamVersion(id)).toBe(0);
      await ctx.store().append(id, NO_STREAM, [item('a')]);
      const result = await ctx.store().append(id, STREAM_EXISTS, [item('b')]);
      expect(result.nextExpectedVersion).toBe(2);
    });

    it('any: appends to new and existing streams', async () => {
      const id = ctx.streamId('any');
      expect((await ctx.store().append(id, ANY, [item('a')])).nextExpectedVersion).toBe(1);
      expect((await ctx.store().append(id, ANY, [item('b'), item('c')])).nextExpectedVersion).toBe(3);
      expect((await ctx.store().load(id)).map((event) => event.version)).toEqual([1, 2, 3]);
    });

    it('rejects malformed expected versions and ids with InvalidArgumentError', async () => {
      const id = ctx.streamId('badexpected');
      for (const bad of [-1, 1.5, Number.NaN, 'latest', null]) {
        const error = await rejection(ctx.store().append(id, bad as never, [item('a')]));
        expect(isAnnalsError(error, ErrorCode.InvalidArgument), `expected version ${String(bad)}`).toBe(true);
      }
      expect(
        isAnnalsError(await rejection(ctx.store().append('', ANY, [item('a')])), ErrorCode.InvalidArgument),
      ).toBe(true);
      expect(await ctx.store().streamVersion(id)).toBe(0);
    });

    it('an empty append checks the expected version and writes nothing', async () => {
      const id = ctx.streamId('empty');
      await ctx.store().append(id, NO_STREAM, [item('a')]);
      expect((await ctx.store().append(id, 1, [])).nextExpectedVersion).toBe(1);
      expect(isAnnalsError(await rejection(ctx.store().append(id, 5, [])), ErrorCode.Concurrency)).toBe(true);
      expect(await ctx.store().streamVersion(id)).toBe(1);
    });
  });

  describe('idempotency by event id', () => {
    it('a retried append returns the original result and writes nothing', async () => {
      const id = ctx.streamId('retry');
      const events = [item('a', 1, { eventId: `${id}-1` }), item('b', 1, { eventId: `${id}-2` })];
      const first = await ctx.store().append(id, NO_STREAM, events);
      await ctx.store().append(id, 2, [item('c')]);
      const again = await ctx.store().append(id, NO_STREAM, events);
      expect(again.duplicate).toBe(true);
      expect(again.nextExpectedVersion).toBe(first.nextExpectedVersion);
      expect(again.events.map((event) => event.globalPosition)).toEqual(
        first.events.map((e) => e.globalPosition),
      );
      expect(await ctx.store().streamVersion(id)).toBe(3);
    });

    it('a retry of a prefix of a stored append is a retry too: its own part of the original result', async () => {
      const id = ctx.streamId('prefix');
      const events = [1, 2, 3].map((n) => item(`p${n}`, n, { eventId: `${id}-${n}` }));
      const first = await ctx.store().append(id, NO_STREAM, events);
      const prefix = await ctx.store().append(id, NO_STREAM, events.slice(0, 2));
      expect(prefix.duplicate).toBe(true);
      expect(prefix.nextExpectedVersion).toBe(2);
      expect(prefix.events.map((event) => [event.eventId, event.version, event.globalPosition])).toEqual(
        first.events.slice(0, 2).map((event) => [event.eventId, event.version, event.globalPosition]),
      );
      expect(await ctx.store().streamVersion(id)).toBe(3);
      // Out of order, the ids are not a part of the stored append: nothing is written.
      const swapped = await rejection(ctx.store().append(id, 3, [events[1]!, events[0]!]));
      expect(isAnnalsError(swapped, ErrorCode.DuplicateEvent)).toBe(true);
      expect(await ctx.store().streamVersion(id)).toBe(3);
    });

    it('a retry with the same ids but another payload returns the stored events; nothing is compared or written', async () => {
      const id = ctx.streamId('changed');
      const first = await ctx.store().append(id, NO_STREAM, [item('a', 1, { eventId: `${id}-1` })]);
      const again = await ctx
        .store()
        .append(id, NO_STREAM, [
          note('another payload', undefined, { eventId: `${id}-1`, metadata: { x: 1 } }),
        ]);
      expect(again.duplicate).toBe(true);
      expect(again.events).toHaveLength(1);
      expect(again.events[0]).toMatchObject({
        eventId: `${id}-1`,
        type: 'ContractItemAdded',
        payload: { sku: 'a', quantity: 1 },
        metadata: {},
        globalPosition: first.events[0]!.globalPosition,
      });
      expect((await ctx.store().load(id)).map((event) => event.payload)).toEqual([{ sku: 'a', quantity: 1 }]);
    });

    it('a partly stored or foreign event id is a DuplicateEventError and writes nothing', async () => {
      const id = ctx.streamId('dup');
      await ctx.store().append(id, NO_STREAM, [item('a', 1, { eventId: `${id}-1` })]);
      const partial = await rejection(
        ctx
          .store()
          .append(id, 1, [item('b', 1, { eventId: `${id}-new` }), item('a', 1, { eventId: `${id}-1` })]),
      );
      expect(isAnnalsError(partial, ErrorCode.DuplicateEvent)).toBe(true);
      const other = ctx.streamId('dup-other');
      const foreign = await rejection(
        ctx.store().append(other, NO_STREAM, [item('a', 1, { eventId: `${id}-1` })]),
      );
      expect(isAnnalsError(foreign, ErrorCode.DuplicateEvent)).toBe(true);
      expect(await ctx.store().streamVersion(id)).toBe(1);
      expect(await ctx.store().streamVersion(other)).toBe(0);
      const twice = await rejection(
        ctx
          .store()
          .append(other, NO_STREAM, [item('x', 1, { eventId: 'same' }), item('y', 1, { eventId: 'same' })]),
      );
      expect(isAnnalsError(twice, ErrorCode.InvalidArgument)).toBe(true);
    });
  });

  describe('rejected input leaves nothing written', () => {
    it('an invalid payload anywhere in a batch: EventValidationError naming the type and issues', async () => {
      const id = ctx.streamId('invalid');
      const headBefore = await settledHead(ctx.store());
      const error = await rejection(
        ctx
          .store()
          .append(id, NO_STREAM, [item('ok'), { ...item('bad'), payload: { sku: '', quantity: -1 } }]),
      );
      expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
      expect(error).toMatchObject({ eventType: 'ContractItemAdded' });
      expect((error as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
      expect(await ctx.store().streamVersion(id)).toBe(0);
      expect(await ctx.store().countAfter(headBefore.position)).toBe(0n);
    });

    it('an unknown event type: UnknownEventTypeError', async () => {
      const id = ctx.streamId('unknown');
      const error = await rejection(
        ctx
          .store()
          .append(id, NO_STREAM, [item('a'), { type: 'NoSuchEvent', aggregateType: 'X', payload: {} }]),
      );
      expect(isAnnalsError(error, ErrorCode.UnknownEventType)).toBe(true);
      expect(await ctx.store().streamVersion(id)).toBe(0);
    });

    it('unserialisable payloads (BigInt, cycles): SerializationError', async () => {
      const id = ctx.streamId('serial');
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      for (const data of [{ big: 10n }, cyclic]) {
        const error = await rejection(ctx.store().append(id, ANY, [item('a'), note('bad', data)]));
        expect(isAnnalsError(error, ErrorCode.Serialization)).toBe(true);
      }
      expect(await ctx.store().streamVersion(id)).toBe(0);
    });

    it('a NUL character in a payload is a SerializationError, never a half write', async () => {
      const id = ctx.streamId('nul');
      const error = await rejection(
        ctx.store().append(id, NO_STREAM, [item('a'), note('nul \u0000 inside')]),
      );
      expect(isAnnalsError(error, ErrorCode.Serialization), String(error)).toBe(true);
      expect(await ctx.store().streamVersion(id)).toBe(0);
    });
  });

  describe('payload sizes and characters', () => {
    it('round-trips large and unicode payloads exactly', async () => {
      const id = ctx.streamId('unicode');
      const text = 'Grüße, 東京, مرحبا, 🚀🧾, \u2028 "quotes" \\ backslash';
      const large = 'x'.repeat(1_000_000);
      const nested = { list: Array.from({ length: 1000 }, (_, index) => ({ index, label: `#${index}` })) };
      await ctx.store().append(id, NO_STREAM, [note(text), note(large), note('nested', nested)]);
      const loaded = await ctx.store().load(id);
      expect(loaded.map((event) => event.payload)).toEqual([
        { text },
        { text: large },
        { text: 'nested', data: nested },
      ]);
    });
  });
}
