// Pull an image into the local Docker engine (a base image on an agent, the
// candidate image of an image-test gate), with the registry's credentials when
// there are any: Docker takes them per pull as `authconfig`, so nothing is
// written to the engine's or the user's config.
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { parseRef } from './image-ref.ts';
import { dockerAuthConfig, type RegistryAuth } from './registry-auth.ts';

/**
 * How long a pull may go without a word from the engine. The engine's registry client waits for
 * an answer without a deadline, so a registry that accepts the connection and never answers would
 * hold a build or a gate forever; a slow but moving download keeps sending progress lines.
 */
export const PULL_STALL_MS = 120_000;

export interface PullOptions {
  auth?: RegistryAuth;
  /** Each progress line without a layer id. */
  onStatus?: (line: string) => void;
  /** os/arch[/variant] when the image is not of the host's platform. */
  platform?: string;
  /** Give up after this long without a progress line (default PULL_STALL_MS). */
  stallMs?: number;
  /** Give up when this aborts (an agent stopping now). */
  signal?: AbortSignal;
}

/**
 * Resolves once the pull finished; rejects with the engine's error, once the engine sent nothing
 * for `stallMs`, or once `signal` aborts (the request is then aborted; the engine may go on).
 * `onStatus` gets each overall status line; `platform` (os/arch[/variant]) pulls another
 * machine's image (a multi-arch build or gate).
 */
export async function pullImage(docker: Docker, ref: string, { auth, onStatus, platform, stallMs = PULL_STALL_MS, signal }: PullOptions = {}): Promise<void> {
  const authconfig = dockerAuthConfig(auth, parseRef(ref).registry);
  const abort = new AbortController();
  const stop = () => abort.abort();
  if (signal?.aborted) throw stopped(ref);
  signal?.addEventListener('abort', stop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  // Armed before the request: the engine answers the request's headers only once it reached the registry.
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), stallMs);
  };
  const stalled = () => (signal?.aborted ? stopped(ref) : new Error(`the pull of ${ref} made no progress for ${stallMs / 1000} s (does the registry answer?)`));
  arm();
  try {
    const stream = (await docker.pull(ref, { ...(authconfig ? { authconfig } : {}), ...(platform ? { platform } : {}), abortSignal: abort.signal })) as Readable;
    await new Promise<void>((resolve, reject) => {
      abort.signal.addEventListener('abort', () => {
        stream.destroy();
        reject(stalled());
      });
      docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve()), (e: { status?: string; id?: string }) => {
        arm();
        if (e.status && !e.id) onStatus?.(e.status);
      });
    });
  } catch (e) {
    throw abort.signal.aborted ? stalled() : e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
}

function stopped(ref: string): Error {
  return new Error(`the pull of ${ref} was given up: the caller is stopping`);
}
