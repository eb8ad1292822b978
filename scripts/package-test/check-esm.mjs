// Runs in the scratch project of scripts/package-test.sh, against the installed tarball.
import { readFileSync } from 'node:fs';

const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

// The runtime exports of each entry point are the value exports of etc/public-api.txt.
const expected = new Map();
let entry;
for (const line of readFileSync('public-api.txt', 'utf8').split('\n')) {
  if (line.startsWith('## ')) {
    entry = line.slice(3);
    expected.set(entry, new Set());
  } else if (entry && /^(class|function|const|variable|enum)\s/.test(line)) {
    expected.get(entry).add(line.split(/\s+/)[1]);
  }
}
for (const [name, values] of expected) {
  const loaded = await import(name);
  const actual = new Set(Object.keys(loaded).filter((key) => key !== 'default'));
  for (const key of values) check(actual.has(key), `${name}: missing runtime export ${key}`);
  for (const key of actual) check(values.has(key), `${name}: unexpected runtime export ${key}`);
}

// One copy of the core: an error thrown inside annals/postgres is an instance of the class that
// annals exports, and a round trip on PGlite works.
const { z } = await import('zod');
const core = await import('annals');
const { createPostgres } = await import('annals/postgres');
const { PGlite } = await import('@electric-sql/pglite');
try {
  await createPostgres({ registry: new core.EventRegistry([]) });
  check(false, 'createPostgres without a connection did not throw');
} catch (error) {
  check(
    error instanceof core.InvalidArgumentError,
    'annals/postgres threw an error of another copy of the core',
  );
  check(core.isAnnalsError(error, core.ErrorCode.InvalidArgument), 'isAnnalsError(error, code) failed');
}
const Added = core.defineEvent({ type: 'Added', schema: z.object({ n: z.number() }) });
const pg = await createPostgres({
  pglite: await PGlite.create(),
  registry: new core.EventRegistry([Added]),
  closeDatabase: true,
});
await pg.eventStore.append('a-1', core.NO_STREAM, [{ type: 'Added', aggregateType: 'A', payload: { n: 1 } }]);
const [event] = await pg.eventStore.load('a-1');
check(event?.payload?.n === 1, 'PGlite round trip: the event did not load back');
const { events } = await pg.eventStore.readAll();
check(events.length === 1 && events[0].globalPosition > 0n, 'PGlite round trip: readAll');
await pg.close();

// The optional @opentelemetry/api is not installed here: annals looked for it (the append) and
// runs without it, writing no traceparent.
check(!core.getTelemetryState().active, 'telemetry is active without @opentelemetry/api');
check(event?.metadata?.traceparent === undefined, 'an event got a traceparent without @opentelemetry/api');

if (failures.length > 0) {
  console.error(failures.map((failure) => `FAIL ${failure}`).join('\n'));
  process.exit(1);
}
console.log(
  'ESM: every entry point loads; runtime exports match etc/public-api.txt; one core; PGlite round trip; no telemetry without its peer',
);
