import { ProjectionRunner, type StoredEvent } from 'annals';
import { BrokerDeadLetters, ProjectionConsumer } from 'annals/amqp';
import {
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresProjectionStore,
} from 'annals/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderReadModel, queryOrders } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { usePostgres } from '../support/postgres.js';
import {
  appendOrder,
  connector,
  ledgerProjection,
  ledgerRows,
  publishEvents,
  unique,
} from './consumer-fixtures.js';
import { closeConnectionsNamed, describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const db = usePostgres();
const rabbit = useRabbitVhost();

describeWithRabbit('ProjectionConsumer on RabbitMQ and PostgreSQL', () => {
  let eventStore: PostgresEventStore;
  let processed: PostgresProcessedEventStore;
  /** Where the broker-fed read models live (the log runner's live in db.schema). */
  let brokerSchema: string;
  const consumers: ProjectionConsumer<unknown, PgQueryable>[] = [];

  beforeAll(async () => {
    eventStore = new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema: db.schema });
    processed = new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema });
    brokerSchema = `${db.schema}_broker`;
    await db.pool.query(`CREATE SCHEMA "${brokerSchema}"`);
  });

  afterAll(async () => {
    await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
  });

  function consumerOf<TContext>(
    projection: import('annals').Projection<TContext>,
    options: Partial<ConstructorParameters<typeof ProjectionConsumer<TContext, PgQueryable>>[0]> = {},
  ): ProjectionConsumer<TContext, PgQueryable> {
    const consumer = new ProjectionConsumer<TContext, PgQueryable>({
      projection,
      processedEvents: processed,
      context: ((client: PgQueryable) => ({ client, schema: brokerSchema })) as never,
      eventStore,
      registry: orderRegistry(),
      connect: connector(rabbit.url, `consumer-${projection.name}`),
      retryDelayMs: 100,
      reconnectDelayMs: 100,
      transientRetryDelayMs: 50,
      ...options,
    });
    consumers.push(consumer as ProjectionConsumer<unknown, PgQueryable>);
    return consumer;
  }

  describe('the Order read model', () => {
    let consumer: ProjectionConsumer<unknown, PgQueryable>;
    beforeAll(async () => {
      consumer = consumerOf(orderReadModel) as ProjectionConsumer<unknown, PgQueryable>;
      await consumer.start();
    });

    it('equals the one the log runner builds from the same events; duplicate publishes change nothing', async () => {
      const events: StoredEvent[] = [];
      for (let i = 0; i < 30; i++) {
        const end = i % 3 === 0 ? 'shipped' : i % 3 === 1 ? 'cancelled' : 'open';
        events.push(...(await appendOrder(eventStore, unique(`order-${i}`), i % 4, end)));
      }
      const before = consumer.status().acknowledged;
      await publishEvents(rabbit.url, events);
      await waitUntil(() => consumer.status().acknowledged >= before + events.length, { what: 'all acked' });

      const runner = new ProjectionRunner({
        eventStore,
        projectionStore: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
        projections: [orderReadModel],
      });
      await runner.catchUp();
      const fromLog = await queryOrders(db.pool, db.schema);
      const fromBroker = await queryOrders(db.pool, brokerSchema);
      expect(fromBroker).toHaveLength(30);
      expect(fromBroker).toEqual(fromLog);

      // The same events again (a relay that crashed before its checkpoint): no-ops.
      await publishEvents(rabbit.url, events);
      await waitUntil(() => consumer.status().acknowledged >= before + 2 * events.length, {
        what: 'duplicates acked',
      });
      expect(await queryOrders(db.pool, brokerSchema)).toEqual(fromLog);
      expect(consumer.status().lastError).toBeUndefined();
    });

    it('applies an out-of-order arrival in version order: the gap check reads the missing events first', async () => {
      const orderId = unique('late-order');
      const events = await appendOrder(eventStore, orderId, 2, 'shipped'); // versions 1..4
      const before = consumer.status().acknowledged;
      // Version 3 and 4 arrive before 1 and 2 (OrderItemAdded before OrderCreated would fail).
      await publishEvents(rabbit.url, [events[2]!, events[3]!, events[0]!, events[1]!]);
      await waitUntil(() => consumer.status().acknowledged >= before + 4, { what: 'four acked' });
      const [row] = await queryOrders(db.pool, brokerSchema, { customerId: `c-${orderId}` });
      expect(row).toMatchObject({ orderId, status: 'shipped', itemCount: 1 + 1 + 2, totalAmount: '16.24' });
      expect(consumer.status().lastError).toBeUndefined();
    });
  });

  it('in version order per aggregate, through a ledger: 2 before 1 gives rows 1, 2', async () => {
    const name = unique('ledger-order');
    const projection = ledgerProjection({ name });
    const consumer = consumerOf(projection);
    await consumer.start();
    const orderId = unique('o');
    const events = await appendOrder(eventStore, orderId, 1, 'open'); // versions 1, 2
    await publishEvents(rabbit.url, [events[1]!, events[0]!]);
    await waitUntil(() => consumer.status().acknowledged >= 2, { what: 'two acked' });
    const rows = await ledgerRows(db.pool, brokerSchema, name);
    expect(rows.map((row) => row.version)).toEqual([1, 2]);
    await consumer.stop();
  });

  it('a poison message is retried with delays, then dead-lettered; other aggregates flow, its later events wait, then go on', async () => {
    const name = unique('ledger-poison');
    const calls: number[] = [];
    let healed = false;
    const poison = { id: '' };
    const projection = ledgerProjection({
      name,
      before: (event) => {
        if (event.eventId !== poison.id) return;
        calls.push(Date.now());
        if (!healed) throw new Error('the handler cannot take this one');
      },
    });
    const errors: string[] = [];
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const consumer = consumerOf(projection, {
      maxRetryAttempts: 2,
      // Long enough for B's three events to go through while A's version 2 waits: at 100 ms they
      // once did not, at a load average of 10 (B's version 3 came after A's).
      retryDelayMs: 600,
      onError: (error) => errors.push(error.message),
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (fields, message) => warnings.push({ fields, message }),
        error: () => undefined,
      },
    });
    await consumer.start();
    const [a, b] = [unique('poisoned'), unique('healthy')];
    const aEvents = await appendOrder(eventStore, a, 1, 'shipped'); // v1 created, v2 item (poison), v3 shipped
    const bEvents = await appendOrder(eventStore, b, 1, 'shipped');
    poison.id = aEvents[1]!.eventId;
    await publishEvents(rabbit.url, [...aEvents, ...bEvents]);

    // B goes through while A's version 2 is retried.
    await waitUntil(
      async () =>
        (await ledgerRows(db.pool, brokerSchema, name)).filter((r) => r.aggregateId === b).length === 3,
      { what: 'B applied' },
    );
    await waitUntil(
      async () =>
        (await ledgerRows(db.pool, brokerSchema, name)).some((r) => r.version === 3 && r.aggregateId === a),
      { what: 'A v3 applied after the dead letter' },
    );
    const rows = await ledgerRows(db.pool, brokerSchema, name);
    expect(rows.filter((r) => r.aggregateId === a).map((r) => r.version)).toEqual([1, 3]);
    expect(rows.filter((r) => r.aggregateId === b).map((r) => r.version)).toEqual([1, 2, 3]);
    // B's events came before A's version 3, which waited for the dead letter.
    const seqOf = (aggregateId: string, version: number) =>
      rows.findIndex((r) => r.aggregateId === aggregateId && r.version === version);
    expect(seqOf(b, 3)).toBeLessThan(seqOf(a, 3));
    // 1 attempt + 2 retries, each after about retryDelayMs.
    expect(calls).toHaveLength(3);
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(80);
    expect(errors.some((m) => m.includes('dead-lettered'))).toBe(true);
    // Logged as warnings with the ids: two retries, then the dead letter.
    const retries = warnings.filter((w) => w.fields.eventId === poison.id && /retried in/.test(w.message));
    expect(retries.map((w) => w.fields.attempt)).toEqual([1, 2]);
    expect(retries[0]!.fields).toMatchObject({
      projection: name,
      queue: `projection_${name}`,
      aggregateId: a,
      version: 2,
    });
    const deadLetter = warnings.find((w) => /dead-lettered/.test(w.message));
    expect(deadLetter).toBeDefined();
    expect(deadLetter!.fields).toMatchObject({ projection: name, eventId: poison.id, attempt: 3 });
    expect((deadLetter!.fields.err as Error).message).toBe('the handler cannot take this one');
    expect(await processed.find(`${name}#dead-letter`, poison.id)).toBeDefined();

    const dlq = await BrokerDeadLetters.open({ connect: connector(rabbit.url, 'dlq') });
    try {
      const letters = await dlq.list({ projection: name });
      expect(letters).toHaveLength(1);
      const [letter] = letters;
      expect(letter).toMatchObject({
        eventId: poison.id,
        projection: name,
        queue: `projection_${name}`,
        attempts: 3,
        error: 'the handler cannot take this one',
      });
      expect(letter!.failedAt).toBeInstanceOf(Date);
      expect(letter!.event?.aggregateId).toBe(a);
      expect(await dlq.list({ projection: 'another-projection' })).toEqual([]);

      // Fixed by a deploy: replay it; the consumer applies it once.
      healed = true;
      await dlq.replay(letter!);
    } finally {
      await dlq.close();
    }
    await waitUntil(
      async () => (await ledgerRows(db.pool, brokerSchema, name)).some((r) => r.eventId === poison.id),
      { what: 'the replayed event applied' },
    );
    const after = await ledgerRows(db.pool, brokerSchema, name);
    expect(after.filter((r) => r.eventId === poison.id)).toEqual([
      { eventId: poison.id, aggregateId: a, version: 2, attempt: 1 },
    ]);
    await consumer.stop();
  });

  it('dead letters can be discarded', async () => {
    const name = unique('ledger-discard');
    let poisonId = '';
    const projection = ledgerProjection({
      name,
      before: (event) => {
        if (event.eventId === poisonId) throw new Error('never');
      },
    });
    const consumer = consumerOf(projection, { maxRetryAttempts: 0 });
    await consumer.start();
    const events = await appendOrder(eventStore, unique('d'), 0, 'open');
    poisonId = events[0]!.eventId;
    await publishEvents(rabbit.url, events);
    await waitUntil(() => consumer.status().acknowledged >= 1, { what: 'dead-lettered' });
    const dlq = await BrokerDeadLetters.open({ connect: connector(rabbit.url, 'dlq') });
    try {
      const [letter, ...rest] = await dlq.list({ projection: name });
      expect(rest).toEqual([]);
      expect(letter).toMatchObject({ eventId: poisonId, attempts: 1 });
      await dlq.discard(letter!);
    } finally {
      await dlq.close();
    }
    const again = await BrokerDeadLetters.open({ connect: connector(rabbit.url, 'dlq') });
    try {
      expect(await again.list({ projection: name })).toEqual([]);
    } finally {
      await again.close();
    }
    await consumer.stop();
  });

  it('a consumer killed after its commit and before its ack: the redelivery changes nothing', async () => {
    const name = unique('ledger-kill');
    const connectionName = `consumer-${name}`;
    let target = '';
    let killed = false;
    const runs: Array<{ eventId: string; duplicate: boolean }> = [];
    const killing: typeof processed = Object.create(processed);
    killing.runOnce = async (consumer, eventId, work) => {
      const result = await processed.runOnce(consumer, eventId, work);
      if (consumer === name) runs.push({ eventId, duplicate: result.duplicate });
      if (eventId === target && !killed) {
        killed = true; // committed; the ack has not been sent
        await closeConnectionsNamed(connectionName, { vhost: rabbit.vhost, reason: 'killed after commit' });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return result;
    };
    const projection = ledgerProjection({ name });
    const consumer = new ProjectionConsumer({
      projection,
      processedEvents: killing,
      context: (client) => ({ client, schema: brokerSchema }),
      eventStore,
      registry: orderRegistry(),
      connect: connector(rabbit.url, connectionName),
      reconnectDelayMs: 100,
      retryDelayMs: 100,
    });
    consumers.push(consumer as ProjectionConsumer<unknown, PgQueryable>);
    await consumer.start();
    const events = await appendOrder(eventStore, unique('k'), 2, 'shipped');
    target = events[1]!.eventId;
    await publishEvents(rabbit.url, events);
    // The kill is two rabbitmqctl calls, which take seconds each on a loaded machine.
    await waitUntil(() => runs.filter((run) => run.eventId === events.at(-1)!.eventId).length > 0 && killed, {
      timeoutMs: 60_000,
      what: 'all events ran',
    });
    await waitUntil(() => runs.some((run) => run.eventId === target && run.duplicate), {
      timeoutMs: 60_000,
      what: 'the redelivery of the killed one',
    });
    const rows = await ledgerRows(db.pool, brokerSchema, name);
    expect(rows.map((row) => row.eventId)).toEqual(events.map((event) => event.eventId));
    expect(consumer.status().state).toBe('running');
    await consumer.stop();
    expect(consumer.status().state).toBe('stopped');
  }, 150_000);
});
