// The fast record writer must write exactly what the yaml library writes (an
// unchanged record must keep its blob), for any value: random records, random
// strings full of YAML's special characters, and the records a pass writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { recordYaml, RECORD_YAML_OPTIONS } from '../../reconciler/status/record-yaml.ts';
import { seededRandom } from '../helpers/seeded.ts';

const PIECES = ['a', 'Z', '0', '1', '.', '-', '_', ':', ' ', '#', '"', "'", '\\', '\n', '\t', '?', '!', '&', '*', '[', ']', '{', '}', ',', '%', '@', '`', '|', '>', '~', '+', '/', 'é', '\u2028', '\u0007', 'true', 'null', 'yes', '0x1f', '1e3', '.inf', '---', '...', '2026-11-30T07:18:11.000Z', '1.0', '-1'];
const KEYS = ['key', 'attempt', 'state', 'a', 'b', 'Zed', 'with-dash', 'under_score', 'true', 'null', '1', 'has space', 'x:y', '-'];

function randomString(random: () => number): string {
  let s = '';
  for (let i = 0, n = Math.floor(random() * 5); i < n; i++) s += PIECES[Math.floor(random() * PIECES.length)];
  return s;
}

function randomValue(random: () => number, depth: number): unknown {
  const r = random();
  if (depth > 0 && r < 0.2) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth - 1));
  if (depth > 0 && r < 0.4) return randomMap(random, depth - 1);
  if (r < 0.5) return Math.floor((random() - 0.5) * 1e6);
  if (r < 0.55) return (random() - 0.5) * 10 ** Math.floor(random() * 30);
  if (r < 0.6) return random() < 0.5;
  if (r < 0.63) return null;
  return randomString(random);
}

function randomMap(random: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0, n = Math.floor(random() * 5); i < n; i++) out[KEYS[Math.floor(random() * KEYS.length)]] = randomValue(random, depth);
  return out;
}

test('record yaml - equals the yaml library byte for byte on random records', (t) => {
  const { random, seed } = seededRandom(t);
  for (let i = 0; i < 5000; i++) {
    const record = random() < 0.9 ? randomMap(random, 4) : randomValue(random, 4);
    assert.equal(recordYaml(record), stringify(record, RECORD_YAML_OPTIONS), `seed ${seed} case ${i}: ${JSON.stringify(record)}`);
  }
});

test('record yaml - a build record as a pass writes it, and reads back to the same data', () => {
  const record = {
    key: 'a'.repeat(64), attempt: 2, state: 'succeeded', pool: 'deb', agent: 'host-deb-amd64-12',
    inputs: { package: 'hello', version: '1.0', arch: 'amd64', source: { url: '/src/hello', commit: 'b'.repeat(40) }, recipe: { format: 'deb', rebuild: 0 } },
    artifacts: [{ name: 'hello_1.0_amd64.deb', sha256: 'c'.repeat(64), size: 712 }],
    dispatchedAt: '2026-11-30T07:18:11.000Z', reason: 'not publishable: hello_1.0_amd64.deb: Version 1.1, not 1.0', logTail: 'line one\nline two',
    limits: { cpus: 0.5, memoryMiB: 512 }, binaries: [], extra: {},
  };
  const text = recordYaml(record);
  assert.equal(text, stringify(record, RECORD_YAML_OPTIONS));
  assert.deepEqual(parse(text), record);
  const { logTail: _l, ...oneLine } = record;
  assert.equal(recordYaml(oneLine), stringify(oneLine, RECORD_YAML_OPTIONS));
});
