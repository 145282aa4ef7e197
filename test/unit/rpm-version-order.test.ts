// rpm's version order, checked against rpm's own rpm.vercmp (Debian `rpm` on the
// host) on a table of the cases rpmvercmp.c special-cases, and on seeded random
// [E:]V-R pairs built to sit close to each other (the seed is printed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededRandom } from '../helpers/seeded.ts';
import { compareEvr, parseEvr, rpmVersionProblem } from '../../rpm/version-order.ts';

const PAIRS: [string, string][] = [
  ['1.0-1', '1.0-1'], ['1.0-1', '1.0-2'], ['1.0-1', '1.1-1'], ['1.0-10', '1.0-9'], ['1.0~rc1-1', '1.0-1'],
  ['1.0^git1-1', '1.0-1'], ['1.0^git1-1', '1.0.1-1'], ['1.0~rc1^p1-1', '1.0~rc1-1'], ['1:1.0-1', '2.0-1'], ['0:1.0-1', '1.0-1'],
  ['1.0a-1', '1.0.1-1'], ['1.0a-1', '1.0-1'], ['1.001-1', '1.1-1'], ['1.0.0-1', '1.0-1'], ['2.0-1.fc40', '2.0-1.fc39'],
  ['1.a-1', '1.1-1'], ['1_0-1', '1.0-1'], ['1.0-1~', '1.0-1'], ['10-1', '9-1'], ['a-1', 'b-1'], ['1.0~~-1', '1.0~-1'],
];

const sign = (n: number) => Math.sign(n);

function rpmSays(a: string, b: string): number | undefined {
  try {
    return Number(execFileSync('rpm', ['--eval', `%{lua:print(rpm.vercmp("${a}","${b}"))}`]).toString().trim());
  } catch {
    return undefined;
  }
}

const rpmMissing = rpmSays('1', '1') === undefined ? 'rpm is not installed on the host (scripts/setup-host installs it)' : undefined;

test('rpm version order - agrees with rpm.vercmp on every pair, both ways', { skip: rpmMissing }, () => {
  for (const [a, b] of PAIRS) {
    assert.equal(sign(compareEvr(a, b)), rpmSays(a, b), `${a} vs ${b}`);
    assert.equal(sign(compareEvr(b, a)), rpmSays(b, a), `${b} vs ${a}`);
  }
});

test('rpm version order - EVR split and validity', () => {
  assert.deepEqual(parseEvr('2:1.0-1.el9'), { epoch: 2, version: '1.0', release: '1.el9' });
  assert.deepEqual(parseEvr('1.0-1-2'), { epoch: 0, version: '1.0-1', release: '2' });
  assert.equal(rpmVersionProblem('1.0-1'), undefined);
  assert.equal(rpmVersionProblem('1:1.0~rc1-0.1'), undefined);
  assert.match(rpmVersionProblem('1.0')!, /expected \[EPOCH:\]VERSION-RELEASE/);
  assert.match(rpmVersionProblem('1.0 -1')!, /not an rpm version/);
});

/** rpm.vercmp on every pair in one rpm process: the pairs go through a file its Lua reads. */
function rpmSaysAll(pairs: [string, string][]): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-vercmp-'));
  try {
    const file = join(dir, 'pairs');
    writeFileSync(file, pairs.map(([a, b]) => `${a} ${b}\n`).join(''));
    // No '%' in the Lua: rpm would take it for a macro.
    const lua = `for line in io.lines("${file}") do local i = line:find(" ", 1, true); print(rpm.vercmp(line:sub(1, i - 1), line:sub(i + 1)) .. " ") end`;
    // rpm's Lua print() adds no newline: the answers come space-separated.
    return execFileSync('rpm', ['--eval', `%{lua:${lua}}`], { maxBuffer: 64 << 20 }).toString().trim().split(/\s+/).map(Number);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A random version part made of the characters rpm treats specially, short enough that pairs often tie on a prefix. */
function versionPart(random: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const segments = 1 + Math.floor(random() * 4);
  let out = '';
  for (let i = 0; i < segments; i++) {
    if (i > 0 || random() < 0.1) out += pick(['.', '.', '.', '_', '+', '~', '^', '..', '~~', '.~', '^.']);
    out += random() < 0.7 ? pick(['0', '00', '1', '01', '2', '9', '10', '11', '100', '007']) : pick(['a', 'b', 'rc', 'RC', 'git', 'beta', 'z', 'fc40', 'el9']);
  }
  if (random() < 0.15) out += pick(['~', '^', '~rc1', '^git1', '.', 'a']);
  return out;
}

/** A neighbour of `v`: one part changed, so the comparison reaches deep into the strings. */
function neighbour(v: string, random: () => number): string {
  const r = random();
  if (r < 0.25) return v + versionPart(random);
  if (r < 0.45) return v.replace(/\d+/, (d) => String(Number(d) + (random() < 0.5 ? 1 : 0)).padStart(random() < 0.3 ? d.length + 1 : 0, '0'));
  if (r < 0.6) return v.replace(/[.~^_+]/, () => ['.', '~', '^', '_', '+'][Math.floor(random() * 5)]);
  return versionPart(random);
}

test('rpm version order - agrees with rpm.vercmp on 4,000 seeded random [E:]V-R pairs, both ways', { skip: rpmMissing }, (t) => {
  const { random } = seededRandom(t);
  const evr = (epoch: number, v: string, r: string) => `${epoch ? `${epoch}:` : random() < 0.1 ? '0:' : ''}${v}-${r}`;
  const pairs: [string, string][] = [];
  for (let i = 0; i < 2000; i++) {
    const [v, r] = [versionPart(random), versionPart(random)];
    const sameEpoch = random() < 0.85;
    const e = Math.floor(random() * 3);
    const a = evr(e, v, r);
    const b = random() < 0.5 ? evr(sameEpoch ? e : Math.floor(random() * 3), neighbour(v, random), r) : evr(sameEpoch ? e : Math.floor(random() * 3), v, neighbour(r, random));
    // Only versions Kiln accepts in metadata.
    if (rpmVersionProblem(a) || rpmVersionProblem(b)) continue;
    pairs.push([a, b], [b, a]);
  }
  assert.ok(pairs.length > 3000, `${pairs.length} pairs generated`);
  const said = rpmSaysAll(pairs);
  assert.equal(said.length, pairs.length);
  const wrong = pairs.map(([a, b], i) => ({ a, b, kiln: sign(compareEvr(a, b)), rpm: said[i] })).filter((x) => x.kiln !== x.rpm);
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${pairs.length} pairs disagree`);
});
