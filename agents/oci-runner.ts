// The build runner of `oci` pools: a job whose recipe is an OCI image is built by
// buildOciImage (oci-build.ts) and pushed to the candidate registry this agent
// was given (agents get push rights to candidate only). The pushed tag is the
// build key, so a retried attempt overwrites its own tag and nothing else.
import { join, relative } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from '../containers/docker-client.ts';
import type { Logger } from 'pino';
import { AgentInfraError, UsageError } from '../schema/errors.ts';
import type { BuildJob } from '../schema/messages.ts';
import { byTag } from '../oci/image-ref.ts';
import { ociPlatform } from '../oci/platform.ts';
import type { RegistryAuth } from '../oci/registry-auth.ts';
import { RegistryClient } from '../oci/registry-client.ts';
import { sweepOrphanContainers } from '../containers/sweep.ts';
import { engineImages, engineNow, untagWhenIdle } from './engine-images.ts';
import { buildOciImage } from './oci-build.ts';
import { isOwnTag, isStaleOwnTag, OWN_TAG_REPOSITORY } from './oci-own-tag.ts';
import { emulationProblem } from '../oci/emulation.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from './runner.ts';

/** How long close() and prepare() wait for the removals of built images (then a later start makes them). */
const CLOSE_WAIT_MS = 30_000;

export interface OciRunnerOptions {
  log: Logger;
  /** host[:port] of the candidate registry. */
  candidate: string;
  /** Plain http (a loopback candidate registry). Default false. */
  insecure?: boolean;
  /** Credentials for the candidate registry (push, and pull of base images): `kiln agent --registry-auth`. Absent: anonymous. */
  auth?: RegistryAuth;
  docker?: Docker;
  labels?: Record<string, string>;
  /** An image with apt, for the install: phase (default kiln/bookworm-buildd, the agent's builder image). */
  aptImage?: string;
  /** The agent's architecture (`--arch`): on a host of another machine, prepare() checks that qemu can run it. */
  arch?: string;
}

export class OciRunner implements BuildRunner {
  readonly name = 'oci';
  readonly needsSource = true;
  private readonly docker: Docker;
  private readonly registry: RegistryClient;

  constructor(private readonly opts: OciRunnerOptions) {
    this.docker = opts.docker ?? dockerClient();
    this.registry = new RegistryClient({ tlsVerify: !opts.insecure, auth: opts.auth });
  }

  async run(job: BuildJob, work: WorkDir, { onLog, signal }: RunOptions): Promise<RunOutcome> {
    const fail = (reason: string, cls: 'build' | 'limit' = 'build', timedOut = false): RunOutcome => ({ exitCode: 1, oomKilled: false, timedOut, artifacts: [], failure: { class: cls, reason } });
    const oci = job.inputs.recipe.oci;
    if (job.inputs.recipe.format !== 'oci' || !oci) return fail(`format '${job.inputs.recipe.format}' is not built by this agent (oci only)`);
    if (!work.sourceDir || !work.buildDir) throw new AgentInfraError('OciRunner needs a source checkout');
    const sub = relative(work.sourceDir, work.buildDir);
    const install = oci.install?.length ? oci.install : undefined;
    const platform = ociPlatform(job.inputs.arch);
    if (!platform) return fail(`architecture ${job.inputs.arch} has no OCI platform (oci/platform.ts)`);
    if (install && !job.buildFrom) return fail(`install: ${install.join(', ')} needs a distribution of Kiln's to fetch from, and the job names none (buildFrom; the reconciler's repoUrl)`);
    const outcome = await buildOciImage(
      this.docker,
      this.registry,
      {
        sourceDir: work.sourceDir,
        context: join(sub, oci.context),
        dockerfile: join(sub, oci.dockerfile),
        base: oci.from,
        platform,
        ...(install && job.buildFrom ? { install: { packages: install, source: job.buildFrom, image: this.opts.aptImage ?? 'kiln/bookworm-buildd' } } : {}),
        push: byTag(this.opts.candidate, oci.repository, `build-${job.key}`),
        labels: { ...this.opts.labels, 'kiln.key': job.key, 'kiln.source.commit': job.inputs.source.commit },
      },
      job.limits,
      { onLog, signal, auth: this.opts.auth, log: this.opts.log },
    );
    if (!outcome.ok) return fail(outcome.reason, outcome.class, outcome.timedOut);
    return { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [], image: outcome.image };
  }

  async prepare(): Promise<void> {
    const problem = this.opts.arch ? await emulationProblem(this.opts.arch) : undefined;
    if (problem) throw new UsageError(`kiln agent --arch ${this.opts.arch}: ${problem}`, { arch: this.opts.arch });
    await sweepOrphanContainers(this.docker, this.opts.log, { ownLabels: this.opts.labels });
    await this.removeLeftImages();
  }

  /**
   * Built images are untagged once no build runs (engine-images.ts): wait for that before the agent goes, but
   * not on a hard stop, nor for another agent's builds in this process (tests run several) past CLOSE_WAIT_MS.
   * Whatever is left, a later start untags.
   */
  async close(opts: { hard?: boolean } = {}): Promise<void> {
    if (!opts.hard) await engineImages(this.docker).idle(CLOSE_WAIT_MS);
  }

  /**
   * Images a killed agent built and never untagged: this agent's own (they carry its labels; with a fixed
   * `--id`, since a default id names the pid) and any agent's whose tag is older than a live one can be.
   */
  private async removeLeftImages(): Promise<void> {
    const own = Object.entries(this.opts.labels ?? {});
    const images = await this.docker.listImages({ filters: { reference: [`${OWN_TAG_REPOSITORY}:*`] } });
    const now = await engineNow(this.docker);
    const left = images.flatMap((img) => {
      const mine = own.length > 0 && own.every(([k, v]) => img.Labels?.[k] === v);
      return (img.RepoTags ?? []).filter((t) => isOwnTag(t) && (mine || isStaleOwnTag(t, now)));
    });
    for (const tag of left) {
      this.opts.log.warn({ tag }, 'untagging an image a killed agent built');
      untagWhenIdle(this.docker, tag, (e) => this.opts.log.warn({ tag, err: (e as Error).message }, 'could not untag a left image'));
    }
    await engineImages(this.docker).idle(CLOSE_WAIT_MS);
  }
}
