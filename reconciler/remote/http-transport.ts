// Smart HTTP(S) to the remote metadata repo through isomorphic-git. A token
// (--git-token-file / KILN_GIT_TOKEN) goes in HTTP Basic auth as GitHub,
// Gitea and Forgejo accept it; it never appears in a URL or a log line.
import fs from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import git, { Errors, type HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { NotFoundError, RemoteAuthError, RemoteRejectedError, RemoteUnreachableError } from '../../schema/errors.ts';
import { fetchedRef, MIRROR_REMOTE, type RemoteRefs, type Transport } from './transport.ts';
import { displayUrl } from './remote-url.ts';

const ZERO = '0'.repeat(40);

/**
 * How long a remote may stay silent within one request. Node 20's global agent
 * gives up on a socket idle for 5 s (a kept-alive socket also keeps the idle
 * timeout the server hinted, Keep-Alive: timeout=5), which a forge packing a
 * fetch, or a busy host, easily is: isomorphic-git then fails with "Request
 * timed out". So: a fresh connection per request, with a generous timeout.
 */
export const HTTP_IDLE_TIMEOUT_MS = 120_000;

function httpClient(url: string): HttpClient {
  const opts = { keepAlive: false, timeout: HTTP_IDLE_TIMEOUT_MS };
  const agent = /^https:/i.test(url) ? new HttpsAgent(opts) : new HttpAgent(opts);
  return { request: (req) => nodeHttp.request({ ...req, agent }) };
}

export function httpTransport(opts: { url: string; gitdir: string; token?: string }): Transport {
  const url = opts.url;
  const shown = displayUrl(url);
  const onAuth = () => (opts.token ? { username: 'x-access-token', password: opts.token } : { cancel: true as const });
  // A refused token is final: without this, isomorphic-git would ask onAuth again.
  const onAuthFailure = () => ({ cancel: true as const });
  const common = { http: httpClient(url), url, onAuth, onAuthFailure };

  const classify = (e: unknown, what: string): Error => {
    const err = e as { code?: string; data?: { statusCode?: number }; message?: string; cause?: { code?: string } };
    const status = err.data?.statusCode;
    if (err.code === Errors.HttpError.code && (status === 401 || status === 403)) {
      return new RemoteAuthError(
        `${shown}: ${what} refused with HTTP ${status}: ${opts.token ? 'the token was not accepted' : 'the remote wants credentials'} (--git-token-file or KILN_GIT_TOKEN)`,
        { url: shown, status },
        { cause: e },
      );
    }
    if (err.code === Errors.UserCanceledError.code) {
      const why = opts.token ? 'the token was not accepted (--git-token-file or KILN_GIT_TOKEN)' : 'the remote wants credentials: pass --git-token-file or set KILN_GIT_TOKEN';
      return new RemoteAuthError(`${shown}: ${what} refused: ${why}`, { url: shown }, { cause: e });
    }
    if (err.code === Errors.HttpError.code && status === 404) {
      return new NotFoundError(`${shown}: no git repository there (HTTP 404)`, { url: shown, status }, { cause: e });
    }
    return new RemoteUnreachableError(`${shown}: ${what} failed: ${err.message ?? String(e)}`, { url: shown, status }, { cause: e });
  };

  return {
    url: shown,
    async listRefs(): Promise<RemoteRefs> {
      let list: Awaited<ReturnType<typeof git.listServerRefs>>;
      try {
        list = await git.listServerRefs({ ...common, protocolVersion: 1, symrefs: true });
      } catch (e) {
        throw classify(e, 'listing refs');
      }
      const refs = new Map<string, string>();
      let head: string | undefined;
      for (const r of list) {
        if (r.ref === 'HEAD') head = r.target;
        else refs.set(r.ref, r.oid);
      }
      return { refs, head };
    },
    async fetch(refs) {
      const out = new Map<string, string>();
      for (const ref of refs) {
        try {
          // `ref` (our fetched copy) tells the remote what we already have.
          const r = await git.fetch({ ...common, fs, gitdir: opts.gitdir, remote: MIRROR_REMOTE, remoteRef: ref, ref: fetchedRef(ref), singleBranch: true, tags: false });
          if (r.fetchHead) out.set(ref, r.fetchHead);
        } catch (e) {
          if ((e as { code?: string }).code === Errors.NotFoundError.code) continue; // deleted since listRefs
          throw classify(e, `fetching ${ref}`);
        }
      }
      return out;
    },
    async push(ref, expected, next) {
      // A scratch ref holds what we push: isomorphic-git pushes refs, not bare commit ids.
      const scratch = `refs/kiln/push/${ref.replace(/^refs\//, '')}`;
      await git.writeRef({ fs, gitdir: opts.gitdir, ref: scratch, value: next, force: true });
      let found: string | undefined;
      try {
        await git.push({
          ...common,
          fs,
          gitdir: opts.gitdir,
          ref: scratch,
          remoteRef: ref,
          // Compare-and-set: the remote must still hold what we built on (receive-pack checks the old value again under its lock).
          onPrePush: ({ remoteRef }) => {
            found = remoteRef.oid;
            return remoteRef.oid === (expected ?? ZERO);
          },
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === Errors.UserCanceledError.code && found !== undefined) {
          throw new RemoteRejectedError(`${shown}: ${ref} moved: expected ${expected ?? 'no ref'}, found ${found === ZERO ? 'no ref' : found}`, { ref, expected, found });
        }
        if (code === Errors.PushRejectedError.code || code === Errors.GitPushError.code) {
          throw new RemoteRejectedError(`${shown}: push of ${ref} rejected: ${(e as Error).message}`, { ref, expected }, { cause: e });
        }
        throw classify(e, `pushing ${ref}`);
      } finally {
        await git.deleteRef({ fs, gitdir: opts.gitdir, ref: scratch }).catch(() => undefined);
      }
    },
  };
}
