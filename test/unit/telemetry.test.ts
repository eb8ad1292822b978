import {
  AggregateRepository,
  defineProjection,
  getTelemetryState,
  InMemoryEventStore,
  InMemoryProjectionStore,
  ProjectionRunner,
  setTelemetry,
} from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import {
  extractTraceparent,
  injectTraceparent,
  meterInstruments,
  withSpan,
} from '../../src/observability/telemetry.js';
import {
  counterSum,
  histogramCount,
  parentSpanId,
  pointsOf,
  traceparentOf,
  useTelemetry,
} from '../support/telemetry.js';
import { Account, accountRegistry, Deposited, Opened } from './fixtures.js';

const otel = useTelemetry();

afterEach(() => {
  setTelemetry({});
  otel.reset();
});

const setup = () => {
  const store = new InMemoryEventStore({ registry: accountRegistry() });
  const repository = new AggregateRepository(store, {
    create: (id) => new Account(id),
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
  });
  return { store, repository };
};

interface BalanceState {
  balances: Record<string, number>;
}

const balances = (options: { failOn?: string; gate?: Promise<void> } = {}) =>
  defineProjection<BalanceState>()({
    name: 'balances',
    events: [Opened, Deposited],
    handlers: {
      Opened: async (event, state) => {
        await options.gate;
        state.balances[event.aggregateId] = 0;
      },
      Deposited: (event, state) => {
        if (event.aggregateId === options.failOn) throw new Error('poison');
        state.balances[event.aggregateId] = (state.balances[event.aggregateId] ?? 0) + event.payload.amount;
      },
    },
  });

const projectionStore = () => new InMemoryProjectionStore<BalanceState>({ initialState: { balances: {} } });

