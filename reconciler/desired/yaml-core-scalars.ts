// How a plain YAML scalar or key reads under `yaml`'s core schema (the positioned parser's,
// the specification): the forms of null, bool, int and float, in its order. Shared by the two
// fast parsers (fast-yaml.ts builds js-yaml types from them, plain-yaml.ts calls resolvePlain).

/** One tag's forms: the first that matches constructs the value. */
export type ScalarForms = Array<[RegExp, (s: string) => unknown]>;

// yaml/dist/schema/core: null, bool, int (octal, decimal, hex), float (nan/inf, exponent, plain), in its order.
export const CORE_FORMS: Array<[tag: string, forms: ScalarForms]> = [
  ['null', [[/^(?:~|[Nn]ull|NULL)?$/, () => null]]],
  ['bool', [[/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T']]],
  [
    'int',
    [
      [/^0o[0-7]+$/, (s) => parseInt(s.slice(2), 8)],
      [/^[-+]?[0-9]+$/, (s) => parseInt(s, 10)],
      [/^0x[0-9a-fA-F]+$/, (s) => parseInt(s.slice(2), 16)],
    ],
  ],
  [
    'float',
    [
      [/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, (s) => (s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity)],
      [/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/, parseFloat],
      [/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/, parseFloat],
    ],
  ],
];

const ALL_FORMS = CORE_FORMS.flatMap(([, forms]) => forms);

/**
 * Can `s` be anything but a string? Every core form starts with one of `~ n N t T f F . + -` or a
 * digit (or is empty): any other first character reads as text without trying the patterns.
 */
function mayBeTyped(s: string): boolean {
  if (s.length === 0) return true;
  const c = s.charCodeAt(0);
  return (c >= 0x30 && c <= 0x39) || c === 0x7e || c === 0x6e || c === 0x4e || c === 0x74 || c === 0x54 || c === 0x66 || c === 0x46 || c === 0x2e || c === 0x2b || c === 0x2d;
}

/** The value of a plain (unquoted) scalar's text. */
export function resolvePlain(s: string): unknown {
  if (!mayBeTyped(s)) return s;
  for (const [re, make] of ALL_FORMS) if (re.test(s)) return make(s);
  return s;
}

/** A key js-yaml would have made from a non-string scalar (the parsers stringify those differently), or a special one. */
export const ODD_KEY = /^(?:|null|true|false|NaN|-?Infinity|[-+.0-9][-+.0-9eE]*|__proto__)$/;

/** `ODD_KEY.test(k)`, without running the regex for the usual keys (a lower-case letter that starts no odd key). */
export function oddKey(k: string): boolean {
  const c = k.charCodeAt(0);
  if (c >= 0x61 && c <= 0x7a && c !== 0x66 && c !== 0x6e && c !== 0x74) return false; // f(alse), n(ull), t(rue)
  return ODD_KEY.test(k);
}
