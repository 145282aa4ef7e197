// Pure: what to do after a status could not be sent. 5xx, network failures
// and rate limits are retried (no sooner than the forge asks). 401 (a wrong or
// expired token) holds every status until the token is fixed: dropping them
// would lose them all. Any other 4xx is about that status and will fail the
// same way again: it is logged once, with the forge's message, and dropped.

export type SendVerdict =
  | { kind: 'retry'; message: string; status?: number; notBeforeMs?: number }
  | { kind: 'drop'; message: string; status: number };

interface HttpErrorLike {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

/** Retry-After: delay-seconds or an HTTP date, as milliseconds from `now`. */
export function retryAfterMs(value: string | number | undefined, now: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(String(value));
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The forge's own words: GitHub and Gitea both answer `{ message }`. */
function forgeMessage(e: HttpErrorLike): string {
  const data = e.response?.data as { message?: unknown } | undefined;
  if (data && typeof data.message === 'string' && data.message) return data.message;
  return typeof e.message === 'string' ? e.message : String(e);
}

/** How long statuses wait after the token was refused before it is tried again. */
export const TOKEN_RETRY_MS = 60_000;

export function classifySendError(error: unknown, now: number): SendVerdict {
  const e = (error ?? {}) as HttpErrorLike;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const message = forgeMessage(e);
  const headers = e.response?.headers ?? {};
  if (status === undefined || status >= 500) return { kind: 'retry', message, status };
  const after = retryAfterMs(headers['retry-after'], now);
  if (status === 401) return { kind: 'retry', message: `the forge refused the token (fix --forge-token-file / KILN_FORGE_TOKEN): ${message}`, status, notBeforeMs: TOKEN_RETRY_MS };
  if (status === 429) return { kind: 'retry', message, status, notBeforeMs: after };
  if (status === 403) {
    // GitHub's primary limit: remaining 0 and a reset time; its secondary limit: Retry-After.
    const reset = Number(headers['x-ratelimit-reset']);
    if (String(headers['x-ratelimit-remaining']) === '0' && Number.isFinite(reset)) return { kind: 'retry', message, status, notBeforeMs: Math.max(0, reset * 1000 - now) };
    if (after !== undefined) return { kind: 'retry', message, status, notBeforeMs: after };
  }
  return { kind: 'drop', message, status };
}
