import { parseArgs } from 'node:util';
import { CliError, describeError } from './cli-error.js';
import { type CliIo, writeLine } from './cli-io.js';
import type { CliOptions, CommandContext } from './commands/command-context.js';
import { deadLettersCommand } from './commands/dead-letters-command.js';
import { migrateCommand } from './commands/migrate-command.js';
import { rebuildCommand } from './commands/rebuild-command.js';
import { runCommand } from './commands/run-command.js';
import { statusCommand } from './commands/status-command.js';
import { loadConfig } from './load-config.js';
import { openConfig } from './open-config.js';

/** The text of `annals --help`. */
export const HELP = `annals: operate annals projections and their PostgreSQL schema

Usage: annals <command> [options]

Commands:
  migrate                          create or update the database schema
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

Options:
  -c, --config <path>  the config module (default: annals.config.ts, .js or .mjs here)
      --json           JSON output (status, dead-letters list)
      --limit <n>      dead letters per page (default 100)
      --offset <n>     dead letters to skip (default 0)
      --debug          print stack traces of errors
  -h, --help           show this help

Alerts of status: it prints the status all the same, then one "annals: alert: ..." line per
breach on stderr, and exits with 2 (an error exits with 1):
      --max-lag-events <n>    a projection or relay is more than n events behind
      --max-lag-ms <n>        a projection or relay is more than n ms behind in event time
      --fail-on-dead-letters  a projection has dead letters
      --fail-on-blocked       a projection waits at an event it cannot read

The config module's default export is defineConfig({ registry, eventStore: { connectionString },
messageBroker?: { url }, projections: { definitions, transport?, targetDb? }, idempotency? })
from 'annals' (or a function returning it), or the same with live stores.
Node.js runs a .ts config only through a loader: NODE_OPTIONS=--import=tsx annals status.
See docs/operations.md.`;

/** A command; one that resolves to a number exits with it (`status`: 2 when a threshold is breached). */
type Command = (context: CommandContext) => Promise<number | undefined> | Promise<void>;

const COMMANDS: Record<string, Command> = {
  migrate: migrateCommand,
  status: statusCommand,
  rebuild: rebuildCommand,
  run: runCommand,
  'dead-letters': deadLettersCommand,
};

function parseCount(name: string, text: string | undefined, minimum: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new CliError(`--${name} must be a whole number >= ${minimum}; got "${text}"`);
  }
  return value;
}

function parse(argv: readonly string[]): {
  command: string | undefined;
  args: string[];
  options: CliOptions;
  help: boolean;
} {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const unknown = /Unknown option '([^']+)'/.exec(describeError(error))?.[1];
    throw new CliError(`${unknown ? `unknown option ${unknown}` : describeError(error)}; run annals --help`);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  return {
    command,
    args,
    help: values.help === true,
    options: {
      config: values.config,
      json: values.json === true,
      debug: values.debug === true,
      limit: parseCount('limit', values.limit, 1),
      offset: parseCount('offset', values.offset, 0),
      broker: values.broker,
      dlq: values.dlq,
      maxLagEvents: parseCount('max-lag-events', values['max-lag-events'], 0),
      maxLagMs: parseCount('max-lag-ms', values['max-lag-ms'], 0),
      failOnDeadLetters: values['fail-on-dead-letters'] === true,
      failOnBlocked: values['fail-on-blocked'] === true,
    },
  };
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  offset: { type: 'string' },
  broker: { type: 'string' },
  dlq: { type: 'string' },
  'max-lag-events': { type: 'string' },
  'max-lag-ms': { type: 'string' },
  'fail-on-dead-letters': { type: 'boolean' },
  'fail-on-blocked': { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Runs the `annals` command line with `argv` (the words after `annals`). Resolves to the exit
 * code: 0 on success, 1 on any error, which is reported as one line on stderr (with the stack
 * when `--debug` is given), 2 when `status` found a threshold it was given breached.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const { command, args, options, help } = parse(argv);
    if (help || command === undefined || command === 'help') {
      writeLine(help || command === 'help' ? io.stdout : io.stderr, HELP);
      return help || command === 'help' ? 0 : 1;
    }
    const run = COMMANDS[command];
    if (!run) throw new CliError(`unknown command "${command}"; run annals --help`);
    const { config: settings } = await loadConfig(io.cwd, options.config);
    const config = await openConfig(settings);
    let code: number | undefined;
    try {
      code = (await run({ io, config, args, options })) ?? undefined;
    } finally {
      await config.close().catch((error: unknown) => {
        writeLine(io.stderr, `annals: warning: closing the config's stores failed: ${describeError(error)}`);
      });
    }
    return code ?? 0;
  } catch (error) {
    writeLine(io.stderr, `annals: error: ${describeError(error)}`);
    if (debug) writeLine(io.stderr, formatStack(error));
    return 1;
  }
}

function formatStack(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    lines.push(
      `${depth === 0 ? '' : 'caused by: '}${current instanceof Error ? (current.stack ?? current.message) : String(current)}`,
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join('\n');
}
