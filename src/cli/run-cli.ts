import { parseArgs } from 'node:util';
import type { ResolvedAnnalsConfig } from '../core.js';
import { CliError, describeError } from './cli-error.js';
import { type CliIo, writeLine } from './cli-io.js';
import type { CliOptions, CommandContext } from './commands/command-context.js';
import { deadLettersCommand } from './commands/dead-letters-command.js';
import { exampleCommand } from './commands/example-command.js';
import { migrateCommand } from './commands/migrate-command.js';
import { rebuildCommand } from './commands/rebuild-command.js';
import { runCommand } from './commands/run-command.js';
import { statusCommand } from './commands/status-command.js';
import { COMMAND_HELP, HELP } from './help.js';
import { loadConfig } from './load-config.js';
import { openConfig } from './open-config.js';
import { packageVersion } from './version.js';

export { HELP } from './help.js';

/** A command; one that resolves to a number exits with it (`status`: 2 when a threshold is breached). */
type Command = (context: CommandContext) => Promise<number | undefined> | Promise<void>;

/** A command and what it needs. */
interface CommandSpec {
  readonly run: Command;
  /** The options (long names) that apply besides --config, --debug and --help. */
  readonly options: readonly string[];
  /** Whether the config must list projections for this invocation. */
  readonly needsProjections: (settings: ResolvedAnnalsConfig, options: CliOptions) => boolean;
}

const ALERT_OPTIONS = ['json', 'max-lag-events', 'max-lag-ms', 'fail-on-dead-letters', 'fail-on-blocked'];

const COMMANDS: Record<string, CommandSpec> = {
  // `migrate` finds its config itself (it may do without); see runCli.
  migrate: {
    run: async () => undefined,
    options: ['print-sql', 'database-url', 'schema'],
    needsProjections: () => false,
  },
  status: {
    run: statusCommand,
    options: ALERT_OPTIONS,
    // A service that only relays its events has relays to show.
    needsProjections: (settings) => settings.relays.length === 0,
  },
  // `example` needs no config; see runCli.
  example: { run: async () => undefined, options: [], needsProjections: () => false },
  rebuild: { run: rebuildCommand, options: [], needsProjections: () => true },
  run: { run: runCommand, options: [], needsProjections: () => true },
  'dead-letters': {
    run: deadLettersCommand,
    options: ['json', 'limit', 'offset', 'broker', 'dlq'],
    needsProjections: (_settings, options) => options.broker === undefined,
  },
};

/** Options that apply to every command. */
const GLOBAL_OPTIONS = new Set(['config', 'debug', 'help', 'version']);

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
  version: boolean;
  given: string[];
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
    version: values.version === true,
    given: Object.keys(values).filter((name) => values[name as keyof typeof values] !== undefined),
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
      databaseUrl: values['database-url'],
      schema: values.schema,
      printSql: values['print-sql'] === true,
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
  'database-url': { type: 'string' },
  schema: { type: 'string' },
  'print-sql': { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/**
 * Runs the `annals` command line with `argv` (the words after `annals`). Resolves to the exit
 * code: 0 on success, 1 on any error, which is reported as one line on stderr (with the stack
 * when `--debug` is given), 2 when `status` found a threshold it was given breached.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const { command, args, options, help, version, given } = parse(argv);
    if (version) {
      writeLine(io.stdout, packageVersion());
      return 0;
    }
    if (command === 'help' || (help && command !== undefined)) {
      // `annals help <command>` or `annals <command> --help`.
      const name = command === 'help' ? args[0] : command;
      if (name === undefined) {
        writeLine(io.stdout, HELP);
        return 0;
      }
      const text = COMMAND_HELP[name];
      if (text === undefined) throw new CliError(`unknown command "${name}"; run annals --help`);
      writeLine(io.stdout, text);
      return 0;
    }
    if (help || command === undefined) {
      writeLine(help ? io.stdout : io.stderr, HELP);
      return help ? 0 : 1;
    }
    const spec = COMMANDS[command];
    if (!spec) throw new CliError(`unknown command "${command}"; run annals --help`);
    for (const name of given) {
      if (!GLOBAL_OPTIONS.has(name) && !spec.options.includes(name)) {
        throw new CliError(`--${name} does not apply to ${command}; run annals ${command} --help`);
      }
    }
    if (command === 'migrate') {
      await migrateCommand({ io, args, options });
      return 0;
    }
    if (command === 'example') {
      if (args.length > 0) throw new CliError('usage: annals example');
      await exampleCommand();
      return 0;
    }
    const { path, config: settings } = await loadConfig(io.cwd, options.config);
    if (settings.projections.length === 0 && spec.needsProjections(settings, options)) {
      throw new CliError(
        `${command} needs projections, and ${path} has none (projections: { definitions: [...] }); annals migrate works without`,
      );
    }
    const config = await openConfig(settings);
    let code: number | undefined;
    try {
      code = (await spec.run({ io, config, args, options })) ?? undefined;
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
