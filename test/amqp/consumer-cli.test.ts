import { fileURLToPath } from 'node:url';
import {
  defineProjection,
  EventRegistry,
  InMemoryEventStore,
  InMemoryProcessedEventStore,
  NO_STREAM,
  type StoredEvent,
} from 'annals';
import { ProjectionConsumer } from 'annals/amqp';
import { afterAll, expect, it } from 'vitest';
import { orderEvents } from '../../examples/order/events.js';
import { runCli } from '../../src/cli/run-cli.js';
import { connector, publishEvents, unique } from './consumer-fixtures.js';
import { describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const rabbit = useRabbitVhost();
const config = fileURLToPath(new URL('./fixtures/broker-cli.config.ts', import.meta.url));

async function annals(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...args, '--config', config, '--broker', rabbit.url], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    cwd: process.cwd(),
    stopRequested: () => new Promise(() => undefined),
  });
  return { code, stdout, stderr };
}

describeWithRabbit('annals dead-letters --broker', () => {
  const registry = new EventRegistry([...orderEvents]);
  const eventStore = new InMemoryEventStore({ registry });
  const applied: string[] = [];
  let healed = false;
  const projection = defineProjection<undefined>()({
    name: unique('cli-poison'),
    events: orderEvents,
    handlers: {
      OrderCancelled: (event) => {
        if (!healed) throw new Error(`cannot cancel ${event.aggregateId}`);
        applied.push(event.eventId);
      },
    },
  });
  const consumer = new ProjectionConsumer({
    projection,
    processedEvents: new InMemoryProcessedEventStore(),
    context: () => undefined,
    eventStore,
    registry,
    connect: () => connector(rabbit.url, 'cli-consumer')(),
    maxRetryAttempts: 0,
  });
  afterAll(() => consumer.stop());

  it('lists, retries and discards the dead letters of the broker', async () => {
    await consumer.start();
    const events: StoredEvent[] = [];
    for (const id of [unique('a'), unique('b')]) {
      const result = await eventStore.append(id, NO_STREAM, [
        { type: 'OrderCancelled', aggregateType: 'Order', payload: { reason: 'test' } },
      ]);
      events.push(...result.events);
    }
    await publishEvents(rabbit.url, events);
    await waitUntil(() => consumer.status().acknowledged >= 2, { what: 'dead-lettered' });
    const [first, second] = events.map((event) => event.eventId) as [string, string];

    const listed = await annals('dead-letters', 'list', projection.name);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(first);
    expect(listed.stdout).toContain(second);
    expect(listed.stdout).toContain('2 dead letters of');
    const json = JSON.parse((await annals('dead-letters', 'list', projection.name, '--json')).stdout);
    expect(json.deadLetters).toHaveLength(2);
    expect(json.deadLetters[0]).toMatchObject({ projection: projection.name, attempts: 1 });

    expect((await annals('dead-letters', 'discard', first)).stdout).toContain(`discarded`);
    healed = true;
    expect((await annals('dead-letters', 'retry', second)).stdout).toContain('sent back to');
    await waitUntil(() => applied.includes(second), { what: 'the retried event applied' });
    expect(applied).toEqual([second]);
    expect((await annals('dead-letters', 'list', projection.name)).stdout).toContain('holds no dead letters');

    const missing = await annals('dead-letters', 'retry', 'no-such-event');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no dead letter of event no-such-event');
  });
});
