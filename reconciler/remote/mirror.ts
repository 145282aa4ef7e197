// The reconciler's local mirror of a remote metadata repo: a bare repository
// under the state dir (default $XDG_STATE_HOME/kiln/<repo-id>/mirror.git).
// Its HEAD names the tracked branch, so everything that reads a local repo
// (the pass, plan, status, check) reads the mirror unchanged.
import fs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { Logger } from 'pino';
import { httpTransport } from './http-transport.ts';
import type { RepoLocation } from './remote-url.ts';
import { sshTransport } from './ssh-transport.ts';
import { FETCHED_PREFIX, MIRROR_REMOTE, type Transport } from './transport.ts';

/** What the remote held at the last fetch or push (null: the ref does not exist there). */
export interface RemoteView {
  branch?: string;
  status?: string | null;
  trustRoot?: string | null;
}

export interface Mirror {
  /** The bare mirror: pass it as the repo dir. */
  gitdir: string;
  stateDir: string;
  transport: Transport;
  /** --branch as given (short or full name); undefined: the remote's HEAD. */
  branch?: string;
  remote: RemoteView;
  log: Logger;
  /** Shared isomorphic-git cache for ancestry checks. */
  cache: object;
}

export interface MirrorOptions {
  location: Exclude<RepoLocation, { kind: 'dir' }>;
  stateDir: string;
  branch?: string;
  token?: string;
  sshKey?: string;
  log: Logger;
}

export async function openMirror(o: MirrorOptions): Promise<Mirror> {
  const gitdir = join(o.stateDir, 'mirror.git');
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(join(gitdir, 'HEAD'))) {
    await git.init({ fs, gitdir, bare: true });
    // isomorphic-git writes fetched refs through a configured refspec.
    await git.setConfig({ fs, gitdir, path: `remote.${MIRROR_REMOTE}.url`, value: o.location.url });
    await git.setConfig({ fs, gitdir, path: `remote.${MIRROR_REMOTE}.fetch`, value: `+refs/*:${FETCHED_PREFIX}*` });
  }
  const transport =
    o.location.kind === 'http'
      ? httpTransport({ url: o.location.url, gitdir, token: o.token })
      : sshTransport({ url: o.location.url, gitdir, sshKey: o.sshKey, knownHosts: join(o.stateDir, 'known_hosts') });
  return { gitdir, stateDir: o.stateDir, transport, branch: o.branch, remote: {}, log: o.log.child({ component: 'remote', remote: transport.url }), cache: {} };
}

/** True when `ancestor` is `commit` or reachable from it. */
export async function isAncestor(m: Mirror, ancestor: string, commit: string): Promise<boolean> {
  if (ancestor === commit) return true;
  try {
    return await git.isDescendent({ fs, gitdir: m.gitdir, oid: commit, ancestor, depth: -1, cache: m.cache });
  } catch {
    return false; // an object we do not have: not known to be an ancestor
  }
}
