/**
 * The relay's throughput: events of the log published to RabbitMQ and confirmed per second, from
 * `relay.start()` until its checkpoint (saved in PostgreSQL after each page is confirmed, while the
 * next page is published) is past the first `EVENTS` events of the log. Each round relays to a
 * fresh durable topic exchange bound to one durable classic queue (purged between phases), so
 * every message is routed and persisted.
 *
 * The baseline publishes the same messages (read and encoded before the clock starts) with raw
 * amqplib on a confirm channel, `waitForConfirms()` once per page of the same size (50, the default, and 500): the broker's share of
 * the work, without reading the log or saving checkpoints. Goal (issue 10): ratio >= 0.7.
 *
 * Needs RabbitMQ at RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672); without a broker it
 * reports nothing.
 */
import { compareLogPositions, LOG_START, type LogPosition, type ProjectionStore } from 'annals';
import { type AmqpConnection, connectAmqp, EventRelay } from 'annals/amqp';
import { PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import { type EncodedEventMessage, encodeEventMessage } from '../src/amqp/message-codec.js';
import { benchRegistry, lineEvent } from './support/bench-events.js';
import { alternate, type Benchmark, runId, runWriters } from './support/bench-kit.js';

const EVENTS = 20_000;
/** Events per page (relay) and per `waitForConfirms()` (baseline): the default, and a large one. */
const BATCHES = [50, 500] as const;
const url = process.env.RABBITMQ_URL || 'amqp://guest:guest@127.0.0.1:5672';

/** Wraps a projection store so that a save at or past `target` resolves `reached`. */
function watching(store: ProjectionStore<unknown>, target: LogPosition) {
  let resolveReached: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    resolveReached = resolve;
  });
  const wrapped: ProjectionStore<unknown> = {
    loadCheckpoint: (name) => store.loadCheckpoint(name),
    tryAcquireLease: (name, owner) => store.tryAcquireLease(name, owner),
    getDeadLetter: (id) => store.getDeadLetter(id),
    listDeadLetters: (name, options) => store.listDeadLetters(name, options),
    countDeadLetters: (name) => store.countDeadLetters(name),
    transaction: (work) =>
      store.transaction((transaction) =>
        work({
          ...transaction,
          context: transaction.context,
          saveCheckpoint: async (name, update) => {
            const saved = await transaction.saveCheckpoint(name, update);
            if (saved && compareLogPositions(update.position, target) >= 0) queueMicrotask(resolveReached);
            return saved;
          },
          resetCheckpoint: (name) => transaction.resetCheckpoint(name),
          addDeadLetter: (letter) => transaction.addDeadLetter(letter),
          removeDeadLetter: (id) => transaction.removeDeadLetter(id),
        }),
      ),
  };
  return { wrapped, reached };
}

const benchmark: Benchmark = {
  name: 'relay',
  async run(ctx) {
    let admin: AmqpConnection;
    try {
      admin = await connectAmqp({ url, connectionName: 'annals bench admin' });
    } catch (error) {
      process.stderr.write(` skipped (no RabbitMQ at ${url}: ${(error as Error).message})`);
      return [];
    }
    admin.on('error', () => {});
    const pool = ctx.newPool(8);
    const store = new PostgresEventStore({ pool, registry: benchRegistry(), schema: ctx.schema });
    const checkpoints = new PostgresProjectionStore({ pool, schema: ctx.schema });
    // Earlier benchmarks leave plenty of events; run alone, this one writes its own.
    while ((await store.countAfter(LOG_START)) < BigInt(EVENTS)) {
      const run = runId();
      await runWriters(8, 1000, (writer, n) => {
        const stream = `relay-${run}-${writer}`;
        return store.append(
          stream,
          n * 100,
          Array.from({ length: 100 }, (_, i) => lineEvent(stream, n * 100 + i)),
        );
      });
    }
    // The messages of the first EVENTS events, as the relay encodes them, for the baseline.
    const messages: EncodedEventMessage[] = [];
    let after: LogPosition = LOG_START;
    while (messages.length < EVENTS) {
      const page = await store.readAll({
        after,
        limit: Math.min(1000, EVENTS - messages.length),
        onUndecodable: 'report',
      });
      const items = [...page.events, ...(page.undecodable ?? []).map((u) => u.raw)].sort((a, b) =>
        compareLogPositions(
          { transactionId: a.transactionId, globalPosition: a.globalPosition },
          { transactionId: b.transactionId, globalPosition: b.globalPosition },
        ),
      );
      messages.push(...items.map(encodeEventMessage));
      after = page.next;
    }
    const target = after;
    const bytes = messages.reduce((sum, message) => sum + message.content.length, 0) / messages.length;

    const channel = await admin.createChannel();
    const queue = `annals_bench_relay_${runId()}`;
    await channel.assertQueue(queue, { durable: true });
    const exchanges: string[] = [];
    const freshExchange = async () => {
      const exchange = `annals_bench_relay_${runId()}`;
      exchanges.push(exchange);
      await channel.assertExchange(exchange, 'topic', { durable: true });
      await channel.bindQueue(queue, exchange, '#');
      return exchange;
    };
    const purge = () => (channel as unknown as { purgeQueue(q: string): Promise<unknown> }).purgeQueue(queue);

    const measure = async (batch: number) => {
      const result = await alternate(
        ctx.rounds,
        async () => {
          const exchange = await freshExchange();
          const { wrapped, reached } = watching(checkpoints, target);
          const relay = new EventRelay({
            eventStore: store,
            checkpoints: wrapped,
            url,
            exchange,
            batchSize: batch,
            connectionName: 'annals bench relay',
          });
          const start = performance.now();
          relay.start();
          await reached;
          const elapsed = performance.now() - start;
          await relay.stop();
          await purge();
          return (EVENTS / elapsed) * 1000;
        },
        async () => {
          const exchange = await freshExchange();
          const start = performance.now();
          const connection = await connectAmqp({ url, connectionName: 'annals bench baseline' });
          const confirm = await connection.createConfirmChannel();
          await confirm.assertExchange(exchange, 'topic', { durable: true });
          for (let from = 0; from < messages.length; from += batch) {
            for (const message of messages.slice(from, from + batch)) {
              if (!confirm.publish(exchange, message.routingKey, message.content, message.options)) {
                await new Promise<void>((resolve) => confirm.on('drain', resolve));
              }
            }
            await confirm.waitForConfirms();
          }
          const elapsed = performance.now() - start;
          await connection.close();
          await purge();
          return (EVENTS / elapsed) * 1000;
        },
      );
      return {
        name: `relay: publish + confirm ${EVENTS.toLocaleString('en')} events (batchSize ${batch})`,
        unit: 'events/s',
        annals: result.annals,
        baseline: result.baseline,
        baselineName: `raw amqplib confirm channel, waitForConfirms per ${batch}`,
        ratio: result.annals / result.baseline,
        target: { atLeast: 0.7 },
        note: `~${Math.round(bytes)}-byte persistent messages into 1 durable classic queue; the relay also reads the log and saves its PostgreSQL checkpoint per page (overlapping the next page); rounds annals ${result.annalsRounds.map(Math.round).join('/')}, baseline ${result.baselineRounds.map(Math.round).join('/')}`,
      };
    };

    try {
      const figures = [];
      for (const batch of BATCHES) figures.push(await measure(batch));
      return figures;
    } finally {
      await channel.deleteQueue(queue).catch(() => {});
      for (const exchange of exchanges) await channel.deleteExchange(exchange).catch(() => {});
      await admin.close().catch(() => {});
      await store.close();
    }
  },
};

export default benchmark;
