// parse-file + schema-errors + yaml-positions: bytes in, diagnostics with file:line:col out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineCounter, parseDocument } from 'yaml';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseFile, parseFilePositioned, type ParsedFile } from '../../reconciler/desired/parse-file.ts';
import { ODD_KEY, oddKey } from '../../reconciler/desired/yaml-core-scalars.ts';
import { configText, distributionText, packageText, type Gen, type Pick } from '../fixtures/metadata-texts.ts';
import { seededRandom } from '../helpers/seeded.ts';
import { fieldName, indexPositions, lookup } from '../../reconciler/desired/yaml-positions.ts';

const F = 'packages/hello.yaml';
const diag = (text: string, kind: 'package' | 'distribution' | 'config' = 'package') =>
  parseFile(F, kind, Buffer.from(text)).diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`);

const VALID = 'name: hello\nversion: 1.0-1\nsource:\n  git: ../src\n  ref: main\nformat: deb\narchitectures: [amd64]\n';

test('yaml positions - JSON pointers map to the line:col of values and keys', () => {
  const lc = new LineCounter();
  const doc = parseDocument('a:\n  b: [x, {c: 1}]\n"d/e": 2\n', { lineCounter: lc });
  const idx = indexPositions(doc, lc);
  assert.deepEqual(lookup(idx, '/a/b/1/c'), { line: 2, col: 14 });
  assert.deepEqual(lookup(idx, '/a/b/1/c', 'key'), { line: 2, col: 11 });
  assert.deepEqual(lookup(idx, '/d~1e'), { line: 3, col: 8 });
  assert.deepEqual(lookup(idx, '/a/b/7/zz'), { line: 2, col: 6 }, 'missing pointers fall back to the nearest ancestor');
  assert.equal(fieldName('/source/ref'), 'source.ref');
  assert.equal(fieldName('/release/1'), 'release[1]');
  assert.equal(fieldName(''), '');
});

test('parse file - a valid package has no diagnostics and a typed doc', () => {
  const r = parseFile(F, 'package', Buffer.from(VALID));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.kind === 'package' && r.doc?.source.ref, 'main');
});

test('parse file - schema errors point at the value, the key, or the parent map', () => {
  assert.deepEqual(diag(VALID.replace('ref: main', 'ref: main\n  branch: x')), [
    "6:3 unknown key 'branch' in source (known keys: git, ref, subdir)",
  ]);
  assert.deepEqual(diag(VALID.replace('version: 1.0-1\n', '')), ["1:1 missing required key 'version'"]);
  assert.deepEqual(diag(VALID.replace('  ref: main\n', '')), ["4:3 source: missing required key 'ref'"]);
  assert.deepEqual(diag(VALID.replace('[amd64]', '[amd64, amd64]')), ["7:24 architectures: 'amd64' is listed twice (items 0 and 1)"]);
  assert.deepEqual(diag(VALID.replace('format: deb', 'format: ebuild')), ["6:9 format: unknown value 'ebuild'; expected one of: deb, oci, rpm"]);
  assert.deepEqual(diag(VALID.replace('format: deb', 'format: rpm')), ["1:1 missing required key 'spec'"]);
  assert.deepEqual(diag(VALID.replace('1.0-1', 'true')), ['2:10 version: expected a string, found a boolean (quote it: "true")']);
  assert.deepEqual(diag(VALID + 'rebuild: -1\n'), ['8:10 rebuild: must be >= 0']);
});

test('parse file - YAML problems: syntax, duplicate keys, multiple documents, aliases', () => {
  assert.match(diag('name: [\n')[0], /^\d+:\d+ YAML: /);
  assert.deepEqual(diag('name: a\nname: b\n'), ['2:1 YAML: Map keys must be unique']);
  assert.match(diag(VALID + '---\nname: x\n')[0], /^8:1 YAML: /);
  const bomb = 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n';
  assert.match(diag(bomb)[0], /^2:8 too many YAML alias expansions \(limit 50\)/);
  // A few aliases are fine: YAML anchors are a legitimate way to share lists.
  const shared = 'name: hello\nversion: 1.0-1\nsource: {git: a, ref: b}\nformat: deb\narchitectures: &arch [amd64]\nrelease: []\n';
  assert.deepEqual(diag(shared), []);
});

test('parse file - bounds and encoding are checked before YAML', () => {
  assert.deepEqual(diag(''), ['1:1 file is empty; expected a package (name, version, source, format, architectures, …)']);
  assert.deepEqual(diag('# nothing here\n'), ['1:1 file is empty; expected a package (name, version, source, format, architectures, …)']);
  assert.deepEqual(diag('- a\n'), ['1:1 expected the file to be a map (key: value), found a list']);
  const big = Buffer.alloc(256 * 1024 + 1, 'a');
  assert.deepEqual(parseFile(F, 'package', big).diagnostics.map((d) => d.message), [`file is ${256 * 1024 + 1} bytes; metadata files are limited to 262144 bytes (not parsed)`]);
  const latin1 = Buffer.concat([Buffer.from('name: caf'), Buffer.from([0xe9])]);
  assert.deepEqual(parseFile(F, 'package', latin1).diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`), ['1:10 invalid UTF-8 at byte 9: metadata files must be UTF-8 text']);
});

