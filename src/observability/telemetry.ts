import { createRequire } from 'node:module';
import type * as Otel from '@opentelemetry/api';
import { InvalidArgumentError } from '../errors.js';

/**
 * Tracing and metrics through the OpenTelemetry API, an optional peer dependency. annals looks
 * for `@opentelemetry/api` once, synchronously, the first time it would trace or measure
 * something; when it is not installed (or {@link setTelemetry} turned telemetry off) nothing of
 * it is loaded and every instrumented call goes straight to its work. With the API installed but
 * no SDK registered, the API's no-op tracer and meter are used. See docs/observability.md.
 *
 * The `@opentelemetry/api` types are imported as types only: they vanish from the JavaScript.
 *
 * @module
 */

/**
 * The part of the `@opentelemetry/api` module {@link setTelemetry} accepts: the module itself
 * (`import * as api from '@opentelemetry/api'`) is one.
 *
 * @category Observability
 */
export interface OpenTelemetryApi {
  /** The tracing API (`trace.getTracer`, ...). */
  readonly trace: {
    /** Returns the tracer of an instrumentation library. */
    getTracer(name: string, version?: string): unknown;
  };
  /** The metrics API (`metrics.getMeterProvider`, ...). */
  readonly metrics: {
    /** Returns the global meter provider. */
    getMeterProvider(): unknown;
  };
  /** The context API (`context.active`, `context.with`). */
  readonly context: {
    /** Returns the active context. */
    active(): unknown;
  };
}

/**
 * Options of {@link setTelemetry}.
 *
 * @category Observability
 */
export interface TelemetryOptions {
  /**
   * `false` turns tracing and metrics off: nothing is loaded (or nothing more is used) and every
   * instrumented call runs as without the peer.
   * @defaultValue `true`
   */
  readonly enabled?: boolean;
  /**
   * The OpenTelemetry API to use instead of looking for `@opentelemetry/api` (for a bundle that
   * cannot `require` it, or to be explicit).
   * @defaultValue `@opentelemetry/api` when it can be required, else none (telemetry is off)
   */
  readonly api?: OpenTelemetryApi;
  /**
   * Whether annals creates spans (and writes `traceparent` into new events' metadata).
   * @defaultValue `true`
   */
  readonly tracing?: boolean;
  /**
   * Whether annals records metrics.
   * @defaultValue `true`
   */
  readonly metrics?: boolean;
}

/**
 * What telemetry annals runs with: see {@link getTelemetryState}.
 *
 * @category Observability
 */
export interface TelemetryState {
  /** True when an OpenTelemetry API was found (or given) and telemetry is on. */
  readonly active: boolean;
  /** True when annals creates spans. */
  readonly tracing: boolean;
  /** True when annals records metrics. */
  readonly metrics: boolean;
}

/** The instrumentation scope annals' tracer and meter are named after. */
export const TELEMETRY_SCOPE = 'annals';

/**
 * The metadata key (and AMQP header) that carries an event's W3C trace context.
 *
 * @category Observability
 */
export const TRACEPARENT = 'traceparent';

/** The most links a projection batch span gets (one per distinct traceparent). */
export const MAX_BATCH_LINKS = 64;

/** The metric instruments annals records to. @internal */
export interface TelemetryInstruments {
  readonly appends: Otel.Counter;
  readonly eventsAppended: Otel.Counter;
  readonly conflicts: Otel.Counter;
  readonly appendDuration: Otel.Histogram;
  /** Appends per coalesced statement (PostgreSQL write coalescing). */
  readonly appendGroupSize: Otel.Histogram;
  readonly loadDuration: Otel.Histogram;
  readonly batchDuration: Otel.Histogram;
  readonly eventsProcessed: Otel.Counter;
  readonly handlerRetries: Otel.Counter;
  readonly deadLetters: Otel.Counter;
  readonly lagEvents: Otel.ObservableGauge;
  readonly lagTime: Otel.ObservableGauge;
  /** The meter, for instruments of the adapters (`annals/amqp`). */
  readonly meter: Otel.Meter;
}

