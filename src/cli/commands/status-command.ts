import {
  describeBlocker,
  formatLogPosition,
  type ProjectionStore,
  readProjectionStatus,
} from '../../core.js';
import { CliError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import { describeHorizon } from '../describe-horizon.js';
import { formatDuration, formatTable, toJson } from '../format.js';
import { missingTablesError } from '../missing-tables.js';
import type { CommandContext } from './command-context.js';
import { EXIT_UNHEALTHY, findAlerts, type StatusThresholds } from './status-alerts.js';

/** A lease holder as `PostgresProjectionStore.leaseHolder` reports it. */
interface LeaseHolder {
  readonly pid: number | undefined;
  readonly owner: string | undefined;
}

type WithLeaseHolder = ProjectionStore<unknown> & {
  leaseHolder(projection: string): Promise<LeaseHolder | undefined>;
};

const knowsLeaseHolder = (store: ProjectionStore<unknown>): store is WithLeaseHolder =>
  typeof (store as Partial<WithLeaseHolder>).leaseHolder === 'function';

function describeLease(holder: LeaseHolder | undefined | null): string {
  if (holder === null) return '?';
  if (!holder) return 'free';
  const pid = holder.pid === undefined ? '' : ` (pid ${holder.pid})`;
  return `held by ${holder.owner ?? 'another client'}${pid}`;
}

/**
 * `annals status`: checkpoint, lag, dead letters and lease of every projection of the config,
 * then checkpoint, lag and lease of every relay the config names (`relays`).
 * Before `annals migrate` it says to run the migrations, whichever of its reads failed first.
 *
 * With thresholds (`--max-lag-events`, `--max-lag-ms`, `--fail-on-dead-letters`,
 * `--fail-on-blocked`), it prints the status all the same, then one `annals: alert: ` line per
 * breach on stderr, and resolves to {@link EXIT_UNHEALTHY} (2) when there is one; else to 0.
 */
export async function statusCommand(context: CommandContext): Promise<number> {
  const { options, config } = context;
  const thresholds: StatusThresholds = {
    maxLagEvents: options.maxLagEvents,
    maxLagMs: options.maxLagMs,
    failOnDeadLetters: options.failOnDeadLetters,
    failOnBlocked: options.failOnBlocked,
  };
  if (config.transport !== 'log' && (thresholds.failOnDeadLetters || thresholds.failOnBlocked)) {
    const flag = thresholds.failOnDeadLetters ? '--fail-on-dead-letters' : '--fail-on-blocked';
    throw new CliError(
      `${flag} does not apply on transport '${config.transport}': the projections' backlog and dead letters are the broker's (annals dead-letters list); status checks only the relays' lag there`,
    );
  }
  try {
    return await printStatus(context, thresholds);
  } catch (error) {
    throw missingTablesError(error, context.config) ?? error;
  }
}

async function printStatus(
  { io, config, options }: CommandContext,
  thresholds: StatusThresholds,
): Promise<number> {
  const { eventStore, projectionStore, relayStore } = config;
  // On the broker, projections keep no checkpoint: their backlog is their queue's.
  const onLog = config.transport === 'log' ? config.projections : [];
  const statuses = await Promise.all(
    onLog.map(async (projection) => {
      const status = await readProjectionStatus(eventStore, projectionStore, projection.name, {
        state: 'stopped',
        lastError: undefined,
        handles: (type) => projection.handlerFor(type) !== undefined,
      });
      const lease = knowsLeaseHolder(projectionStore)
        ? await projectionStore.leaseHolder(projection.name)
        : null;
      return { status, lease };
    }),
  );
  // Relays publish every event: their lag counts the whole log after their checkpoint.
  const relays = await Promise.all(
    config.relays.map(async (relay) => {
      const { exchange } = relay;
      const name = `relay:${exchange}`;
      const status = await readProjectionStatus(eventStore, relayStore, name, {
        state: 'stopped',
        lastError: undefined,
      });
      const lease = knowsLeaseHolder(relayStore) ? await relayStore.leaseHolder(name) : null;
      return { exchange, status, lease };
    }),
  );
  const head = await eventStore.head();
  const horizon = statuses[0]?.status.horizon ?? (await eventStore.readHorizon?.());
  const alerts = findAlerts(
    [
      ...statuses.map(({ status }) => ({ ...status, subject: status.projection })),
      // Relays: lag only (they keep no dead letters and read every event as it is).
      ...relays.map(({ status }) => ({
        subject: status.projection,
        lagEvents: status.lagEvents,
        lagMs: status.lagMs,
      })),
    ],
    thresholds,
  );
  const exitCode = alerts.length > 0 ? EXIT_UNHEALTHY : 0;
  const reportAlerts = () => {
    for (const alert of alerts) writeLine(io.stderr, `annals: alert: ${alert.message}`);
  };
  if (options.json) {
    writeLine(
      io.stdout,
      toJson({
        head: { position: formatLogPosition(head.position), timestamp: head.timestamp ?? null },
        horizon: horizon ?? null,
        transport: config.transport,
        projections: statuses.map(({ status, lease }) => ({
          projection: status.projection,
          checkpoint: formatLogPosition(status.checkpoint),
          lagEvents: status.lagEvents,
          lagMs: status.lagMs,
          lastEventTimestamp: status.lastEventTimestamp ?? null,
          checkpointUpdatedAt: status.checkpointUpdatedAt ?? null,
          deadLetters: status.deadLetters,
          lease: lease === null ? undefined : (lease ?? null),
          blockedBy: status.blockedBy
            ? { ...status.blockedBy, position: formatLogPosition(status.blockedBy.position) }
            : null,
        })),
        relays: relays.map(({ exchange, status, lease }) => ({
          relay: status.projection,
          exchange,
          checkpoint: formatLogPosition(status.checkpoint),
          lagEvents: status.lagEvents,
          lagMs: status.lagMs,
          lastEventTimestamp: status.lastEventTimestamp ?? null,
          checkpointUpdatedAt: status.checkpointUpdatedAt ?? null,
          lease: lease === null ? undefined : (lease ?? null),
        })),
        alerts,
      }),
    );
    reportAlerts();
    return exitCode;
  }
  const table = formatTable(
    [
      'PROJECTION',
      'CHECKPOINT',
      'LAG',
      'LAG TIME',
      'LAST EVENT',
      'CHECKPOINT STORED',
      'DEAD LETTERS',
      'LEASE',
    ],
    statuses.map(({ status, lease }) => [
      status.projection,
      formatLogPosition(status.checkpoint),
      `${status.lagEvents} events`,
      formatDuration(status.lagMs),
      status.lastEventTimestamp?.toISOString() ?? '-',
      status.checkpointUpdatedAt?.toISOString() ?? 'never',
      String(status.deadLetters),
      describeLease(lease),
    ]),
  );
  if (config.transport === 'log') for (const line of table) writeLine(io.stdout, line);
  else {
    const broker = config.messageBroker!;
    const queues = config.projections.map((projection) => `${broker.queuePrefix}${projection.name}`);
    writeLine(
      io.stdout,
      `projections on RabbitMQ: ${queues.join(', ')}; their backlog is in those queues, their dead letters in ${broker.deadLetterQueue} (annals dead-letters list)`,
    );
  }
  if (relays.length > 0) {
    const relayTable = formatTable(
      ['RELAY', 'CHECKPOINT', 'LAG', 'LAG TIME', 'LAST EVENT', 'CHECKPOINT STORED', 'LEASE'],
      relays.map(({ status, lease }) => [
        status.projection,
        formatLogPosition(status.checkpoint),
        `${status.lagEvents} events`,
        formatDuration(status.lagMs),
        status.lastEventTimestamp?.toISOString() ?? '-',
        status.checkpointUpdatedAt?.toISOString() ?? 'never',
        describeLease(lease),
      ]),
    );
    for (const line of relayTable) writeLine(io.stdout, line);
  }
  for (const { status } of statuses) {
    if (status.blockedBy) writeLine(io.stdout, `${status.projection}: ${describeBlocker(status.blockedBy)}`);
  }
  writeLine(
    io.stdout,
    `head of the log: ${formatLogPosition(head.position)}${head.timestamp ? ` (${head.timestamp.toISOString()})` : ' (empty)'}`,
  );
  if (horizon) writeLine(io.stdout, describeHorizon(horizon));
  reportAlerts();
  return exitCode;
}
