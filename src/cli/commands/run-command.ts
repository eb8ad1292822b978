import { formatLogPosition } from '../../core.js';
import { CliError, describeError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import { type CommandContext, createRunner } from './command-context.js';

/**
 * `annals run [projection...]`: runs projections (all by default) in this process until SIGINT
 * or SIGTERM, then stops gracefully: the batch in progress commits, leases are released.
 */
export async function runCommand({ io, config, args }: CommandContext): Promise<void> {
  const known = new Map(config.projections.map((projection) => [projection.name, projection]));
  const unknown = args.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new CliError(
      `unknown projection ${unknown.map((name) => `"${name}"`).join(', ')}; the config has: ${[...known.keys()].join(', ')}`,
    );
  }
  const projections = args.length > 0 ? args.map((name) => known.get(name)!) : config.projections;
  const userOnError = config.runner?.onError;
  const runner = createRunner(
    {
      ...config,
      runner: {
        ...config.runner,
        onError: (error) => {
          writeLine(io.stderr, `annals: ${describeError(error)}`);
          userOnError?.(error);
        },
      },
    },
    projections,
  );
  const stop = io.stopRequested();
  runner.start();
  writeLine(
    io.stdout,
    `running ${projections.map((projection) => projection.name).join(', ')}; stop with Ctrl-C or SIGTERM`,
  );
  const signal = await stop;
  writeLine(io.stdout, `${signal}: stopping after the batch in progress`);
  await runner.stop();
  for (const status of await runner.statusAll()) {
    writeLine(
      io.stdout,
      `stopped ${status.projection} at ${formatLogPosition(status.checkpoint)} (${status.lagEvents} events behind)`,
    );
  }
}
