// Whether a host can run an architecture's binaries (oci/emulation.ts: oci agents, the image-test gate),
// read from a binfmt_misc directory: natively, under an enabled qemu entry with flag F, or not.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { emulationProblem, platformEmulationProblem } from '../../oci/emulation.ts';
import { runImageTestGate } from '../../reconciler/gate/image-test.ts';
import { GateInfraError } from '../../schema/errors.ts';
import { emulatorFor } from '../../oci/platform.ts';

test('oci emulation - native architectures need nothing; a foreign one needs an enabled qemu entry with flag F', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-binfmt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(emulatorFor('amd64', 'x64'), undefined);
  assert.equal(emulatorFor('i386', 'x64'), undefined);
  assert.equal(emulatorFor('arm64', 'x64'), 'qemu-aarch64');
  assert.equal(emulatorFor('amd64', 'arm64'), 'qemu-x86_64');
  assert.equal(await emulationProblem('amd64', 'x64', dir), undefined);
  assert.match((await emulationProblem('arm64', 'x64', dir)) ?? '', /cannot run arm64 binaries: no .*qemu-aarch64; install qemu-user-static and binfmt-support and run update-binfmts --enable qemu-aarch64/);
  await writeFile(join(dir, 'qemu-aarch64'), 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n');
  assert.match((await emulationProblem('arm64', 'x64', dir)) ?? '', /qemu-aarch64 is disabled/);
  await writeFile(join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: P\n');
  assert.match((await emulationProblem('arm64', 'x64', dir)) ?? '', /lacks flag F/);
  await writeFile(join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n');
  assert.equal(await emulationProblem('arm64', 'x64', dir), undefined);
});

test('oci emulation - the image-test gate of a foreign image on a host without its emulator throws GateInfraError (no verdict), before touching Docker', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-binfmt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const touched: string[] = [];
  const docker = new Proxy({}, { get: (_, k) => touched.push(String(k)) && undefined }) as unknown as Docker;
  const image = `127.0.0.1:5000/kiln/hello@sha256:${'a'.repeat(64)}`;
  const gate = { docker, image, test: 'true', distribution: 'production', from: 'candidate', package: 'hello', version: '1.0-1', timeoutSeconds: 10, log: pino({ level: 'silent' }), platform: 'linux/arm64', host: { arch: 'x64', binfmtDir: dir } };
  await assert.rejects(runImageTestGate(gate), (e: unknown) => e instanceof GateInfraError && /cannot run .* \(linux\/arm64\) here: this x64 host cannot run arm64 binaries/.test(e.message));
  assert.equal(await platformEmulationProblem('linux/arm/v7', 'x64', dir).then((p) => /qemu-arm/.test(p ?? '')), true);
  assert.equal(await platformEmulationProblem('linux/arm64', 'arm64', dir), undefined, 'native');
  assert.deepEqual(touched, []);
});
