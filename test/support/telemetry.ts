/**
 * An OpenTelemetry SDK for tests: a tracer provider exporting to an in-memory span exporter, a
 * metric reader collected on demand, and the AsyncLocalStorage context manager, registered as the
 * API's globals for one test file (`useTelemetry()` registers beforeAll/afterAll).
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { setTelemetry } from 'annals';
import { afterAll, beforeAll } from 'vitest';

/** A metric reader that collects when asked (`collect()`), for tests. */
export class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The SDK of a test file. */
export interface TestTelemetry {
  readonly exporter: InMemorySpanExporter;
  readonly reader: TestMetricReader;
  /** The finished spans so far. */
  spans(): ReadableSpan[];
  /** The finished spans named `name`. */
  spansNamed(name: string): ReadableSpan[];
  /** Collects the metrics now. */
  collect(): Promise<ResourceMetrics>;
  /** Forgets the finished spans. */
  reset(): void;
}

export function useTelemetry(): TestTelemetry {
  const exporter = new InMemorySpanExporter();
  const reader = new TestMetricReader();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const meterProvider = new MeterProvider({ readers: [reader] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    setTelemetry({});
  });
  afterAll(async () => {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    trace.disable();
    metrics.disable();
    context.disable();
  });
  return {
    exporter,
    reader,
    spans: () => exporter.getFinishedSpans(),
    spansNamed: (name) => exporter.getFinishedSpans().filter((span) => span.name === name),
    collect: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      return resourceMetrics;
    },
    reset: () => exporter.reset(),
  };
}

/** The data points of the metric `name` (empty when it recorded nothing). */
export function pointsOf(collected: ResourceMetrics, name: string): DataPoint<unknown>[] {
  for (const scope of collected.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name === name) return metric.dataPoints as DataPoint<unknown>[];
    }
  }
  return [];
}

/** The sum of a counter's points whose attributes include `where`. */
export function counterSum(
  collected: ResourceMetrics,
  name: string,
  where: Readonly<Record<string, unknown>> = {},
): number {
  return pointsOf(collected, name)
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((sum, point) => sum + (point.value as number), 0);
}

/** The number of recordings of a histogram whose attributes include `where`. */
export function histogramCount(
  collected: ResourceMetrics,
  name: string,
  where: Readonly<Record<string, unknown>> = {},
): number {
  return pointsOf(collected, name)
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((sum, point) => sum + (point.value as Histogram).count, 0);
}

/** The `traceparent` of a finished span. */
export function traceparentOf(span: ReadableSpan): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/** The span id of a span's parent, if any. */
export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
