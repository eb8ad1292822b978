import { ProjectionConsumer } from '../../amqp/projection-consumer.js';
import { EventRelay } from '../../amqp/relay.js';
import { formatLogPosition, type Projection, type ProjectionError } from '../../core.js';
import { CliError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import type { OpenedConfig } from '../open-config.js';
import { type CommandContext, createRunner } from './command-context.js';

/**
 * `annals run [projection...]`: runs projections (all by default) in this process until SIGINT
 * or SIGTERM, then stops gracefully. On the log (`projections.transport: 'log'`) a runner
 * follows the global log; on the broker (`'broker'`) the relay publishes the log (one active
 * relay among all processes, by its lease) and a consumer per projection consumes its queue.
 */
export async function runCommand(context: CommandContext): Promise<void> {
  const { config, args } = context;
  const known = new Map(config.projections.map((projection) => [projection.name, projection]));
  const unknown = args.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new CliError(
      `unknown projection ${unknown.map((name) => `"${name}"`).join(', ')}; the config has: ${[...known.keys()].join(', ')}`,
    );
  }
  const projections = args.length > 0 ? args.map((name) => known.get(name)!) : config.projections;
  if (config.transport === 'broker') return runOnBroker(context, projections);
  return runOnLog(context, projections);
}

/** The config's `onError`, if any: the runners, the relay and the consumers log on their own. */
function reportTo(context: CommandContext): (error: ProjectionError) => void {
  const userOnError = context.config.runner.onError;
  return (error) => userOnError?.(error);
}

async function runOnLog(context: CommandContext, projections: readonly Projection<any>[]): Promise<void> {
  const { io, config } = context;
  const runner = createRunner(
    { ...config, runner: { ...config.runner, onError: reportTo(context) } },
    projections,
  );
  const stop = io.stopRequested();
  runner.start();
  writeLine(
    io.stdout,
    `running ${projections.map((projection) => projection.name).join(', ')}; stop with Ctrl-C or SIGTERM`,
  );
  const signal = await stop;
  writeLine(io.stdout, `${signal}: stopping after the batch in progress`);
  await runner.stop();
  for (const status of await runner.statusAll()) {
    writeLine(
      io.stdout,
      `stopped ${status.projection} at ${formatLogPosition(status.checkpoint)} (${status.lagEvents} events behind)`,
    );
  }
}

async function runOnBroker(context: CommandContext, projections: readonly Projection<any>[]): Promise<void> {
  const { io, config } = context;
  const broker = config.messageBroker!;
  const readModel = requireReadModel(config);
  const onError = reportTo(context);
  const { batchSize, retryDelayMs, maxRetryAttempts } = config.runner;
  const relay = new EventRelay({
    eventStore: config.eventStore,
    checkpoints: config.relayStore,
    url: broker.url,
    exchange: broker.exchange,
    connectionName: 'annals run relay',
    logger: config.settings.logger,
    ...(batchSize === undefined ? {} : { batchSize }),
    onError,
  });
  const consumers = projections.map(
    (projection) =>
      new ProjectionConsumer({
        projection,
        processedEvents: readModel.processedEvents,
        context: readModel.context,
        eventStore: config.eventStore,
        url: broker.url,
        exchange: broker.exchange,
        queuePrefix: broker.queuePrefix,
        prefetch: broker.prefetch,
        deadLetterQueue: broker.deadLetterQueue,
        logger: config.settings.logger,
        ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
        ...(maxRetryAttempts === undefined ? {} : { maxRetryAttempts }),
        onError,
      }),
  );
  const stop = io.stopRequested();
  const started: ProjectionConsumer<any, any>[] = [];
  try {
    // Queues first, so that nothing the relay publishes meets an exchange without them.
    for (const consumer of consumers) {
      await consumer.start();
      started.push(consumer);
    }
  } catch (error) {
    await Promise.all(started.map((consumer) => consumer.stop()));
    throw error;
  }
  relay.start();
  writeLine(
    io.stdout,
    `running ${projections.map((projection) => projection.name).join(', ')} on RabbitMQ (queues ${consumers.map((consumer) => consumer.queue).join(', ')}) and the relay to ${broker.exchange}; stop with Ctrl-C or SIGTERM`,
  );
  const signal = await stop;
  writeLine(io.stdout, `${signal}: stopping after the messages in hand`);
  await relay.stop();
  await Promise.all(consumers.map((consumer) => consumer.stop()));
  const relayStatus = await relay.status();
  writeLine(
    io.stdout,
    `stopped the relay at ${formatLogPosition(relayStatus.checkpoint)} (${relayStatus.lagEvents} events behind, ${relayStatus.publishedEvents} published)`,
  );
  for (const consumer of consumers) {
    const status = consumer.status();
    writeLine(io.stdout, `stopped ${consumer.queue} after ${status.acknowledged} messages acknowledged`);
  }
}

function requireReadModel(config: OpenedConfig): NonNullable<OpenedConfig['readModel']> {
  if (config.readModel) return config.readModel;
  throw new CliError(
    "projections.transport 'broker' needs eventStore as settings ({ connectionString }) for annals run; with live stores, start EventRelay and ProjectionConsumer in your code",
  );
}
