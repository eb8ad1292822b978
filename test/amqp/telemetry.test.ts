/**
 * Tracing and metrics of the RabbitMQ transport, on real RabbitMQ and PostgreSQL, with
 * OpenTelemetry's in-memory span exporter and a metric reader: a command's trace reaches the
 * consumer's read-model update through the relay, and the relay's and consumers' instruments
 * count a known workload.
 */
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import amqplib from 'amqplib';
import { AggregateRepository, type StoredEvent, TRACEPARENT } from 'annals';
import { EventHeader, EventRelay, ProjectionConsumer } from 'annals/amqp';
import {
  migrate,
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresProjectionStore,
} from 'annals/postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OrderAggregate } from '../../examples/order/order-aggregate.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { encodeEventMessage } from '../../src/amqp/message-codec.js';
import { usePostgres } from '../support/postgres.js';
import {
  counterSum,
  histogramCount,
  parentSpanId,
  pointsOf,
  traceparentOf,
  useTelemetry,
} from '../support/telemetry.js';
import {
  appendOrder,
  connector,
  ledgerProjection,
  ledgerRows,
  publishEvents,
  unique,
} from './consumer-fixtures.js';
import { describeWithRabbit, hasRabbit, useRabbitVhost, waitUntil } from './support.js';

const db = usePostgres();
const rabbit = useRabbitVhost();
const otel = useTelemetry();

const SPAN_KIND = { client: 2, consumer: 4 } as const; // @opentelemetry/api SpanKind
const RELAY = 'relay:domain_events';
const LEDGER = 'ledger';
const FLAKY = 'flaky';
const QUEUE = `projection_${LEDGER}`;

let eventStore: PostgresEventStore;
let relay: EventRelay | undefined;
const consumers: ProjectionConsumer<unknown, PgQueryable>[] = [];
/** The aggregates whose first handling by the `flaky` projection fails once. */
const failOnce = new Set<string>();

function consumerOf(projection: ReturnType<typeof ledgerProjection>, name: string) {
  return new ProjectionConsumer<unknown, PgQueryable>({
    projection: projection as never,
    processedEvents: new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema }),
    context: (client) => ({ client, schema: db.schema }),
    eventStore,
    connect: connector(rabbit.url, `telemetry ${name}`),
    retryDelayMs: 50,
    reconnectDelayMs: 100,
    transientRetryDelayMs: 50,
  });
}

beforeAll(async () => {
  if (!hasRabbit) return;
  eventStore = new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema: db.schema });
  consumers.push(consumerOf(ledgerProjection({ name: LEDGER }), LEDGER));
  consumers.push(
    consumerOf(
      ledgerProjection({
        name: FLAKY,
        before: (event) => {
          if (failOnce.delete(event.aggregateId)) throw new Error(`flaky handler on ${event.aggregateId}`);
        },
      }),
      FLAKY,
    ),
  );
  // The consumers declare their queues before anything is published.
  for (const consumer of consumers) await consumer.start();
  relay = new EventRelay({
    eventStore,
    checkpoints: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
    url: rabbit.url,
    connectionName: 'telemetry relay',
    batchSize: 7,
    pollIntervalMs: 50,
  });
  relay.start();
});

// Registered after useTelemetry: runs before its afterAll shuts the SDK down.
afterAll(async () => {
  await relay?.stop();
  for (const consumer of consumers) await consumer.stop();
});

/** The finished `process <queue>` spans of an event. */
function processSpans(eventId: string, queue = QUEUE): ReadableSpan[] {
  return otel.spansNamed(`process ${queue}`).filter((span) => span.attributes['annals.event.id'] === eventId);
}

