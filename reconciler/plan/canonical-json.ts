// RFC 8785 canonical JSON for the plain values build keys hash (strings, finite numbers,
// booleans, null, arrays, plain objects): the bytes of the `canonicalize` package, without
// its per-call Set, per-character surrogate loop and part arrays (≈ a third of a cold plan's
// build-key time). Anything else (toJSON, undefined in arrays, symbols, functions, class
// instances) is handed to `canonicalize` itself, so the answer and the errors stay its own;
// test/unit/build-key.test.ts compares the two on seeded random values.
import canonicalize from 'canonicalize';

class NotPlain extends Error {}

/** ES2024's String.prototype.isWellFormed (Node 20 has it; the project's lib setting predates it): no lone surrogates. */
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * The keys in RFC 8785's order: UTF-16 code units, which is how both Array#sort's default and `<`
 * compare strings. Build inputs have a handful of keys per object; an insertion sort of those
 * allocates nothing, where Array#sort made a work array per call (≈ 10% of a cold plan's allocations).
 */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i];
    let j = i - 1;
    for (; j >= 0 && keys[j] > k; j--) keys[j + 1] = keys[j];
    keys[j + 1] = k;
  }
  return keys;
}

/** What JSON.stringify escapes in a well-formed string. */
const NEEDS_ESCAPE = /["\\\x00-\x1f]/;

function write(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      if (!wellFormed(v)) throw new NotPlain();
      // Nothing to escape (the usual name, version, URL): quoted as is, as JSON.stringify would.
      return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : '"' + v + '"';
    case 'number':
      if (!Number.isFinite(v)) throw new NotPlain();
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth > 64) throw new NotPlain(); // a cycle, or deeper than any build input
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw new NotPlain();
          out += (i ? ',' : '') + write(v[i], depth + 1);
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new NotPlain();
      const o = v as Record<string, unknown>;
      if (typeof o.toJSON === 'function') throw new NotPlain();
      const keys = sortedKeys(o);
      let out = '{';
      let first = true;
      for (const k of keys) {
        const x = o[k];
        if (x === undefined) continue;
        out += (first ? '' : ',') + write(k, depth) + ':' + write(x, depth + 1);
        first = false;
      }
      return out + '}';
    }
    default:
      throw new NotPlain();
  }
}

/** The RFC 8785 canonical JSON of `value`, exactly as `canonicalize(value)` gives it. */
export function canonicalJson(value: unknown): string | undefined {
  try {
    return write(value, 0);
  } catch (e) {
    if (!(e instanceof NotPlain)) throw e;
    return canonicalize(value);
  }
}
