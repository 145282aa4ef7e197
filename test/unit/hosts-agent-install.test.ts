// Pure parts of `kiln agent install|uninstall`: what is missing on a host,
// which steps run, and the files' contents.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { natsUrlProblem } from '../../reconciler/cli/commands/agent-install.ts';
import { renderDropIn, renderEnvFile } from '../../reconciler/hosts/agent-unit.ts';
import { missingForUninstall, missingPrerequisites, type HostFacts } from '../../reconciler/hosts/host-check.ts';
import { describeSteps, installSteps, uninstallSteps } from '../../reconciler/hosts/install-plan.ts';

const ready: HostFacts = {
  isRootUser: true,
  systemdRunning: true,
  tools: { systemctl: true, 'systemd-sysusers': true },
  dockerInstalled: true,
  dockerSocket: true,
  codeDir: { path: '/opt/kiln', complete: true },
  node: '/usr/bin/node',
};

test('hosts agent install - each missing prerequisite is named with its remedy', () => {
  assert.deepEqual(missingPrerequisites(ready), []);
  const cases: [Partial<HostFacts>, RegExp][] = [
    [{ isRootUser: false }, /not running as root/],
    [{ systemdRunning: false }, /systemd is not running here/],
    [{ dockerInstalled: false }, /Docker is not installed \(no dockerd\): apt-get install docker\.io/],
    [{ dockerSocket: false }, /Docker is installed but not running/],
    [{ tools: { systemctl: false, 'systemd-sysusers': true } }, /systemctl not found on PATH: apt-get install systemd/],
    [{ codeDir: { path: '/opt/kiln', complete: false } }, /\/opt\/kiln does not hold an installed Kiln/],
    [{ codeDir: { path: '/root/kiln', complete: true } }, /the Kiln code is at \/root\/kiln\/, which ProtectHome= hides/],
    [{ node: '/home/me/.nvm/node' }, /node is at \/home\/me\/\.nvm\/node, which ProtectHome= hides/],
  ];
  for (const [change, want] of cases) {
    const problems = missingPrerequisites({ ...ready, ...change });
    assert.equal(problems.length, 1, JSON.stringify(change));
    assert.match(problems[0], want);
  }
  // Into a tree: the running system does not matter, the tree's Docker does.
  const tree = { ...ready, root: '/img', isRootUser: false, systemdRunning: false, dockerSocket: false };
  assert.deepEqual(missingPrerequisites(tree), []);
  assert.match(missingPrerequisites({ ...tree, dockerInstalled: false })[0], /Docker is not installed in \/img/);
  assert.deepEqual(missingForUninstall({ ...tree }), []);
  assert.equal(missingForUninstall({ ...ready, isRootUser: false, systemdRunning: false }).length, 2);
});

test('hosts agent install - live installs reload, enable and restart; tree installs only enable through the tree', () => {
  const s = { nats: 'nats://b:4222', pool: 'deb', arch: 'amd64', concurrency: 1, stopTimeoutSeconds: 3720, credentials: false };
  const runs = (root?: string) => installSteps({ node: '/usr/bin/node', codeDir: '/opt/kiln' }, s, undefined, root).flatMap((x) => (x.kind === 'run' ? [x.argv.join(' ')] : []));
  assert.deepEqual(runs(), ['systemd-sysusers kiln-agent.conf', 'systemctl daemon-reload', 'systemctl enable kiln-agent@deb-amd64.service', 'systemctl restart kiln-agent@deb-amd64.service']);
  assert.deepEqual(runs('/img'), ['systemd-sysusers --root=/img kiln-agent.conf', 'systemctl --root=/img enable kiln-agent@deb-amd64.service']);
  const steps = installSteps({ node: '/usr/bin/node', codeDir: '/opt/kiln' }, s, undefined, undefined);
  assert.ok(steps.some((x) => x.kind === 'remove' && x.path === '/etc/kiln/agent-deb-amd64.creds'), 'a reinstall without credentials drops old ones');
  assert.match(describeSteps(steps, '/img'), /^write \/img\/etc\/sysusers\.d\/kiln-agent\.conf \(mode 0644\):/);

  const un = uninstallSteps('deb', 'amd64', ['deb-arm64'], undefined);
  assert.deepEqual(un.filter((x) => x.kind === 'run').map((x) => (x.kind === 'run' ? x.argv.join(' ') : '')), ['systemctl disable --now kiln-agent@deb-amd64.service', 'systemctl daemon-reload']);
  assert.ok(!un.some((x) => x.kind === 'remove' && x.path.endsWith('kiln-agent@.service')), 'the template stays while another instance uses it');
  assert.ok(uninstallSteps('deb', 'amd64', [], '/img').some((x) => x.kind === 'remove' && x.path === '/etc/systemd/system/kiln-agent@.service'));
});

test('hosts agent install - env file values are quoted; the drop-in carries the stop timeout and credentials', () => {
  const env = renderEnvFile({ nats: 'nats://a:1,nats://b:2', pool: 'deb', arch: 'arm64', concurrency: 3, stopTimeoutSeconds: 100, credentials: true, metricsListen: ':9464' });
  assert.match(env, /^KILN_NATS_URL="nats:\/\/a:1,nats:\/\/b:2"$/m);
  assert.match(env, /^KILN_AGENT_ARGS="--concurrency 3 --metrics-listen :9464"$/m);
  const dropIn = renderDropIn('deb-arm64', { nats: 'x', pool: 'deb', arch: 'arm64', concurrency: 1, stopTimeoutSeconds: 100, credentials: false });
  assert.match(dropIn, /^TimeoutStopSec=100$/m);
  assert.doesNotMatch(dropIn, /LoadCredential/);
  assert.equal(natsUrlProblem('nats://a:4222,tls://b:4222'), undefined);
  for (const bad of ['http://a', 'nats://a b', 'nats://a"', 'a:4222', '']) assert.match(natsUrlProblem(bad) ?? '', /expected nats:\/\/HOST:PORT/, bad);
});
