// `kiln agent install|uninstall` as a user runs them, into a temp tree (--root,
// like `systemctl --root`): the files written, the `kiln` user made by the real
// systemd-sysusers, the unit enabled by the real systemctl, and the generated
// units checked by `systemd-analyze verify` (any output is a failure).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runKiln } from '../helpers/cli.ts';
import { ROOT } from './reliability-harness.ts';

const exec = promisify(execFile);
const SYSTEMD_RUNS = existsSync('/run/systemd/system');

const kiln = (...args: string[]) => runKiln(args);

/** Every file and symlink under dir, relative, sorted. */
async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true }).catch(() => [])) {
    const rel = join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await tree(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

/** A tree standing for a Debian image with docker.io installed (dockerd is what the check looks for). */
async function debianTree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kiln-host-'));
  await mkdir(join(root, 'usr/sbin'), { recursive: true });
  await writeFile(join(root, 'usr/sbin/dockerd'), '#!/bin/sh\n');
  await chmod(join(root, 'usr/sbin/dockerd'), 0o755);
  return root;
}

async function verifyUnit(root: string, unit: string): Promise<void> {
  // SYSTEMD_UNIT_PATH with a trailing ':' = the tree's units first, then the defaults (for targets).
  const r = await exec('systemd-analyze', ['verify', '--man=no', unit], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${join(root, 'etc/systemd/system')}:` } }).then(
    (x) => ({ code: 0, ...x }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', `systemd-analyze verify ${unit} complained`);
}

describe('agent install', () => {
  let tmp: string;
  let creds: string;
  const roots: string[] = [];
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kiln-install-'));
    const made = await kiln('nats-config', '--out', join(tmp, 'kiln.conf'), '--pools', 'deb:amd64,arm64');
    assert.equal(made.code, 0, made.stderr);
    creds = join(tmp, 'credentials', 'agent-deb.creds');
  });
  after(async () => {
    for (const r of [tmp, ...roots]) await rm(r, { recursive: true, force: true });
  });

  test('agent install - writes the unit, env file, drop-in, credentials and kiln user; the units verify', async () => {
    const root = await debianTree();
    roots.push(root);
    const r = await kiln('agent', 'install', '--nats', 'tls://broker.example.org:4222', '--pool', 'deb', '--arch', 'amd64', '--nats-credentials', creds, '--concurrency', '2', '--metrics-listen', '127.0.0.1:9464', '--stop-timeout', '7300', '--root', root, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).unit, 'kiln-agent@deb-amd64.service');
    assert.deepEqual((await tree(root)).filter((f) => !/^etc\/(\.pwd\.lock|g?shadow)$/.test(f)), [
      'etc/group',
      'etc/kiln/agent-deb-amd64.creds',
      'etc/kiln/agent-deb-amd64.env',
      'etc/passwd',
      'etc/systemd/system/kiln-agent@.service',
      'etc/systemd/system/kiln-agent@deb-amd64.service.d/install.conf',
      'etc/systemd/system/multi-user.target.wants/kiln-agent@deb-amd64.service',
      'etc/sysusers.d/kiln-agent.conf',
      'usr/sbin/dockerd',
    ]);
    const env = await readFile(join(root, 'etc/kiln/agent-deb-amd64.env'), 'utf8');
    assert.match(env, /^KILN_NATS_URL="tls:\/\/broker\.example\.org:4222"$/m);
    assert.match(env, /^KILN_POOL="deb"$/m);
    assert.match(env, /^KILN_AGENT_ARGS="--concurrency 2 --metrics-listen 127\.0\.0\.1:9464"$/m);
    const copied = join(root, 'etc/kiln/agent-deb-amd64.creds');
    assert.equal(await readFile(copied, 'utf8'), await readFile(creds, 'utf8'));
    assert.equal((await stat(copied)).mode & 0o777, 0o600);
    const unit = await readFile(join(root, 'etc/systemd/system/kiln-agent@.service'), 'utf8');
    for (const line of ['User=kiln', 'SupplementaryGroups=docker', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'StateDirectory=kiln-agent/%i', 'KillSignal=SIGTERM', 'Restart=on-failure']) {
      assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
    }
    assert.ok(unit.includes(`ExecStart=${process.execPath} ${ROOT.replace(/\/$/, '')}/bin/kiln.js agent --pool \${KILN_POOL} --arch \${KILN_ARCH} --id %l-%i --work-dir /var/lib/kiln-agent/%i $KILN_AGENT_ARGS`), unit);
    const dropIn = await readFile(join(root, 'etc/systemd/system/kiln-agent@deb-amd64.service.d/install.conf'), 'utf8');
    assert.match(dropIn, /^TimeoutStopSec=7300$/m);
    assert.match(dropIn, /^LoadCredential=nats:\/etc\/kiln\/agent-deb-amd64\.creds$/m);
    assert.match(dropIn, /^Environment=KILN_NATS_CREDENTIALS=%d\/nats$/m);
    assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^kiln:x:\d+:\d+:Kiln build agent:\/var\/lib\/kiln-agent:\/usr\/sbin\/nologin$/m);
    assert.match(await readFile(join(root, 'etc/group'), 'utf8'), /^docker:x:\d+:kiln$/m);
    const wants = await lstat(join(root, 'etc/systemd/system/multi-user.target.wants/kiln-agent@deb-amd64.service'));
    assert.ok(wants.isSymbolicLink());
    await verifyUnit(root, 'kiln-agent@deb-amd64.service');
  });

  test('agent install - --dry-run prints every file and command and changes nothing; secrets are not printed', async () => {
    const root = await debianTree();
    roots.push(root);
    const before = await tree(root);
    const r = await kiln('agent', 'install', '--nats', 'nats://broker:4222', '--pool', 'deb', '--arch', 'arm64', '--nats-credentials', creds, '--root', root, '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await tree(root), before, 'nothing written');
    for (const f of ['etc/sysusers.d/kiln-agent.conf', 'etc/kiln/agent-deb-arm64.env', 'etc/kiln/agent-deb-arm64.creds', 'etc/systemd/system/kiln-agent@.service', 'etc/systemd/system/kiln-agent@deb-arm64.service.d/install.conf']) {
      assert.ok(r.stdout.includes(`write ${join(root, f)}`), `announces ${f}`);
    }
    assert.match(r.stdout, /run: systemd-sysusers --root=\S+ kiln-agent\.conf/);
    assert.match(r.stdout, /run: systemctl --root=\S+ enable kiln-agent@deb-arm64\.service/);
    assert.match(r.stdout, /ProtectSystem=strict/);
    const seed = (await readFile(creds, 'utf8')).match(/nkey: (\S+)/)![1];
    assert.ok(!r.stdout.includes(seed), 'the nkey seed is not printed');
    assert.match(r.stdout, /agent-deb-arm64\.creds \(mode 0600\): \d+ bytes, secret, not shown/);
  });

  test('agent install - uninstall removes an instance; the template goes with the last one', async () => {
    const root = await debianTree();
    roots.push(root);
    for (const arch of ['amd64', 'arm64']) {
      const r = await kiln('agent', 'install', '--nats', 'nats://broker:4222', '--pool', 'deb', '--arch', arch, '--nats-credentials', creds, '--root', root);
      assert.equal(r.code, 0, r.stderr);
    }
    await mkdir(join(root, 'var/lib/kiln-agent/deb-amd64/job'), { recursive: true });
    const first = await kiln('agent', 'uninstall', '--pool', 'deb', '--arch', 'amd64', '--root', root, '--json');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).otherInstances, ['deb-arm64']);
    let files = await tree(root);
    assert.ok(!files.some((f) => f.includes('deb-amd64')), `no trace of deb-amd64 left: ${files.join(', ')}`);
    assert.ok(files.includes('etc/systemd/system/kiln-agent@.service'), 'the template stays for deb-arm64');
    await verifyUnit(root, 'kiln-agent@deb-arm64.service');

    const last = await kiln('agent', 'uninstall', '--pool', 'deb', '--arch', 'arm64', '--root', root);
    assert.equal(last.code, 0, last.stderr);
    files = await tree(root);
    assert.deepEqual(files.filter((f) => /kiln/.test(f) && !/^etc\/(passwd|group|g?shadow)/.test(f)), [], 'every Kiln file is gone');
    assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^kiln:/m, 'the user is kept');

    const again = await kiln('agent', 'uninstall', '--pool', 'deb', '--arch', 'arm64', '--root', root);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /kiln-agent@deb-arm64\.service is not installed/);
  });

  test('agent install - on this host without systemd as init: exit 2, says so, writes nothing to /etc', { skip: SYSTEMD_RUNS && 'systemd runs on this host: the live no-systemd case cannot be shown here' }, async () => {
    assert.equal(await stat('/etc/kiln').catch(() => undefined), undefined, 'precondition: no /etc/kiln');
    for (const dry of [['--dry-run'], []]) {
      const r = await kiln('agent', 'install', '--nats', 'nats://broker:4222', '--pool', 'deb', '--arch', 'amd64', ...dry);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /systemd is not running here/);
      assert.match(r.stderr, /nothing was changed/);
    }
    assert.equal(await stat('/etc/kiln').catch(() => undefined), undefined, 'nothing written to /etc');
    assert.equal(await stat('/etc/systemd/system/kiln-agent@.service').catch(() => undefined), undefined);
    assert.equal(await stat('/etc/sysusers.d/kiln-agent.conf').catch(() => undefined), undefined);
  });

  test('agent install - a tree without Docker, or bad flags: exit 2, a reason, nothing changed', async () => {
    const bare = await mkdtemp(join(tmpdir(), 'kiln-host-bare-'));
    roots.push(bare);
    const noDocker = await kiln('agent', 'install', '--nats', 'nats://broker:4222', '--root', bare);
    assert.equal(noDocker.code, 2);
    assert.match(noDocker.stderr, /Docker is not installed in .*install docker\.io/);
    assert.match(noDocker.stderr, /nothing was changed/);
    assert.deepEqual(await tree(bare), []);

    const root = await debianTree();
    roots.push(root);
    const badCreds = join(tmp, 'bad.creds');
    await writeFile(badCreds, 'user: agent-deb\npassword: 1\nnkey: SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n');
    const cases: [string[], RegExp][] = [
      [['--nats', 'http://broker'], /--nats 'http:\/\/broker': expected nats:\/\/HOST:PORT/],
      [['--nats', 'nats://b', '--pool', 'de.b'], /pool 'de\.b' must be/],
      [['--nats', 'nats://b', '--concurrency', '0'], /--concurrency takes a whole number >= 1, got 0/],
      [['--nats', 'nats://b', '--stop-timeout', 'soon'], /--stop-timeout takes a number, got 'soon'/],
      [['--nats', 'nats://b', '--metrics-listen', 'everywhere'], /--metrics-listen 'everywhere': expected HOST:PORT/],
      [['--nats', 'nats://b', '--nats-credentials', badCreds], /invalid NATS credentials file/],
      [['--nats', 'nats://b', '--nats-credentials', join(tmp, 'missing.creds')], /cannot read NATS credentials .*missing\.creds/],
      [['--nats', 'nats://b', '--code-dir', tmp], /does not hold an installed Kiln/],
    ];
    for (const [args, want] of cases) {
      const r = await kiln('agent', 'install', ...args, '--root', root);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want, args.join(' '));
    }
    assert.deepEqual(await tree(root), ['usr/sbin/dockerd'], 'nothing written by any refused install');
  });
});
