import { describe, expect, it } from 'vitest';
import { ANY, ErrorCode, type ErrorCodeValue, isAnnalsError, LOG_START, NO_STREAM } from '../../core.js';
import { type ContractContext, item, note, settledHead } from './fixtures.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}

async function expectCode(promise: Promise<unknown>, code: ErrorCodeValue, label: string): Promise<void> {
  const error = await rejection(promise);
  expect(isAnnalsError(error, code), `${label}: ${String(error)}`).toBe(true);
}

/** Strings no store can keep as they are: PostgreSQL refuses NUL and turns lone surrogates into U+FFFD. */
const UNSTORABLE = {
  'a NUL character': 'id-\u0000-nul',
  'a lone high surrogate': 'id-\uD83E',
  'a lone low surrogate': 'id-\uDD80-low',
  'a reversed pair': 'id-\uDD80\uD83E',
} as const;

/** Input every store rejects alike: ids, text and positions it could not store or read exactly. */
export function inputContract(ctx: ContractContext): void {
  describe('input every store rejects alike', () => {
    for (const [what, bad] of Object.entries(UNSTORABLE)) {
      it(`an aggregate id, event id or aggregate type with ${what}: InvalidArgumentError, nothing written`, async () => {
        const store = ctx.store();
        const before = await settledHead(store);
        const id = `${ctx.streamId('text')}${bad}`;
        await expectCode(store.append(id, NO_STREAM, [item('a')]), ErrorCode.InvalidArgument, 'aggregateId');
        await expectCode(store.load(id), ErrorCode.InvalidArgument, 'load');
        await expectCode(store.streamVersion(id), ErrorCode.InvalidArgument, 'streamVersion');
        const ok = ctx.streamId('text-ok');
        await expectCode(
          store.append(ok, NO_STREAM, [item('a'), item('b', 1, { eventId: `${ok}${bad}` })]),
          ErrorCode.InvalidArgument,
          'eventId',
        );
        await expectCode(
          store.append(ok, NO_STREAM, [item('a', 1, { aggregateType: `Cart${bad}` })]),
          ErrorCode.InvalidArgument,
          'aggregateType',
        );
        await expectCode(
          store.readAll({ types: [`ContractItemAdded${bad}`] }),
          ErrorCode.InvalidArgument,
          'readAll types',
        );
        expect(await store.streamVersion(ok)).toBe(0);
        expect(await store.countAfter(before.position)).toBe(0n);
      });

      it(`a payload or metadata holding ${what}: SerializationError, nothing written`, async () => {
        const store = ctx.store();
        const id = ctx.streamId('json');
        await expectCode(
          store.append(id, NO_STREAM, [item('a'), note(bad)]),
          ErrorCode.Serialization,
          'payload',
        );
        await expectCode(
          store.append(id, NO_STREAM, [note('key', { [bad]: 1 })]),
          ErrorCode.Serialization,
          'payload key',
        );
        await expectCode(
          store.append(id, NO_STREAM, [item('a', 1, { metadata: { note: bad } })]),
          ErrorCode.Serialization,
          'metadata',
        );
        expect(await store.streamVersion(id)).toBe(0);
      });
    }

    it('well-formed text near the edge is stored exactly: escapes, pairs, \\u0000 as text', async () => {
      const id = `${ctx.streamId('edge')}-🧾-\\uD83E`;
      const text = 'pair 🚀, escaped backslash \\u0000 and \\uD83E as plain text, \u0001 control';
      await ctx
        .store()
        .append(id, NO_STREAM, [note(text, { 'key 🧾': '\\\\u0000' }, { eventId: `${id}-e` })]);
      const [event] = await ctx.store().load(id);
      expect(event).toMatchObject({ eventId: `${id}-e`, payload: { text, data: { 'key 🧾': '\\\\u0000' } } });
    });

    it('ids of up to 512 characters; a longer one is an InvalidArgumentError', async () => {
      const prefix = ctx.streamId('long');
      const longest = prefix + 'x'.repeat(512 - prefix.length);
      await ctx.store().append(longest, NO_STREAM, [item('a', 1, { eventId: longest })]);
      expect(await ctx.store().streamVersion(longest)).toBe(1);
      await expectCode(ctx.store().append(`${longest}y`, ANY, [item('a')]), ErrorCode.InvalidArgument, 'id');
      await expectCode(
        ctx.store().append(ctx.streamId('long'), ANY, [item('a', 1, { eventId: `${longest}y` })]),
        ErrorCode.InvalidArgument,
        'eventId',
      );
    });

    it('malformed log positions: InvalidArgumentError from readAll and countAfter, never the whole log', async () => {
      const store = ctx.store();
      const malformed: unknown[] = [
        0,
        5,
        '0',
        null,
        {},
        { transactionId: 1n },
        { globalPosition: 1n },
        { transactionId: 1, globalPosition: 1 },
        { transactionId: '1', globalPosition: '1' },
        { transactionId: -1n, globalPosition: 0n },
        { transactionId: 0n, globalPosition: -1n },
        { transactionId: 2n ** 64n, globalPosition: 0n },
        { transactionId: 0n, globalPosition: 2n ** 63n },
      ];
      for (const bad of malformed) {
        const label =
          typeof bad === 'object' && bad !== null
            ? JSON.stringify(bad, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))
            : String(bad);
        await expectCode(
          store.readAll({ after: bad as never }),
          ErrorCode.InvalidArgument,
          `readAll ${label}`,
        );
        await expectCode(store.countAfter(bad as never), ErrorCode.InvalidArgument, `countAfter ${label}`);
      }
      expect(await store.countAfter(LOG_START)).toBeGreaterThanOrEqual(0n);
    });

    it('a page of at most 10,000 events: a larger limit is an InvalidArgumentError', async () => {
      const head = (await ctx.store().head()).position;
      expect((await ctx.store().readAll({ after: head, limit: 10_000 })).caughtUp).toBe(true);
      for (const limit of [10_001, 0, -1, 1.5]) {
        await expectCode(ctx.store().readAll({ limit }), ErrorCode.InvalidArgument, `limit ${limit}`);
      }
    });
  });
}
