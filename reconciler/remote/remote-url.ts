// What `--repo` names: a local directory, or a remote metadata repo reached over
// smart HTTP (https://, http://) or SSH (ssh://, user@host:path). Pure.
import { createHash } from 'node:crypto';
import { UsageError } from '../../schema/errors.ts';

export type RepoLocation =
  | { kind: 'dir'; dir: string }
  | { kind: 'http'; url: string }
  | { kind: 'ssh'; url: string };

/** user@host:path, the scp-like syntax git accepts for SSH (no scheme, a colon before any slash). */
const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

export function parseRepoLocation(arg: string): RepoLocation {
  const scheme = SCHEME.exec(arg)?.[1]?.toLowerCase();
  if (scheme === undefined) return SCP_LIKE.test(arg) ? { kind: 'ssh', url: arg } : { kind: 'dir', dir: arg };
  let u: URL;
  try {
    u = new URL(arg);
  } catch {
    throw new UsageError(`--repo '${arg}' is not a valid URL`, { repo: arg });
  }
  if (u.password) {
    throw new UsageError(`--repo: the URL carries a password or token; pass it with --git-token-file or KILN_GIT_TOKEN instead, so it is never logged`, {
      repo: `${u.protocol}//${u.host}${u.pathname}`,
    });
  }
  if (!u.hostname || u.pathname === '/' || u.pathname === '') throw new UsageError(`--repo '${arg}' names no repository path`, { repo: arg });
  if (scheme === 'https' || scheme === 'http') return { kind: 'http', url: arg };
  if (scheme === 'ssh') return { kind: 'ssh', url: arg };
  throw new UsageError(`--repo '${arg}': unsupported scheme ${scheme}:// (use a directory, https://, http://, ssh:// or user@host:path)`, { repo: arg });
}

/**
 * A stable, file-name-safe id for a remote URL: host and path for humans, a
 * hash of the whole URL so two URLs never share a mirror.
 */
export function repoId(url: string): string {
  const scp = SCP_LIKE.test(url) ? /^[^@]+@([^:]+):(.*)$/.exec(url) : null;
  const [host, path] = scp ? [scp[1], scp[2]] : (() => {
    const u = new URL(url);
    return [u.port ? `${u.hostname}_${u.port}` : u.hostname, u.pathname];
  })();
  const readable = `${host}/${path}`
    .replace(/\.git$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return `${readable}-${createHash('sha256').update(url).digest('hex').slice(0, 10)}`;
}

/** The URL with any user name dropped, for logs and records. */
export function displayUrl(url: string): string {
  return SCHEME.test(url) ? url.replace(/\/\/[^@/]+@/, '//') : url;
}
