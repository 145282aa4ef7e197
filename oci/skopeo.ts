// Runs skopeo, the registry client Kiln uses (Debian's skopeo 1.9: the dependable
// client on these machines, see TOOLCHAIN.md), and turns its failures into typed
// errors: a registry that cannot be reached is transient (retry, nothing recorded),
// a missing image is ImageNotFoundError, a digest that does not verify is terminal.
import { execFile } from 'node:child_process';
import { DigestMismatchError, ImageNotFoundError, RegistryError, type KilnError } from '../schema/errors.ts';

export interface SkopeoOptions {
  /** Path of the skopeo binary. Default: `skopeo` on PATH. */
  bin?: string;
  /**
   * Speak TLS to a registry (and verify its certificate), for all or per HOST[:PORT]; false for a
   * plain-http registry (kiln.yaml `registries.<host>.insecure`, a loopback test registry).
   */
  tlsVerify: boolean | ((registry: string) => boolean);
  /**
   * Credentials for the registries Kiln reaches (a containers-auth.json, oci/registry-auth.ts):
   * skopeo reads the file itself. Absent: anonymous.
   */
  authFile?: string;
  /** Per call; a registry that hangs is treated as down. Default 10 minutes (a big first push). */
  timeoutMs?: number;
  /** Extra environment (e.g. DOCKER_HOST for the docker-daemon: transport). */
  env?: NodeJS.ProcessEnv;
}

// HTTP status codes only where skopeo prints them as statuses ("404 Not Found", "HTTP status: 401"):
// a bare 401/403/404/50x also occurs in digests, ports and repository names.
const UNREACHABLE = /connection refused|no such host|i\/o timeout|connection reset|TLS handshake|\bEOF\b|network is unreachable|timeout exceeded|\b50[0234] (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)|HTTP status: 50[0234]\b/i;
const NOT_FOUND = /manifest unknown|name unknown|NAME_UNKNOWN|MANIFEST_UNKNOWN|\bnot found\b|\b404 Not Found|HTTP status: 404\b/i;
// containers/image pulling by digest: "Manifest does not match provided manifest digest".
const DIGEST_WRONG = /digest did not match|does not match provided manifest digest|does not match digest|manifest digest .* does not match|Digest mismatch|DIGEST_INVALID|computed digest/i;
const DENIED = /unauthorized|\bdenied\b|authentication required|\b401 Unauthorized|\b403 Forbidden|HTTP status: 40[13]\b/i;

/** The typed error for a failed skopeo call (pure: stderr decides; a registry that cannot be reached first, whatever else the text says). */
export function skopeoError(args: string[], stderr: string, exitCode: number | string | null): KilnError {
  const what = `skopeo ${args.filter((a) => !a.startsWith('--')).slice(0, 3).join(' ')}`;
  const line = stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${exitCode}`;
  const data = { args, exitCode, stderr: stderr.slice(-2000) };
  if (UNREACHABLE.test(stderr) || exitCode === 'ETIMEDOUT') return new RegistryError(`${what}: the registry could not be reached: ${line}`, data, { kind: 'transient' });
  if (DIGEST_WRONG.test(stderr)) return new DigestMismatchError(`${what}: the registry's content does not match its digest: ${line}`, data, { kind: 'terminal' });
  if (DENIED.test(stderr)) return new RegistryError(`${what}: the registry refused the credentials: ${line}`, data, { kind: 'usage' });
  if (NOT_FOUND.test(stderr)) return new ImageNotFoundError(`${what}: ${line}`, data);
  return new RegistryError(`${what} failed: ${line}`, data);
}

/** `skopeo GLOBAL… COMMAND ARGS…` with TLS settings for each transport argument; stdout on success. */
export function runSkopeo(opts: SkopeoOptions, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      opts.bin ?? 'skopeo',
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 600_000, env: { ...process.env, ...opts.env } },
      (err, stdout, stderr) => {
        if (!err) return resolve(String(stdout));
        const code = (err as { code?: number | string }).code ?? null;
        const killed = (err as { killed?: boolean }).killed;
        reject(skopeoError(args, killed ? `timeout exceeded\n${String(stderr)}` : String(stderr) || err.message, code));
      },
    );
  });
}
