/**
 * End-to-end latency: from an append's commit to the commit of the read-model row it changes, at
 * a modest steady rate, along two paths:
 *
 * - **through RabbitMQ**: append → `EventRelay` (wakes on LISTEN/NOTIFY, reads the log, publishes
 *   on a confirm channel, default `batchSize` 50) → durable topic exchange → the projection's
 *   quorum queue → `ProjectionConsumer` (default `prefetch` 10) → read-model transaction (with its
 *   processed-event record);
 * - **through the log** (the comparison, shown in the baseline column): append →
 *   `ProjectionRunner` (wakes on LISTEN/NOTIFY, default `batchSize` 50) → read-model transaction
 *   (with its checkpoint).
 *
 * Writers append the Order example's events (`examples/order`: created, three lines, shipped),
 * one event per append, paced on a fixed schedule (an append that falls behind goes at once), so
 * the rate does not depend on how fast the pipeline drains. The read model is the example's
 * `order_read` projection, unchanged.
 *
 * Clocks, both in this process (`performance.now()`): the append's commit is when `append()`
 * resolved; the read model's commit is when the unit of work that applied the event resolved
 * (`processedEvents.runOnce` for the consumer, `projectionStore.transaction` for the runner),
 * i.e. after COMMIT returned. Events of the first `WARMUP_MS` of each phase are not counted.
 *
 * The writers, the relay, the consumer and the runner use store objects of their own (as separate
 * processes would), so appends reach the relay and the runner through LISTEN/NOTIFY. Each phase
 * runs in a schema (and, for the broker path, an exchange and queues) of its own, dropped after.
 * Phases of the two paths alternate, `rounds` times.
 *
 * Environment: BENCH_E2E_RATE (events/s over all writers, default 200), BENCH_E2E_WRITERS
 * (default 8), BENCH_E2E_PHASE_MS (appending time per phase, default 10000), BENCH_E2E_PREFETCH
 * (the consumer's prefetch, default its own: 10), BENCH_E2E_TRACE=1 (progress of the relay and
 * the consumer every 500 ms, to see which one falls behind). Needs RabbitMQ at
 * RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672); without a broker it reports nothing.
 */
import type { NewEvent, Projection, ProjectionStore } from 'annals';
import { ProjectionRunner } from 'annals';
import { type AmqpConnection, connectAmqp, EventRelay, ProjectionConsumer } from 'annals/amqp';
import {
  migrate,
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  type PostgresProjectionContext,
  PostgresProjectionStore,
} from 'annals/postgres';
import { orderReadModel } from '../examples/order/order-read-model.js';
import { orderRegistry } from '../examples/order/upcasters.js';
import { type Benchmark, percentile, runId } from './support/bench-kit.js';

const url = process.env.RABBITMQ_URL || 'amqp://guest:guest@127.0.0.1:5672';
const RATE = Number(process.env.BENCH_E2E_RATE ?? 200);
const WRITERS = Number(process.env.BENCH_E2E_WRITERS ?? 8);
const PHASE_MS = Number(process.env.BENCH_E2E_PHASE_MS ?? 10_000);
/** The consumer's prefetch; unset: the consumer's default (10). */
const PREFETCH = process.env.BENCH_E2E_PREFETCH ? Number(process.env.BENCH_E2E_PREFETCH) : undefined;
/** BENCH_E2E_TRACE=1: print the relay's and the consumer's progress every 500 ms (broker path). */
const TRACE = process.env.BENCH_E2E_TRACE === '1';
const WARMUP_MS = 1000;
/** How long a phase waits for the last events to reach the read model. */
const DRAIN_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Event `step` (0-4) of order `orderId`: created with a line, three more lines, shipped. */
function orderEvent(orderId: string, step: number): NewEvent {
  const line = { productId: `sku-${step}`, quantity: 1 + step, price: 2.5 + step };
  if (step === 0) {
    return { type: 'OrderCreated', aggregateType: 'Order', payload: { customerId: 'c-1', items: [line] } };
  }
  if (step < 4) return { type: 'OrderItemAdded', aggregateType: 'Order', payload: line };
  return {
    type: 'OrderShipped',
    aggregateType: 'Order',
    payload: { carrier: 'DHL', trackingNumber: `JD-${orderId}` },
  };
}

/** What one phase measured. */
interface PhaseResult {
  /** Append commit → read-model commit, ms, for each counted event. */
  readonly latencies: number[];
  /** Events appended per second over the phase. */
  readonly rate: number;
  /** Counted events that had not reached the read model when the phase gave up waiting. */
  readonly missing: number;
}

/**
 * Appends orders from `WRITERS` writers at `RATE` events/s for `PHASE_MS`, each event's append
 * time recorded by id, then waits until `committed` holds every counted event.
 */