describe('telemetry (in memory)', () => {
  it('finds @opentelemetry/api and traces and measures through it', () => {
    expect(getTelemetryState()).toEqual({ active: true, tracing: true, metrics: true });
  });

  it('traces a command: execute is the parent of load, decide and append, in one trace', async () => {
    const { repository } = setup();
    await repository.execute(
      'acc-1',
      (account) => {
        account.open('ada');
        account.deposit(5);
      },
      { metadata: { commandId: 'cmd-1', correlationId: 'req-1' } },
    );
    const [execute] = otel.spansNamed('annals.execute');
    const [load] = otel.spansNamed('annals.load');
    const [decide] = otel.spansNamed('annals.decide');
    const [append] = otel.spansNamed('annals.append');
    expect(execute && load && decide && append).toBeTruthy();
    const traceId = execute!.spanContext().traceId;
    for (const span of [load!, decide!, append!]) {
      expect(span.spanContext().traceId).toBe(traceId);
      expect(parentSpanId(span)).toBe(execute!.spanContext().spanId);
    }
    expect(parentSpanId(execute!)).toBeUndefined();
    expect(execute!.attributes).toMatchObject({
      'annals.aggregate.id': 'acc-1',
      'annals.command.id': 'cmd-1',
      'annals.correlation.id': 'req-1',
      'annals.attempts': 1,
      'annals.event.count': 2,
    });
    expect(decide!.attributes).toMatchObject({ 'annals.attempt': 1, 'annals.aggregate.type': 'Account' });
    expect(append!.attributes).toMatchObject({
      'annals.store': 'memory',
      'annals.aggregate.id': 'acc-1',
      'annals.expected_version': 0,
      'annals.event.count': 2,
      'annals.next_expected_version': 2,
      'annals.event.type': 'Opened',
    });
  });

  it("writes the append span's traceparent into each new event's metadata, keeping an explicit one", async () => {
    const { store, repository } = setup();
    await repository.execute('acc-1', (account) => account.open('ada'));
    const [append] = otel.spansNamed('annals.append');
    const [stored] = await store.load('acc-1');
    expect(stored!.metadata.traceparent).toBe(traceparentOf(append!));

    const explicit = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await store.append('acc-2', 'no_stream', [
      {
        type: 'Opened',
        aggregateType: 'Account',
        payload: { owner: 'bo' },
        metadata: { traceparent: explicit },
      },
    ]);
    expect((await store.load('acc-2'))[0]!.metadata.traceparent).toBe(explicit);
  });

  it('records each concurrency conflict as an event of the command span, and counts it', async () => {
    const { store, repository } = setup();
    await repository.execute('acc-1', (account) => account.open('ada'));
    const before = await otel.collect();
    const conflictsBefore = counterSum(before, 'annals.conflicts', { 'annals.store': 'memory' });
    otel.reset();
    let interfere = true;
    const result = await repository.execute('acc-1', async (account) => {
      if (interfere) {
        interfere = false;
        await store.append('acc-1', 1, [
          { type: 'Deposited', aggregateType: 'Account', payload: { amount: 1 } },
        ]);
      }
      account.deposit(5);
    });
    expect(result.attempts).toBe(2);
    const [execute] = otel.spansNamed('annals.execute');
    expect(execute!.events.map((event) => [event.name, event.attributes?.['annals.attempt']])).toEqual([
      ['annals.conflict', 1],
    ]);
    expect(execute!.events[0]!.attributes?.['annals.retrying']).toBe(true);
    expect(otel.spansNamed('annals.decide').map((span) => span.attributes['annals.attempt'])).toEqual([1, 2]);
    const failed = otel.spansNamed('annals.append').filter((span) => span.status.code === 2);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attributes['error.type']).toBe('ANNALS_CONCURRENCY');
    const after = await otel.collect();
    expect(counterSum(after, 'annals.conflicts', { 'annals.store': 'memory' }) - conflictsBefore).toBe(1);
  });

  it("links a projection batch to the events' traces and parents each handler call to its event's trace", async () => {
    const { store, repository } = setup();
    await repository.execute('acc-1', (account) => account.open('ada'));
    await repository.execute('acc-2', (account) => account.open('bo'));
    const appends = otel.spansNamed('annals.append');
    otel.reset();
    const runner = new ProjectionRunner({
      eventStore: store,
      projectionStore: projectionStore(),
      projections: [balances()],
    });
    await runner.catchUp();
    const [batch] = otel.spansNamed('annals.projection.batch');
    expect(batch!.attributes).toMatchObject({ 'annals.projection': 'balances', 'annals.event.count': 2 });
    expect(batch!.links.map((link) => link.context.spanId).sort()).toEqual(
      appends.map((span) => span.spanContext().spanId).sort(),
    );
    const handles = otel.spansNamed('annals.projection.handle');
    expect(handles).toHaveLength(2);
    for (const [index, handle] of handles.entries()) {
      expect(handle.spanContext().traceId).toBe(appends[index]!.spanContext().traceId);
      expect(parentSpanId(handle)).toBe(appends[index]!.spanContext().spanId);
      expect(handle.links.map((link) => link.context.spanId)).toEqual([batch!.spanContext().spanId]);
      expect(handle.attributes).toMatchObject({
        'annals.projection': 'balances',
        'annals.event.type': 'Opened',
      });
    }
  });

  it('measures a known workload: appends, events, durations, batches, retries, dead letters', async () => {
    const before = await otel.collect();
    const memory = { 'annals.store': 'memory' };
    const { store, repository } = setup();
    for (const id of ['m-1', 'm-2', 'm-3']) {
      await repository.execute(id, (account) => {
        account.open(id);
        account.deposit(10);
      });
    }
    await store.append('m-1', 'any', [
      { eventId: 'dup-1', type: 'Deposited', aggregateType: 'Account', payload: { amount: 1 } },
    ]);
    await store.append('m-1', 'any', [
      { eventId: 'dup-1', type: 'Deposited', aggregateType: 'Account', payload: { amount: 1 } },
    ]);
    const runner = new ProjectionRunner({
      eventStore: store,
      projectionStore: projectionStore(),
      projections: [balances({ failOn: 'm-2' })],
      maxRetryAttempts: 2,
      retryDelayMs: 1,
    });
    await runner.catchUp();
    const after = await otel.collect();
    const delta = (name: string, where = {}) =>
      counterSum(after, name, where) - counterSum(before, name, where);
    const count = (name: string, where = {}) =>
      histogramCount(after, name, where) - histogramCount(before, name, where);

    expect(delta('annals.appends', { ...memory, 'annals.outcome': 'ok' })).toBe(4);
    expect(delta('annals.appends', { ...memory, 'annals.outcome': 'duplicate' })).toBe(1);
    expect(delta('annals.events.appended', memory)).toBe(7);
    expect(count('annals.append.duration', memory)).toBe(5);
    expect(count('annals.load.duration', memory)).toBeGreaterThanOrEqual(3);
    expect(delta('annals.projection.events.processed', { 'annals.projection': 'balances' })).toBe(7);
    expect(count('annals.projection.batch.duration', { 'annals.projection': 'balances' })).toBeGreaterThan(0);
    expect(delta('annals.projection.handler.retries', { 'annals.projection': 'balances' })).toBe(2);
    expect(delta('annals.projection.dead_letters', { 'annals.projection': 'balances' })).toBe(1);
    const [duration] = pointsOf(after, 'annals.append.duration');
    expect(duration?.attributes).toMatchObject(memory);
  });

  it("reports a started runner's lag as gauges, in events and seconds", async () => {
    const { store, repository } = setup();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const runner = new ProjectionRunner({
      eventStore: store,
      projectionStore: projectionStore(),
      projections: [balances({ gate })],
      pollIntervalMs: 5,
    });
    await repository.execute('lag-1', (account) => account.open('ada'));
    await repository.execute('lag-2', (account) => account.open('bo'));
    await repository.execute('lag-3', (account) => account.open('cy'));
    runner.start();
    try {
      const during = await otel.collect();
      const [events] = pointsOf(during, 'annals.projection.lag.events');
      expect(events?.attributes).toEqual({ 'annals.projection': 'balances' });
      expect(events?.value).toBe(3);
      expect(pointsOf(during, 'annals.projection.lag.time')[0]?.value).toBeGreaterThanOrEqual(0);
      open();
      await runner.catchUp();
    } finally {
      open();
      await runner.stop();
    }
    // Caught up, a callback would observe 0: stopped, the runner observes nothing (the SDK keeps
    // the last cumulative point, 3, or none).
    const stopped = await otel.collect();
    expect(pointsOf(stopped, 'annals.projection.lag.events').every((point) => point.value === 3)).toBe(true);
  });

  it('does nothing once turned off: no spans, no traceparent', async () => {
    setTelemetry({ enabled: false });
    expect(getTelemetryState()).toEqual({ active: false, tracing: false, metrics: false });
    const { store, repository } = setup();
    await repository.execute('off-1', (account) => account.open('ada'));
    expect(otel.spans()).toEqual([]);
    expect((await store.load('off-1'))[0]!.metadata.traceparent).toBeUndefined();
  });

  it('keeps metrics without tracing (tracing: false): no spans, no traceparent', async () => {
    setTelemetry({ tracing: false });
    expect(getTelemetryState()).toEqual({ active: true, tracing: false, metrics: true });
    const before = counterSum(await otel.collect(), 'annals.appends', { 'annals.store': 'memory' });
    const { store, repository } = setup();
    await repository.execute('metrics-1', (account) => account.open('ada'));
    expect(otel.spans()).toEqual([]);
    expect((await store.load('metrics-1'))[0]!.metadata.traceparent).toBeUndefined();
    expect(counterSum(await otel.collect(), 'annals.appends', { 'annals.store': 'memory' }) - before).toBe(1);
  });

  it('refuses an api that is not the OpenTelemetry API', () => {
    expect(() => setTelemetry({ api: {} as never })).toThrow(/@opentelemetry\/api/);
  });
});

