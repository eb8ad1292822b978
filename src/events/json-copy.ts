/**
 * Copies of JSON values without a round trip through JSON text, for the in-memory store: it keeps
 * a private copy of each payload and metadata, and hands out a fresh copy on every read.
 *
 * @internal
 */

/** Deeper values take the exact path (JSON text), which also reports cycles as JSON does. */
const MAX_DEPTH = 64;

/** What {@link copyPlainJson} returns when a value is not plain JSON data. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

/**
 * A deep copy of `value` when it is plain JSON data, so that the copy is exactly what
 * `JSON.parse(JSON.stringify(value))` gives and `JSON.stringify` could not fail on it nor write
 * text that no store keeps; otherwise {@link NOT_PLAIN}, and the caller takes the exact path.
 *
 * Plain JSON data: `null`, booleans, finite numbers other than -0, strings that are well-formed
 * UTF-16 without NUL, arrays without holes, and objects whose prototype is `Object.prototype` or
 * `null`, without a `toJSON` and without a `__proto__` key, whose own enumerable string keys are
 * such strings and whose values are plain JSON data, nested at most 64 deep. Anything else
 * (`undefined`, functions, symbols, bigints, NaN, dates, class instances, cycles) is for
 * `JSON.stringify` to convert or refuse.
 */
export function copyPlainJson(value: unknown): unknown {
  return copy(value, 0);
}

/**
 * The keys of a flat object (one whose values are all primitives) in their order, with a
 * template object that has them: what a copy of such an object is made from.
 */
export interface FlatShape {
  readonly keys: readonly string[];
  /** Clone it (`{ ...template }`) and set each key: a copy with the layout of every other. */
  readonly template: Readonly<Record<string, unknown>>;
}

/** The shape of the values {@link flatValues} returned last. */
let flatShape: FlatShape | undefined;

/**
 * The values of `value`, in the order of its keys, when it is a flat object: plain JSON data
 * (as {@link copyPlainJson} takes it) with at least one key, whose values are all strings,
 * numbers, booleans or `null`. Its keys are then in {@link lastFlatShape}. `undefined` for any
 * other value, which the caller copies as a whole.
 *
 * What `{ ...shape.template }` with these values set at these keys makes is exactly the object
 * `JSON.parse(JSON.stringify(value))` gives. The in-memory store keeps a flat payload as its
 * values alone, without an object per event.
 */
export function flatValues(value: unknown): unknown[] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if ((value as { toJSON?: unknown }).toJSON !== undefined) return undefined;
  const source = value as Record<string, unknown>;
  const prototype = Object.getPrototypeOf(source);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  // Most often the shape of the object before: its keys are checked while the values are read.
  const last = lastShapes[0];
  if (last !== undefined) {
    const values = valuesOfShape(source, last);
    if (values !== OTHER_KEYS) {
      if (values !== undefined) flatShape = last;
      return values;
    }
  }
  const shape = shapeOfPlain(source, 0);
  if (shape === undefined || shape === NO_KEYS) return undefined;
  const values = valuesOfShape(source, shape);
  if (values === OTHER_KEYS || values === undefined) return undefined;
  flatShape = shape;
  return values;
}

/** What {@link valuesOfShape} returns when the keys are not those of the shape. */
const OTHER_KEYS: unique symbol = Symbol('other keys');

/**
 * The values of `source` (a plain object) in order when its enumerable keys, own and inherited,
 * are exactly `shape.keys` in order and its values are all plain primitives; `undefined` when a
 * value is not; {@link OTHER_KEYS} when the keys differ (a getter that deletes or adds keys on
 * the way included).
 */
function valuesOfShape(
  source: Record<string, unknown>,
  shape: Shape,
): unknown[] | undefined | typeof OTHER_KEYS {
  const keys = shape.keys;
  const count = keys.length;
  const seen = shape.seen;
  // A clone of a packed array of the right length: no call into the runtime, as `new Array(n)` makes.
  const out = shape.blank.slice();
  let index = 0;
  // for-in allocates nothing; an inherited enumerable key comes after the own ones.
  for (const key in source) {
    if (index === count || key !== keys[index]) return OTHER_KEYS;
    const element = source[key];
    if (!isPlainPrimitive(element, seen, index)) return undefined;
    out[index++] = element;
  }
  return index === count ? out : OTHER_KEYS;
}

