import {
  defineEvent,
  defineProjection,
  ErrorCode,
  EventRegistry,
  formatLogPosition,
  isAnnalsError,
  NO_STREAM,
  ProjectionHandlerError,
  ProjectionRunner,
  type StoredEvent,
} from 'annals';
import { PostgresEventStore, type PostgresProjectionContext, PostgresProjectionStore } from 'annals/postgres';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readLogThrough, usePostgres } from '../../support/postgres.js';

const db = usePostgres();

// What the writer knew: `Added` with any `n`, and a type `Renamed` the reader never learned.
const LooseAdded = defineEvent({ type: 'Added', schema: z.object({ n: z.unknown() }) });
const Renamed = defineEvent({ type: 'Renamed', schema: z.object({ name: z.string() }) });
// What the reader knows: `Added` with a numeric `n`.
const Added = defineEvent({ type: 'Added', schema: z.object({ n: z.number() }) });

let sequence = 0;

/** A schema of its own per test: a writer with the loose registry, a reader with the strict one. */
async function stores() {
  const schema = `${db.schema}_u${++sequence}`;
  const writer = new PostgresEventStore({
    pool: db.pool,
    registry: new EventRegistry([LooseAdded, Renamed]),
    schema,
  });
  await writer.migrate();
  const reader = new PostgresEventStore({ pool: db.pool, registry: new EventRegistry([Added]), schema });
  const fixed = new PostgresEventStore({ pool: db.pool, registry: new EventRegistry([LooseAdded]), schema });
  const projectionStore = new PostgresProjectionStore({ pool: db.pool, schema });
  const id = `a-${sequence}`;
  await writer.append(id, NO_STREAM, [
    { type: 'Added', aggregateType: 'A', payload: { n: 1 } },
    { type: 'Renamed', aggregateType: 'A', payload: { name: 'x' } }, // unknown to the reader
    { type: 'Added', aggregateType: 'A', payload: { n: 2 } },
  ]);
  await writer.append(id, 3, [{ type: 'Added', aggregateType: 'A', payload: { n: 'three' } }]); // fails `z.number()`
  await writer.append(id, 4, [{ type: 'Added', aggregateType: 'A', payload: { n: 5 } }]);
  const log = await readLogThrough(writer, 5);
  return { writer, reader, fixed, projectionStore, log };
}

function sumProjection(name: string, onUndecodable?: 'stop' | 'dead-letter') {
  const seen: unknown[] = [];
  const projection = defineProjection<PostgresProjectionContext>()({
    name,
    events: [Added],
    onUndecodable,
    handlers: {
      Added: (event) => {
        seen.push(event.payload.n);
      },
    },
  });
  return { projection, seen };
}

