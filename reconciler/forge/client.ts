// The forge's commit-status API through @octokit/rest with a base URL: GitHub,
// GitHub Enterprise, Gitea and Forgejo all serve POST /repos/{owner}/{repo}/statuses/{sha}
// and GET /repos/{owner}/{repo}/commits/{ref}/statuses.
import { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import type { ForgeConfig } from '../../schema/metadata.ts';
import type { ForgeContext, ForgeState } from '../../schema/forge.ts';

export interface StatusPost {
  sha: string;
  context: ForgeContext;
  state: ForgeState;
  description: string;
  targetUrl?: string;
}

export interface PostedStatus {
  context: string;
  state: string;
  description: string | null;
}

/** What the outbox needs from a forge. */
export interface ForgeClient {
  createStatus(p: StatusPost): Promise<void>;
  /** The statuses of `sha` under `context`, newest first (to tell whether a send whose answer was lost went through). */
  listStatuses(sha: string, context: ForgeContext): Promise<PostedStatus[]>;
}

/** The API root for a forge: api.github.com for github.com, /api/v3 for GitHub Enterprise, /api/v1 for Gitea and Forgejo. */
export function apiBaseUrl(cfg: ForgeConfig): string {
  if (cfg.apiUrl) return cfg.apiUrl.replace(/\/+$/, '');
  const web = cfg.url.replace(/\/+$/, '');
  if (cfg.type === 'github') return /^https?:\/\/(www\.)?github\.com$/i.test(web) ? 'https://api.github.com' : `${web}/api/v3`;
  return `${web}/api/v1`;
}

/** The status's link, from kiln.yaml forge.targetUrl with {sha} and {context} filled in. */
export function targetUrlFor(cfg: ForgeConfig, sha: string, context: string): string | undefined {
  return cfg.targetUrl?.replaceAll('{sha}', sha).replaceAll('{context}', encodeURIComponent(context));
}

/** A forge that does not answer is treated like one that failed (retried with backoff), not waited for forever. */
const REQUEST_TIMEOUT_MS = 30_000;

export function octokitClient(cfg: ForgeConfig, token: string, log: Logger): ForgeClient {
  const [owner, repo] = cfg.repo.split('/');
  const octokit = new Octokit({
    auth: token,
    baseUrl: apiBaseUrl(cfg),
    userAgent: 'kiln-reconciler',
    // Octokit's own log would go to the console; the outbox logs each failure once itself.
    log: { debug: () => undefined, info: () => undefined, warn: (m: string) => log.debug(m), error: (m: string) => log.debug(m) },
    // One send per attempt: the outbox owns retries and backoff (it must survive restarts).
    request: { retries: 0 },
  });
  return {
    async createStatus(p) {
      await octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha: p.sha,
        state: p.state,
        context: p.context,
        description: p.description,
        ...(p.targetUrl ? { target_url: p.targetUrl } : {}),
        request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      });
    },
    async listStatuses(sha, context) {
      const { data } = await octokit.rest.repos.listCommitStatusesForRef({ owner, repo, ref: sha, per_page: 100, request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } });
      return data.filter((s) => s.context.toLowerCase() === context).map((s) => ({ context: s.context, state: s.state, description: s.description }));
    },
  };
}
