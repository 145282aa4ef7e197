// What `kiln up` needs on the machine, each missing piece named with the
// command that installs it. Nothing is changed here.
import { execFile } from 'node:child_process';
import { dockerClient } from '../../containers/docker-client.ts';
import { UsageError } from '../../schema/errors.ts';

export interface Prerequisite {
  name: string;
  /** undefined when present; else why not and how to get it. */
  problem?: string;
}

function runs(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 10_000 }, (err) => resolve(!err)));
}

/** `registries`: only the OCI registry tools (registry distributions on loopback). */
export async function checkPrerequisites(opts: { docker: boolean; natsServer?: string; registries?: boolean }): Promise<Prerequisite[]> {
  if (opts.registries) {
    return [
      { name: 'docker-registry', problem: (await runs('docker-registry', ['--version'])) ? undefined : 'docker-registry not found (registry distributions on 127.0.0.1 need it): install it with `apt-get install docker-registry`' },
      { name: 'skopeo', problem: (await runs('skopeo', ['--version'])) ? undefined : 'skopeo not found (Kiln copies and signs images with it): install it with `apt-get install skopeo`' },
    ];
  }
  const natsServer = opts.natsServer ?? 'nats-server';
  const out: Prerequisite[] = [
    { name: 'nats-server', problem: (await runs(natsServer, ['--version'])) ? undefined : `${natsServer} not found: install it with \`apt-get install nats-server\` (or run scripts/setup-host)` },
    { name: 'git', problem: (await runs('git', ['--version'])) ? undefined : 'git not found: install it with `apt-get install git`' },
  ];
  if (opts.docker) {
    const ok = await dockerClient().ping().then(() => true, () => false);
    out.push({
      name: 'Docker engine',
      problem: ok ? undefined : 'no Docker engine answers on /var/run/docker.sock: install it with `apt-get install docker.io` and start it (`systemctl start docker`, or `scripts/setup-host` does both)',
    });
  }
  return out;
}

export function assertPrerequisites(list: Prerequisite[]): void {
  const missing = list.filter((p) => p.problem);
  if (missing.length) throw new UsageError(`missing prerequisites:\n${missing.map((p) => `  - ${p.problem}`).join('\n')}`, { missing: missing.map((p) => p.name) });
}