async function drive(
  store: PostgresEventStore,
  committed: Map<string, number>,
  prefix: string,
): Promise<PhaseResult> {
  const appendedAt = new Map<string, number>();
  const counted: string[] = [];
  const interval = (WRITERS * 1000) / RATE;
  const start = performance.now();
  const end = start + PHASE_MS;
  let appended = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      let due = start + (writer * interval) / WRITERS;
      for (let n = 0; due < end; n++, due += interval) {
        await sleep(due - performance.now());
        const orderId = `${prefix}-w${writer}-o${Math.floor(n / 5)}`;
        const step = n % 5;
        const result = await store.append(orderId, step === 0 ? 'no_stream' : step, [
          orderEvent(orderId, step),
        ]);
        const at = performance.now();
        appended++;
        const id = result.events[0]!.eventId;
        appendedAt.set(id, at);
        if (due >= start + WARMUP_MS) counted.push(id);
      }
    }),
  );
  const rate = (appended * 1000) / (performance.now() - start);
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (counted.some((id) => !committed.has(id)) && performance.now() < deadline) await sleep(20);
  const latencies: number[] = [];
  let missing = 0;
  for (const id of counted) {
    const at = committed.get(id);
    if (at === undefined) missing++;
    else latencies.push(at - appendedAt.get(id)!);
  }
  return { latencies, rate, missing };
}

/** The Order read model, noting in `context.applied` the id of each event it applied. */
const notingReadModel: Projection<PostgresProjectionContext> = {
  ...orderReadModel,
  handlerFor(type) {
    const handler = orderReadModel.handlerFor(type);
    if (!handler) return undefined;
    return async (event, context, info) => {
      await handler(event, context, info);
      (context as PostgresProjectionContext & { applied?: string[] }).applied?.push(event.eventId);
    };
  },
};

