import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  copyJson,
  copyPlainJson,
  flatValues,
  isFlatJsonCopy,
  lastFlatShape,
  NOT_PLAIN,
} from '../../src/events/json-copy.js';

const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('copyPlainJson', () => {
  it('copies plain JSON data deeply: equal to a round trip through JSON text, sharing no object', () => {
    const value = { a: 1, b: 'two', c: [true, null, { d: [1.5, -2] }], e: {}, '1': 'one', f: [] };
    const copy = copyPlainJson(value) as typeof value;
    expect(copy).toStrictEqual(roundTrip(value));
    expect(Object.keys(copy)).toEqual(Object.keys(roundTrip(value) as object));
    expect(copy).not.toBe(value);
    expect(copy.c).not.toBe(value.c);
    expect(copy.c[2]).not.toBe(value.c[2]);
    const withoutPrototype = Object.assign(Object.create(null) as object, { x: 1 });
    expect(Object.getPrototypeOf(copyPlainJson(withoutPrototype))).toBe(Object.prototype);
  });

  it('leaves everything JSON would convert, drop or refuse to JSON text', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const sparse = [1, 2, 3];
    delete sparse[1];
    let deep: unknown = 1;
    for (let index = 0; index < 100; index++) deep = [deep];
    const notPlain: unknown[] = [
      undefined,
      () => 1,
      Symbol('s'),
      10n,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -0,
      new Date(0),
      new Map(),
      new (class Point {
        x = 1;
      })(),
      { toJSON: () => 1 },
      { a: undefined },
      sparse,
      [undefined],
      JSON.parse('{"__proto__": 1}'),
      { 'bad\u0000key': 1 },
      'nul \u0000',
      'lone \ud800',
      { nested: ['\udc00'] },
      cycle,
      deep,
      Object.assign(Object.create({ inherited: 1 }) as object, { own: 1 }),
    ];
    for (const value of notPlain) expect(copyPlainJson(value)).toBe(NOT_PLAIN);
  });

  it('agrees with a round trip through JSON text whenever it copies (property-based)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
        const copy = copyPlainJson(value);
        if (copy === NOT_PLAIN) return;
        expect(copy).toStrictEqual(roundTrip(value));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = copyPlainJson(value);
        // JSON values are copied unless they hold -0 (JSON writes it as 0).
        if (copy === NOT_PLAIN) expect(JSON.stringify(value)).toBe(JSON.stringify(roundTrip(value)));
        else expect(copy).toStrictEqual(roundTrip(value));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('copyPlainJson: objects of one layout after another', () => {
  it('copies each by its own keys and values, whatever the objects before it held', () => {
    const layouts = [
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
      { b: 'x', a: 1 },
      { a: 1, b: 'x', c: null },
      { a: 'x', b: { nested: [1, 'two'] } },
      { 2: 'two', 1: 'one', z: true },
    ];
    for (let round = 0; round < 3; round++) {
      for (const value of layouts) {
        const copy = copyPlainJson(value);
        expect(copy).toStrictEqual(roundTrip(value));
        expect(Object.keys(copy as object)).toEqual(Object.keys(value));
      }
    }
  });

  it('looks again at a string that replaces the one it last saw at that key', () => {
    expect(copyPlainJson({ sku: 'ok', note: 'fine' })).toStrictEqual({ sku: 'ok', note: 'fine' });
    expect(copyPlainJson({ sku: 'ok', note: 'nul \u0000' })).toBe(NOT_PLAIN);
    expect(copyPlainJson({ sku: 'lone \ud800', note: 'fine' })).toBe(NOT_PLAIN);
    expect(copyPlainJson({ sku: 'ok', note: 'fine' })).toStrictEqual({ sku: 'ok', note: 'fine' });
  });

  it('leaves out symbol keys, as JSON does', () => {
    const value = { a: 1, [Symbol('hidden')]: 2 };
    const copy = copyPlainJson(value);
    expect(copy).toStrictEqual(roundTrip(value));
    expect(Object.getOwnPropertySymbols(copy as object)).toEqual([]);
  });

  it('stays right with more layouts than it remembers', () => {
    for (let index = 0; index < 2_500; index++) {
      const value = { [`key-${index}`]: index, [`other-${index % 7}`]: 'x' };
      expect(copyPlainJson(value)).toStrictEqual(roundTrip(value));
    }
    expect(copyPlainJson({ 'bad\u0000key': 1 })).toBe(NOT_PLAIN);
  });
});

describe('isFlatJsonCopy', () => {
  it('is true only for a plain object with the same keys, in order, and the same primitive values', () => {
    const copy = copyPlainJson({ a: 1, b: 'x', c: null, d: true }) as Record<string, unknown>;
    expect(isFlatJsonCopy({ a: 1, b: 'x', c: null, d: true }, copy)).toBe(true);
    expect(isFlatJsonCopy(Object.assign(Object.create(null) as object, copy), copy)).toBe(true);
    for (const value of [
      { a: 1, b: 'x', c: null },
      { a: 1, b: 'x', c: null, d: true, e: 1 },
      { b: 'x', a: 1, c: null, d: true },
      { a: 2, b: 'x', c: null, d: true },
      { a: 1, b: 'x', c: null, d: 'true' },
      { a: 1, b: 'x', c: null, d: true, toJSON: () => ({}) },
      new (class {
        a = 1;
        b = 'x';
        c = null;
        d = true;
      })(),
      [1, 'x', null, true],
      null,
      'text',
    ]) {
      expect(isFlatJsonCopy(value, copy)).toBe(false);
    }
    const nested = copyPlainJson({ a: { b: 1 } }) as Record<string, unknown>;
    expect(isFlatJsonCopy({ a: { b: 1 } }, nested)).toBe(false);
    const throwing = Object.defineProperty({}, 'a', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    expect(isFlatJsonCopy(throwing, { a: 1 })).toBe(false);
  });

  it('agrees with a round trip through JSON text whenever it is true (property-based)', () => {
    const flat = fc.dictionary(
      fc.string(),
      fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)),
    );
    fc.assert(
      fc.property(flat, flat, (previous, value) => {
        const copy = copyPlainJson(previous);
        if (copy === NOT_PLAIN) return;
        if (isFlatJsonCopy(value, copy as Record<string, unknown>))
          expect(copy).toStrictEqual(roundTrip(value));
        // A flat object is the same as its own copy.
        expect(isFlatJsonCopy(previous, copy as Record<string, unknown>)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('copyJson', () => {
  it('copies what JSON.parse makes, keeping an own __proto__ key as a key', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "list": [{"a": 1}]}') as Record<
      string,
      unknown
    >;
    const copy = copyJson(parsed);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'list']);
    expect(copy).toStrictEqual(parsed);
    expect(copy.list).not.toBe(parsed.list);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('copyPlainJson with an enumerable key on Object.prototype', () => {
  it('still copies only own keys, as JSON does', () => {
    const value = { a: 1, b: { c: 'x' } };
    expect(copyPlainJson(value)).toStrictEqual(roundTrip(value));
    Object.defineProperty(Object.prototype, 'polluted', {
      value: 1,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      const copy = copyPlainJson(value);
      if (copy !== NOT_PLAIN) expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
      expect(isFlatJsonCopy({ a: 1 }, { a: 1 })).toBe(false);
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
    expect(copyPlainJson(value)).toStrictEqual(roundTrip(value));
  });
});

/** The object a flat payload's values make again, as the in-memory store makes it on a read. */
function rebuilt(values: readonly unknown[]): Record<string, unknown> {
  const shape = lastFlatShape();
  const out: Record<string, unknown> = { ...shape.template };
  shape.keys.forEach((key, index) => {
    out[key] = values[index];
  });
  return out;
}

describe('flatValues', () => {
  it('gives the values of a flat object in key order; they make again what JSON would', () => {
    const value = { b: 'two', a: 1, '1': true, c: null, d: -1.5 };
    const values = flatValues(value)!;
    expect(values).toEqual([true, 'two', 1, null, -1.5]);
    expect(lastFlatShape().keys).toEqual(['1', 'b', 'a', 'c', 'd']);
    const copy = rebuilt(values);
    expect(copy).toStrictEqual(roundTrip(value));
    expect(Object.keys(copy)).toEqual(Object.keys(roundTrip(value) as object));
    const withoutPrototype = Object.assign(Object.create(null) as object, { x: 1 });
    expect(flatValues(withoutPrototype)).toEqual([1]);
    expect(Object.getPrototypeOf(rebuilt([1]))).toBe(Object.prototype);
  });

  it('is undefined for anything but a flat object of plain JSON values', () => {
    let reads = 0;
    const shrinking = {
      a: 1,
      get b() {
        reads++;
        delete (shrinking as { c?: number }).c;
        return 2;
      },
      c: 3,
    };
    const notFlat: unknown[] = [
      undefined,
      null,
      'text',
      1,
      [1, 2],
      {},
      { nested: { a: 1 } },
      { list: [] },
      { a: undefined },
      { a: () => 1 },
      { a: 10n },
      { a: Number.NaN },
      { a: Number.POSITIVE_INFINITY },
      { a: -0 },
      { a: 'nul \u0000' },
      { a: 'lone \ud800' },
      { 'bad\u0000key': 1 },
      JSON.parse('{"__proto__": 1}'),
      { toJSON: () => 1 },
      new (class Point {
        x = 1;
      })(),
      new Date(0),
      Object.assign(Object.create({ inherited: 1 }) as object, { own: 1 }),
      shrinking,
    ];
    for (const value of notFlat) expect(flatValues(value)).toBeUndefined();
    expect(reads).toBe(1);
  });

  it('looks again at a string that replaces the one it last saw at that key', () => {
    expect(flatValues({ a: 'fine', b: 1 })).toEqual(['fine', 1]);
    expect(flatValues({ a: 'lone \udc00', b: 1 })).toBeUndefined();
    expect(flatValues({ a: 'fine', b: 1 })).toEqual(['fine', 1]);
  });

  it('agrees with a round trip through JSON text whenever it gives values (property-based)', () => {
    const primitive = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(
        fc.oneof(fc.dictionary(fc.string(), primitive), fc.anything({ withNullPrototype: true })),
        (value) => {
          const values = flatValues(value);
          if (values === undefined) return;
          expect(rebuilt(values)).toStrictEqual(roundTrip(value));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
