import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildRecord } from '../../schema/status.ts';
import { parseRecord, recordKindOf } from '../../reconciler/status/parse-record.ts';
import { buildRecordFile, gateRecordFile, releaseRecordFile, serializeRecord } from '../../reconciler/status/records.ts';

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
