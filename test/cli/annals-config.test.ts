import {
  defineConfig,
  defineProjection,
  ErrorCode,
  EventRegistry,
  InMemoryEventStore,
  InMemoryProjectionStore,
  isAnnalsError,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { resolveAnnalsConfig } from '../../src/config/annals-config.js';

const eventStore = new InMemoryEventStore({ registry: new EventRegistry([]) });
const projectionStore = new InMemoryProjectionStore({ initialState: {} });
const projection = defineProjection<object>()({ name: 'p', events: [], handlers: {} });

async function problem(exported: unknown): Promise<string> {
  const error = await resolveAnnalsConfig(exported).catch((caught: unknown) => caught);
  expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
  return (error as Error).message;
}

describe('the config module shape', () => {
  it('accepts a config object or a function (sync or async) returning one', async () => {
    const config = defineConfig({ eventStore, projectionStore, projections: [projection] });
    expect(await resolveAnnalsConfig(config)).toBe(config);
    expect((await resolveAnnalsConfig(() => config)).eventStore).toBe(eventStore);
    expect((await resolveAnnalsConfig(defineConfig(async () => config))).projections).toEqual([projection]);
  });

  it('names the first problem of a config of the wrong shape', async () => {
    expect(await problem(42)).toMatch(/must be an object/);
    expect(await problem({ projectionStore, projections: [projection] })).toBe(
      'config.eventStore is missing',
    );
    expect(await problem({ eventStore: {}, projectionStore, projections: [projection] })).toMatch(
      /config\.eventStore must be an event store/,
    );
    expect(await problem({ eventStore, projectionStore, projections: projection })).toBe(
      'config.projections must be an array of projections',
    );
    expect(await problem({ eventStore, projectionStore, projections: [] })).toMatch(
      /config\.projections must list at least one projection/,
    );
    expect(await problem({ eventStore, projectionStore, projections: [projection, { name: 'x' }] })).toMatch(
      /config\.projections\[1\] must be a projection made by defineProjection/,
    );
    expect(await problem({ eventStore, projectionStore, projections: [projection], close: 'no' })).toMatch(
      /config\.close must be a function/,
    );
  });

  it('rejects a projection listed twice, as the runner would', async () => {
    const other = defineProjection<object>()({ name: 'q', events: [], handlers: {} });
    const twin = defineProjection<object>()({ name: 'p', events: [], handlers: {} });
    expect(await problem({ eventStore, projectionStore, projections: [projection, other, twin] })).toBe(
      'config.projections lists the projection "p" twice (at [0] and [2]); give each projection its own name',
    );
    expect(await problem({ eventStore, projectionStore, projections: [projection, projection] })).toMatch(
      /"p" twice \(at \[0\] and \[1\]\)/,
    );
  });
});
