import { type BrokerDeadLetter, BrokerDeadLetters } from '../../amqp/dead-letters.js';
import { CliError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import { formatTable, toJson, truncate } from '../format.js';
import type { CommandContext } from './command-context.js';

const USAGE =
  'usage: annals dead-letters --broker <amqp-url> list [projection] | retry <event-id> | discard <event-id>';
/** How many dead letters `retry` and `discard` look through for the event id. */
const SEARCH_LIMIT = 10_000;

/**
 * `annals dead-letters --broker <url> list|retry|discard`: the dead letters of the broker's
 * dead-letter queue (`--dlq`, default `dlq_failed_events`) that projection consumers gave up on.
 */
export async function brokerDeadLettersCommand(
  context: CommandContext,
  broker: { readonly url: string; readonly deadLetterQueue?: string; readonly queuePrefix?: string },
): Promise<void> {
  const [action, target, ...extra] = context.args;
  if (extra.length > 0 || (action !== 'list' && !target)) throw new CliError(USAGE);
  if (action !== 'list' && action !== 'retry' && action !== 'discard') throw new CliError(USAGE);
  if (context.options.offset !== undefined) throw new CliError('--offset does not apply to --broker');
  const deadLetterQueue = context.options.dlq ?? broker.deadLetterQueue;
  const session = await BrokerDeadLetters.open({
    url: broker.url,
    connectionName: 'annals cli dead-letters',
    ...(deadLetterQueue === undefined ? {} : { deadLetterQueue }),
    ...(broker.queuePrefix === undefined ? {} : { queuePrefix: broker.queuePrefix }),
  });
  try {
    if (action === 'list') await list(context, session, target);
    else await decide(context, session, action, target!);
  } finally {
    await session.close();
  }
}

async function list(
  { io, options }: CommandContext,
  session: BrokerDeadLetters,
  projection: string | undefined,
): Promise<void> {
  const letters = await session.list({
    ...(projection === undefined ? {} : { projection }),
    limit: options.limit ?? 100,
  });
  const scope = projection ?? 'every projection';
  if (options.json) {
    writeLine(io.stdout, toJson({ queue: session.deadLetterQueue, projection, deadLetters: letters }));
    return;
  }
  if (letters.length === 0) {
    writeLine(io.stdout, `${session.deadLetterQueue} holds no dead letters of ${scope}`);
    return;
  }
  const table = formatTable(
    ['EVENT ID', 'PROJECTION', 'FAILED AT', 'EVENT', 'AGGREGATE', 'ATTEMPTS', 'ERROR'],
    letters.map((letter) => [
      letter.eventId ?? '-',
      letter.projection ?? '-',
      letter.failedAt?.toISOString() ?? '-',
      letter.event?.type ?? '(not an annals event)',
      letter.event ? `${letter.event.aggregateId} v${letter.event.version}` : '-',
      String(letter.attempts),
      truncate(letter.error ?? '', 100),
    ]),
  );
  for (const line of table) writeLine(io.stdout, line);
  writeLine(io.stdout, `${letters.length} dead letters of ${scope} in ${session.deadLetterQueue}`);
}

async function decide(
  { io }: CommandContext,
  session: BrokerDeadLetters,
  action: 'retry' | 'discard',
  eventId: string,
): Promise<void> {
  const letters = await session.list({ limit: SEARCH_LIMIT });
  const letter: BrokerDeadLetter | undefined = letters.find((candidate) => candidate.eventId === eventId);
  if (!letter) {
    throw new CliError(`no dead letter of event ${eventId} in ${session.deadLetterQueue}`);
  }
  const what = `${letter.event?.type ?? 'message'} ${eventId}`;
  if (action === 'retry') {
    await session.replay(letter);
    writeLine(
      io.stdout,
      `dead letter ${what} sent back to ${letter.queue ?? `the queue of ${letter.projection}`} (attempts reset)`,
    );
  } else {
    await session.discard(letter);
    writeLine(io.stdout, `dead letter ${what} discarded from ${session.deadLetterQueue}`);
  }
}