/** The shape of the values {@link flatValues} returned last. */
export function lastFlatShape(): FlatShape {
  return flatShape!;
}

function copy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return isStorable(value) ? value : NOT_PLAIN;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth === MAX_DEPTH) return NOT_PLAIN;
  if ((value as { toJSON?: unknown }).toJSON !== undefined) return NOT_PLAIN;
  if (Array.isArray(value)) {
    const length = value.length;
    const out = new Array<unknown>(length);
    for (let index = 0; index < length; index++) {
      const element = copy(value[index], depth + 1);
      if (element === NOT_PLAIN) return NOT_PLAIN;
      out[index] = element;
    }
    return out;
  }
  const source = value as Record<string, unknown>;
  const shape = shapeOfPlain(source, depth);
  if (shape === undefined) return NOT_PLAIN;
  if (shape === NO_KEYS) return {};
  // A clone of the shape's template is an object of the right size with these keys in this
  // order (and no symbol keys, which JSON leaves out); its values are then set one by one.
  const out: Record<string, unknown> = { ...shape.template };
  const seen = shape.seen;
  let index = 0;
  // The same keys in the same order as the shape's (hasKeys said so); for-in reads them fastest.
  for (const key in source) {
    const element = source[key];
    if (typeof element === 'object' && element !== null) {
      const copied = copy(element, depth + 1);
      if (copied === NOT_PLAIN) return NOT_PLAIN;
      out[key] = copied;
    } else {
      if (!isPlainPrimitive(element, seen, index)) return NOT_PLAIN;
      out[key] = element;
    }
    index++;
  }
  return out;
}

/** What {@link shapeOfPlain} returns for an object without keys. */
const NO_KEYS: unique symbol = Symbol('no keys');

/**
 * The shape of `source`'s keys when `source` (an object that is not an array) is a plain object
 * whose enumerable keys are all its own and storable; {@link NO_KEYS} when it has none;
 * `undefined` otherwise. The shape last found at `depth` is tried first.
 */
function shapeOfPlain(source: Record<string, unknown>, depth: number): Shape | typeof NO_KEYS | undefined {
  const prototype = Object.getPrototypeOf(source);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  const last = lastShapes[depth];
  if (last !== undefined && hasKeys(source, last.keys)) return last;
  const keys = Object.keys(source);
  if (keys.length === 0) return NO_KEYS;
  const shape = shapeOf(keys);
  // Enumerable inherited keys (which JSON leaves out) would come in a for-in over `source`.
  if (shape === undefined || !hasKeys(source, shape.keys)) return undefined;
  lastShapes[depth] = shape;
  return shape;
}

/**
 * True when `element`, found at key `index` of an object of a shape whose last strings are
 * `seen`, is a plain JSON primitive: `null`, a boolean, a finite number other than -0, or a
 * storable string. A string equal to the one last seen there was storable: it is not looked at again.
 */
function isPlainPrimitive(element: unknown, seen: unknown[], index: number): boolean {
  switch (typeof element) {
    case 'string':
      if (element !== seen[index]) {
        if (!isStorable(element)) return false;
        seen[index] = element;
      }
      return true;
    case 'number':
      return Number.isFinite(element) && !Object.is(element, -0);
    case 'boolean':
      return true;
    case 'object':
      return element === null;
    default:
      return false;
  }
}

/**
 * The keys of an object, checked once (storable, no `__proto__`), with a template object that
 * has them in their order and the string values last found at each of them.
 */
interface Shape extends FlatShape {
  /** The string last found at each key (known storable). */
  readonly seen: unknown[];
  /** A packed array with as many entries as keys: what {@link flatValues} clones and fills. */
  readonly blank: readonly unknown[];
}

/** The shape of the last object copied at each depth: the next one most often has the same. */
const lastShapes: Array<Shape | undefined> = new Array<Shape | undefined>(MAX_DEPTH + 1).fill(undefined);

/**
 * True when the enumerable keys of `source` (own, and inherited ones after them) are `keys`, in
 * order: for-in allocates nothing, where Object.keys makes an array.
 */
function hasKeys(source: Record<string, unknown>, keys: readonly string[]): boolean {
  let index = 0;
  for (const key in source) {
    if (key !== keys[index]) return false;
    index++;
  }
  return index === keys.length;
}

