// plain-yaml.ts, the line scanner that reads the plainest metadata files: whatever it accepts it
// must read exactly as the positioned `yaml` parser does (the specification), on seeded random
// documents built from the subset and from the YAML around its edges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parsePlainYaml } from '../../reconciler/desired/plain-yaml.ts';
import { resolvePlain } from '../../reconciler/desired/yaml-core-scalars.ts';
import { fastParse } from '../../reconciler/desired/fast-yaml.ts';
import { seededRandom } from '../helpers/seeded.ts';

/** What the positioned parser makes of a text, or undefined when it has errors or warnings. */
function spec(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true });
  return doc.errors.length || doc.warnings.length ? undefined : doc.toJS();
}

const KEYS = ['name', 'version', 'a', 'b_c', 'x-y', 'k.1', 'K9', '_u', 'Null', 'NULL', 'True', 'FALSE', 'false', 'null', 'on', 'y', '__proto__', 'a b', '1', '-k', '"q"', "'s'", 'é'];
const SCALARS = [
  'pkg-00001', '1.0-1', '1:3.0-2', '0', '-0', '-1', '+1', '010', '1e3', '1E-3', '0x1F', '0o17', '0b11', '1_000', '.5', '5.', '.inf', '-.Inf', '.NaN', '~', 'null', 'Null', 'NULL',
  'True', 'false', 'FALSE', 'yes', 'no', 'a b', 'a  b', 'http://x:1/y', '127.0.0.1:5480/k/b:latest', '-x', '-', '- x', 'it’s', "it's", "'q'", "'it''s'", "''", '""', '"d q"', '"a\\"b"',
  '"a\'b"', "'a\"b'", 'a: b', 'a:', 'x #c', 'x#c', '#c', '[a, b]', '[]', '[ ]', '[a,]', '[,a]', "['a,b', c]", '["a, b", \'c\']', '[1, 2.5, ~, true]', '[a, [b]]', '[a b, c]', '[a:b]',
  '[a #c]', '{a: 1}', '{}', '|', '>', '|-', '*x', '&a x', '!t x', '!!str x', '%x', '@x', '`x', '? x', ':x', 'x:', 'a]', 'a[1]', 'a{b}', 'é ü', '\u00a0x', 'x\u0085y', 'x\u2028y', '12:30', '=', '<x>', 'x,y', 'a ,b',
];

