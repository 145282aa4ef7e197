import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildRecord } from '../../schema/status.ts';
import { parseRecord, recordKindOf } from '../../reconciler/status/parse-record.ts';
import { buildRecordFile, gateRecordFile, releaseRecordFile, sameRecord, serializeRecord, withoutUndefined } from '../../reconciler/status/records.ts';
import { isDeepStrictEqual } from 'node:util';
import { seededRandom } from '../helpers/seeded.ts';

const KEY = 'a'.repeat(64);

function build(overrides: Partial<BuildRecord> = {}): BuildRecord {
  return {
    key: KEY,
    inputs: {
      package: 'hello',
      version: '1.0',
      source: { url: 'https://git.example/hello.git', commit: 'c'.repeat(40) },
      recipe: { format: 'deb', rebuild: 0 },
      image: 'kiln/bookworm-debhelper',
      arch: 'amd64',
      target: 'stable',
    },
    pool: 'default',
    state: 'queued',
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z' }],
    desiredCommit: 'd'.repeat(40),
    ...overrides,
  };
}

test('status records - serialisation is independent of key order', () => {
  const a = build();
  const reversed = Object.fromEntries(Object.entries(a).reverse()) as BuildRecord;
  assert.equal(serializeRecord(reversed), serializeRecord(a));
  const text = serializeRecord(a);
  const top = text.split('\n').filter((l) => /^[a-zA-Z]/.test(l)).map((l) => l.split(':')[0]);
  assert.deepEqual(top, [...top].sort());
});

test('status records - undefined fields are dropped and strings that look like numbers stay strings', () => {
  const r = build({ retryAt: undefined, inputs: { ...build().inputs, version: '1.10' } });
  const text = serializeRecord(r);
  assert.ok(!text.includes('retryAt'));
  const parsed = parseRecord(`builds/${KEY}.yaml`, text);
  assert.ok(parsed.ok);
  assert.equal((parsed.value.record as BuildRecord).inputs.version, '1.10');
});

test('status records - multi-line log tails round-trip without folding', () => {
  const tail = 'line one\n  indented: two\n' + 'x'.repeat(300) + '\n';
  const r = build({ state: 'failed', failure: { class: 'build', reason: 'exit 2', retryable: false, logTail: tail } });
  const [path, text] = buildRecordFile(r);
  const parsed = parseRecord(path, text);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.record, r);
});

test('status records - record files land at their layout path and parse back to the same id', () => {
  const [gp, gt] = gateRecordFile({ distribution: 'stable', from: 'testing', package: 'hello', version: '1.0-1', verdict: 'passed', at: '2026-01-01T00:00:00Z' });
  assert.equal(gp, 'gates/stable/hello_1.0-1.yaml');
  const g = parseRecord(gp, gt);
  assert.ok(g.ok);
  assert.equal(g.value.kind, 'gate');
  assert.equal(g.value.id, 'stable/hello/1.0-1');
  const [rp, rt] = releaseRecordFile({ distribution: 'stable', desiredCommit: 'd'.repeat(40), packages: [] });
  assert.equal(rp, 'releases/stable.yaml');
  const rel = parseRecord(rp, rt);
  assert.ok(rel.ok && rel.value.id === 'stable');
});

test('status records - a YAML syntax error names the path and line', () => {
  const r = parseRecord(`builds/${KEY}.yaml`, 'key: x\ninputs: [\n');
  assert.ok(!r.ok);
  assert.equal(r.problem.path, `builds/${KEY}.yaml`);
  assert.ok(r.problem.line && r.problem.line >= 2, `line ${r.problem.line}`);
  assert.match(r.problem.message, /^YAML/);
});

test('status records - a schema error names the field and its line', () => {
  const text = serializeRecord(build()).replace('state: queued', 'state: exploded');
  const r = parseRecord(`builds/${KEY}.yaml`, text);
  assert.ok(!r.ok);
  assert.equal(r.problem.field, '/state');
  const expectedLine = text.split('\n').findIndex((l) => l.startsWith('state:')) + 1;
  assert.equal(r.problem.line, expectedLine);
});

test('status records - a record at the wrong path is refused', () => {
  const r = parseRecord(`builds/${'b'.repeat(64)}.yaml`, serializeRecord(build()));
  assert.ok(!r.ok);
  assert.match(r.problem.message, /belongs at builds\/a{64}\.yaml/);
});

test('status records - only record directories hold records', () => {
  assert.equal(recordKindOf('builds/x.yaml'), 'build');
  assert.equal(recordKindOf('checks/abc.yaml'), 'check');
  assert.equal(recordKindOf('gates/stable/hello_1.yaml'), 'gate');
  assert.equal(recordKindOf('signatures/abc.asc'), undefined);
  assert.equal(recordKindOf('README.md'), undefined);
  assert.equal(recordKindOf('builds.yaml'), undefined);
});

test('status records - sameRecord answers as isDeepStrictEqual of the copies without undefined members, on random pairs', (t) => {
  const { random, seed } = seededRandom(t);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const leaf = () => pick<unknown>([undefined, null, 0, -0, 1, NaN, '', 'a', '1', true, false]);
  const value = (depth: number): unknown => {
    const r = random();
    if (depth <= 0 || r < 0.4) return leaf();
    if (r < 0.6) return Array.from({ length: Math.floor(random() * 3) }, () => value(depth - 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 4); i > 0; i--) o[pick(['a', 'b', 'c', 'd'])] = value(depth - 1);
    return o;
  };
  // A variant of v: mostly equal, sometimes an undefined member added or a value changed.
  const variant = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((x) => (random() < 0.1 ? value(1) : variant(x)));
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (random() > 0.05) o[k] = random() < 0.1 ? value(1) : variant(x);
      if (random() < 0.3) o[pick(['e', 'f'])] = undefined;
      return o;
    }
    return random() < 0.1 ? leaf() : v;
  };
  let equal = 0;
  for (let i = 0; i < 3000; i++) {
    const a = value(4);
    const b = random() < 0.5 ? variant(a) : value(4);
    const expected = isDeepStrictEqual(withoutUndefined(a), withoutUndefined(b));
    if (expected) equal++;
    assert.equal(sameRecord(a, b), expected, `seed ${seed} case ${i}: ${JSON.stringify([a, b])}`);
    assert.equal(sameRecord(b, a), expected, `seed ${seed} case ${i} (swapped)`);
  }
  assert.ok(equal > 300, `enough equal pairs drawn (${equal})`);
});
