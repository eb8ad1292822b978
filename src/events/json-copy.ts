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
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  // A spread copies every own enumerable property at once (one object of the right size, no
  // property added one by one); its values are then checked, and objects among them copied.
  const out: Record<PropertyKey, unknown> = { ...value };
  if (Object.getOwnPropertySymbols(out).length > 0) return NOT_PLAIN;
  const keys = Object.keys(out);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    if (key === '__proto__' || !isStorable(key)) return NOT_PLAIN;
    const element = out[key];
    if (typeof element === 'object' && element !== null) {
      const copied = copy(element, depth + 1);
      if (copied === NOT_PLAIN) return NOT_PLAIN;
      out[key] = copied;
    } else if (copy(element, depth + 1) === NOT_PLAIN) {
      return NOT_PLAIN;
    }
  }
  return out;
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
