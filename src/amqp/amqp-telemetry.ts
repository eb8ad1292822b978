import type * as Otel from '@opentelemetry/api';
import {
  errorType,
  extractTraceparent,
  meterInstruments,
  recordSpanError,
  secondsSince,
  telemetry,
  withSpan,
} from '../core.js';
import type { AmqpMessage } from './amqp-shapes.js';
import { EventHeader } from './message-codec.js';

/**
 * The spans and instruments of the relay and the projection consumers, on annals' tracer and
 * meter (see docs/rabbitmq.md, "Tracing and metrics"). Without `@opentelemetry/api`, or with it
 * and no SDK registered, every helper runs its work as it is.
 *
 * @internal
 * @module
 */

/** Duration buckets in seconds, from 100 µs to 10 s, as the core's histograms. */
const DURATION_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

function seconds(description: string): Otel.MetricOptions {
  return { description, unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS_S } };
}

const relayInstruments = meterInstruments((meter) => ({
  meter,
  published: meter.createCounter('annals.relay.published', {
    description: 'Messages the relay published to the exchange (before the broker confirmed them)',
    unit: '{message}',
  }),
  confirms: meter.createCounter('annals.relay.confirms', {
    description: 'Publisher confirms the relay received, by outcome (ack, nack)',
    unit: '{message}',
  }),
  publishDuration: meter.createHistogram(
    'annals.relay.publish.duration',
    seconds('Duration of publishing one page of events until the broker confirmed it'),
  ),
  lagEvents: meter.createObservableGauge('annals.relay.lag.events', {
    description: 'Events in the log after the relay checkpoint (of a started relay)',
    unit: '{event}',
  }),
  lagTime: meter.createObservableGauge('annals.relay.lag.time', {
    description: "Time between the log head's event and the relay checkpoint's event (of a started relay)",
    unit: 's',
  }),
}));

const consumerInstruments = meterInstruments((meter) => ({
  messages: meter.createCounter('annals.consumer.messages', {
    description:
      'Messages a projection consumer settled, by outcome (applied, duplicate, held, retried, dead_lettered, requeued)',
    unit: '{message}',
  }),
  handleDuration: meter.createHistogram(
    'annals.consumer.handle.duration',
    seconds('Duration of handling one message, from its delivery until it was settled'),
  ),
}));

// ---------------------------------------------------------------------------------------------
// The relay

/** The attributes of a relay's spans and measurements. @internal */
export interface RelayTelemetryTarget {
  readonly spanName: string;
  readonly attributes: Otel.Attributes;
  readonly ack: Otel.Attributes;
  readonly nack: Otel.Attributes;
}

/** @internal */
export function relayTelemetryTarget(relay: string, exchange: string): RelayTelemetryTarget {
  const attributes = {
    'annals.relay': relay,
    'messaging.system': 'rabbitmq',
    'messaging.destination.name': exchange,
  };
  return Object.freeze({
    spanName: `publish ${exchange}`,
    attributes,
    ack: { ...attributes, 'annals.outcome': 'ack' },
    nack: { ...attributes, 'annals.outcome': 'nack' },
  });
}

/** What the relay's publish loop reports to, while a page is traced or measured. @internal */
export interface PublishTracker {
  /** The confirm callback to publish each message with: counts acks and nacks (metrics on). */
  readonly confirm: ((error: unknown) => void) | undefined;
  /** Called after each message handed to the channel. */
  sent(): void;
}

/**
 * Publishes one page (`send`) in a span `publish <exchange>` (kind client: the messages carry
 * their events' own trace contexts, which the span links to) and counts what it published, the
 * confirms and the page's duration until confirmed. Without telemetry it is `send(undefined)`.
 *
 * @internal
 */
export function tracePublish(
  target: RelayTelemetryTarget,
  items: readonly { readonly metadata?: unknown }[],
  isLost: () => boolean,
  send: (tracker: PublishTracker | undefined) => Promise<void>,
): Promise<void> {
  const found = telemetry();
  if (found === null || !found.live) return send(undefined);
  const instruments = relayInstruments();
  let sent = 0;
  const tracker: PublishTracker = {
    confirm:
      instruments === undefined
        ? undefined
        : (error) => {
            if (error === null || error === undefined) {
              instruments.confirms.add(1, target.ack);
              return;
            }
            // A lost channel fails every unconfirmed message too: that is no nack. The channel's
            // 'close' listeners all run before this check.
            queueMicrotask(() => {
              if (!isLost()) instruments.confirms.add(1, target.nack);
            });
          },
    sent: () => {
      sent += 1;
    },
  };
  const start = performance.now();
  let outcome: Otel.Attributes = target.attributes;
  return withSpan(
    target.spanName,
    {
      kind: 'client',
      attributes: {
        ...target.attributes,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.batch.message_count': items.length,
      },
      links: items.map((item) => extractTraceparent(item.metadata)),
    },
    () => send(tracker),
  )
    .catch((error: unknown) => {
      outcome = { ...target.attributes, 'error.type': errorType(error) };
      throw error;
    })
    .finally(() => {
      if (instruments === undefined) return;
      if (sent > 0) instruments.published.add(sent, target.attributes);
      instruments.publishDuration.record(secondsSince(start), outcome);
    });
}

