// Pull an image into the local Docker engine (a base image on an agent, the
// candidate image of an image-test gate), with the registry's credentials when
// there are any: Docker takes them per pull as `authconfig`, so nothing is
// written to the engine's or the user's config.
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { parseRef } from './image-ref.ts';
import { dockerAuthConfig, type RegistryAuth } from './registry-auth.ts';

export interface PullOptions {
  auth?: RegistryAuth;
  /** Each progress line without a layer id. */
  onStatus?: (line: string) => void;
  /** os/arch[/variant] when the image is not of the host's platform. */
  platform?: string;
}

/**
 * Resolves once the pull finished; rejects with the engine's error. `onStatus` gets each overall
 * status line; `platform` (os/arch[/variant]) pulls another machine's image (a multi-arch build or gate).
 */
export async function pullImage(docker: Docker, ref: string, { auth, onStatus, platform }: PullOptions = {}): Promise<void> {
  const authconfig = dockerAuthConfig(auth, parseRef(ref).registry);
  const stream = (await docker.pull(ref, { ...(authconfig ? { authconfig } : {}), ...(platform ? { platform } : {}) })) as Readable;
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve()), (e: { status?: string; id?: string }) => {
      if (e.status && !e.id) onStatus?.(e.status);
    }),
  );
}
