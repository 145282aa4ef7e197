// scripts/setup-host's arm64 part (issue 12 review, B1 and S1), run with the script sourced
// so single functions can be called. Where it matters it runs in a real unprivileged
// container of kiln/bookworm-buildd: binfmt_misc cannot be mounted there (the host for deb
// and rpm users that must not fail), and its dpkg/apt state is fresh, so whether the busybox
// download changed the host's apt is visible. An arm64 host cannot exist here: that case
// stubs `dpkg --print-architecture` and the image build, and checks only the decision.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { BASE_IMAGE, dockerUnavailable } from '../helpers/docker.ts';

const run = promisify(execFile);
const SCRIPTS = resolve(import.meta.dirname, '../../scripts');

/** `bash -c` in a throwaway container with the scripts mounted read-only; never rejects. */
async function inContainer(script: string, network = 'none', user?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = process.env.KILN_DEBIAN_MIRROR ? ['-e', `KILN_DEBIAN_MIRROR=${process.env.KILN_DEBIAN_MIRROR}`] : [];
  const args = ['run', '--rm', '--network', network, ...(user ? ['--user', user] : []), ...env, '-v', `${SCRIPTS}:/s:ro`, BASE_IMAGE, 'bash', '-c', script];
  return run('docker', args, { maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** A `dpkg` whose --print-architecture says `arch` (other calls go to the real dpkg). */
const hostArch = (arch: string) => `dpkg() { if [ "$1" = --print-architecture ]; then echo ${arch}; else command dpkg "$@"; fi; }`;

describe('setup-host arm64', { skip: await dockerUnavailable(BASE_IMAGE) }, () => {
  test('setup-host - without binfmt_misc (unprivileged container) multi-arch is skipped with a warning, setup goes on', async () => {
    // An amd64 host, whatever this one is: the case where emulation is needed.
    const r = await inContainer(`source /s/setup-host; ${hostArch('amd64')}; build_arm64_image() { echo BUILT; }; setup_arm64; echo "rc=$?"`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /setup: warning: multi-arch images unavailable: cannot mount binfmt_misc/);
    assert.doesNotMatch(r.stdout, /BUILT/);
    assert.match(r.stdout, /rc=0/);
  });

  test('setup-host - an arm64 busybox that cannot be downloaded (no network) is skipped with a warning, setup goes on', async () => {
    const r = await inContainer('source /s/setup-host; docker() { return 1; }; build_arm64_image; echo "rc=$?"');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /setup: warning: multi-arch images unavailable: apt-get download busybox-static:arm64 failed/);
    assert.match(r.stdout, /rc=0/);
  });

  test('setup-host - without root or sudo, arm64 emulation is skipped with a warning, setup goes on', async () => {
    const stubs = ['BINFMT_DIR=$(mktemp -d)', 'touch "$BINFMT_DIR/status"', 'build_arm64_image() { echo BUILT; }'].join('; ');
    const r = await inContainer(`source /s/setup-host; ${stubs}; ${hostArch('amd64')}; setup_arm64; echo "rc=$?"`, 'none', '65534:65534');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /setup: warning: multi-arch images unavailable: need root or passwordless sudo to run update-binfmts/);
    assert.doesNotMatch(r.stdout, /BUILT/);
    assert.match(r.stdout, /rc=0/);
  });

  test('setup-host - qemu-aarch64 is imported into binfmt-support before it is enabled', async () => {
    const stubs = ['BINFMT_DIR=$(mktemp -d)', 'touch "$BINFMT_DIR/status"', 'have_root() { true; }', 'as_root() { echo "ROOT $*"; }'].join('; ');
    const r = await inContainer(`source /s/setup-host; ${stubs}; enable_arm64_emulation || echo "no flag F in the stub entry"`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ROOT update-binfmts --import qemu-aarch64\nROOT update-binfmts --enable qemu-aarch64\n/);
  });

  test('setup-host - an arm64 host builds the arm64 image natively, without touching binfmt_misc', async () => {
    const stubs = [
      hostArch('arm64'),
      'enable_arm64_emulation() { echo EMULATION; }',
      'build_arm64_image() { echo BUILT; }',
    ].join('; ');
    const r = await inContainer(`source /s/setup-host; ${stubs}; setup_arm64`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'BUILT');
    assert.match(r.stderr, /arm64 host: arm64 images run natively/);
  });

  test('setup-host - the arm64 busybox download leaves the host apt and dpkg configuration untouched', async () => {
    const script = [
      'set -e; source /s/setup-host',
      'before=$(ls /var/lib/apt/lists | sort | md5sum)',
      'd=$(mktemp -d); chmod 755 "$d"; download_arm64_busybox "$d"',
      'ls "$d"/busybox-static_*_arm64.deb',
      'echo "foreign=[$(dpkg --print-foreign-architectures)]"',
      '[ "$before" = "$(ls /var/lib/apt/lists | sort | md5sum)" ] && echo lists-unchanged',
      'ls /var/cache/apt/archives/*_arm64.deb 2>/dev/null || echo cache-clean',
    ].join('\n');
    const r = await inContainer(script, 'host');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /busybox-static_.*_arm64\.deb/);
    assert.match(r.stdout, /foreign=\[\]/);
    assert.match(r.stdout, /lists-unchanged/);
    assert.match(r.stdout, /cache-clean/);
  });
});