describe('telemetry helpers for the adapters', () => {
  it('injects the active span into headers and parents a consumer span to extracted headers', async () => {
    const headers: Record<string, unknown> = {};
    await withSpan('publish orders', { kind: 'producer' }, async () => {
      injectTraceparent(headers);
    });
    const [publish] = otel.spansNamed('publish orders');
    expect(headers.traceparent).toBe(traceparentOf(publish!));
    // An AMQP header may arrive as a Buffer.
    const received = { traceparent: Buffer.from(headers.traceparent as string) };
    await withSpan(
      'process orders',
      { kind: 'consumer', parent: extractTraceparent(received) },
      async () => {},
    );
    const [consumed] = otel.spansNamed('process orders');
    expect(consumed!.kind).toBe(4); // SpanKind.CONSUMER
    expect(consumed!.spanContext().traceId).toBe(publish!.spanContext().traceId);
    expect(parentSpanId(consumed!)).toBe(publish!.spanContext().spanId);
    expect(injectTraceparent({ traceparent: 'kept' }).traceparent).toBe('kept');
    expect(extractTraceparent({ traceparent: 'not-a-traceparent' })).toBeUndefined();
  });

  it('links a span to traceparents, skipping invalid and repeated ones, and records a failure', async () => {
    const one = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const two = '00-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203332-00';
    await expect(
      withSpan('publish page', { links: [one, undefined, 'junk', one, two] }, async () => {
        throw new Error('broker down');
      }),
    ).rejects.toThrow('broker down');
    const [span] = otel.spansNamed('publish page');
    expect(span!.links.map((link) => link.context.spanId)).toEqual(['b7ad6b7169203331', 'b7ad6b7169203332']);
    expect(span!.status.code).toBe(2);
    expect(span!.attributes['error.type']).toBe('Error');
    expect(span!.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('makes adapter instruments from the meter once, and none when telemetry is off', async () => {
    let made = 0;
    const instruments = meterInstruments((meter) => {
      made++;
      return { published: meter.createCounter('annals.test.published', { unit: '{message}' }) };
    });
    instruments()?.published.add(2);
    instruments()?.published.add(3);
    expect(made).toBe(1);
    expect(counterSum(await otel.collect(), 'annals.test.published')).toBe(5);
    setTelemetry({ enabled: false });
    expect(instruments()).toBeUndefined();
  });
});
