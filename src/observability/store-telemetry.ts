import type * as Otel from '@opentelemetry/api';
import { ErrorCode, isAnnalsError } from '../errors.js';
import type { NewEvent, StoredEvent } from '../events/event-envelope.js';
import type { AppendResult } from '../store/event-store.js';
import type { ExpectedVersionMode } from '../store/expected-version.js';
import {
  errorType,
  formatTraceparent,
  secondsSince,
  type Telemetry,
  telemetry,
  withSpan,
  withTraceparent,
} from './telemetry.js';

/**
 * The store an instrumented append or load runs on: its `annals.store` attribute and, for a
 * database, the `db.*` attributes of OpenTelemetry's database conventions. Made once per store
 * by {@link storeTelemetryTarget}, with the attribute sets precomputed.
 *
 * @internal
 */
export interface StoreTelemetryTarget {
  /** `annals.store` and the `db.*` attributes of an append. */
  readonly append: Otel.Attributes;
  /** The same for a load. */
  readonly load: Otel.Attributes;
  /** Append metric attributes by outcome. */
  readonly ok: Otel.Attributes;
  readonly duplicate: Otel.Attributes;
  /** The span kind: `client` for a database, else `internal`. */
  readonly kind: 'client' | 'internal';
}

/**
 * The telemetry target of a store: `store` is `memory` or `postgresql`; a database store gives
 * `dbSystem` (`db.system.name`) and `dbNamespace` (`db.namespace`, its schema).
 *
 * @internal
 */
export function storeTelemetryTarget(
  store: string,
  database?: { readonly system: string; readonly namespace?: string },
): StoreTelemetryTarget {
  const attributes = (operation: string): Otel.Attributes =>
    database === undefined
      ? { 'annals.store': store }
      : {
          'annals.store': store,
          'db.system.name': database.system,
          'db.operation.name': operation,
          ...(database.namespace === undefined ? {} : { 'db.namespace': database.namespace }),
        };
  const append = attributes('append');
  return Object.freeze({
    append,
    load: attributes('load'),
    ok: { ...append, 'annals.outcome': 'ok' },
    duplicate: { ...append, 'annals.outcome': 'duplicate' },
    kind: database === undefined ? 'internal' : 'client',
  });
}

function expectedVersionAttribute(expectedVersion: ExpectedVersionMode): string | number {
  return typeof expectedVersion === 'number' ? expectedVersion : String(expectedVersion);
}

/**
 * Runs an append with its span (`annals.append`, a child of the active span), the append
 * span's `traceparent` written into each new event's metadata (unless it holds one), and the
 * append metrics. Without telemetry it is `run(events)`.
 *
 * @internal
 */
export function instrumentAppend(
  target: StoreTelemetryTarget,
  aggregateId: string,
  expectedVersion: ExpectedVersionMode,
  events: readonly NewEvent[],
  run: (events: readonly NewEvent[]) => Promise<AppendResult>,
): Promise<AppendResult> {
  const found = telemetry();
  if (found === null || !found.live) return run(events);
  return tracedAppend(found, target, aggregateId, expectedVersion, events, run);
}

async function tracedAppend(
  found: Telemetry,
  target: StoreTelemetryTarget,
  aggregateId: string,
  expectedVersion: ExpectedVersionMode,
  events: readonly NewEvent[],
  run: (events: readonly NewEvent[]) => Promise<AppendResult>,
): Promise<AppendResult> {
  const instruments = found.instruments;
  const start = performance.now();
  const attributes = target.append;
  try {
    const result = await withSpan(
      'annals.append',
      {
        kind: target.kind,
        attributes: {
          ...attributes,
          'annals.aggregate.id': aggregateId,
          'annals.expected_version': expectedVersionAttribute(expectedVersion),
          'annals.event.count': Array.isArray(events) ? events.length : 0,
        },
      },
      async (span) => {
        const spanContext = span?.spanContext();
        const traceparent =
          spanContext && found.api.trace.isSpanContextValid(spanContext)
            ? formatTraceparent(spanContext)
            : undefined;
        const appended = await run(withTraceparent(events, traceparent));
        if (span?.isRecording()) {
          span.setAttributes({
            'annals.next_expected_version': appended.nextExpectedVersion,
            'annals.duplicate': appended.duplicate,
          });
          const first = appended.events[0];
          if (first) {
            span.setAttributes({
              'annals.aggregate.type': first.aggregateType,
              'annals.event.type': first.type,
              'annals.event.id': first.eventId,
            });
          }
        }
        return appended;
      },
    );
    if (instruments) {
      const outcome = result.duplicate ? target.duplicate : target.ok;
      instruments.appends.add(1, outcome);
      if (!result.duplicate && result.events.length > 0) {
        instruments.eventsAppended.add(result.events.length, attributes);
      }
      instruments.appendDuration.record(secondsSince(start), outcome);
    }
    return result;
  } catch (error) {
    if (instruments) {
      const conflict = isAnnalsError(error, ErrorCode.Concurrency);
      const failed = {
        ...attributes,
        'annals.outcome': conflict ? 'conflict' : 'error',
        'error.type': errorType(error),
      };
      instruments.appends.add(1, failed);
      if (conflict) instruments.conflicts.add(1, attributes);
      instruments.appendDuration.record(secondsSince(start), failed);
    }
    throw error;
  }
}

/**
 * Runs a load of a stream with its span (`annals.load`) and the load duration metric. Without
 * telemetry it is `run()`.
 *
 * @internal
 */
export function instrumentLoad(
  target: StoreTelemetryTarget,
  aggregateId: string,
  run: () => Promise<StoredEvent[]>,
): Promise<StoredEvent[]> {
  const found = telemetry();
  if (found === null || !found.live) return run();
  return tracedLoad(found, target, aggregateId, run);
}

async function tracedLoad(
  found: Telemetry,
  target: StoreTelemetryTarget,
  aggregateId: string,
  run: () => Promise<StoredEvent[]>,
): Promise<StoredEvent[]> {
  const instruments = found.instruments;
  const start = performance.now();
  const attributes = target.load;
  let outcome: Otel.Attributes = attributes;
  try {
    return await withSpan(
      'annals.load',
      {
        kind: target.kind,
        attributes: { ...attributes, 'annals.aggregate.id': aggregateId },
      },
      async (span) => {
        const events = await run();
        span?.setAttribute('annals.event.count', events.length);
        return events;
      },
    );
  } catch (error) {
    outcome = { ...attributes, 'error.type': errorType(error) };
    throw error;
  } finally {
    instruments?.loadDuration.record(secondsSince(start), outcome);
  }
}
