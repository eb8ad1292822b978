/**
 * Where the Order example finds its infrastructure: the defaults match `compose.yaml` at the
 * repository's root (`docker compose up -d`), and environment variables override them.
 *
 * - `DATABASE_URL`: the events database (the global log, the relay's checkpoint).
 * - `READ_MODEL_DATABASE_URL`: the read model's database (`order_read`, the consumer's
 *   processed-event records).
 * - `RABBITMQ_URL`: the broker. When it is set, `npm run example` goes through RabbitMQ.
 */

/** The defaults of the example, which `compose.yaml` provides. */
export const ExampleDefaults = {
  /** The events database: PostgreSQL on port 5432, user and password `annals`, database `annals_events`. */
  eventsDatabaseUrl: 'postgres://annals:annals@127.0.0.1:5432/annals_events',
  /** The read model's database: PostgreSQL on port 5433, user and password `annals`, database `annals_read_model`. */
  readModelDatabaseUrl: 'postgres://annals:annals@127.0.0.1:5433/annals_read_model',
  /** RabbitMQ on port 5672 (management UI on 15672), user and password `guest`. */
  rabbitmqUrl: 'amqp://guest:guest@127.0.0.1:5672',
} as const;

/** The environment's value, or undefined when unset or empty. */
export function fromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}