describeWithRabbit('telemetry of the RabbitMQ transport', () => {
  it('one trace from the command to the read model: execute, append, the relay publish (linked) and the consumer process span', async () => {
    const orderId = unique('traced');
    const orders = new AggregateRepository(eventStore, { create: (id) => new OrderAggregate(id) });
    const tracer = trace.getTracer('test-http');
    await tracer.startActiveSpan('POST /orders', async (span) => {
      try {
        await orders.execute(orderId, (order) =>
          order.create('customer-1', [{ productId: 'p-1', quantity: 1, price: 5 }]),
        );
      } finally {
        span.end();
      }
    });
    const [event] = await eventStore.load(orderId);
    await waitUntil(() => processSpans(event!.eventId).length > 0, { what: 'the consumer span' });

    const [request] = otel.spansNamed('POST /orders');
    const execute = otel
      .spansNamed('annals.execute')
      .find((s) => parentSpanId(s) === request!.spanContext().spanId);
    const append = otel
      .spansNamed('annals.append')
      .find((s) => parentSpanId(s) === execute!.spanContext().spanId);
    const traceId = request!.spanContext().traceId;
    expect(append).toBeDefined();
    expect(event!.metadata[TRACEPARENT]).toBe(traceparentOf(append!));
    // The message carries the event's trace context in its headers.
    expect(encodeEventMessage(event!).options.headers?.[EventHeader.traceparent]).toBe(
      traceparentOf(append!),
    );

    // The relay's page: a span of its own, linked to the events it published (it ends once the
    // broker confirmed the page, which may be after the consumer got the message).
    const publishOf = () =>
      otel
        .spansNamed('publish domain_events')
        .find((s) => s.links.some((link) => link.context.spanId === append!.spanContext().spanId));
    await waitUntil(() => publishOf() !== undefined, { what: 'the publish span' });
    const publish = publishOf();
    expect(publish).toBeDefined();
    expect(publish!.kind).toBe(SPAN_KIND.client);
    expect(
      publish!.links.find((l) => l.context.spanId === append!.spanContext().spanId)!.context.traceId,
    ).toBe(traceId);
    expect(publish!.attributes).toMatchObject({
      'annals.relay': RELAY,
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'domain_events',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
    });
    expect(publish!.attributes['messaging.batch.message_count']).toBeGreaterThanOrEqual(1);

    // The consumer's span continues the command's trace: a child of the append span.
    const [process] = processSpans(event!.eventId);
    expect(process!.kind).toBe(SPAN_KIND.consumer);
    expect(process!.spanContext().traceId).toBe(traceId);
    expect(parentSpanId(process!)).toBe(append!.spanContext().spanId);
    expect(process!.attributes).toMatchObject({
      'annals.projection': LEDGER,
      'annals.event.id': event!.eventId,
      'annals.event.type': 'OrderCreated',
      'annals.aggregate.id': orderId,
      'annals.event.version': 1,
      'annals.attempt': 1,
      'annals.outcome': 'applied',
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': QUEUE,
      'messaging.operation.type': 'process',
      'messaging.message.id': event!.eventId,
      'messaging.rabbitmq.destination.routing_key': 'Order.OrderCreated',
    });
    expect(process!.status.code).not.toBe(2); // not ERROR
    // The handler's own writes ran inside the process span: the read model has the row.
    expect((await ledgerRows(db.pool, db.schema, LEDGER)).map((row) => row.eventId)).toContain(
      event!.eventId,
    );
  });

  it('counts a known workload: published, confirms, applied, duplicates, durations; the lag gauge ends at 0', async () => {
    await waitUntil(async () => (await relay!.status()).lagEvents === 0n, { what: 'the relay caught up' });
    await waitUntil(() => consumers.every((c) => c.status().inFlight === 0), { what: 'consumers idle' });
    const before = await otel.collect();
    const orders = 4;
    const appended: StoredEvent[] = [];
    for (let i = 0; i < orders; i++)
      appended.push(...(await appendOrder(eventStore, unique('metered'), 2, 'shipped')));
    const total = appended.length; // 4 orders x (created, 2 lines, shipped) = 16 events
    expect(total).toBe(16);
    const appliedBy = async (projection: string) =>
      counterSum(await otel.collect(), 'annals.consumer.messages', {
        'annals.projection': projection,
        'annals.outcome': 'applied',
      }) -
      counterSum(before, 'annals.consumer.messages', {
        'annals.projection': projection,
        'annals.outcome': 'applied',
      });
    await waitUntil(async () => (await appliedBy(LEDGER)) >= total && (await appliedBy(FLAKY)) >= total, {
      what: `${total} events applied by both consumers`,
      timeoutMs: 30_000,
    });
    await waitUntil(async () => (await relay!.status()).lagEvents === 0n, { what: 'the relay caught up' });
    // The same events published again (as a relay restarted before its checkpoint would): duplicates.
    await publishEvents(rabbit.url, appended.slice(0, 3));
    const duplicates = async () =>
      counterSum(await otel.collect(), 'annals.consumer.messages', {
        'annals.projection': LEDGER,
        'annals.outcome': 'duplicate',
      }) -
      counterSum(before, 'annals.consumer.messages', {
        'annals.projection': LEDGER,
        'annals.outcome': 'duplicate',
      });
    await waitUntil(async () => (await duplicates()) >= 3, { what: '3 duplicates' });

    const after = await otel.collect();
    const relayWhere = { 'annals.relay': RELAY, 'messaging.destination.name': 'domain_events' };
    const delta = (name: string, where: Record<string, unknown>) =>
      counterSum(after, name, where) - counterSum(before, name, where);
    const histogramDelta = (name: string, where: Record<string, unknown>) =>
      histogramCount(after, name, where) - histogramCount(before, name, where);

    expect(delta('annals.relay.published', relayWhere)).toBe(total);
    expect(delta('annals.relay.confirms', { ...relayWhere, 'annals.outcome': 'ack' })).toBe(total);
    expect(delta('annals.relay.confirms', { ...relayWhere, 'annals.outcome': 'nack' })).toBe(0);
    // Pages of at most 7 events: 16 events are 3 pages or more (appends and pages interleave).
    expect(histogramDelta('annals.relay.publish.duration', relayWhere)).toBeGreaterThanOrEqual(3);

    const ledger = { 'annals.projection': LEDGER, 'messaging.destination.name': QUEUE };
    expect(delta('annals.consumer.messages', { ...ledger, 'annals.outcome': 'applied' })).toBe(total);
    expect(delta('annals.consumer.messages', { ...ledger, 'annals.outcome': 'duplicate' })).toBe(3);
    expect(delta('annals.consumer.messages', { ...ledger, 'annals.outcome': 'retried' })).toBe(0);
    expect(histogramDelta('annals.consumer.handle.duration', ledger)).toBe(total + 3);
    expect(
      delta('annals.consumer.messages', { 'annals.projection': FLAKY, 'annals.outcome': 'applied' }),
    ).toBe(total);

    const lag = pointsOf(after, 'annals.relay.lag.events').filter(
      (p) => p.attributes['annals.relay'] === RELAY,
    );
    expect(lag.map((point) => point.value)).toEqual([0]);
    const lagTime = pointsOf(after, 'annals.relay.lag.time').filter(
      (p) => p.attributes['annals.relay'] === RELAY,
    );
    expect(lagTime.map((point) => point.value)).toEqual([0]);
  });

  it('a failing handler: the process span records the error, the message is counted as retried, then applied on its next attempt', async () => {
    const orderId = unique('flaky');
    failOnce.add(orderId);
    const before = await otel.collect();
    const [event] = await appendOrder(eventStore, orderId, 0, 'open');
    await waitUntil(
      () =>
        processSpans(event!.eventId, `projection_${FLAKY}`).some(
          (s) => s.attributes['annals.outcome'] === 'applied',
        ),
      { what: 'the flaky projection applied the event' },
    );
    const spans = processSpans(event!.eventId, `projection_${FLAKY}`);
    const failed = spans.find((s) => s.attributes['annals.outcome'] === 'retried')!;
    const applied = spans.find((s) => s.attributes['annals.outcome'] === 'applied')!;
    expect(failed.attributes['annals.attempt']).toBe(1);
    expect(failed.status.code).toBe(2); // ERROR
    expect(failed.attributes['error.type']).toBe('Error');
    expect(failed.events.map((e) => e.name)).toContain('exception');
    // The retry queue keeps the headers: the second attempt is in the command's trace too.
    expect(applied.attributes['annals.attempt']).toBe(2);
    expect(applied.spanContext().traceId).toBe(failed.spanContext().traceId);
    expect(parentSpanId(applied)).toBe(parentSpanId(failed));
    expect(event!.metadata[TRACEPARENT]).toContain(failed.spanContext().traceId);

    const after = await otel.collect();
    const where = (outcome: string) => ({ 'annals.projection': FLAKY, 'annals.outcome': outcome });
    expect(
      counterSum(after, 'annals.consumer.messages', { ...where('retried'), 'error.type': 'Error' }) -
        counterSum(before, 'annals.consumer.messages', { ...where('retried'), 'error.type': 'Error' }),
    ).toBe(1);
    expect(
      counterSum(after, 'annals.consumer.messages', where('applied')) -
        counterSum(before, 'annals.consumer.messages', where('applied')),
    ).toBe(1);
  });

  it('a queue that rejects publishes: the broker nacks are counted, the page span fails, the lag gauge stays up', async () => {
    const schema = `${db.schema}_nacks`;
    await migrate(db.pool, { schema });
    const store = new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema });
    const exchange = 'telemetry_nacks';
    const connection = await amqplib.connect(rabbit.url);
    let nackRelay: EventRelay | undefined;
    try {
      const channel = await connection.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      await channel.assertQueue('telemetry_limited', {
        durable: true,
        arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' },
      });
      await channel.bindQueue('telemetry_limited', exchange, '#');
      await appendOrder(store, unique('nacked'), 3, 'shipped'); // 5 events, one page
      const where = { 'annals.relay': `relay:${exchange}`, 'messaging.destination.name': exchange };
      nackRelay = new EventRelay({
        eventStore: store,
        checkpoints: new PostgresProjectionStore({ pool: db.pool, schema }),
        url: rabbit.url,
        exchange,
        batchSize: 5,
        pollIntervalMs: 50,
        reconnectDelayMs: 20,
        maxReconnectDelayMs: 100,
        onError: () => {},
      });
      nackRelay.start();
      const confirms = async (outcome: string) =>
        counterSum(await otel.collect(), 'annals.relay.confirms', { ...where, 'annals.outcome': outcome });
      // The first attempt: 2 acks, 3 nacks; every later one: 5 nacks (the queue stays full).
      await waitUntil(async () => (await confirms('nack')) >= 8, { what: 'two nacked attempts' });
      const collected = await otel.collect();
      expect(counterSum(collected, 'annals.relay.confirms', { ...where, 'annals.outcome': 'ack' })).toBe(2);
      expect(counterSum(collected, 'annals.relay.published', where)).toBeGreaterThanOrEqual(10);
      const lag = pointsOf(collected, 'annals.relay.lag.events').filter(
        (point) => point.attributes['annals.relay'] === `relay:${exchange}`,
      );
      expect(lag.map((point) => point.value)).toEqual([5]);
      const failed = otel.spansNamed(`publish ${exchange}`).filter((span) => span.status.code === 2);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed[0]!.attributes['messaging.batch.message_count']).toBe(5);
      expect(failed[0]!.events.map((event) => event.name)).toContain('exception');
    } finally {
      await nackRelay?.stop();
      await connection.close();
    }
  });

  it('a message that is not an annals event: dead-lettered in a span parented to its traceparent header', async () => {
    const tracer = trace.getTracer('test-producer');
    const producer = tracer.startSpan('foreign producer');
    const traceparent = traceparentOf(producer as unknown as ReadableSpan);
    producer.end();
    const messageId = unique('foreign');
    const connection = await amqplib.connect(rabbit.url);
    try {
      const channel = await connection.createConfirmChannel();
      channel.sendToQueue(QUEUE, Buffer.from('not json'), { messageId, headers: { traceparent } });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    await waitUntil(() => processSpans(messageId).length > 0, { what: 'the consumer span' });
    const [span] = processSpans(messageId);
    expect(span!.attributes['annals.outcome']).toBe('dead_lettered');
    expect(span!.attributes['error.type']).toBe('ANNALS_CORRUPT_DATA');
    expect(span!.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(parentSpanId(span!)).toBe(producer.spanContext().spanId);
    const collected = await otel.collect();
    expect(
      counterSum(collected, 'annals.consumer.messages', {
        'annals.projection': LEDGER,
        'annals.outcome': 'dead_lettered',
        'error.type': 'ANNALS_CORRUPT_DATA',
      }),
    ).toBe(1);
  });
});
