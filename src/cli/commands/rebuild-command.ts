import { CliError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import { formatDuration } from '../format.js';
import { progressReporter } from '../progress-reporter.js';
import { type CommandContext, createRunner } from './command-context.js';

/**
 * `annals rebuild <projection>`: resets the projection and replays the whole log, with a progress
 * bar on a terminal and plain lines otherwise. SIGINT/SIGTERM stop it after the current batch.
 */
export async function rebuildCommand({ io, config, args }: CommandContext): Promise<void> {
  const [name, ...extra] = args;
  if (!name || extra.length > 0) throw new CliError('usage: annals rebuild <projection>');
  const runner = createRunner(config);
  const controller = new AbortController();
  void io.stopRequested().then(() => controller.abort());
  const reporter = progressReporter(io.stdout);
  let result: Awaited<ReturnType<typeof runner.rebuild>>;
  try {
    result = await runner.rebuild(name, {
      signal: controller.signal,
      onProgress: (progress) => reporter.update(progress),
    });
  } finally {
    reporter.done();
  }
  const rate =
    result.durationMs > 0 ? Math.round((result.processed * 1000) / result.durationMs) : result.processed;
  if (controller.signal.aborted) {
    writeLine(
      io.stdout,
      `rebuild of ${name} stopped after ${result.processed} events; a runner that starts it continues the replay`,
    );
    return;
  }
  writeLine(
    io.stdout,
    `rebuilt ${name}: ${result.processed} events in ${formatDuration(result.durationMs)} (${rate} events/s), ${result.deadLetters} dead letters`,
  );
}
