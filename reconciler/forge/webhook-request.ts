// Pure-ish core of the webhook receiver: which forge sent a delivery, whether
// its signature holds (HMAC-SHA256 of the raw body, compared in constant time by
// @octokit/webhooks-methods) and what it asks for. Nothing is parsed before the
// signature is verified.
import type { IncomingHttpHeaders } from 'node:http';
import { verify } from '@octokit/webhooks-methods';
import type { PullRequestEvent, PushEvent } from '../../schema/forge.ts';
import { validators } from '../../schema/validate.ts';

export type WebhookAction =
  | { kind: 'push'; ref: string; after: string }
  | { kind: 'pull_request'; head: string; number?: number }
  | { kind: 'ping' }
  | { kind: 'ignored'; why: string };

export type WebhookVerdict =
  | { ok: true; delivery?: string; action: WebhookAction }
  | { ok: false; status: 400 | 401; message: string };

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The signature in GitHub's form (`sha256=<hex>`): GitHub sends it so, Gitea and Forgejo send the bare hex. */
export function signatureOf(h: IncomingHttpHeaders): string | undefined {
  const github = header(h, 'x-hub-signature-256');
  if (github) return github;
  const hex = header(h, 'x-gitea-signature') ?? header(h, 'x-forgejo-signature');
  return hex ? `sha256=${hex}` : undefined;
}

export const deliveryOf = (h: IncomingHttpHeaders) => header(h, 'x-github-delivery') ?? header(h, 'x-gitea-delivery') ?? header(h, 'x-forgejo-delivery');
const eventOf = (h: IncomingHttpHeaders) => header(h, 'x-github-event') ?? header(h, 'x-gitea-event') ?? header(h, 'x-forgejo-event');

/** PR actions that put a new head in front of reviewers (Gitea says "synchronized"). */
const CHECKED_ACTIONS = new Set(['opened', 'reopened', 'synchronize', 'synchronized']);

export async function verifySignature(secret: string, body: string, h: IncomingHttpHeaders): Promise<boolean> {
  const signature = signatureOf(h);
  if (!signature || !body) return false;
  return verify(secret, body, signature.toLowerCase());
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** The action a delivery asks for, once its signature is known to be good. */
export function actionOf(h: IncomingHttpHeaders, body: string): WebhookVerdict {
  const event = eventOf(h);
  const delivery = deliveryOf(h);
  if (!event) return { ok: false, status: 400, message: 'no X-GitHub-Event / X-Gitea-Event / X-Forgejo-Event header' };
  const data = parseJson(body);
  if (data === undefined) return { ok: false, status: 400, message: 'the body is not JSON' };
  if (event === 'ping') return { ok: true, delivery, action: { kind: 'ping' } };
  if (event === 'push') {
    if (!validators.pushEvent(data)) return { ok: false, status: 400, message: `malformed push event: ${firstError(validators.pushEvent.errors)}` };
    const push = data as PushEvent;
    return { ok: true, delivery, action: { kind: 'push', ref: push.ref, after: push.after } };
  }
  if (event === 'pull_request') {
    if (!validators.pullRequestEvent(data)) return { ok: false, status: 400, message: `malformed pull_request event: ${firstError(validators.pullRequestEvent.errors)}` };
    const pr = data as PullRequestEvent;
    if (!CHECKED_ACTIONS.has(pr.action)) return { ok: true, delivery, action: { kind: 'ignored', why: `pull_request action '${pr.action}'` } };
    return { ok: true, delivery, action: { kind: 'pull_request', head: pr.pull_request.head.sha, number: pr.number ?? pr.pull_request.number } };
  }
  return { ok: true, delivery, action: { kind: 'ignored', why: `event '${event}'` } };
}

function firstError(errors: { instancePath: string; message?: string }[] | null | undefined): string {
  const e = errors?.[0];
  return e ? `${e.instancePath || '/'} ${e.message ?? 'invalid'}` : 'invalid';
}