/** A projection store whose transactions stamp the events they applied once they committed. */
function stampingProjectionStore(
  store: PostgresProjectionStore,
  committed: Map<string, number>,
): ProjectionStore<PostgresProjectionContext> {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'transaction') {
        const transaction: ProjectionStore<PostgresProjectionContext>['transaction'] = async (work) => {
          const applied: string[] = [];
          const result = await target.transaction((tx) =>
            work({ ...tx, context: Object.freeze({ ...tx.context, applied }) }),
          );
          const at = performance.now();
          for (const id of applied) if (!committed.has(id)) committed.set(id, at);
          return result;
        };
        return transaction;
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A processed-event store whose units of work stamp their event once they committed. */
function stampingProcessedEvents(
  store: PostgresProcessedEventStore,
  committed: Map<string, number>,
): PostgresProcessedEventStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'runOnce') {
        const runOnce: PostgresProcessedEventStore['runOnce'] = async (consumer, eventId, work) => {
          const result = await target.runOnce(consumer, eventId, work);
          if (!result.duplicate && !committed.has(eventId)) committed.set(eventId, performance.now());
          return result;
        };
        return runOnce;
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const benchmark: Benchmark = {
  name: 'end-to-end',
  async run(ctx) {
    try {
      await (await connectAmqp({ url, connectionName: 'annals bench e2e admin' })).close();
    } catch (error) {
      process.stderr.write(` skipped (no RabbitMQ at ${url}: ${(error as Error).message})`);
      return [];
    }
    /** Deletes a phase's queues and exchange on a connection of its own (the broker may have restarted). */
    const deleteBrokerObjects = async (queues: string[], exchange: string) => {
      let admin: AmqpConnection | undefined;
      try {
        admin = await connectAmqp({ url, connectionName: 'annals bench e2e admin' });
        admin.on('error', () => {});
        const channel = await admin.createChannel();
        for (const queue of queues) await channel.deleteQueue(queue);
        await channel.deleteExchange(exchange);
      } catch (error) {
        process.stderr.write(` (could not delete ${exchange} and its queues: ${(error as Error).message})`);
      } finally {
        await admin?.close().catch(() => {});
      }
    };
    const registry = orderRegistry();
    // Writers; relay or runner; consumer: a pool each, as separate processes would have.
    const writerPool = ctx.newPool(WRITERS + 2);
    const followerPool = ctx.newPool(4);
    const consumerPool = ctx.newPool(12);

    /** A fresh schema for one phase; `done()` drops it. */
    const freshSchema = async () => {
      const schema = `${ctx.schema}_e2e_${runId()}`;
      await migrate(ctx.pool, { schema });
      const writer = new PostgresEventStore({ pool: writerPool, registry, schema });
      return {
        schema,
        writer,
        follower: new PostgresEventStore({ pool: followerPool, registry, schema }),
        async done(...stores: PostgresEventStore[]) {
          for (const store of [writer, ...stores]) await store.close();
          await ctx.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    };

    const throughBroker = async (): Promise<PhaseResult> => {
      const { schema, writer, follower, done } = await freshSchema();
      const id = runId();
      const exchange = `annals_bench_e2e_${id}`;
      const queuePrefix = `annals_bench_e2e_${id}_`;
      const deadLetterQueue = `annals_bench_e2e_${id}_dlq`;
      const committed = new Map<string, number>();
      const consumerStore = new PostgresEventStore({ pool: consumerPool, registry, schema });
      const consumer = new ProjectionConsumer<PostgresProjectionContext, PgQueryable>({
        projection: orderReadModel,
        processedEvents: stampingProcessedEvents(
          new PostgresProcessedEventStore({ pool: consumerPool, schema }),
          committed,
        ),
        context: (client) => ({ client, schema }),
        eventStore: consumerStore,
        registry,
        url,
        connectionName: 'annals bench e2e consumer',
        exchange,
        queuePrefix,
        deadLetterQueue,
        ...(PREFETCH === undefined ? {} : { prefetch: PREFETCH }),
      });
      const relay = new EventRelay({
        eventStore: follower,
        checkpoints: new PostgresProjectionStore({ pool: followerPool, schema }),
        url,
        connectionName: 'annals bench e2e relay',
        exchange,
      });
      try {
        await consumer.start();
        relay.start();
        while ((await relay.status()).state !== 'running') await sleep(20);
        const started = performance.now();
        const trace = TRACE
          ? setInterval(async () => {
              const relayed = await relay.status();
              const consumed = consumer.status();
              process.stderr.write(
                `\n  ${Math.round(performance.now() - started)} ms: relay published ${relayed.publishedEvents} (lag ${relayed.lagEvents}), consumer acknowledged ${consumed.acknowledged} (in flight ${consumed.inFlight})`,
              );
            }, 500)
          : undefined;
        try {
          return await drive(writer, committed, `b-${id}`);
        } finally {
          clearInterval(trace);
        }
      } finally {
        await relay.stop();
        await consumer.stop();
        await deleteBrokerObjects([consumer.queue, `${consumer.queue}.retry`, deadLetterQueue], exchange);
        await done(follower, consumerStore);
      }
    };

    const throughLog = async (): Promise<PhaseResult> => {
      const { schema, writer, follower, done } = await freshSchema();
      const committed = new Map<string, number>();
      const runner = new ProjectionRunner({
        eventStore: follower,
        projectionStore: stampingProjectionStore(
          new PostgresProjectionStore({ pool: followerPool, schema }),
          committed,
        ),
        projections: [notingReadModel],
      });
      try {
        runner.start();
        await runner.catchUp();
        return await drive(writer, committed, `l-${runId()}`);
      } finally {
        await runner.stop();
        await done(follower);
      }
    };

    const broker: PhaseResult[] = [];
    const log: PhaseResult[] = [];
    for (let round = 0; round < ctx.rounds; round++) {
      if (round % 2 === 0) {
        log.push(await throughLog());
        broker.push(await throughBroker());
      } else {
        broker.push(await throughBroker());
        log.push(await throughLog());
      }
    }
    const all = (results: PhaseResult[]) => results.flatMap((result) => result.latencies);
    const brokerAll = all(broker);
    const logAll = all(log);
    const describe = (results: PhaseResult[], p: number) =>
      results.map((result) => percentile(result.latencies, p).toFixed(1)).join('/');
    const rates = [...broker, ...log].map((result) => result.rate);
    const missing = [...broker, ...log].reduce((sum, result) => sum + result.missing, 0);
    const conditions =
      `${WRITERS} writers, ${Math.round(Math.min(...rates))}-${Math.round(Math.max(...rates))} events/s ` +
      `(target ${RATE}), one event per append, consumer prefetch ${PREFETCH ?? 10}, ${ctx.rounds} alternating phases of ${PHASE_MS / 1000} s each path, ` +
      `${brokerAll.length} + ${logAll.length} events counted` +
      (missing > 0 ? `, ${missing} never reached the read model` : '');
    return [50, 99].map((p) => {
      const annals = percentile(brokerAll, p);
      const baseline = percentile(logAll, p);
      return {
        name: `end to end: append commit -> read-model commit, p${p}, through RabbitMQ (relay + consumer)`,
        unit: 'ms',
        annals,
        baseline,
        baselineName: 'ProjectionRunner on the log, LISTEN/NOTIFY',
        ratio: annals / baseline,
        note: `${conditions}; per phase p${p} broker ${describe(broker, p)}, log ${describe(log, p)}; max broker ${Math.max(...brokerAll).toFixed(1)}, log ${Math.max(...logAll).toFixed(1)}`,
      };
    });
  },
};

export default benchmark;
