// An OCI image built on an agent: the Dockerfile at the pinned commit, its base
// pulled from the candidate registry by digest, RUN steps with no network and the
// job's memory/CPU/time limits (the legacy builder, the only one Docker 20.10 has
// here), the result pushed to the candidate registry and described by what the
// registry serves (manifest digest, config digest, layers, size).
//
// Limits: memory and CPU are the build API's own (every RUN container gets them);
// the time limit ends the build by closing the build request, which the engine
// takes as a cancel. The build API has no pids limit (the deb runner's pids limit
// has no equivalent here).
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { AgentInfraError, DigestMismatchError, KilnError, SourceResolveError } from '../schema/errors.ts';
import type { AptSource, ResolvedLimits } from '../schema/messages.ts';
import type { OciImage } from '../schema/oci.ts';
import { byDigest, formatRef, parseRef, type ImageRef } from '../oci/image-ref.ts';
import { pullImage } from '../oci/docker-pull.ts';
import { entryFor, indexManifests } from '../oci/image-index.ts';
import { configMatches, ociPlatform, platformString, type OciPlatform } from '../oci/platform.ts';
import type { RegistryAuth } from '../oci/registry-auth.ts';
import type { RegistryClient } from '../oci/registry-client.ts';
import { engineImages, engineNow, untagWhenIdle } from './engine-images.ts';
import { ownBuildTag } from './oci-own-tag.ts';
import { ambiguousSpace, copyFromTrigger, pinBaseImage } from './oci-dockerfile.ts';
import { networkFailureReason } from './oci-network-reason.ts';
import { downloadInstallPackages, INSTALL_DIR } from './oci-install.ts';
import { readSourceFile, realDirUnder } from './source-tree.ts';

export interface OciBuildSpec {
  /** The checkout at the pinned commit. */
  sourceDir: string;
  /** Build context, relative to sourceDir. */
  context: string;
  /** Dockerfile, relative to sourceDir. */
  dockerfile: string;
  /** The base image by digest (host/repo@sha256:…), from the candidate registry; undefined for FROM scratch. An index is narrowed to `platform`'s image. */
  base?: string;
  /** The platform the image is built for (RUN steps of another machine run under qemu: README, "Multi-architecture images"). Default linux/amd64. */
  platform?: OciPlatform;
  /** Where to push the result in the candidate registry (a tag; the build key makes it unique). */
  push: ImageRef;
  /** Labels for the image (kiln.key, source commit). */
  labels?: Record<string, string>;
  /** Packages of Kiln's repo fetched into the context's .kiln-debs/ before the build (oci-install.ts). */
  install?: { packages: string[]; source: AptSource; image: string };
}

export type OciBuildOutcome =
  | { ok: true; image: OciImage }
  | { ok: false; class: 'build' | 'limit'; reason: string; timedOut?: boolean };

export interface OciBuildHooks {
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
  /** Credentials for pulling the base image from the candidate registry. */
  auth?: RegistryAuth;
  /** The agent's log: what happens after the job's own log has ended (its image's removal). */
  log?: Logger;
}

const MiB = 1024 * 1024;
const MAX_DOCKERFILE_BYTES = MiB;
/** The pinned Dockerfile is added at the root of the context under this name. */
const PINNED_NAME = '.kiln-pinned.Dockerfile';
const CPU_PERIOD = 100_000;
const AMD64 = ociPlatform('amd64')!;
/** Builds run per job when the engine loses an image under them (lostImage), before the job is retried later. */
export const LOST_IMAGE_ATTEMPTS = 5;
/** The pause before the second build after a lost image; n times this before the (n+1)th. */
const LOST_IMAGE_PAUSE_MS = 250;

/**
 * The engine lost an image the build had just named: the words of the engine's image store, image builder and
 * layer store (all four seen here, with builds in three processes) when an image ID it looked up a moment ago is
 * gone. Another process's build on the same engine, untagging its image, deletes that image's untagged parents
 * too (engine-images.ts keeps this process's own builds and removals apart). Not the recipe's fault: the build
 * runs again and makes the step anew. A recipe's own errors never start so (a `COPY --from=sha256:…` is refused
 * by pinBaseImage, and the engine words it "invalid from flag value" anyway).
 */
