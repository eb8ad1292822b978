import {
  type AnnalsRunnerOptions,
  type IEventStore,
  isEventStoreSettings,
  type ProcessedEventStore,
  type Projection,
  type ProjectionStore,
  type ProjectionTransport,
  type ResolvedAnnalsConfig,
  type ResolvedMessageBrokerSettings,
} from '../core.js';
import { createPostgres, type PostgresStores } from '../postgres/create-postgres.js';

/** What a consumer on the broker needs of the read model's database. */
export interface ReadModelStores {
  /** Where processed-event records commit with the read model's rows. */
  readonly processedEvents: ProcessedEventStore<any>;
  /** The projection's context for a unit of work of `processedEvents`. */
  readonly context: (unit: any) => unknown;
}

/**
 * A config with its stores open: what the CLI's commands work with. With plain settings the CLI
 * opened the databases itself (and closes them); with live stores they are the config's own.
 */
export interface OpenedConfig {
  /** The config as resolved (defaults filled in). */
  readonly settings: ResolvedAnnalsConfig;
  readonly eventStore: IEventStore;
  /** Checkpoints, dead letters and leases of the projections (beside the read model). */
  readonly projectionStore: ProjectionStore<any>;
  /** Where relays keep their checkpoints and leases (beside the events). */
  readonly relayStore: ProjectionStore<any>;
  readonly projections: readonly Projection<any>[];
  readonly runner: AnnalsRunnerOptions;
  readonly relays: readonly { readonly exchange: string }[];
  readonly transport: ProjectionTransport;
  readonly messageBroker: ResolvedMessageBrokerSettings | undefined;
  /** The read model's stores for broker consumers; only with plain settings. */
  readonly readModel: ReadModelStores | undefined;
  /** Runs the migrations (the config's `migrate`, or each database's); returns what each did. */
  migrate(): Promise<unknown[]>;
  /** Closes what was opened (or calls the config's `close`). */
  close(): Promise<void>;
}

interface Migratable {
  migrate(): Promise<unknown>;
}

const canMigrate = (value: unknown): value is Migratable =>
  typeof (value as Partial<Migratable> | null)?.migrate === 'function';

/** Opens the stores a resolved config names: PostgreSQL from settings, or its live stores. */
export async function openConfig(settings: ResolvedAnnalsConfig): Promise<OpenedConfig> {
  const common = {
    settings,
    projections: settings.projections,
    runner: settings.runner,
    relays: settings.relays,
    transport: settings.transport,
    messageBroker: settings.messageBroker,
  };
  const { eventStore } = settings;
  if (!isEventStoreSettings(eventStore)) {
    const projectionStore = settings.projectionStore!;
    return {
      ...common,
      eventStore,
      projectionStore,
      relayStore: projectionStore,
      readModel: undefined,
      migrate: async () => {
        if (settings.migrate) return [await settings.migrate()];
        const stores = [...new Set<unknown>([eventStore, projectionStore])].filter(canMigrate);
        return Promise.all(stores.map((store) => store.migrate()));
      },
      close: () => (settings.close ? settings.close() : eventStore.close()),
    };
  }
  const registry = settings.registry!;
  const events = await createPostgres({
    ...eventStore,
    registry,
    logger: settings.logger,
    migrate: false,
    commands: { ttlHours: settings.idempotency.commandTtlHours },
  });
  let readModel: PostgresStores = events;
  if (settings.targetDb !== undefined && settings.targetDb !== eventStore.connectionString) {
    try {
      readModel = await createPostgres({
        connectionString: settings.targetDb,
        schema: eventStore.schema,
        maxConnections: eventStore.maxConnections,
        registry,
        logger: settings.logger,
        migrate: false,
      });
    } catch (error) {
      await events.close();
      throw error;
    }
  }
  return {
    ...common,
    eventStore: events.eventStore,
    projectionStore: readModel.projectionStore,
    relayStore: events.projectionStore,
    readModel: {
      processedEvents: readModel.processedEvents,
      context: (client: unknown) => Object.freeze({ client, schema: readModel.schema }),
    },
    migrate: async () => {
      if (settings.migrate) return [await settings.migrate()];
      const results: unknown[] = [await events.migrate()];
      if (readModel !== events) results.push(await readModel.migrate());
      return results;
    },
    close: async () => {
      try {
        if (readModel !== events) await readModel.close();
      } finally {
        await events.close();
        await settings.close?.();
      }
    },
  };
}