/** The scalars above that are plain (unquoted, no indicator): their text is what resolvePlain reads. */
const PLAIN_SCALARS = SCALARS.filter((s) => /^[\w.~+]|^-[^ ]/.test(s) && !/: |:$| #/.test(s));

type Pick = <T>(xs: readonly T[]) => T;

/** A random document: mostly the plain subset, with edge keys, values, indentation and comments mixed in. */
function document(pick: Pick, random: () => number): string {
  const lines: string[] = [];
  const pad = (n: number) => ' '.repeat(n);
  const value = () => (random() < 0.15 ? pick(SCALARS) + pick(['', ' ', '  # note', ' #']) : pick(SCALARS.slice(0, 40)));
  const map = (indent: number, depth: number) => {
    const n = 1 + Math.floor(random() * 4);
    for (let i = 0; i < n; i++) {
      const key = random() < 0.85 ? pick(KEYS.slice(0, 8)) + (random() < 0.5 ? String(i) : '') : pick(KEYS);
      const r = random();
      if (random() < 0.1) lines.push(pick(['', '# comment', `${pad(indent + 3)}# deeper comment`, pad(indent + 1)]));
      if (r < 0.6 || depth > 2) lines.push(`${pad(indent)}${key}: ${value()}`);
      else if (r < 0.75) {
        lines.push(`${pad(indent)}${key}:${pick(['', ' ', ' # c'])}`);
        map(indent + pick([2, 2, 4, 1]), depth + 1);
      } else if (r < 0.92) {
        lines.push(`${pad(indent)}${key}:`);
        const at = indent + pick([0, 2, 2, 3]);
        for (let k = 0, m = 1 + Math.floor(random() * 3); k < m; k++) lines.push(`${pad(at)}-${pick([' ', ' ', '  ', ''])}${value()}`);
      } else lines.push(`${pad(indent)}${key}:`);
    }
  };
  map(0, 0);
  // Occasional damage: a line re-indented, repeated or dropped; a trailing space.
  for (let k = 0; k < 2; k++) {
    if (random() > 0.25 || lines.length < 2) continue;
    const at = Math.floor(random() * lines.length);
    const op = random();
    if (op < 0.4) lines[at] = pick([' ', '  ', '']) + lines[at].replace(/^ /, '');
    else if (op < 0.6) lines.splice(at, 0, lines[at]);
    else if (op < 0.8) lines.splice(at, 1);
    else lines[at] += ' ';
  }
  return lines.join('\n') + pick(['\n', '', '\n\n', '\n# end\n']);
}

test('plain yaml - whatever the line scanner accepts reads as the positioned parser reads it (seeded random documents)', (t) => {
  const { random, seed } = seededRandom(t);
  const pick: Pick = (xs) => xs[Math.floor(random() * xs.length)];
  let accepted = 0;
  const total = 6000;
  for (let i = 0; i < total; i++) {
    const text = document(pick, random);
    const got = parsePlainYaml(text);
    if (got === undefined) continue;
    accepted++;
    const want = spec(text);
    assert.notEqual(want, undefined, `seed ${seed}: accepted a text the positioned parser refuses or warns about:\n${text}`);
    assert.deepStrictEqual(got, want, `seed ${seed}:\n${text}`);
    // And as the tier before it would have: fastParse (the scanner first) gives the same data.
    const fast = fastParse(text);
    if (fast !== undefined) assert.deepStrictEqual(fast, want, `seed ${seed} (fastParse):\n${text}`);
  }
  t.diagnostic(`${accepted} of ${total} documents read by the line scanner`);
  assert.ok(accepted > total / 4, `the scanner took too few documents (${accepted})`);
});

test('plain yaml - a list longer than the limit, empty, comment-only and indented documents are left to the other parsers', () => {
  const items = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);
  assert.deepEqual(parsePlainYaml(`a: [${items(3).join(', ')}]\n`, 3), { a: ['r0', 'r1', 'r2'] });
  assert.equal(parsePlainYaml(`a: [${items(4).join(', ')}]\n`, 3), undefined);
  assert.equal(parsePlainYaml(`a:\n${items(4).map((x) => `- ${x}`).join('\n')}\n`, 3), undefined);
  for (const text of ['', '\n', '# only a comment\n', '  a: 1\n', 'a: 1\r\nb: 2\r\n', '\ufeffa: 1\n', 'a: 1\n...\n', '---\na: 1\n', '- a\n- b\n', 'just text\n']) {
    assert.equal(parsePlainYaml(text), undefined, JSON.stringify(text));
  }
});

test('plain yaml - plain scalars resolve as the core schema does (seeded random scalars)', (t) => {
  const { random, seed } = seededRandom(t);
  const chars = ['0', '1', '7', '9', 'x', 'o', 'e', 'E', '.', '-', '+', '~', 'n', 'u', 'l', 'N', 'U', 'L', 't', 'r', 'T', 'R', 'f', 'a', 's', 'F', 'A', 'S', 'i', 'I', 'b', '_', ':', '/'];
  for (let n = 0; n < 20000; n++) {
    const s = random() < 0.3 ? pick() : Array.from({ length: 1 + Math.floor(random() * 6) }, () => chars[Math.floor(random() * chars.length)]).join('');
    const want = spec(`k: ${s}\n`);
    if (want === undefined) continue;
    assert.deepStrictEqual({ k: resolvePlain(s) }, want, `seed ${seed}: ${JSON.stringify(s)}`);
  }
  function pick() {
    return PLAIN_SCALARS[Math.floor(random() * PLAIN_SCALARS.length)];
  }
});