/** Duration buckets in seconds, from 100 µs to 10 s (appends and loads are short). */
const DURATION_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Group size buckets, in appends: powers of two up to 1,024 (the default group is at most 64). */
const GROUP_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

function createInstruments(meter: Otel.Meter): TelemetryInstruments {
  const seconds = (description: string): Otel.MetricOptions => ({
    description,
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
  });
  return {
    meter,
    appends: meter.createCounter('annals.appends', {
      description: 'Appends to the event store (calls of append), by outcome',
      unit: '{append}',
    }),
    eventsAppended: meter.createCounter('annals.events.appended', {
      description: 'Events written by appends (duplicates not counted)',
      unit: '{event}',
    }),
    conflicts: meter.createCounter('annals.conflicts', {
      description: 'Appends refused with a concurrency conflict (expected version not met)',
      unit: '{conflict}',
    }),
    appendDuration: meter.createHistogram('annals.append.duration', seconds('Duration of an append')),
    appendGroupSize: meter.createHistogram('annals.append.group.size', {
      description: 'Appends written by one coalesced statement (write coalescing)',
      unit: '{append}',
      advice: { explicitBucketBoundaries: GROUP_SIZE_BUCKETS },
    }),
    loadDuration: meter.createHistogram(
      'annals.load.duration',
      seconds("Duration of loading a stream's events"),
    ),
    batchDuration: meter.createHistogram(
      'annals.projection.batch.duration',
      seconds('Duration of applying one batch of events to a projection'),
    ),
    eventsProcessed: meter.createCounter('annals.projection.events.processed', {
      description: 'Events a projection moved its checkpoint past',
      unit: '{event}',
    }),
    handlerRetries: meter.createCounter('annals.projection.handler.retries', {
      description: 'Retries of a projection handler after it failed on an event',
      unit: '{retry}',
    }),
    deadLetters: meter.createCounter('annals.projection.dead_letters', {
      description: 'Events a projection parked as dead letters',
      unit: '{event}',
    }),
    lagEvents: meter.createObservableGauge('annals.projection.lag.events', {
      description: 'Events in the log after the projection checkpoint (of a started runner)',
      unit: '{event}',
    }),
    lagTime: meter.createObservableGauge('annals.projection.lag.time', {
      description: "Time between the log head's event and the checkpoint's event (of a started runner)",
      unit: 's',
    }),
  };
}

/**
 * Telemetry as annals runs it: the API, the tracer, the instruments.
 *
 * With the API installed but no SDK registered, {@link Telemetry.liveTracer} and
 * {@link Telemetry.instruments} are undefined, so instrumented calls skip their spans and
 * measurements (the no-op API's spans and instruments would do nothing anyway).
 *
 * @internal
 */
