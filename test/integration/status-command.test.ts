// kiln status against a real repo whose kiln/status branch was written by recordPass.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { pino } from 'pino';
import type { CommandContext } from '../../reconciler/cli/command.ts';
import status from '../../reconciler/cli/commands/status.ts';
import { readEnv } from '../../reconciler/cli/env.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { buildRecordFile, gateRecordFile, releaseRecordFile } from '../../reconciler/status/records.ts';
import type { StatusSummary } from '../../reconciler/status/summary.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { git, makeRepo } from '../helpers/git.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ctx: CommandContext = { log: pino({ level: 'silent' }), env: readEnv({}, false), json: false, out: process.stdout, signal: new AbortController().signal };

function build(n: number, desired: string, state: BuildRecord['state'], extra: Partial<BuildRecord> = {}): BuildRecord {
  return {
    key: n.toString(16).padStart(64, '0'),
    inputs: { package: 'hello', version: `1.${n}`, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'img', arch: 'amd64', target: 'stable' },
    pool: 'default',
    state,
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z' }],
    desiredCommit: desired,
    ...extra,
  };
}

test('status command - shows head, desired commit, builds by state with failure reasons, releases and gates', async (t) => {
  const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'x: 1\n' });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = await generateKey({ name: 'Kiln', email: 'kiln@kiln.invalid' });
  const signer = await loadSigner(key.privateKeyArmored);
  const failed = build(2, desired, 'failed', { failure: { class: 'build', reason: 'dpkg-buildpackage exited 2', retryable: false } });
  const res = await recordPass({
    dir,
    cache: {},
    signer,
    build: () => ({
      files: new Map([
        buildRecordFile(build(1, desired, 'queued')),
        buildRecordFile(failed),
        buildRecordFile(build(3, desired, 'succeeded')),
        releaseRecordFile({ distribution: 'stable', desiredCommit: desired, packages: [{ name: 'hello', version: '1.3', builds: { amd64: build(3, desired, 'succeeded').key } }] }),
        gateRecordFile({ distribution: 'stable', from: 'testing', package: 'hello', version: '1.3', verdict: 'passed', at: '2026-01-01T00:00:00Z' }),
      ]),
      summary: 'record 3 builds, publish stable',
      trailers: { 'Kiln-Desired': desired },
    }),
  });

  const out = await status.run({ values: { repo: dir }, positionals: [] }, ctx);
  assert.equal(out.exitCode, 0);
  const s = out.data as StatusSummary;
  assert.equal(s.head?.commit, res.commit);
  assert.equal(s.head?.signed, true);
  assert.equal(s.desiredCommit, desired);
  assert.deepEqual(s.builds.byState, { queued: 1, succeeded: 1, failed: 1 });
  assert.equal(s.builds.failed[0].reason, 'dpkg-buildpackage exited 2');
  assert.deepEqual(s.releases, [{ distribution: 'stable', desiredCommit: desired, packages: [{ name: 'hello', version: '1.3' }] }]);
  assert.equal(s.gates[0].verdict, 'passed');
  const human = out.human!;
  assert.match(human, new RegExp(`^On kiln/status at ${res.commit!.slice(0, 12)} .*signed.*: record 3 builds, publish stable$`, 'm'));
  assert.match(human, /^Builds: 3 \(1 queued, 1 succeeded, 1 failed\)$/m);
  assert.match(human, /failed {2}hello 1\.2 amd64 {2}build: dpkg-buildpackage exited 2/);
  assert.match(human, /stable {2}1 package from .*: hello 1\.3/);

  // The real CLI prints the same data as JSON and exits 0; HEAD is untouched.
  const json = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(process.execPath, [join(ROOT, 'bin/kiln.js'), 'status', '--repo', dir, '--json', '-q'], { cwd: ROOT }, (err, stdout) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout }),
    ),
  );
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(s)));
  assert.equal(await git(dir, 'rev-parse', 'HEAD'), desired);
});

test('status command - a repo without a status branch says so and exits 0; no repo is an error', async (t) => {
  const { dir } = await makeRepo({ 'kiln.yaml': 'x: 1\n' });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = await status.run({ values: { repo: dir }, positionals: [] }, ctx);
  assert.equal(out.exitCode, 0);
  assert.equal((out.data as StatusSummary).head, null);
  assert.match(out.human!, /No status branch \(kiln\/status\) yet/);
  await assert.rejects(status.run({ values: { repo: join(dir, 'nope') }, positionals: [] }, ctx), { code: 'KILN_NOT_FOUND' });
});
