// The install-smoke gate on the real Docker Engine with real apt: a repository
// published by publishApt, installed from in a network-less container.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import pino from 'pino';
import { runInstallSmokeGate } from '../../reconciler/gate/install-smoke.ts';
import { keyFileName, publishApt } from '../../reconciler/publish/index.ts';
import { validators } from '../../schema/validate.ts';
import { writeDeb } from '../helpers/deb.ts';
import { makeTestKey } from '../helpers/signed-repo.ts';
import { aptDistribution } from '../helpers/distribution.ts';
import { BASE_IMAGE, dockerUnavailable } from '../helpers/docker.ts';

const IMAGE = BASE_IMAGE;
const skip = await dockerUnavailable(BASE_IMAGE);
const docker = new Docker();
const log = pino({ level: 'silent' });
let root: string;
let keyPath: string;

const testing = aptDistribution('testing', { architectures: ['amd64', 'all'] });

before(async () => {
  if (skip) return;
  root = await mkdtemp(join(tmpdir(), 'kiln-gate-'));
  await chmod(root, 0o755); // apt's _apt user reads the bind-mounted repo
  const debs = join(root, 'debs');
  await mkdir(debs);
  const key = await makeTestKey('kiln-reconciler');
  const good = await writeDeb(debs, { name: 'hello', version: '1.0-1', script: 'echo "hello from kiln"' });
  const broken = await writeDeb(debs, { name: 'broken', version: '2.0-1', script: 'echo "I crash" >&2; exit 3' });
  await publishApt({
    root,
    distribution: testing,
    signer: key.signer,
    now: new Date(),
    packages: [good, broken].map((d) => ({ name: d.package, version: d.version, arch: d.arch, files: [{ name: d.name, sha256: d.sha256, size: d.size, path: d.path }] })),
  });
  keyPath = join(root, 'testing', keyFileName('testing'));
});
after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const gate = (pkg: string, version: string, smoke?: string) =>
  runInstallSmokeGate({ docker, image: IMAGE, repoRoot: root, fromDist: testing, keyPath, package: pkg, version, smoke, timeoutSeconds: 120, log, distribution: 'stable' });

describe('gate - install-smoke', { skip }, () => {
  test('gate - a good package installs from the signed repo and passes its smoke command', async () => {
    // The smoke command also checks the container has no network but loopback.
    const r = await gate('hello', '1.0-1', 'test "$(hello)" = "hello from kiln" && test "$(grep -c : /proc/net/dev)" = 1 && grep -q "lo:" /proc/net/dev');
    assert.equal(r.verdict, 'passed', `${r.reason}\n${r.logTail}`);
    assert.equal(r.distribution, 'stable');
    assert.equal(r.from, 'testing');
    assert.match(r.logTail ?? '', /install ok installed 1\.0-1/);
    assert.ok(validators.gateRecord(r), JSON.stringify(validators.gateRecord.errors));
  });

  test('gate - a package whose smoke command fails is refused, with the reason', async () => {
    const r = await gate('broken', '2.0-1', 'broken');
    assert.equal(r.verdict, 'failed');
    assert.match(r.reason ?? '', /smoke command failed: broken/);
    assert.match(r.logTail ?? '', /I crash/);
    assert.ok(validators.gateRecord(r));
  });

  test('gate - a version that is not in the repository fails at install', async () => {
    const r = await gate('hello', '9.9-1');
    assert.equal(r.verdict, 'failed');
    assert.match(r.reason ?? '', /apt-get install hello=9\.9-1 failed: E: Version '9\.9-1' for 'hello' was not found/);
    const missing = await gate('absent', '1.0');
    assert.equal(missing.verdict, 'failed');
    assert.match(missing.reason ?? '', /Unable to locate package absent/);
  });

  test('gate - a repository signed by another key fails at apt-get update', async () => {
    const other = await makeTestKey('someone-else');
    const wrongKey = join(root, 'wrong.asc');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(wrongKey, other.publicKeyArmored);
    const r = await runInstallSmokeGate({ docker, image: IMAGE, repoRoot: root, fromDist: testing, keyPath: wrongKey, package: 'hello', version: '1.0-1', timeoutSeconds: 120, log });
    assert.equal(r.verdict, 'failed');
    assert.match(r.reason ?? '', /apt-get update failed/);
    assert.match(r.logTail ?? '', /NO_PUBKEY|not signed|signature/i);
  });
});

test('gate - a missing image is an infrastructure error, not a failed verdict', { skip }, async () => {
  const { GateInfraError } = await import('../../schema/errors.ts');
  await assert.rejects(
    runInstallSmokeGate({ docker, image: 'kiln/no-such-image', repoRoot: root, fromDist: testing, keyPath, package: 'hello', version: '1.0-1', timeoutSeconds: 30, log }),
    (e: unknown) => e instanceof GateInfraError && /could not run in kiln\/no-such-image/.test(e.message),
  );
});