export class Telemetry {
  readonly #tracer: Otel.Tracer | undefined;
  readonly #metrics: boolean;
  /** The no-op tracer provider of this copy of the API (a proxy's delegate until an SDK registers). */
  readonly #noopTracerProvider: Otel.TracerProvider;
  /** The class of this copy of the API's no-op meter. */
  readonly #noopMeter: abstract new (
    ...args: never[]
  ) => unknown;
  #provider: unknown;
  #instruments: TelemetryInstruments | undefined;

  constructor(
    readonly api: typeof Otel,
    tracing: boolean,
    metrics: boolean,
  ) {
    // A ProxyTracer: it follows a tracer provider registered later.
    this.#tracer = tracing ? api.trace.getTracer(TELEMETRY_SCOPE) : undefined;
    this.#metrics = metrics;
    this.#noopTracerProvider = new api.ProxyTracerProvider().getDelegate();
    this.#noopMeter = api.createNoopMeter().constructor as abstract new (...args: never[]) => unknown;
  }

  /** True when metrics are on (whether or not an SDK is registered). */
  get metricsEnabled(): boolean {
    return this.#metrics;
  }

  /** True when tracing is on (whether or not an SDK is registered). */
  get tracing(): boolean {
    return this.#tracer !== undefined;
  }

  /**
   * The tracer when tracing is on and a tracer provider (an SDK) is registered; undefined
   * otherwise.
   */
  get liveTracer(): Otel.Tracer | undefined {
    if (this.#tracer === undefined) return undefined;
    const provider = this.api.trace.getTracerProvider();
    if (
      provider instanceof this.api.ProxyTracerProvider &&
      provider.getDelegate() === this.#noopTracerProvider
    ) {
      return undefined;
    }
    return this.#tracer;
  }

  /**
   * The metric instruments when metrics are on and a meter provider (an SDK) is registered;
   * undefined otherwise. The API has no proxy meter, so the instruments are created again when
   * the global meter provider changed.
   */
  get instruments(): TelemetryInstruments | undefined {
    if (!this.#metrics) return undefined;
    const provider = this.api.metrics.getMeterProvider();
    if (provider !== this.#provider) {
      this.#provider = provider;
      const meter = provider.getMeter(TELEMETRY_SCOPE);
      this.#instruments = meter instanceof this.#noopMeter ? undefined : createInstruments(meter);
    }
    return this.#instruments;
  }

  /** True when there is anything to do: a registered tracer or meter provider. */
  get live(): boolean {
    // Before anything registers a global (an SDK's tracer or meter provider), the API 1.x keeps
    // no entry on globalThis: then nothing is registered, and one property read says so.
    if ((globalThis as Record<symbol, unknown>)[OTEL_GLOBALS] === undefined) return false;
    return this.liveTracer !== undefined || this.instruments !== undefined;
  }
}

/**
 * Where `@opentelemetry/api` 1.x keeps what is registered globally (its `global-utils`): a
 * tracer or meter provider registers there first. The key is per major version; annals' peer
 * range is 1.x.
 */
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1');

/** `undefined`: not looked for yet; `null`: off or absent. */
let current: Telemetry | null | undefined;
/** How many times annals tried to load `@opentelemetry/api` (for tests). */
let detections = 0;

function requireApi(): typeof Otel | undefined {
  detections++;
  try {
    // A require for this file; the CJS build rewrites import.meta.url to the file's URL.
    const api = createRequire(import.meta.url)('@opentelemetry/api') as typeof Otel;
    return typeof api?.trace?.getTracer === 'function' ? api : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The telemetry annals runs with, or `null` when it is off or `@opentelemetry/api` is absent.
 * The first call looks for the API.
 *
 * @internal
 */
export function telemetry(): Telemetry | null {
  if (current === undefined) {
    const api = requireApi();
    current = api ? new Telemetry(api, true, true) : null;
  }
  return current;
}

/**
 * Configures annals' tracing and metrics for everything afterwards. Without a call, annals looks
 * for `@opentelemetry/api` the first time it needs it and traces and measures through it when
 * found. `setTelemetry({ enabled: false })` turns it off; `setTelemetry({})` looks again.
 *
 * @example
 * ```ts
 * import * as api from '@opentelemetry/api';
 * import { setTelemetry } from 'annals';
 *
 * setTelemetry({ api, metrics: false }); // traces only
 * ```
 *
 * @category Observability
 */
export function setTelemetry(options: TelemetryOptions = {}): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('setTelemetry: options must be an object');
  }
  const { enabled = true, api, tracing = true, metrics = true } = options;
  if (api !== undefined && typeof (api as Partial<OpenTelemetryApi>)?.trace?.getTracer !== 'function') {
    throw new InvalidArgumentError('setTelemetry: `api` must be the @opentelemetry/api module');
  }
  if (!enabled || (!tracing && !metrics)) {
    current = null;
    return;
  }
  const found = (api as typeof Otel | undefined) ?? requireApi();
  current = found ? new Telemetry(found, tracing, metrics) : null;
}

/**
 * Whether annals traces and measures, as {@link setTelemetry} (or the lookup) left it.
 *
 * @category Observability
 */
export function getTelemetryState(): TelemetryState {
  const found = telemetry();
  return {
    active: found !== null,
    tracing: found?.tracing === true,
    metrics: found?.metricsEnabled === true,
  };
}

/**
 * Instruments of an adapter (the relay's, a consumer's), made by `create` from annals' meter the
 * first time they are asked for and again when the global meter provider changed. The returned
 * function gives undefined when metrics are off or no SDK is registered.
 *
 * @example
 * ```ts
 * const relayInstruments = meterInstruments((meter) => ({
 *   published: meter.createCounter('annals.relay.published', { unit: '{message}' }),
 * }));
 * relayInstruments()?.published.add(page.length, { 'annals.relay': name });
 * ```
 *
 * @internal
 */
export function meterInstruments<T>(create: (meter: Otel.Meter) => T): () => T | undefined {
  let meter: Otel.Meter | undefined;
  let made: T | undefined;
  return () => {
    const current = telemetry()?.instruments?.meter;
    if (current === undefined) return undefined;
    if (current !== meter) {
      meter = current;
      made = create(current);
    }
    return made;
  };
}

/** How many times annals tried to load `@opentelemetry/api`. @internal */
export function telemetryDetections(): number {
  return detections;
}

// ---------------------------------------------------------------------------------------------
// W3C trace context

const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** Formats a span context as a W3C `traceparent` (version 00). @internal */
export function formatTraceparent(spanContext: Otel.SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * Reads a W3C `traceparent` into a remote span context; undefined for anything else (a missing
 * value, another version, all-zero ids).
 *
 * @internal
 */
export function parseTraceparent(text: unknown): Otel.SpanContext | undefined {
  if (typeof text !== 'string') return undefined;
  const match = TRACEPARENT_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
}

/**
 * The `traceparent` of the active span, when annals traces and a valid span is active.
 *
 * @internal
 */
export function activeTraceparent(): string | undefined {
  const found = telemetry();
  if (found?.liveTracer === undefined) return undefined;
  const spanContext = found.api.trace.getSpanContext(found.api.context.active());
  return spanContext && found.api.trace.isSpanContextValid(spanContext)
    ? formatTraceparent(spanContext)
    : undefined;
}

/**
 * Writes the active span's `traceparent` into `carrier` (AMQP message headers, say) unless it
 * holds one already. Returns `carrier`; does nothing when annals does not trace.
 *
 * @internal
 */
export function injectTraceparent<T extends Record<string, unknown>>(carrier: T): T {
  if (carrier[TRACEPARENT] !== undefined) return carrier;
  const traceparent = activeTraceparent();
  if (traceparent !== undefined) (carrier as Record<string, unknown>)[TRACEPARENT] = traceparent;
  return carrier;
}

/**
 * The `traceparent` a carrier holds (event metadata, AMQP headers; a Buffer value is read as
 * text), when it is a valid one.
 *
 * @internal
 */
export function extractTraceparent(carrier: unknown): string | undefined {
  if (typeof carrier !== 'object' || carrier === null) return undefined;
  let value = (carrier as Record<string, unknown>)[TRACEPARENT];
  if (value instanceof Uint8Array) value = new TextDecoder().decode(value);
  return parseTraceparent(value) ? (value as string).trim() : undefined;
}

/**
 * The events with `traceparent` added to each one's metadata, unless the metadata holds one
 * already (or is not a plain object, which the store then refuses as usual). Both stores call it
 * on every append, inside the append span.
 *
 * @internal
 */
export function withTraceparent<T extends { readonly metadata?: unknown }>(
  events: readonly T[],
  traceparent: string | undefined,
): readonly T[] {
  if (traceparent === undefined || !Array.isArray(events)) return events;
  return events.map((event) => {
    if (typeof event !== 'object' || event === null) return event;
    const metadata = event.metadata ?? {};
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return event;
    if ((metadata as Record<string, unknown>)[TRACEPARENT] !== undefined) return event;
    return { ...event, metadata: { ...metadata, [TRACEPARENT]: traceparent } };
  });
}

// ---------------------------------------------------------------------------------------------
// Spans

/** The kind of a span, as OpenTelemetry's `SpanKind` names it. */
export type AnnalsSpanKind = 'internal' | 'client' | 'producer' | 'consumer' | 'server';

/** How {@link withSpan} starts a span. @internal */
export interface AnnalsSpanOptions {
  /** @defaultValue `'internal'` */
  readonly kind?: AnnalsSpanKind;
  readonly attributes?: Otel.Attributes;
  /**
   * A `traceparent` to parent the span to instead of the active span (a consumer's message, an
   * event's metadata). Ignored when not valid.
   */
  readonly parent?: string | undefined;
  /** `traceparent`s to link the span to (invalid and repeated ones are skipped). */
  readonly links?: Iterable<string | undefined>;
  /** Span contexts to link the span to, beside `links`. */
  readonly linkContexts?: readonly Otel.SpanContext[];
}

function spanKind(api: typeof Otel, kind: AnnalsSpanKind | undefined): Otel.SpanKind {
  switch (kind) {
    case 'client':
      return api.SpanKind.CLIENT;
    case 'producer':
      return api.SpanKind.PRODUCER;
    case 'consumer':
      return api.SpanKind.CONSUMER;
    case 'server':
      return api.SpanKind.SERVER;
    default:
      return api.SpanKind.INTERNAL;
  }
}

function linksOf(options: AnnalsSpanOptions): Otel.Link[] | undefined {
  if (options.links === undefined && options.linkContexts === undefined) return undefined;
  const links: Otel.Link[] = [];
  const seen = new Set<string>();
  for (const context of options.linkContexts ?? []) {
    links.push({ context });
    seen.add(context.spanId);
  }
  for (const traceparent of options.links ?? []) {
    if (links.length >= MAX_BATCH_LINKS) break;
    const context = parseTraceparent(traceparent);
    if (!context || seen.has(context.spanId)) continue;
    seen.add(context.spanId);
    links.push({ context });
  }
  return links.length > 0 ? links : undefined;
}

/**
 * Runs `work` in a new active span and ends the span when `work` settles: a rejection is
 * recorded on the span (exception event, `error.type`, status ERROR) and rethrown. Without a
 * tracer `work` runs as it is, with `undefined`.
 *
 * @internal
 */
export function withSpan<T>(
  name: string,
  options: AnnalsSpanOptions,
  work: (span: Otel.Span | undefined) => Promise<T>,
): Promise<T> {
  const found = telemetry();
  const tracer = found?.liveTracer;
  if (found === null || tracer === undefined) return work(undefined);
  const { api } = found;
  let parent = api.context.active();
  const remote = options.parent === undefined ? undefined : parseTraceparent(options.parent);
  if (remote) parent = api.trace.setSpanContext(parent, remote);
  const links = linksOf(options);
  const span = tracer.startSpan(
    name,
    {
      kind: spanKind(api, options.kind),
      ...(options.attributes === undefined ? {} : { attributes: options.attributes }),
      ...(links === undefined ? {} : { links }),
    },
    parent,
  );
  return api.context.with(api.trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      recordSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The `error.type` of an error: an annals error's code, else the error's class name. @internal */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  if (error instanceof Error) return error.name;
  return '_OTHER';
}

/** Records `error` on `span`: an exception event, `error.type` and status ERROR. @internal */
export function recordSpanError(span: Otel.Span | undefined, error: unknown): void {
  if (span === undefined || !span.isRecording()) return;
  const found = telemetry();
  span.setAttribute('error.type', errorType(error));
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: found?.api.SpanStatusCode.ERROR ?? 2,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** Adds an event to the active span, when annals traces and one is recording. @internal */
export function addActiveSpanEvent(name: string, attributes: Otel.Attributes): void {
  const found = telemetry();
  if (found?.liveTracer === undefined) return;
  const span = found.api.trace.getActiveSpan();
  if (span?.isRecording()) span.addEvent(name, attributes);
}

/** Seconds since `startMs` (a `performance.now()` reading). @internal */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