/** What the relay's lag gauges read. */
interface RelayLag {
  readonly lagEvents: bigint;
  readonly lagMs: number;
}

/**
 * Reports the relay's lag (read by `status`) to `annals.relay.lag.events` and
 * `annals.relay.lag.time` at each collection; returns the function that stops it, or undefined
 * when metrics are off.
 *
 * @internal
 */
export function observeRelayLag(
  target: RelayTelemetryTarget,
  status: () => Promise<RelayLag>,
): (() => void) | undefined {
  const instruments = relayInstruments();
  if (instruments === undefined) return undefined;
  const { meter, lagEvents, lagTime } = instruments;
  const callback: Otel.BatchObservableCallback = async (result) => {
    let lag: RelayLag;
    try {
      lag = await status();
    } catch {
      return; // The store is unreachable: no observation this time.
    }
    result.observe(lagEvents, Number(lag.lagEvents), target.attributes);
    result.observe(lagTime, lag.lagMs / 1000, target.attributes);
  };
  meter.addBatchObservableCallback(callback, [lagEvents, lagTime]);
  return () => meter.removeBatchObservableCallback(callback, [lagEvents, lagTime]);
}

// ---------------------------------------------------------------------------------------------
// The projection consumer

/** How a consumer settled a message. @internal */
export type ConsumerOutcome = 'applied' | 'duplicate' | 'held' | 'retried' | 'dead_lettered' | 'requeued';

/** A settled message: its outcome and, for a failure, the error. @internal */
export interface Settled {
  readonly outcome: ConsumerOutcome;
  readonly error?: unknown;
}

/** The attributes of a consumer's spans and measurements. @internal */
export interface ConsumerTelemetryTarget {
  readonly spanName: string;
  readonly attributes: Otel.Attributes;
}

/** @internal */
export function consumerTelemetryTarget(projection: string, queue: string): ConsumerTelemetryTarget {
  return Object.freeze({
    spanName: `process ${queue}`,
    attributes: {
      'annals.projection': projection,
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': queue,
    },
  });
}

/** The trace context a message carries: its `traceparent` header, else its event's metadata. */
function traceparentOfMessage(message: AmqpMessage): string | undefined {
  const header = extractTraceparent(message.properties.headers);
  if (header !== undefined) return header;
  try {
    const body = JSON.parse(message.content.toString('utf8')) as { metadata?: unknown };
    return extractTraceparent(body?.metadata);
  } catch {
    return undefined;
  }
}

/**
 * Handles a delivered message (`handle`) in a span `process <queue>` (kind consumer), a child
 * of the trace context the message carries, and counts it by outcome. Without telemetry it is
 * `handle()`.
 *
 * @internal
 */
export async function traceDelivery(
  target: ConsumerTelemetryTarget,
  message: AmqpMessage,
  attempt: number,
  handle: () => Promise<Settled>,
): Promise<void> {
  const found = telemetry();
  if (found === null || !found.live) {
    await handle();
    return;
  }
  const instruments = consumerInstruments();
  const start = performance.now();
  const { properties, fields } = message;
  const headers = properties.headers ?? {};
  const attributes: Otel.Attributes = {
    ...target.attributes,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.rabbitmq.destination.routing_key': fields.routingKey,
    'messaging.rabbitmq.message.delivery_tag': fields.deliveryTag,
    'annals.attempt': attempt,
  };
  if (properties.messageId !== undefined) {
    attributes['messaging.message.id'] = properties.messageId;
    attributes['annals.event.id'] = properties.messageId;
  }
  if (properties.correlationId !== undefined) {
    attributes['messaging.message.conversation_id'] = properties.correlationId;
  }
  if (properties.type !== undefined) attributes['annals.event.type'] = properties.type;
  const aggregateId = headers[EventHeader.aggregateId];
  if (typeof aggregateId === 'string') attributes['annals.aggregate.id'] = aggregateId;
  const version = headers[EventHeader.version];
  if (typeof version === 'number') attributes['annals.event.version'] = version;
  let settled: Settled = { outcome: 'requeued' };
  try {
    await withSpan(
      target.spanName,
      {
        kind: 'consumer',
        attributes,
        parent: found.liveTracer === undefined ? undefined : traceparentOfMessage(message),
      },
      async (span) => {
        settled = await handle();
        span?.setAttribute('annals.outcome', settled.outcome);
        if (settled.error !== undefined) recordSpanError(span, settled.error);
      },
    );
  } finally {
    if (instruments !== undefined) {
      const measured: Otel.Attributes = { ...target.attributes, 'annals.outcome': settled.outcome };
      if (settled.error !== undefined) measured['error.type'] = errorType(settled.error);
      instruments.messages.add(1, measured);
      instruments.handleDuration.record(secondsSince(start), measured);
    }
  }
}