export function lostImage(error: string | undefined): boolean {
  return error !== undefined && /^(No such image: |unable to find image "|failed to get digest |unknown parent image ID )sha256:[0-9a-f]{64}\b/.test(error);
}

/** The context as a tar stream with the pinned Dockerfile (and the fetched .kiln-debs/) added (links inside the context stay links). */
function contextTar(contextDir: string, addedDir: string, withDebs: boolean): Readable {
  const added = [PINNED_NAME, ...(withDebs ? [INSTALL_DIR] : [])];
  const tar = spawn('tar', ['--numeric-owner', '-c', '-C', contextDir, '.', '-C', addedDir, ...added], { stdio: ['ignore', 'pipe', 'ignore'] });
  return tar.stdout;
}

interface BuildStreamResult {
  imageId?: string;
  error?: string;
  output: string;
}

/** Follow the build's JSON progress stream: output to onLog, the image ID from `aux`, the error line. */
function followBuild(stream: Readable, onLog: (b: Buffer) => void): Promise<BuildStreamResult> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let output = '';
    const r: BuildStreamResult = { output: '' };
    const line = (l: string) => {
      if (!l.trim()) return;
      let m: { stream?: string; error?: string; aux?: { ID?: string } };
      try {
        m = JSON.parse(l) as typeof m;
      } catch {
        return;
      }
      const text = m.stream ?? (m.error ? `${m.error}\n` : '');
      if (text) {
        onLog(Buffer.from(text));
        output = (output + text).slice(-256 * 1024);
      }
      if (m.aux?.ID) r.imageId = m.aux.ID;
      if (m.error) r.error = m.error;
    };
    stream.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      lines.forEach(line);
    });
    const done = () => {
      line(buf);
      buf = '';
      resolve({ ...r, output });
    };
    // 'close' without 'end': the stream was destroyed (time limit, abort).
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', reject);
  });
}

