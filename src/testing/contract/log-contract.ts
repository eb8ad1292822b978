import { describe, expect, it } from 'vitest';
import {
  compareLogPositions,
  ErrorCode,
  isAnnalsError,
  logPositionOf,
  NO_STREAM,
  type StoredEvent,
} from '../../core.js';
import { type ContractContext, eventually, item, note, settledHead } from './fixtures.js';

/** The global log: order, paging, head, counts and append notifications. */
export function logContract(ctx: ContractContext): void {
  describe('global log', () => {
    it('pages through every event after a position, in order, each once', async () => {
      const start = (await settledHead(ctx.store())).position;
      const streams = [ctx.streamId('log-a'), ctx.streamId('log-b'), ctx.streamId('log-c')];
      const appended: string[] = [];
      for (let round = 0; round < 5; round++) {
        for (const id of streams) {
          const result = await ctx
            .store()
            .append(id, round === 0 ? NO_STREAM : round * 2, [item(`${round}-1`), item(`${round}-2`)]);
          appended.push(...result.events.map((event) => event.eventId));
        }
      }
      const seen: StoredEvent[] = [];
      await eventually(async () => {
        seen.length = 0;
        let after = start;
        let pages = 0;
        for (;;) {
          const page = await ctx.store().readAll({ after, limit: 7 });
          seen.push(...page.events);
          pages++;
          if (page.events.length > 0)
            expect(page.next).toEqual({
              transactionId: page.events.at(-1)!.transactionId,
              globalPosition: page.events.at(-1)!.globalPosition,
            });
          else expect(page.next).toEqual(after);
          after = page.next;
          if (page.caughtUp) break;
          expect(page.events).toHaveLength(7);
        }
        expect(pages).toBe(Math.floor(appended.length / 7) + 1);
        expect(seen.map((event) => event.eventId)).toEqual(appended);
      });
      for (let index = 1; index < seen.length; index++) {
        expect(compareLogPositions(seen[index - 1]!, seen[index]!)).toBeLessThan(0);
      }
      const byStream = new Map<string, number[]>();
      for (const event of seen)
        byStream.set(event.aggregateId, [...(byStream.get(event.aggregateId) ?? []), event.version]);
      for (const id of streams) expect(byStream.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('reports the head and counts events after a position', async () => {
      const before = await settledHead(ctx.store());
      const id = ctx.streamId('head');
      const result = await ctx.store().append(id, NO_STREAM, [item('a'), item('b'), item('c')]);
      const last = result.events.at(-1)!;
      const after = { position: logPositionOf(last) };
      await eventually(async () => {
        const head = await ctx.store().head();
        expect(head.position).toEqual({
          transactionId: last.transactionId,
          globalPosition: last.globalPosition,
        });
        expect(head.timestamp?.getTime()).toBe(last.timestamp.getTime());
        expect(await ctx.store().countAfter(before.position)).toBe(3n);
      });
      expect(await ctx.store().countAfter(after.position)).toBe(0n);
      const empty = await ctx.store().readAll({ after: after.position });
      expect(empty.events).toEqual([]);
      expect(empty.caughtUp).toBe(true);
    });

    it('reads by event type: only those events, in log order, and next moves past the others', async () => {
      const start = (await settledHead(ctx.store())).position;
      const id = ctx.streamId('types');
      const events = [item('a'), note('n1'), item('b'), note('n2'), note('n3'), item('c'), note('n4')];
      const result = await ctx.store().append(id, NO_STREAM, events);
      const headNow = logPositionOf(result.events.at(-1)!);
      const notes = result.events.filter((event) => event.type === 'ContractNote');

      await eventually(async () => {
        const all = await ctx.store().readAll({ after: start, types: ['ContractNote', 'ContractNote'] });
        expect(all.events.map((event) => event.eventId)).toEqual(notes.map((event) => event.eventId));
        expect(all.caughtUp).toBe(true);
        expect(all.next).toEqual(headNow);
      });

      await eventually(async () => {
        const seen: string[] = [];
        let after = start;
        for (;;) {
          const page = await ctx.store().readAll({ after, limit: 2, types: ['ContractItemAdded'] });
          expect(page.events.every((event) => event.type === 'ContractItemAdded')).toBe(true);
          seen.push(...page.events.map((event) => event.eventId));
          if (!page.caughtUp) {
            expect(page.next).toEqual(logPositionOf(page.events.at(-1)!));
          }
          after = page.next;
          if (page.caughtUp) break;
        }
        expect(seen).toEqual(
          result.events.filter((event) => event.type === 'ContractItemAdded').map((e) => e.eventId),
        );
        expect(after).toEqual(headNow);
      });

      await eventually(async () => {
        const none = await ctx.store().readAll({ after: start, types: [] });
        expect(none).toMatchObject({ events: [], caughtUp: true, next: headNow });
        const unknown = await ctx.store().readAll({ after: start, types: ['NoSuchEvent'] });
        expect(unknown).toMatchObject({ events: [], caughtUp: true, next: headNow });
      });
      const atHead = await ctx.store().readAll({ after: headNow, types: ['ContractNote'] });
      expect(atHead).toMatchObject({ events: [], caughtUp: true, next: headNow });
      for (const bad of ['', 1, null]) {
        const error = await ctx
          .store()
          .readAll({ types: [bad as never] })
          .then(
            () => undefined,
            (caught: unknown) => caught,
          );
        expect(isAnnalsError(error, ErrorCode.InvalidArgument), `type ${String(bad)}`).toBe(true);
      }
    });

    it('notifies listeners after an append', async () => {
      let calls = 0;
      const woke = new Promise<void>((resolve) => {
        const stop = ctx.store().onAppended(() => {
          calls++;
          stop();
          resolve();
        });
      });
      await ctx.store().append(ctx.streamId('notify'), NO_STREAM, [item('a')]);
      await Promise.race([
        woke,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('no append notification in 5 s')), 5000),
        ),
      ]);
      expect(calls).toBe(1);
    });
  });

  describe('concurrency', () => {
    it('many racing appends with the same expected version: exactly one wins', async () => {
      const id = ctx.streamId('race');
      await ctx.store().append(id, NO_STREAM, [item('seed')]);
      const racers = 16;
      const outcomes = await Promise.allSettled(
        Array.from({ length: racers }, (_, index) =>
          ctx.store().append(id, 1, [item(`r${index}`), item(`r${index}b`)]),
        ),
      );
      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
      expect(won).toHaveLength(1);
      for (const outcome of lost) {
        expect(isAnnalsError(outcome.reason, ErrorCode.Concurrency), String(outcome.reason)).toBe(true);
        expect(outcome.reason).toMatchObject({ expectedVersion: 1, actualVersion: 3 });
      }
      const loaded = await ctx.store().load(id);
      expect(loaded.map((event) => event.version)).toEqual([1, 2, 3]);
    });

    it('writers that retry on conflicts leave a gap-free stream with every event once', async () => {
      const id = ctx.streamId('writers');
      const writers = 8;
      const perWriter = 5;
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let n = 0; n < perWriter; n++) {
            for (;;) {
              const version = await ctx.store().streamVersion(id);
              try {
                await ctx.store().append(id, version, [item(`w${writer}-${n}`)]);
                break;
              } catch (error) {
                if (!isAnnalsError(error, ErrorCode.Concurrency)) throw error;
              }
            }
          }
        }),
      );
      const loaded = await ctx.store().load(id);
      expect(loaded.map((event) => event.version)).toEqual(
        Array.from({ length: writers * perWriter }, (_, i) => i + 1),
      );
      const skus = loaded.map((event) => (event.payload as { sku: string }).sku).sort();
      expect(new Set(skus).size).toBe(writers * perWriter);
    });
  });
}