test('parse file - kiln.yaml pool names and unknown architectures get friendly messages', () => {
  assert.deepEqual(diag('pools:\n  Big Pool: {architectures: [amd64]}\n', 'config'), [
    "2:3 pools: 'Big Pool' is not allowed: a pool name must be 1-31 characters of lowercase letters, digits, _ - starting with a letter or digit",
  ]);
  assert.deepEqual(diag('name: tt\nformat: apt\nsuite: tt\narchitectures: [amd46]\n', 'distribution'), [
    "4:17 architectures[0]: unknown architecture 'amd46'; did you mean 'amd64'?; expected one of: amd64, arm64, armhf, armel, i386, ppc64el, s390x, riscv64, mips64el, all",
  ]);
});

test('parse file - overlong lists are refused before schema validation', () => {
  const items = Array.from({ length: 1001 }, () => 'amd64').join(', ');
  assert.deepEqual(diag(`name: hello\narchitectures: [${items}]\n`), ['2:16 architectures: a list of 1001 items; the limit is 1000']);
});

test('parse file - at most 50 schema diagnostics per file, then a summary', () => {
  const items = Array.from({ length: 200 }, (_, i) => `x${i}`).join(', ');
  const out = diag(VALID.replace('[amd64]', `[${items}]`));
  assert.equal(out.length, 51);
  assert.match(out[50], /and more schema errors in this file \(showing the first 50\)/);
});

