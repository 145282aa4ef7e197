// A real SSH git server for tests: Debian's openssh-server run as
// `sshd -D -e -f CONFIG -p PORT` on 127.0.0.1 with a temp host key, key-only
// auth and the forced command git-shell (TOOLCHAIN.md). Repositories are
// addressed by absolute path: ssh://USER@127.0.0.1:PORT/abs/path.git.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './nats.ts';

const run = promisify(execFile);
export const SSHD = '/usr/sbin/sshd';

export interface SshServer {
  port: number;
  user: string;
  /** A private key the server accepts. */
  clientKey: string;
  /** A private key the server does not accept. */
  strangerKey: string;
  url(path: string): string;
  close(): Promise<void>;
}

/** Why sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is not installed (scripts/setup-host installs openssh-server)`;
  if (process.getuid?.() !== 0) return 'sshd needs root here (privilege separation directory /run/sshd)';
  return undefined;
}

const keygen = (file: string) => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);

export async function startSshd(): Promise<SshServer> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-sshd-'));
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await Promise.all([keygen(join(dir, 'host_ed25519')), keygen(join(dir, 'client')), keygen(join(dir, 'stranger'))]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client.pub')));
  const port = await freePort();
  const config = [
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_ed25519')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'ForceCommand git-shell -c "$SSH_ORIGINAL_COMMAND"',
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), config + '\n');
  const proc: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`sshd did not start in 10 s:\n${buf}`)), 10_000);
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (/Server listening on 127\.0\.0\.1/.test(buf)) {
        clearTimeout(timer);
        proc.stderr?.off('data', onData);
        proc.stderr?.resume();
        resolve();
      }
    };
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}:\n${buf}`));
    });
  });
  const user = userInfo().username;
  return {
    port,
    user,
    clientKey: join(dir, 'client'),
    strangerKey: join(dir, 'stranger'),
    url: (path) => `ssh://${user}@127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
