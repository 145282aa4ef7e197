import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, quote } from '../../schema/quote.ts';

test('quote - invisible and reordering characters are escaped, plain text is kept', () => {
  assert.equal(quote('hello-kiln'), "'hello-kiln'");
  assert.equal(quote('caf\u00e9 \u4e2d\u6587'), "'caf\u00e9 \u4e2d\u6587'", 'visible non-ASCII stays');
  const cases: Array<[string, string]> = [
    ['hel\u200blo', 'hel\\u{200B}lo'], // zero-width space
    ['a\u200db', 'a\\u{200D}b'], // zero-width joiner
    ['\ufeffmain', '\\u{FEFF}main'], // BOM
    ['evil\u202egnp.exe', 'evil\\u{202E}gnp.exe'], // right-to-left override
    ['x\u2066y\u2069', 'x\\u{2066}y\\u{2069}'], // bidi isolates
    ['a\u0000b\u001bc', 'a\\u{0000}b\\u{001B}c'], // C0 (NUL, ESC)
    ['a\u0085b\u009bc', 'a\\u{0085}b\\u{009B}c'], // C1 (NEL, CSI)
    ['a\nb\rc\td', 'a\\u{000A}b\\u{000D}c\\u{0009}d'],
    ['a\u2028b', 'a\\u{2028}b'], // line separator
    ['so\u00adft', 'so\\u{00AD}ft'], // soft hyphen
    ['a\ud800b', 'a\\u{D800}b'], // lone surrogate
    ['tag\u{E0041}', 'tag\\u{E0041}'], // tag character
  ];
  for (const [input, want] of cases) assert.equal(printable(input), want, JSON.stringify(input));
});

test('quote - long input is cut, saying how much was left out', () => {
  assert.equal(printable('x'.repeat(205)), `${'x'.repeat(200)}… (5 more characters)`);
  assert.equal(quote(42), "'42'");
});
