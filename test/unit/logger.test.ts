import {
  AggregateRepository,
  type AnnalsLogger,
  consoleLogger,
  ErrorCode,
  getDefaultLogger,
  InMemoryEventStore,
  isAnnalsError,
  type LogFields,
  ProjectionRunner,
  setDefaultLogger,
  silentLogger,
  winstonLogger,
} from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { cartProjection, newEventStore, newProjectionStore, seedCarts } from '../projections/fixtures.js';
import { Account, accountRegistry } from './fixtures.js';

interface Entry {
  readonly level: string;
  readonly fields: LogFields;
  readonly message: string;
}

/** A logger of pino's shape that keeps what it is given. */
function capture(): AnnalsLogger & { entries: Entry[] } {
  const entries: Entry[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => {
    entries.push({ level, fields, message });
  };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function consoleCapture() {
  const lines: [string, string][] = [];
  const at = (level: string) => (text: unknown) => {
    lines.push([level, String(text)]);
  };
  return { lines, console: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const initial = getDefaultLogger();
afterEach(() => setDefaultLogger(initial));

describe('consoleLogger', () => {
  it('writes warnings and errors by default, one line each, with the fields as JSON', () => {
    const out = consoleCapture();
    const logger = consoleLogger({ console: out.console });
    logger.debug({ a: 1 }, 'detail');
    logger.info({ a: 1 }, 'note');
    logger.warn({ projection: 'carts', position: 7n }, 'parked an event');
    logger.error({ err: Object.assign(new Error('boom'), { code: '57P01' }) }, 'stopped');
    logger.warn({}, 'bare');
    expect(out.lines.map(([level]) => level)).toEqual(['warn', 'error', 'warn']);
    expect(out.lines[0]![1]).toBe('annals: parked an event {"projection":"carts","position":"7"}');
    expect(out.lines[1]![1]).toMatch(
      /^annals: stopped \{"err":\{"name":"Error","message":"boom","code":"57P01","stack":"Error: boom/,
    );
    expect(out.lines[2]![1]).toBe('annals: bare');
  });

  it('takes a level, and refuses an unknown one with a typed error', () => {
    const out = consoleCapture();
    const logger = consoleLogger({ level: 'info', console: out.console });
    logger.debug({}, 'hidden');
    logger.info({}, 'shown');
    expect(out.lines).toEqual([['info', 'annals: shown']]);
    const error = (() => {
      try {
        consoleLogger({ level: 'loud' as never });
      } catch (caught) {
        return caught;
      }
    })();
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect((error as Error).message).toMatch(
      /level must be one of debug, info, warn, error, silent; got loud/,
    );
  });
});

describe('winstonLogger', () => {
  it('passes level, message and fields in winston’s order', () => {
    const calls: unknown[][] = [];
    const logger = winstonLogger({ log: (...args: unknown[]) => calls.push(args) });
    logger.warn({ eventId: 'e1' }, 'parked');
    expect(calls).toEqual([['warn', 'parked', { eventId: 'e1' }]]);
  });
});

describe('the projection runner logs what it handles on its own', () => {
  it('a dead letter as a warning with the ids, a stopped projection as an error', async () => {
    const eventStore = newEventStore();
    const ids = await seedCarts(eventStore, 2);
    const poison = ids[2]!;
    const logger = capture();
    const parking = new ProjectionRunner({
      eventStore,
      projectionStore: newProjectionStore(),
      projections: [
        cartProjection({
          onFailure: 'dead-letter',
          beforeHandler: (event) => {
            if (event.eventId === poison) throw new Error('poison');
          },
        }),
      ],
      retryDelayMs: 1,
      maxRetryAttempts: 1,
      logger,
    });
    await parking.catchUp();
    expect(logger.entries).toHaveLength(1);
    const [parked] = logger.entries;
    expect(parked!.level).toBe('warn');
    expect(parked!.message).toMatch(/failed after 2 attempt\(s\): poison/);
    expect(parked!.fields).toMatchObject({
      projection: 'carts',
      eventId: poison,
      eventType: expect.any(String),
      position: expect.stringMatching(/^\d+:3$/),
      aggregateId: expect.any(String),
      attempt: 2,
    });
    expect((parked!.fields.err as Error).message).toBe('poison');

    const stopping = capture();
    const stopped = new ProjectionRunner({
      eventStore,
      projectionStore: newProjectionStore(),
      projections: [
        cartProjection({
          onFailure: 'stop',
          beforeHandler: (event) => {
            if (event.eventId === poison) throw new Error('poison');
          },
        }),
      ],
      retryDelayMs: 1,
      maxRetryAttempts: 0,
      logger: stopping,
    });
    stopped.start();
    await expect(stopped.catchUp()).rejects.toThrow(/poison/);
    await stopped.stop();
    expect(stopping.entries.map((entry) => entry.level)).toContain('error');
    expect(stopping.entries.find((entry) => entry.level === 'error')!.fields).toMatchObject({
      projection: 'carts',
      eventId: poison,
      attempt: 1,
    });
  });

  it('uses the default logger when given none; silence is a choice', async () => {
    const eventStore = newEventStore();
    const ids = await seedCarts(eventStore, 1);
    const logger = capture();
    setDefaultLogger(logger);
    const projection = cartProjection({
      onFailure: 'dead-letter',
      beforeHandler: (event) => {
        if (event.eventId === ids.at(-1)) throw new Error('poison');
      },
    });
    const options = { eventStore, projections: [projection], retryDelayMs: 1, maxRetryAttempts: 0 };
    await new ProjectionRunner({ ...options, projectionStore: newProjectionStore() }).catchUp();
    expect(logger.entries.map((entry) => entry.level)).toEqual(['warn']);
    await new ProjectionRunner({
      ...options,
      projectionStore: newProjectionStore(),
      logger: silentLogger,
    }).catchUp();
    expect(logger.entries).toHaveLength(1);
    expect(() => setDefaultLogger({ warn: () => undefined } as never)).toThrow(
      /a logger needs debug, info, warn and error methods \(pino's shape\); missing debug, info, error/,
    );
  });
});

describe('the repository logs concurrency conflicts with the command’s ids', () => {
  it('debug while retrying, a warning when it gives up', async () => {
    const store = new InMemoryEventStore({ registry: accountRegistry() });
    const logger = capture();
    const repository = new AggregateRepository(store, {
      create: (id) => new Account(id),
      retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 },
      logger,
    });
    await repository.execute('acc-log', (account) => account.open('ada'));
    const error = await repository
      .execute(
        'acc-log',
        async (account) => {
          // Another writer gets in between every load and append.
          await store.append('acc-log', 'any', [
            { type: 'Deposited', aggregateType: 'Account', payload: { amount: 1 } },
          ]);
          account.deposit(1);
        },
        { metadata: { commandId: 'cmd-7', correlationId: 'req-7' } },
      )
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.Concurrency)).toBe(true);
    expect(logger.entries.map((entry) => entry.level)).toEqual(['debug', 'warn']);
    expect(logger.entries[0]!.message).toBe('concurrency conflict on acc-log (attempt 1); retrying');
    expect(logger.entries[1]!.message).toBe('concurrency conflict on acc-log: gave up after 2 attempt(s)');
    expect(logger.entries[1]!.fields).toMatchObject({
      aggregateId: 'acc-log',
      attempt: 2,
      commandId: 'cmd-7',
      correlationId: 'req-7',
    });
  });
});
