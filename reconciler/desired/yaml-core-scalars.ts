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

const [NULL_FORMS, BOOL_FORMS, INT_FORMS, FLOAT_FORMS] = CORE_FORMS.map(([, forms]) => forms);
const NUMBER_FORMS = [...INT_FORMS, ...FLOAT_FORMS];

/**
 * The forms that could match a scalar, by its first character (`~ n N` or empty: null; `t T f F`:
 * bool; a digit or `. + -`: numbers; anything else reads as text): the same answer as trying every
 * form in order, without running patterns that cannot match.
 */
function candidates(s: string): ScalarForms | undefined {
  if (s.length === 0) return NULL_FORMS;
  const c = s.charCodeAt(0);
  if (c === 0x7e || c === 0x6e || c === 0x4e) return NULL_FORMS;
  if (c === 0x74 || c === 0x54 || c === 0x66 || c === 0x46) return BOOL_FORMS;
  if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d) return NUMBER_FORMS;
  return undefined;
}

/** The value of a plain (unquoted) scalar's text. */
export function resolvePlain(s: string): unknown {
  const forms = candidates(s);
  if (forms) for (const [re, make] of forms) if (re.test(s)) return make(s);
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