describe('an event the registry cannot read', () => {
  it('readAll names it (id, type, schema version, position), or reports it apart and reads the rest', async () => {
    const { reader, log } = await stores();
    const bad = log[3]!;
    const where = formatLogPosition({ transactionId: bad.transactionId, globalPosition: bad.globalPosition });
    const error = await reader.readAll({ limit: 100 }).catch((e: unknown) => e);
    expect(isAnnalsError(error, ErrorCode.UnknownEventType)).toBe(true); // the first one: `Renamed`

    const page = await reader.readAll({ limit: 100, onUndecodable: 'report' });
    expect(page.events.map((event) => event.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 5 }]);
    expect(
      page.undecodable?.map((item) => [item.raw.eventId, item.raw.type, item.raw.schemaVersion]),
    ).toEqual([
      [log[1]!.eventId, 'Renamed', 1],
      [bad.eventId, 'Added', 1],
    ]);
    const invalid = page.undecodable![1]!;
    expect(isAnnalsError(invalid.error, ErrorCode.EventValidation)).toBe(true);
    expect(invalid.error.message).toContain(bad.eventId);
    expect(invalid.error.message).toContain(where);
    expect(invalid.position).toEqual({
      transactionId: bad.transactionId,
      globalPosition: bad.globalPosition,
    });
    // The page covers every row, read or not.
    expect(page.next).toEqual({
      transactionId: log[4]!.transactionId,
      globalPosition: log[4]!.globalPosition,
    });
  });

  it("stops a projection before it by default, says why in status, and skips types it doesn't handle", async () => {
    const { reader, projectionStore, log } = await stores();
    const { projection, seen } = sumProjection('stop-default');
    const runner = new ProjectionRunner({ eventStore: reader, projectionStore, projections: [projection] });
    const error = await runner.catchUp().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionHandlerError);
    expect((error as ProjectionHandlerError).eventId).toBe(log[3]!.eventId);
    expect((error as Error).message).toMatch(/cannot be read/);
    expect(seen).toEqual([1, 2]); // `Renamed` skipped without being read

    const status = await runner.status(projection.name);
    expect(status.state).toBe('failed');
    expect(status.checkpoint).toEqual({
      transactionId: log[2]!.transactionId,
      globalPosition: log[2]!.globalPosition,
    });
    expect(status.blockedBy).toMatchObject({
      eventId: log[3]!.eventId,
      eventType: 'Added',
      schemaVersion: 1,
    });
    expect(status.blockedBy?.reason).toMatch(/Invalid payload/);
    expect(status.lastError).toMatchObject({ eventId: log[3]!.eventId });
    expect(status.lastError?.at).toBeInstanceOf(Date);
    expect(await projectionStore.countDeadLetters(projection.name)).toBe(0);

    // Still stopped on the next try: nothing is skipped silently.
    await expect(runner.catchUp()).rejects.toBeInstanceOf(ProjectionHandlerError);
    expect(seen).toEqual([1, 2]);
  });

  it('with onUndecodable: dead-letter, parks it and goes on; a deploy that reads it retries it', async () => {
    const { reader, fixed, projectionStore, log } = await stores();
    const { projection, seen } = sumProjection('park', 'dead-letter');
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({
      eventStore: reader,
      projectionStore,
      projections: [projection],
      onError: (e) => errors.push(e),
    });
    await runner.catchUp();
    expect(seen).toEqual([1, 2, 5]);
    const letters = await runner.listDeadLetters(projection.name);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ attempts: 0, error: { name: 'EventValidationError' } });
    expect(letters[0]!.event).toMatchObject({
      eventId: log[3]!.eventId,
      payload: { n: 'three' },
      schemaVersion: 1,
    });
    expect(errors).toHaveLength(1);
    expect((await runner.status(projection.name)).lagEvents).toBe(0n);

    // Retrying before the deploy fails the same way and keeps the dead letter.
    await expect(runner.retryDeadLetter(letters[0]!.id)).rejects.toSatisfy((e: unknown) =>
      isAnnalsError(e, ErrorCode.EventValidation),
    );
    expect(await projectionStore.countDeadLetters(projection.name)).toBe(1);

    // After a deploy whose registry reads it (here: `n` may be anything), the retry applies it.
    const applied: StoredEvent[] = [];
    const deployed = defineProjection<PostgresProjectionContext>()({
      name: projection.name,
      events: [LooseAdded],
      handlers: { Added: (event) => void applied.push(event) },
    });
    const next = new ProjectionRunner({ eventStore: fixed, projectionStore, projections: [deployed] });
    await next.retryDeadLetter(letters[0]!.id);
    expect(applied.map((event) => event.payload)).toEqual([{ n: 'three' }]);
    expect(await projectionStore.countDeadLetters(projection.name)).toBe(0);
  });

  it('status shows the blocker to any process, without a running runner', async () => {
    const { reader, projectionStore, log } = await stores();
    const { projection } = sumProjection('observer');
    // Process everything before the bad event, as a runner elsewhere would have.
    await new ProjectionRunner({ eventStore: reader, projectionStore, projections: [projection] })
      .catchUp()
      .catch(() => undefined);
    const observer = new ProjectionRunner({ eventStore: reader, projectionStore, projections: [projection] });
    const status = await observer.status(projection.name);
    expect(status.state).toBe('stopped');
    expect(status.blockedBy?.eventId).toBe(log[3]!.eventId);
    expect(status.lagEvents).toBe(2n);
  });
});
