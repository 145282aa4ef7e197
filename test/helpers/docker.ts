// Docker helpers for tests: is the engine (and an image) there, and cleanup of
// what a test made. Tests that need Docker skip with a reason when it is absent.
import { readdir } from 'node:fs/promises';
import Docker from 'dockerode';
import { engineImages } from '../../agents/engine-images.ts';

export const BUILD_IMAGE = 'kiln/bookworm-debhelper';
export const BASE_IMAGE = 'kiln/bookworm-buildd';

export const docker = new Docker();

/** Why Docker tests cannot run here, or undefined when they can. */
export async function dockerUnavailable(image = BUILD_IMAGE): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch (e) {
    return `Docker Engine not reachable: ${(e as Error).message}`;
  }
  try {
    await docker.getImage(image).inspect();
  } catch {
    return `image ${image} missing (scripts/setup-host builds it)`;
  }
  return undefined;
}

/** Containers carrying `label=value` (e.g. kiln.agent=<id>), running or not. */
export async function containersWithLabel(label: string, value: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${label}=${value}`] } });
}

export async function removeImage(name: string): Promise<void> {
  await docker.getImage(name).remove({ force: true }).catch(() => undefined);
}

/**
 * Untag every image reference into one of `registries` (host:port): what agents pulled from a
 * test's registries (they keep bases as a cache). By reference, never by image ID: a pulled
 * image may share its ID with one that stays (a seed of kiln/bookworm-buildd is that image).
 */
export async function untagRegistryImages(registries: string[]): Promise<void> {
  const ours = (ref: string) => registries.some((r) => ref.startsWith(`${r}/`));
  for (const img of await docker.listImages()) {
    for (const ref of [...(img.RepoDigests ?? []), ...(img.RepoTags ?? [])]) if (ours(ref)) await docker.getImage(ref).remove().catch(() => undefined);
  }
}

/**
 * Build the directory `context` with the engine alone (not Kiln's builder) as `tag`; labels are a last
 * LABEL step. Returns the image ID. Inside this process's engine gate, as Kiln's builds are, so that no
 * removal of this process takes a step from under it; with no cache, as Kiln's builder for FROM scratch
 * (that first step's cache lookup lists every parentless image on the engine, and fails when another test
 * file removes one meanwhile). A build error, which followProgress passes as a message, throws.
 */
export async function engineBuild(context: string, tag: string, labels?: Record<string, string>): Promise<string> {
  return engineImages(docker).build(async () => {
    const stream = await docker.buildImage({ context, src: await readdir(context) }, { t: tag, ...(labels ? { labels } : {}), networkmode: 'none', nocache: true });
    const output = await new Promise<Array<{ error?: string }>>((resolve, reject) => docker.modem.followProgress(stream, (e: Error | null, out: Array<{ error?: string }>) => (e ? reject(e) : resolve(out))));
    const error = output.find((o) => o.error)?.error;
    if (error) throw new Error(`docker build of ${context} as ${tag}: ${error}`);
    return (await docker.getImage(tag).inspect()).Id;
  });
}