test('desired parse - CR-only line endings, YAML tags beyond JSON types and invisible characters get messages that say so', () => {
  const msgs = (text: string) => parseFile('packages/x.yaml', 'package', Buffer.from(text)).diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`);
  assert.match(msgs('# hello\rname: x\r')[0], /^1:8 line endings are CR only/);
  assert.match(msgs('name: x\nversion: 1\r\nsource: x\rformat: deb\n')[0], /^3:10 line endings are CR only/, 'a lone CR among LF and CRLF lines');
  for (const tag of ['!!binary aGVsbG8=', '!!set {a}', '!!timestamp 2001-01-01', '!!omap [a: 1]', '!local x']) {
    const shown = tag.split(' ')[0];
    assert.match(msgs(`name: ${tag}\n`)[0], new RegExp(`^1:\\d+ YAML tag '${shown}' is not supported`), tag);
  }
  assert.deepEqual(msgs('name: !!str hello\nversion: !!str 1.0-1\nsource: {git: /x, ref: main}\nformat: deb\narchitectures: [amd64]\n'), [], 'the JSON-type tags are fine');
  assert.match(msgs('name: "he\u200bllo"\n').join('\n'), /name: 'he\\u\{200B\}llo' is not allowed/);
});

/** Every .yaml under a directory, with the kind its path gives it. */
function yamlFiles(root: string): Array<{ path: string; kind: 'package' | 'distribution' | 'config'; text: string }> {
  const out: Array<{ path: string; kind: 'package' | 'distribution' | 'config'; text: string }> = [];
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.yaml')) continue;
    const full = join(e.parentPath, e.name);
    const kind = e.name === 'kiln.yaml' ? 'config' : full.includes('/distributions/') ? 'distribution' : 'package';
    out.push({ path: relative(root, full), kind, text: readFileSync(full, 'utf8') });
  }
  return out;
}

/** What a parse answers (the fast path's positions come from a getter, worked out when asked for). */
const answer = (p: ParsedFile) => ({ path: p.path, kind: p.kind, doc: p.doc, diagnostics: p.diagnostics, positions: p.positions });

test('desired parse file - the fast path gives the positioned parser’s answer (doc, diagnostics, positions) on the corpus, the examples and random mutations of them', (t) => {
  const { random, seed } = seededRandom(t);
  const pick: Pick = (xs) => xs[Math.floor(random() * xs.length)];
  const root = new URL('../../', import.meta.url).pathname;
  const files = [...yamlFiles(join(root, 'test/corpus')), ...yamlFiles(join(root, 'examples'))];
  const g: Gen = { pick, either: (good, bad) => (random() < 0.2 ? pick(bad) : pick(good)) };
  for (let i = 0; i < 50; i++) files.push({ path: `packages/p${i}.yaml`, kind: 'package', text: packageText(`p${i}`, g) });
  for (let i = 0; i < 10; i++) files.push({ path: 'kiln.yaml', kind: 'config', text: configText(g) }, { path: 'distributions/testing.yaml', kind: 'distribution', text: distributionText('testing', g) });
  // Mutations: YAML-significant characters inserted, lines repeated, dropped or re-indented, scalars retyped.
  const INSERTS = [' ', '  ', '\n', ':', '- ', '[', ']', '{', '}', ',', '#', "'", '"', '|', '>', '?', '~', '0x1F', '-.inf', '1e3', '0o7', '+1', 'null', 'True', '\\', '@', '`', ': x'];
  const mutate = (text: string): string => {
    const lines = text.split('\n');
    const at = Math.floor(random() * lines.length);
    const op = random();
    if (op < 0.5) {
      const col = Math.floor(random() * (lines[at].length + 1));
      lines[at] = lines[at].slice(0, col) + pick(INSERTS) + lines[at].slice(col);
    } else if (op < 0.65) lines.splice(at, 0, lines[at]);
    else if (op < 0.75) lines.splice(at, 1);
    else if (op < 0.9) lines[at] = (random() < 0.5 ? '  ' : '') + lines[at].replace(/^ {1,2}/, random() < 0.5 ? '' : ' ');
    else lines[at] = lines[at].replace(/: .*$/, `: ${pick(['1.10', '017', '0x10', '.nan', '-0', 'yes', '~', '"1"', "'x'", '[a, b]', '{a: 1}', '|\n  text'])}`);
    return lines.join('\n');
  };
  const base = files.length;
  for (let i = 0; i < 1500; i++) {
    const f = files[Math.floor(random() * base)];
    let text = f.text;
    for (let k = 0, n = 1 + Math.floor(random() * 3); k < n; k++) text = mutate(text);
    files.push({ ...f, text });
  }
  let fast = 0;
  for (const f of files) {
    const bytes = Buffer.from(f.text);
    const spec = parseFilePositioned(f.path, f.kind, bytes);
    const got = parseFile(f.path, f.kind, bytes);
    if (got.doc !== undefined && !Object.hasOwn(got, 'positions')) fast++;
    assert.deepEqual(answer(got), answer(spec), `seed ${seed}: ${f.path}\n${f.text}`);
  }
  t.diagnostic(`${files.length} files, ${fast} by the fast path`);
  assert.ok(fast > 100, 'the fast path was taken');
});

test('parse file - the fast path refuses a list past the limit in its one walk, as the positioned parser does (1000 and 1001 items)', () => {
  for (const n of [1000, 1001]) {
    const items = Array.from({ length: n }, (_, i) => `r${i}`).join(', ');
    for (const text of [`${VALID}release: [${items}]\n`, `${VALID}x:\n  y: [${items}]\n`]) {
      assert.deepEqual(answer(parseFile(F, 'package', Buffer.from(text))), answer(parseFilePositioned(F, 'package', Buffer.from(text))), `${n} items`);
    }
  }
});

test('fast yaml - the odd-key pre-check answers as the ODD_KEY pattern on seeded random keys', (t) => {
  const { random } = seededRandom(t);
  const chars = ['a', 'f', 'n', 't', 'z', 'N', 'I', '_', '-', '+', '.', '0', '9', 'e', 'E', 'é', ' ', 'x'];
  const known = ['', 'null', 'true', 'false', 'NaN', '-Infinity', 'Infinity', '__proto__', '1e5', '.5', 'name', 'format', 'nullx', 'truee', 'f'];
  for (let n = 0; n < 20000; n++) {
    const k = random() < 0.2 ? known[Math.floor(random() * known.length)] : Array.from({ length: Math.floor(random() * 6) }, () => chars[Math.floor(random() * chars.length)]).join('');
    assert.equal(oddKey(k), ODD_KEY.test(k), JSON.stringify(k));
  }
});
