/**
 * A service wired for production observability: annals logs to pino, and traces and metrics go
 * to an OpenTelemetry collector over OTLP/HTTP (`OTEL_EXPORTER_OTLP_ENDPOINT`, default
 * http://localhost:4318). docs/observability.md shows this file; `npm run typecheck` checks it.
 *
 * Run: DATABASE_URL=postgres://... npx tsx examples/observability/service.ts
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { AggregateRepository, ProjectionRunner, setDefaultLogger } from 'annals';
import { createPostgres } from 'annals/postgres';
import pino from 'pino';
import { OrderAggregate } from '../order/order-aggregate.js';
import { orderReadModel } from '../order/order-read-model.js';
import { orderRegistry } from '../order/upcasters.js';

// 1. Logs: every annals component created from here on logs to pino (warnings and errors).
const logger = pino({ name: 'orders' });
setDefaultLogger(logger);

// 2. Traces and metrics: register the SDK before annals creates anything. annals finds
//    @opentelemetry/api by itself; the context manager carries the active span across awaits.
const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'orders' });
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
const meterProvider = new MeterProvider({
  resource,
  readers: [
    new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: 15_000 }),
  ],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

// 3. The service: commands on orders and the read model, in one process here.
const stores = await createPostgres({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  registry: orderRegistry(),
  schema: 'orders',
});
const orders = new AggregateRepository(stores.eventStore, { create: (id) => new OrderAggregate(id) });
const runner = new ProjectionRunner({
  eventStore: stores.eventStore,
  projectionStore: stores.projectionStore,
  projections: [orderReadModel],
});
runner.start();

// A request handler's span is the parent of annals.execute; the events carry its trace in
// `metadata.traceparent`, and the read model's annals.projection.handle span joins that trace.
const tracer = trace.getTracer('orders-http');
await tracer.startActiveSpan('POST /orders', async (span) => {
  try {
    const orderId = `order-${Date.now()}`;
    await orders.execute(
      orderId,
      (order) => order.create('customer-7', [{ productId: 'p-1', quantity: 2, price: 9.5 }]),
      {
        metadata: { commandId: `create-${orderId}`, correlationId: span.spanContext().traceId },
      },
    );
    logger.info({ orderId }, 'order created');
  } finally {
    span.end();
  }
});
await runner.catchUp();

// 4. Shutdown: stop the runner, close the stores, flush the last spans and metrics.
await shutdown();

async function shutdown(): Promise<void> {
  await runner.stop();
  await stores.close();
  // An unreachable collector must not fail the shutdown: log it.
  const flushed = await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
  for (const result of flushed) {
    if (result.status === 'rejected') logger.warn({ err: result.reason }, 'telemetry export failed');
  }
}
