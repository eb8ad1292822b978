import { type DeadLetter, formatLogPosition, logPositionOf } from '../../core.js';
import { CliError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import { formatTable, toJson, truncate } from '../format.js';
import { brokerDeadLettersCommand } from './broker-dead-letters-command.js';
import { type CommandContext, createRunner } from './command-context.js';

const USAGE = 'usage: annals dead-letters list <projection> | retry <id> | discard <id>';

/**
 * `annals dead-letters list|retry|discard`: the projection store's dead letters, or the broker's
 * dead-letter queue with `--broker <url>` or when the config's projections run on the broker.
 */
export async function deadLettersCommand(context: CommandContext): Promise<void> {
  const { options, config } = context;
  if (options.broker !== undefined) return brokerDeadLettersCommand(context, { url: options.broker });
  if (config.transport === 'broker') return brokerDeadLettersCommand(context, config.messageBroker!);
  const [action, target, ...extra] = context.args;
  if (!target || extra.length > 0) throw new CliError(USAGE);
  switch (action) {
    case 'list':
      return list(context, target);
    case 'retry':
      return retry(context, target);
    case 'discard':
      return discard(context, target);
    default:
      throw new CliError(USAGE);
  }
}

const describeEvent = (letter: DeadLetter) => `${letter.event.type} ${letter.event.eventId}`;

async function list({ io, config, options }: CommandContext, projection: string): Promise<void> {
  const runner = createRunner(config);
  const letters = await runner.listDeadLetters(projection, {
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.offset === undefined ? {} : { offset: options.offset }),
  });
  const total = await config.projectionStore.countDeadLetters(projection);
  if (options.json) {
    writeLine(io.stdout, toJson({ projection, total, deadLetters: letters }));
    return;
  }
  if (letters.length === 0) {
    writeLine(
      io.stdout,
      `${projection} has no dead letters${total > 0 ? ` on this page (${total} in all)` : ''}`,
    );
    return;
  }
  const table = formatTable(
    ['ID', 'FAILED AT', 'EVENT', 'AGGREGATE', 'POSITION', 'ATTEMPTS', 'ERROR'],
    letters.map((letter) => [
      letter.id,
      letter.failedAt.toISOString(),
      describeEvent(letter),
      `${letter.event.aggregateId} v${letter.event.version}`,
      formatLogPosition(logPositionOf(letter.event)),
      String(letter.attempts),
      truncate(`${letter.error.name ? `${letter.error.name}: ` : ''}${letter.error.message}`, 100),
    ]),
  );
  for (const line of table) writeLine(io.stdout, line);
  writeLine(io.stdout, `${letters.length} of ${total} dead letters of ${projection}`);
}

async function retry({ io, config }: CommandContext, id: string): Promise<void> {
  const letter = await config.projectionStore.getDeadLetter(id);
  await createRunner(config).retryDeadLetter(id);
  writeLine(
    io.stdout,
    `dead letter ${id} retried: ${letter ? describeEvent(letter) : 'its event'} applied to ${letter?.projection ?? 'its projection'}; dead letter removed`,
  );
}

async function discard({ io, config }: CommandContext, id: string): Promise<void> {
  const letter = await config.projectionStore.getDeadLetter(id);
  await createRunner(config).discardDeadLetter(id);
  writeLine(
    io.stdout,
    `dead letter ${id} discarded: ${letter ? describeEvent(letter) : 'its event'} will not be applied to ${letter?.projection ?? 'its projection'}`,
  );
}
