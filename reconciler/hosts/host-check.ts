// Does this host (or the tree under --root) have what an installed agent
// needs? Facts are gathered with plain file checks; deciding what is missing
// is pure, so every combination is tested without changing the machine.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface HostFacts {
  /** Installing into a tree (--root) rather than onto the running system. */
  root?: string;
  isRootUser: boolean;
  /** /run/systemd/system exists: systemd is PID 1 (what sd_booted() checks). */
  systemdRunning: boolean;
  /** Found on PATH: systemctl, systemd-sysusers. */
  tools: Record<string, boolean>;
  /** dockerd installed (in the tree with --root). */
  dockerInstalled: boolean;
  /** /run/docker.sock exists (live installs only). */
  dockerSocket: boolean;
  /** The code the unit will run: has bin/kiln.js and node_modules. */
  codeDir: { path: string; complete: boolean };
  node: string;
}

export const REQUIRED_TOOLS = ['systemctl', 'systemd-sysusers'] as const;

/** Directories ProtectHome= hides from the service: code or node there would not start. */
const HIDDEN = ['/home/', '/root/', '/run/user/'];

/** Pure: each missing prerequisite, said with how to get it. Empty: go ahead. */
export function missingPrerequisites(f: HostFacts): string[] {
  const out: string[] = [];
  if (!f.root) {
    if (!f.isRootUser) out.push('not running as root: run it with sudo (it writes /etc and creates a system user)');
    if (!f.systemdRunning) out.push('systemd is not running here (no /run/systemd/system): the agent unit needs systemd as init; use --root DIR to prepare an image, or run `kiln agent` under another supervisor');
    if (!f.dockerInstalled) out.push('Docker is not installed (no dockerd): apt-get install docker.io');
    else if (!f.dockerSocket) out.push('Docker is installed but not running (no /run/docker.sock): systemctl enable --now docker');
  } else if (!f.dockerInstalled) {
    out.push(`Docker is not installed in ${f.root} (no usr/sbin/dockerd or usr/bin/dockerd): install docker.io into the tree first`);
  }
  for (const t of REQUIRED_TOOLS) if (!f.tools[t]) out.push(`${t} not found on PATH: apt-get install systemd`);
  if (!f.codeDir.complete) out.push(`${f.codeDir.path} does not hold an installed Kiln (bin/kiln.js and node_modules): git clone Kiln there and run npm ci --omit=dev`);
  for (const [what, p] of [['the Kiln code', f.codeDir.path + '/'], ['node', f.node]] as const) {
    if (HIDDEN.some((h) => p.startsWith(h))) out.push(`${what} is at ${p}, which ProtectHome= hides from the service: install it under /opt or /usr (see README "Agents on build hosts")`);
  }
  return out;
}

/** Pure: what removing an agent needs: root and a running systemd (live), systemctl. */
export function missingForUninstall(f: Pick<HostFacts, 'root' | 'isRootUser' | 'systemdRunning' | 'tools'>): string[] {
  const out: string[] = [];
  if (!f.root && !f.isRootUser) out.push('not running as root: run it with sudo');
  if (!f.root && !f.systemdRunning) out.push('systemd is not running here (no /run/systemd/system): use --root DIR for a tree');
  if (!f.tools.systemctl) out.push('systemctl not found on PATH: apt-get install systemd');
  return out;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** The tool runs (`--version`): found on PATH and executable. */
const runs = (name: string) => new Promise<boolean>((resolve) => execFile(name, ['--version'], (e) => resolve(!e)));

export async function gatherFacts(opts: { root?: string; codeDir: string; node: string }): Promise<HostFacts> {
  const base = opts.root ?? '/';
  const tools: Record<string, boolean> = {};
  for (const t of REQUIRED_TOOLS) tools[t] = await runs(t);
  return {
    root: opts.root,
    isRootUser: process.getuid?.() === 0,
    systemdRunning: await exists('/run/systemd/system'),
    tools,
    dockerInstalled: (await exists(join(base, 'usr/sbin/dockerd'))) || (await exists(join(base, 'usr/bin/dockerd'))),
    dockerSocket: await exists('/run/docker.sock'),
    codeDir: { path: opts.codeDir, complete: (await exists(join(opts.codeDir, 'bin/kiln.js'))) && (await exists(join(opts.codeDir, 'node_modules'))) },
    node: opts.node,
  };
}
