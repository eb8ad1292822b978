/** The text of `annals --help`: the overview. */
export const HELP = `annals: operate annals projections and their PostgreSQL schema

Usage: annals <command> [options]
       annals <command> --help     (or annals help <command>) for a command's options and an example

Commands:
  migrate                          create or update the database schema (--print-sql: print the
                                   SQL instead); needs no projections, and no config with
                                   --database-url <url> or DATABASE_URL
  status                           checkpoint, lag, dead letters and lease of every projection
  rebuild <projection>             reset a projection and replay the whole log, with progress
  run [projection...]              run projections (all by default) until SIGINT or SIGTERM,
                                   on the log or (transport 'broker') the relay and consumers
  dead-letters list <projection>   list a projection's dead letters (--limit, --offset);
                                   the broker's when the projections run on it
  dead-letters retry <id>          apply a dead letter's event again; removed on success
  dead-letters discard <id>        remove a dead letter without applying its event
  dead-letters --broker <url> list [projection] | retry <event-id> | discard <event-id>
                                   the same on RabbitMQ's dead-letter queue (--dlq <queue>)
  example                          run the bundled Order example's Quick Start (PGlite, or
                                   DATABASE_URL; through RabbitMQ with RABBITMQ_URL)

Options:
  -c, --config <path>  the config module (default: annals.config.ts, .mts, .cts, .js, .mjs
                       or .cjs here)
      --json           JSON output (status, dead-letters list)
      --limit <n>      dead letters per page (default 100)
      --offset <n>     dead letters to skip (default 0)
      --print-sql      migrate: print the SQL instead of running it
      --database-url <url>, --schema <name>
                       migrate: the database (and schema) without a config file
      --debug          print stack traces of errors
  -h, --help           show this help, or a command's (annals migrate --help)
  -v, --version        print the version of annals

Alerts of status: it prints the status all the same, then one "annals: alert: ..." line per
breach on stderr, and exits with 2 (an error exits with 1):
      --max-lag-events <n>    a projection or relay is more than n events behind
      --max-lag-ms <n>        a projection or relay is more than n ms behind in event time
      --fail-on-dead-letters  a projection has dead letters
      --fail-on-blocked       a projection waits at an event it cannot read

The config module's default export is defineConfig({ registry, eventStore: { connectionString },
messageBroker?: { url }, projections?: { definitions, transport?, targetDb? }, idempotency? })
from 'annals' (or a function returning it), or the same with live stores. A TypeScript config
(.ts, .mts, .cts) loads as it is: no loader to install.
See docs/operations.md.`;

const COMMON = `  -c, --config <path>  the config module (default: annals.config.ts, .mts, .cts, .js, .mjs
                       or .cjs here)
      --debug          print stack traces of errors
  -h, --help           show this help`;

/** `annals <command> --help`, per command. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  example: `annals example: run the Order example's Quick Start, bundled with the package

Usage: annals example

Commands go through the repository (business rules reject some), their events land in the
global log, the Order read model catches up and answers a query, then it is rebuilt from the log
and compared. It runs on PGlite in process; with DATABASE_URL on that server (schema
annals_example, recreated), and with RABBITMQ_URL through the broker (relay and consumer). It
needs zod and @electric-sql/pglite installed (pg for DATABASE_URL, amqplib for RABBITMQ_URL).

Example:
  npm install annals zod @electric-sql/pglite
  npx annals example`,
  migrate: `annals migrate: create the PostgreSQL schema, or bring it up to date

Usage: annals migrate [--print-sql] [--config <path>]
       annals migrate [--print-sql] --database-url <url> [--schema <name>]

Runs every migration the database lacks, in one transaction under an advisory lock (any number
of processes may run it at once). With a config: the events database and projections.targetDb
(when it is another database), or the config's own migrate. The config needs no projections.

Without a config file: --database-url <url>, or the DATABASE_URL environment variable when no
config is found here (and no --config is given).

Options:
      --print-sql           print the SQL instead of running it: one script (BEGIN ... COMMIT)
                            with the schema-version bookkeeping, for a DBA to apply
                            (psql -v ON_ERROR_STOP=1 -f migrate.sql). With a database (from the
                            config, --database-url or DATABASE_URL) it connects, changes
                            nothing, and prints only the migrations that database lacks; with
                            none, it prints every migration. The script refuses to run on a
                            schema at another version than the one it was printed for.
      --database-url <url>  the database to migrate, without a config (postgres://...)
      --schema <name>       the schema, with --database-url or DATABASE_URL (default: annals)
${COMMON}

Examples:
  annals migrate
  annals migrate --database-url postgres://admin@db:5432/orders --schema orders
  annals migrate --print-sql --schema orders > migrate.sql     (every migration)
  DATABASE_URL=postgres://readonly@db/orders annals migrate --print-sql > pending.sql`,

  status: `annals status: checkpoint, lag, dead letters and lease of every projection

Usage: annals status [--json] [alert options] [--config <path>]

Prints one row per projection (and per relay). Needs projections (or relays) in the config.
With an alert option it prints the status all the same, then one "annals: alert: ..." line per
breach on stderr, and exits with 2 (an error exits with 1).

Options:
      --json                  JSON output
      --max-lag-events <n>    alert: a projection or relay is more than n events behind
      --max-lag-ms <n>        alert: a projection or relay is more than n ms behind in event time
      --fail-on-dead-letters  alert: a projection has dead letters
      --fail-on-blocked       alert: a projection waits at an event it cannot read
${COMMON}

Example:
  annals status --max-lag-events 1000 --fail-on-dead-letters`,

  rebuild: `annals rebuild: reset a projection and replay the whole log, with progress

Usage: annals rebuild <projection> [--config <path>]

Needs the projection in the config.

Options:
${COMMON}

Example:
  annals rebuild order-read-model`,

  run: `annals run: run projections until SIGINT or SIGTERM, then stop gracefully

Usage: annals run [projection...] [--config <path>]

Runs the named projections (all of the config's by default): on the log (projections.transport
'log'), or with transport 'broker' the relay and one consumer per projection. Needs projections.

Options:
${COMMON}

Example:
  annals run order-read-model`,

  'dead-letters': `annals dead-letters: list, retry or discard dead letters

Usage: annals dead-letters list <projection> [--limit <n>] [--offset <n>] [--json]
       annals dead-letters retry <id>       apply the dead letter's event again; removed on success
       annals dead-letters discard <id>     remove the dead letter without applying its event
       annals dead-letters --broker <url> [--dlq <queue>] list [projection] | retry <event-id> | discard <event-id>

Works on the projection store's dead letters; on RabbitMQ's dead-letter queue with --broker, or
when the config's projections run on the broker. Needs projections (but --broker does not).

Options:
      --json           JSON output (list)
      --limit <n>      dead letters per page (default 100)
      --offset <n>     dead letters to skip (default 0; not with --broker)
      --broker <url>   the broker (default: the config's messageBroker)
      --dlq <queue>    the broker's dead-letter queue (default: the config's, or dlq_failed_events)
${COMMON}

Example:
  annals dead-letters list order-read-model --limit 20`,
};
