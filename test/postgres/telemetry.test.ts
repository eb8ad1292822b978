import {
  AggregateRepository,
  defineProjection,
  InMemoryProjectionStore,
  ProjectionRunner,
  setTelemetry,
} from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { usePostgres } from '../support/postgres.js';
import {
  counterSum,
  histogramCount,
  parentSpanId,
  pointsOf,
  traceparentOf,
  useTelemetry,
} from '../support/telemetry.js';
import { Account, accountRegistry, Opened } from '../unit/fixtures.js';

const db = usePostgres();
const otel = useTelemetry();
let store: PostgresEventStore;

beforeAll(() => {
  store = new PostgresEventStore({ pool: db.pool, registry: accountRegistry(), schema: db.schema });
});
afterAll(async () => {
  await store.close();
});
afterEach(() => {
  setTelemetry({});
  otel.reset();
});

const repository = () =>
  new AggregateRepository(store, {
    create: (id) => new Account(id),
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
  });

describe('telemetry (PostgreSQL)', () => {
  it('traces a command on PostgreSQL: client spans with the database conventions, one trace', async () => {
    await repository().execute('pg-1', (account) => {
      account.open('ada');
      account.deposit(2);
    });
    const [execute] = otel.spansNamed('annals.execute');
    const [load] = otel.spansNamed('annals.load');
    const [append] = otel.spansNamed('annals.append');
    for (const span of [load!, append!]) {
      expect(span.kind).toBe(2); // SpanKind.CLIENT
      expect(parentSpanId(span)).toBe(execute!.spanContext().spanId);
      expect(span.attributes).toMatchObject({
        'annals.store': 'postgresql',
        'db.system.name': 'postgresql',
        'db.namespace': db.schema,
      });
    }
    expect(append!.attributes['db.operation.name']).toBe('append');
    expect(load!.attributes['db.operation.name']).toBe('load');
    const stored = await store.load('pg-1');
    expect(stored.map((event) => event.metadata.traceparent)).toEqual([
      traceparentOf(append!),
      traceparentOf(append!),
    ]);
  });

  it("traces appends in a caller's transaction and links the projection batch to them", async () => {
    await store.withTransaction(async (tx) => {
      await tx.append('pg-tx', 'no_stream', [
        { type: 'Opened', aggregateType: 'Account', payload: { owner: 'bo' } },
      ]);
    });
    const [append] = otel.spansNamed('annals.append');
    expect((await store.load('pg-tx'))[0]!.metadata.traceparent).toBe(traceparentOf(append!));
    otel.reset();
    const runner = new ProjectionRunner({
      eventStore: store,
      projectionStore: new InMemoryProjectionStore({ initialState: { owners: [] as string[] } }),
      projections: [
        defineProjection<{ owners: string[] }>()({
          name: 'owners',
          events: [Opened],
          handlers: { Opened: (event, state) => void state.owners.push(event.payload.owner) },
        }),
      ],
    });
    await runner.catchUp();
    const [batch] = otel.spansNamed('annals.projection.batch');
    expect(batch!.links.map((link) => link.context.spanId)).toContain(append!.spanContext().spanId);
    const handle = otel
      .spansNamed('annals.projection.handle')
      .find((span) => span.attributes['annals.aggregate.id'] === 'pg-tx');
    expect(handle!.spanContext().traceId).toBe(append!.spanContext().traceId);
  });

  it('counts appends, events and conflicts with annals.store = postgresql', async () => {
    const where = { 'annals.store': 'postgresql' };
    const before = await otel.collect();
    await repository().execute('pg-m', (account) => account.open('cy'));
    await expect(
      store.append('pg-m', 0, [{ type: 'Opened', aggregateType: 'Account', payload: { owner: 'dee' } }]),
    ).rejects.toThrow();
    const after = await otel.collect();
    const delta = (name: string, extra = {}) =>
      counterSum(after, name, { ...where, ...extra }) - counterSum(before, name, { ...where, ...extra });
    expect(delta('annals.appends', { 'annals.outcome': 'ok' })).toBe(1);
    expect(delta('annals.appends', { 'annals.outcome': 'conflict' })).toBe(1);
    expect(delta('annals.events.appended')).toBe(1);
    expect(delta('annals.conflicts')).toBe(1);
    expect(
      histogramCount(after, 'annals.append.duration', where) -
        histogramCount(before, 'annals.append.duration', where),
    ).toBe(2);
  });

  it('records the size of each coalesced group (annals.append.group.size)', async () => {
    const coalescing = new PostgresEventStore({
      pool: db.pool,
      registry: accountRegistry(),
      schema: db.schema,
      maxConcurrentAppends: 1,
    });
    const where = { 'db.namespace': db.schema, 'db.system.name': 'postgresql' };
    const before = pointsOf(await otel.collect(), 'annals.append.group.size');
    const opened = (n: number) => [{ type: 'Opened', aggregateType: 'Account', payload: { owner: `o${n}` } }];
    // The first runs alone (nothing was running); the 12 queued behind it go as one group.
    await Promise.all(
      Array.from({ length: 13 }, (_, n) => coalescing.append(`pg-group-${n}`, 'no_stream', opened(n))),
    );
    await coalescing.close();
    const after = await otel.collect();
    expect(before).toEqual([]);
    expect(histogramCount(after, 'annals.append.group.size', where)).toBe(1);
    const [point] = pointsOf(after, 'annals.append.group.size');
    expect((point!.value as { sum: number }).sum).toBe(12);
  });
});
