// Whether an oci agent's host can build its architecture (agents/oci-emulation.ts),
// read from a binfmt_misc directory: natively, under an enabled qemu entry with flag F, or not.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { emulationProblem } from '../../agents/oci-emulation.ts';
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