/** Build, push and describe one image. Recipe problems are outcomes; infrastructure trouble throws (retried). */
export async function buildOciImage(docker: Docker, registry: RegistryClient, spec: OciBuildSpec, limits: ResolvedLimits, hooks: OciBuildHooks): Promise<OciBuildOutcome> {
  const fail = (reason: string): OciBuildOutcome => ({ ok: false, class: 'build', reason });
  const { onLog } = hooks;
  const target = spec.platform ?? AMD64;
  let contextDir: string;
  let dockerfileText: string;
  try {
    contextDir = await realDirUnder(spec.sourceDir, spec.context);
    dockerfileText = (await readSourceFile(spec.sourceDir, spec.dockerfile, MAX_DOCKERFILE_BYTES)).toString('utf8');
  } catch (e) {
    if (e instanceof SourceResolveError) return fail(e.message);
    throw e;
  }
  let base: string | undefined;
  if (spec.base) {
    const narrowed = await baseForPlatform(registry, spec.base, target);
    if (!narrowed.ok) return fail(narrowed.reason);
    base = narrowed.ref;
  }
  const pinned = pinBaseImage(dockerfileText, base);
  if (!pinned.ok) return fail(`${spec.dockerfile}: ${pinned.reason}`);
  const platform = platformString(target);

  const tmp = await mkdtemp(join(tmpdir(), 'kiln-oci-'));
  let ownTag: string | undefined;
  let imageId: string | undefined;
  try {
    await writeFile(join(tmp, PINNED_NAME), pinned.text);
    if (spec.install) {
      await mkdir(join(tmp, INSTALL_DIR));
      const fetched = await downloadInstallPackages(docker, {
        ...spec.install,
        dir: join(tmp, INSTALL_DIR),
        memoryBytes: limits.memoryMiB * MiB,
        timeoutMs: limits.timeoutSeconds * 1000,
        onLog,
        signal: hooks.signal,
      });
      if (!fetched.ok && fetched.class === 'infra') throw new AgentInfraError(fetched.reason);
      if (!fetched.ok) return fail(fetched.reason);
    }
    onLog(Buffer.from(`kiln: docker build ${spec.dockerfile} for ${platform} (context ${spec.context}; memory ${limits.memoryMiB} MiB, cpus ${limits.cpus}, timeout ${limits.timeoutSeconds} s, no network for RUN)\n`));
    // The base's pull and the build run as one in the engine gate: no removal of this process beside them.
    const built = await engineImages(docker).build(async () => {
      if (base) {
        await pullBase(docker, base, platform, hooks);
        const refused = await refusedBaseTrigger(docker, base);
        if (refused) return { refused };
      }
      const tag = (ownTag = ownBuildTag(await engineNow(docker)));
      // One time limit for the build, however many times it runs; counted from here, not from the wait for the gate.
      const deadline = Date.now() + limits.timeoutSeconds * 1000;
      return buildRetryingLostImages(() => runBuild(docker, contextTar(contextDir, tmp, spec.install !== undefined), { ...spec, platform: target }, tag, limits, hooks, deadline), onLog);
    }, hooks.signal);
    if ('refused' in built) return fail(built.refused);
    imageId = built.imageId;
    if (built.timedOut) return { ok: false, class: 'limit', reason: `the image build did not finish within ${limits.timeoutSeconds} s`, timedOut: true };
    if (built.aborted) throw new AgentInfraError('image build aborted: the agent is shutting down');
    if (built.error || !imageId) {
      const oom = /exit code: 137|returned a non-zero code: 137/.test(built.error ?? '');
      if (oom) return { ok: false, class: 'limit', reason: `a RUN step was killed (out of memory: limit ${limits.memoryMiB} MiB?): ${built.error}` };
      return fail(networkFailureReason(built.output) ?? built.error ?? 'the build produced no image');
    }
    const config = await docker.getImage(imageId).inspect();
    if (!configMatches(target, { os: config.Os, architecture: config.Architecture, variant: (config as { Variant?: string }).Variant })) {
      return fail(`the image was built for ${config.Os}/${config.Architecture}, not ${platform} (a FROM scratch stage whose first step is not ADD/COPY? Docker's legacy builder then takes the host's platform)`);
    }
    onLog(Buffer.from(`kiln: pushing ${imageId} to ${formatRef(spec.push)}\n`));
    const digest = await registry.pushFromDaemon(imageId, spec.push);
    // Described from what the registry serves, by digest: the result names exactly what was pushed.
    const image = await registry.inspect(byDigest(spec.push.registry, spec.push.repository, digest));
    onLog(Buffer.from(`kiln: pushed ${spec.push.registry}/${spec.push.repository}@${digest} (${image.layers.length} layers, ${image.size} bytes)\n`));
    return { ok: true, image };
  } catch (e) {
    if (e instanceof KilnError) throw e;
    throw new AgentInfraError(`image build could not run: ${(e as Error).message}`, {}, { cause: e });
  } finally {
    // The image lives on in the registry; the agent keeps only the base (a cache for the next build).
    // Untagging deletes the image unless something else still names it, once no build runs beside it
    // (engine-images.ts); an agent killed before then leaves it to a later start (OciRunner.prepare).
    // Asked even without an image ID: a build ended by its time limit may still be tagged by the engine.
    const tag = ownTag;
    if (tag) untagWhenIdle(docker, tag, (e) => logRemoval(hooks.log, tag, e));
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The base by digest for `platform`: itself when it is one image, its entry for the platform when
 * it is an index (a multi-arch base: a `from:` tag or digest naming an index). The index is read
 * by digest, so the choice is as fixed as the digest in the build key.
 */
async function baseForPlatform(registry: RegistryClient, ref: string, platform: OciPlatform): Promise<{ ok: true; ref: string } | { ok: false; reason: string }> {
  const at = parseRef(ref);
  if (!at.digest) return { ok: false, reason: `the base image ${ref} is not named by digest` };
  const manifest = await registry.manifest(at).catch((cause: unknown) => {
    // A base that does not hash to its digest is an integrity failure; anything else, like a failed pull, is retried.
    if (cause instanceof DigestMismatchError) throw cause;
    throw new AgentInfraError(`could not read the base image ${ref}: ${(cause as Error).message}`, { base: ref }, { cause });
  });
  const entries = indexManifests(manifest.bytes);
  if (!entries) return { ok: true, ref };
  const digest = entryFor(entries, platform);
  if (!digest) return { ok: false, reason: `the base image ${ref} is an index with no image for ${platformString(platform)}` };
  return { ok: true, ref: formatRef(byDigest(at.registry, at.repository, digest)) };
}

/** Why the pulled base may not be built FROM (an ONBUILD trigger the Dockerfile check cannot see), or undefined. */
async function refusedBaseTrigger(docker: Docker, base: string): Promise<string | undefined> {
  const config = await docker.getImage(base).inspect().catch((cause: unknown) => {
    throw new AgentInfraError(`could not inspect the pulled base image ${base}: ${(cause as Error).message}`, { base }, { cause });
  });
  const triggers: string[] = config.Config?.OnBuild ?? [];
  const odd = triggers.find((t) => ambiguousSpace(t) !== undefined);
  if (odd !== undefined) return `the base image ${base} has the ONBUILD trigger \`${odd}\` with the character ${ambiguousSpace(odd)}, which Docker's parser may read otherwise than Kiln's check of triggers`;
  const trigger = copyFromTrigger(triggers);
  return trigger === undefined ? undefined : `the base image ${base} has the ONBUILD trigger \`${trigger}\`: COPY --from reads another image than the pinned base, which the build key does not name`;
}

async function pullBase(docker: Docker, base: string, platform: string, hooks: OciBuildHooks): Promise<void> {
  hooks.onLog(Buffer.from(`kiln: pulling the base image ${base} (${platform}) from the candidate registry\n`));
  await pullImage(docker, base, { auth: hooks.auth, onStatus: (status) => hooks.onLog(Buffer.from(`${status}\n`)), platform, signal: hooks.signal }).catch((cause: unknown) => {
    throw new AgentInfraError(`could not pull the base image ${base}: ${(cause as Error).message}`, { base }, { cause });
  });
}

/**
 * runBuild until it does not end in lostImage, a little later each time (another process's cleanup may still
 * be going on). Still lost after LOST_IMAGE_ATTEMPTS, or out of time after a lost image: infrastructure (the
 * job is retried), not the recipe's failure.
 */
async function buildRetryingLostImages<R extends BuildStreamResult & { timedOut: boolean }>(attempt: () => Promise<R>, onLog: (b: Buffer) => void): Promise<R> {
  for (let n = 1; ; n++) {
    const built = await attempt();
    if (built.timedOut && n > 1) throw new AgentInfraError(`the build ran out of its time limit after the engine lost an image ${n - 1} times`, { attempts: n });
    if (!lostImage(built.error)) return built;
    if (n >= LOST_IMAGE_ATTEMPTS) throw new AgentInfraError(`the engine lost an image during each of ${n} builds (${built.error}): another build's cleanup on the same engine?`, { attempts: n });
    onLog(Buffer.from(`kiln: the engine lost an image the build had just used (${built.error}; another build's cleanup on the same engine); building again (${n + 1} of ${LOST_IMAGE_ATTEMPTS})\n`));
    await delay(LOST_IMAGE_PAUSE_MS * n);
  }
}

/** A tag that is already gone is no news (a build that never tagged); anything else is worth a warning. */
function logRemoval(log: Logger | undefined, tag: string, e: unknown): void {
  if ((e as { statusCode?: number }).statusCode === 404) return;
  log?.warn({ tag, err: (e as Error).message }, 'could not untag a built image (the next agent start tries again once it is old)');
}

async function runBuild(docker: Docker, tar: Readable, spec: OciBuildSpec, tag: string, limits: ResolvedLimits, hooks: OciBuildHooks, deadline: number): Promise<BuildStreamResult & { timedOut: boolean; aborted: boolean }> {
  // A build run again after a lost image may start after the agent began to stop.
  if (hooks.signal?.aborted) return { output: '', timedOut: false, aborted: true };
  const stream = (await docker.buildImage(tar, {
    t: tag,
    dockerfile: PINNED_NAME,
    networkmode: 'none',
    memory: limits.memoryMiB * MiB,
    memswap: limits.memoryMiB * MiB,
    cpuperiod: CPU_PERIOD,
    cpuquota: Math.round(limits.cpus * CPU_PERIOD),
    rm: true,
    forcerm: true,
    pull: false,
    // FROM scratch: no cache. The legacy builder looks for the first step's cache among every locally built
    // image without a parent, which includes any image whose parent a removal took mid-build (found here: a
    // two-layer one); one whose last step reads the same is taken, layers and all, as this step's result (a
    // CI run built a one-layer base as two layers so). A build FROM a base looks only among its children.
    nocache: spec.base === undefined,
    labels: spec.labels ?? {},
    platform: platformString(spec.platform ?? AMD64),
  })) as Readable;
  let timedOut = false;
  let aborted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stream.destroy();
  }, Math.max(0, deadline - Date.now()));
  const onAbort = () => {
    aborted = true;
    stream.destroy();
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await followBuild(stream, hooks.onLog).catch((e: unknown) => {
      if (timedOut || aborted) return { output: '' } as BuildStreamResult;
      throw e;
    });
    return { ...r, timedOut, aborted };
  } finally {
    clearTimeout(timer);
    hooks.signal?.removeEventListener('abort', onAbort);
  }
}
