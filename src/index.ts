/**
 * annals: event sourcing and CQRS for TypeScript.
 *
 * The root entry point is the core: event definitions, aggregates, the {@link IEventStore}
 * contract with its in-memory adapter, the event bus and the errors. Adapters live behind
 * `annals/postgres` and `annals/amqp`; test helpers behind `annals/testing`.
 *
 * @packageDocumentation
 * @module annals
 */

// The public API: what users import. The adapters, `annals/testing` and the CLI import the core
// through ./core.ts, which also holds the internal helpers listed nowhere here. Every export is
// listed in etc/public-api.txt, which CI compares with this file.

export {
  type AggregateCommand,
  AggregateRepository,
  type AggregateRepositoryOptions,
  type CommandResult,
  type ExecuteOptions,
  type RepositorySnapshotOptions,
} from './aggregates/aggregate-repository.js';
export * from './aggregates/aggregate-root.js';
export type { CommandMetadata } from './aggregates/command-metadata.js';
export * from './aggregates/decided-event.js';
export * from './aggregates/decider.js';
export * from './aggregates/decider-aggregate.js';
export * from './aggregates/decider-repository.js';
export * from './aggregates/decider-snapshots.js';
export * from './bus/event-bus.js';
export * from './bus/in-memory-event-bus.js';
export {
  type AnnalsConfig,
  type AnnalsConfigExport,
  type AnnalsRelayConfig,
  type AnnalsRunnerOptions,
  defineConfig,
  type EventStoreSettings,
  type IdempotencySettings,
  type MessageBrokerSettings,
  type ProjectionsSettings,
  type ProjectionTransport,
} from './config/annals-config.js';
export {
  ConfigDefaults,
  isEventStoreSettings,
  type ResolvedAnnalsConfig,
  type ResolvedEventStoreSettings,
  type ResolvedMessageBrokerSettings,
  resolveAnnalsConfig,
} from './config/resolve-config.js';
export * from './errors.js';
export * from './events/define-event.js';
export * from './events/event-envelope.js';
export {
  type EncodedEvent,
  EventRegistry,
  type EventRegistryOptions,
  MAX_ID_LENGTH,
  type PayloadUpcaster,
  type RawStoredEvent,
} from './events/event-registry.js';
export type { StandardSchemaV1 } from './events/standard-schema.js';
export * from './evolution/upcaster-registry.js';
export type {
  CommandLog,
  CommandLogOptions,
  EventAppender,
  ProcessedCommand,
  RunOnceResult,
} from './idempotency/command-log.js';
export * from './idempotency/in-memory-command-log.js';
export * from './idempotency/in-memory-processed-event-store.js';
export * from './idempotency/processed-event-store.js';
export {
  type AnnalsLogger,
  type ConsoleLike,
  type ConsoleLoggerOptions,
  consoleLogger,
  getDefaultLogger,
  type LogFields,
  type LogLevel,
  setDefaultLogger,
  silentLogger,
  type WinstonLike,
  winstonLogger,
} from './observability/logger.js';
export {
  getTelemetryState,
  type OpenTelemetryApi,
  setTelemetry,
  type TelemetryOptions,
  type TelemetryState,
  TRACEPARENT,
} from './observability/telemetry.js';
export {
  type DefineProjectionOptions,
  defineProjection,
  type Projection,
  type ProjectionFailurePolicy,
  type ProjectionHandler,
  type ProjectionHandlerInfo,
  type ProjectionHandlers,
  type ProjectionHook,
} from './projections/define-projection.js';
export * from './projections/in-memory-projection-store.js';
export { ProjectionHandlerError, UndecodableEventError } from './projections/projection-handler-error.js';
export * from './projections/projection-runner.js';
export * from './projections/projection-runner-options.js';
export type {
  ProjectionLastError,
  ProjectionState,
  ProjectionStatus,
} from './projections/projection-status.js';
export * from './projections/projection-store.js';
export type { RebuildOptions, RebuildProgress, RebuildResult } from './projections/rebuild-progress.js';
export type { RetryOptions } from './retry.js';
export { InMemorySnapshotStore } from './snapshots/in-memory-snapshot-store.js';
export { SnapshotAggregateRoot } from './snapshots/snapshot-aggregate-root.js';
export type { RepositoryWarning, RepositoryWarningHandler } from './snapshots/snapshot-keeper.js';
export * from './snapshots/snapshot-policy.js';
export * from './snapshots/snapshot-store.js';
export * from './store/event-store.js';
export {
  ANY,
  ExpectedVersion,
  type ExpectedVersionMode,
  NO_STREAM,
  STREAM_EXISTS,
} from './store/expected-version.js';
export { InMemoryEventStore, type InMemoryEventStoreOptions } from './store/in-memory-event-store.js';
export type { HorizonHolder, LogHorizon } from './store/log-horizon.js';
export { MAX_READ_LIMIT } from './store/read-options.js';
export type { UndecodableEvent } from './store/undecodable-event.js';
