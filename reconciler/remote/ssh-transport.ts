// SSH to the remote metadata repo through native git (isomorphic-git speaks
// only HTTP). The key comes from --ssh-key; host keys are learnt on first use
// into the state dir's known_hosts and checked from then on.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RemoteAuthError, RemoteRejectedError, RemoteUnreachableError } from '../../schema/errors.ts';
import { fetchedRef, type RemoteRefs, type Transport } from './transport.ts';
import { displayUrl } from './remote-url.ts';

const run = promisify(execFile);

function sshCommand(opts: { sshKey?: string; knownHosts: string }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${q(opts.knownHosts)}`];
  if (opts.sshKey) parts.push('-o', 'IdentitiesOnly=yes', '-i', q(opts.sshKey));
  return parts.join(' ');
}

export function sshTransport(opts: { url: string; gitdir: string; sshKey?: string; knownHosts: string }): Transport {
  const shown = displayUrl(opts.url);
  const env = { ...process.env, GIT_SSH_COMMAND: sshCommand(opts), GIT_TERMINAL_PROMPT: '0' };

  const git = async (what: string, args: string[]): Promise<string> => {
    try {
      return (await run('git', ['--git-dir', opts.gitdir, ...args], { env, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
      if (/Permission denied|Host key verification failed|publickey/i.test(stderr)) {
        throw new RemoteAuthError(`${shown}: ${what} refused: ${stderr.split('\n')[0]} (check --ssh-key, and the host key in the state dir's known_hosts)`, { url: shown }, { cause: e });
      }
      throw Object.assign(new RemoteUnreachableError(`${shown}: ${what} failed: ${stderr.split('\n').slice(-1)[0] || (e as Error).message}`, { url: shown }, { cause: e }), { stderr });
    }
  };

  return {
    url: shown,
    async listRefs(): Promise<RemoteRefs> {
      const out = await git('listing refs', ['ls-remote', '--symref', opts.url]);
      const refs = new Map<string, string>();
      let head: string | undefined;
      for (const line of out.split('\n')) {
        const sym = /^ref: (\S+)\tHEAD$/.exec(line);
        if (sym) head = sym[1];
        const m = /^([0-9a-f]{40})\t(refs\/\S+)$/.exec(line);
        if (m) refs.set(m[2], m[1]);
      }
      return { refs, head };
    },
    async fetch(refs) {
      if (refs.length === 0) return new Map();
      const specs = refs.map((r) => `+${r}:${fetchedRef(r)}`);
      await git(`fetching ${refs.join(', ')}`, ['fetch', '--no-tags', '--quiet', opts.url, ...specs]);
      const out = new Map<string, string>();
      for (const r of refs) {
        const oid = (await git('reading a fetched ref', ['rev-parse', '--verify', '-q', `${fetchedRef(r)}^{commit}`]).catch(() => '')).trim();
        if (oid) out.set(r, oid);
      }
      return out;
    },
    async push(ref, expected, next) {
      // --force-with-lease is git's compare-and-set: the remote ref must hold `expected`.
      try {
        await git(`pushing ${ref}`, ['push', '--porcelain', `--force-with-lease=${ref}:${expected ?? ''}`, opts.url, `${next}:${ref}`]);
      } catch (e) {
        const stderr = String((e as { stderr?: string }).stderr ?? '');
        const cause = (e as { cause?: { stdout?: string } }).cause;
        if (/stale info|rejected|non-fast-forward|fetch first/i.test(`${stderr}\n${cause?.stdout ?? ''}`)) {
          throw new RemoteRejectedError(`${shown}: ${ref} moved since we fetched it (expected ${expected ?? 'no ref'})`, { ref, expected }, { cause: e });
        }
        throw e;
      }
    },
  };
}