/** The shapes met so far by first key: few in practice (one per payload or metadata layout). */
const shapesByFirstKey = new Map<string, Shape[]>();
let shapeCount = 0;
/** Beyond this many shapes (a caller with keys made of data), shapes are forgotten. */
const MAX_SHAPES = 1000;

/** The shape of `keys`, or undefined when one of them is not storable as a key. */
function shapeOf(keys: readonly string[]): Shape | undefined {
  const count = keys.length;
  const shapes = shapesByFirstKey.get(keys[0]!);
  if (shapes !== undefined) {
    for (let candidate = 0; candidate < shapes.length; candidate++) {
      const shape = shapes[candidate]!;
      const known = shape.keys;
      if (known.length !== count) continue;
      let index = 1;
      while (index < count && known[index] === keys[index]) index++;
      if (index === count) return shape;
    }
  }
  let text = '{';
  for (let index = 0; index < count; index++) {
    const key = keys[index]!;
    if (key === '__proto__' || !isStorable(key)) return undefined;
    text += `${index === 0 ? '' : ','}${JSON.stringify(key)}:null`;
  }
  // JSON.parse makes an object with its properties inside it; one made by adding properties to
  // `{}` keeps those after the fourth in a second object, and so would each of its clones.
  const template = JSON.parse(`${text}}`) as Record<string, unknown>;
  // Values of every kind, so that its fields already hold any value: clones then keep its layout.
  for (let index = 0; index < count; index++) {
    const key = keys[index]!;
    template[key] = 0.5;
    template[key] = '';
    template[key] = [];
    template[key] = null;
  }
  if (shapeCount >= MAX_SHAPES) {
    shapesByFirstKey.clear();
    shapeCount = 0;
  }
  const shape: Shape = {
    keys: [...keys],
    template,
    seen: new Array<unknown>(count).fill(undefined),
    blank: new Array<unknown>(count).fill(null),
  };
  const list = shapes ?? [];
  if (shapes === undefined || shapeCount === 0) shapesByFirstKey.set(keys[0]!, list);
  list.push(shape);
  shapeCount++;
  return shape;
}

function isStorable(text: string): boolean {
  return !text.includes('\u0000') && (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * A deep copy of a value that `JSON.parse` made or that {@link copyPlainJson} copied: plain
 * objects, arrays and primitives only. An own `__proto__` key (which `JSON.parse` can make) stays
 * an own key.
 */
export function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const length = value.length;
    const out = new Array<unknown>(length);
    for (let index = 0; index < length; index++) out[index] = copyJson(value[index]);
    return out as T;
  }
  // A spread copies the properties at once (an own `__proto__` key stays a key); then the
  // objects among the values are copied in turn.
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key in out) {
    const element = out[key];
    if (typeof element !== 'object' || element === null) continue;
    if (key === '__proto__') {
      Object.defineProperty(out, key, {
        value: copyJson(element),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      out[key] = copyJson(element);
    }
  }
  return out as T;
}

/**
 * True when `copy` (an object {@link copyPlainJson} or `JSON.parse` made, whose values are all
 * primitives) is what a round trip of `value` through JSON text gives: `value` is a plain object
 * with the same keys in the same order and the same values. A store can then keep `copy` again
 * instead of a new copy of `value`. False whenever in doubt (nested objects, a getter that
 * throws); the caller then copies.
 */
export function isFlatJsonCopy(value: unknown, copy: Readonly<Record<string, unknown>>): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  try {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return false;
    if ((value as { toJSON?: unknown }).toJSON !== undefined) return false;
    if (copy !== lastCopy) {
      lastCopy = copy;
      lastCopyKeys = Object.keys(copy);
    }
    const known = lastCopyKeys;
    const source = value as Record<string, unknown>;
    let index = 0;
    // for-in allocates nothing; an inherited enumerable key comes after the own ones and makes
    // the key lists differ.
    for (const key in source) {
      if (key !== known[index] || key === '__proto__') return false;
      const element = source[key];
      // Equal primitives (a stored copy holds no object of anyone else's); -0 equals the 0 JSON
      // writes for it.
      if (element !== copy[key] || (typeof element === 'object' && element !== null)) return false;
      index++;
    }
    return index === known.length;
  } catch {
    return false;
  }
}

/** The copy {@link isFlatJsonCopy} saw last, with its keys: stores pass the same one again and again. */
let lastCopy: object | undefined;
let lastCopyKeys: readonly string[] = [];
