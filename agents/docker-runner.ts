// The real runner: a Debian package built by dpkg-buildpackage inside a
// container from the job's image, with no network, no capabilities, a non-root
// user, and the job's memory/CPU/pids/time limits. Build-Depends the image lacks
// are installed beforehand by the dependency phase (deps-image.ts).
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from '../containers/docker-client.ts';
import type { Logger } from 'pino';
import { AgentInfraError, BuildDepsError } from '../schema/errors.ts';
import { quote } from '../schema/quote.ts';
import type { BuildJob } from '../schema/messages.ts';
import { applicableBuildDeps, parseBuildDepends } from './build-deps.ts';
import { runContainer } from '../containers/run-container.ts';
import { sweepOrphanContainers } from '../containers/sweep.ts';
import { DepsImages } from './deps-image.ts';
import { collectSourcePackage } from './source-package.ts';
import { ensureOrigTarball } from './orig-tarball.ts';
import { withBinNMU } from './binnmu-entry.ts';
import { chownTree, readSourceFile } from './source-tree.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from './runner.ts';

export interface DockerRunnerOptions {
  log: Logger;
  docker?: Docker;
  /** The uid/gid builds run as. Default: the agent's own, or 1000:1000 when the agent is root. */
  buildUser?: { uid: number; gid: number };
  /** Labels put on every container (to find and clean up leftovers). */
  labels?: Record<string, string>;
}

/** Binary-build files dpkg-buildpackage leaves next to the source dir (the source package: source-package.ts). */
export const DEB_ARTIFACT = /\.(deb|udeb|ddeb|buildinfo|changes)$/;

const MiB = 1024 * 1024;
/** A real debian/control is a few KiB; the biggest in Debian are under 200 KiB. */
export const MAX_CONTROL_BYTES = MiB;

function defaultBuildUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 1000;
  const gid = process.getgid?.() ?? 1000;
  return uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid };
}


export class DockerRunner implements BuildRunner {
  readonly name = 'docker';
  readonly needsSource = true;
  private readonly docker: Docker;
  private readonly deps: DepsImages;
  private readonly user: { uid: number; gid: number };

  constructor(private readonly opts: DockerRunnerOptions) {
    this.docker = opts.docker ?? dockerClient();
    this.deps = new DepsImages(this.docker, opts.log.child({ component: 'deps-image' }));
    this.user = opts.buildUser ?? defaultBuildUser();
  }

  async run(job: BuildJob, work: WorkDir, { onLog, signal }: RunOptions): Promise<RunOutcome> {
    const fail = (cls: 'build' | 'limit' | 'infra', reason: string): RunOutcome => ({
      exitCode: -1, oomKilled: false, timedOut: false, artifacts: [], failure: { class: cls, reason },
    });
    if (job.inputs.recipe.format !== 'deb') return fail('build', `format '${job.inputs.recipe.format}' is not built by this agent (deb only)`);
    if (!work.buildDir) throw new AgentInfraError('DockerRunner needs a source checkout');
    const limits = job.limits;

    let baseId: string;
    try {
      baseId = (await this.docker.getImage(job.inputs.image).inspect()).Id;
    } catch (e) {
      throw new AgentInfraError(`builder image ${quote(job.inputs.image)} is not available on this host: ${(e as Error).message}`, { image: job.inputs.image }, { cause: e });
    }

    let image: string;
    const deps = await this.buildDeps(work, job.inputs.arch).catch((e: unknown) => e as Error);
    if (deps instanceof BuildDepsError) return fail('build', deps.message);
    // A tree that cannot be read safely throws a terminal SourceResolveError: classed `build` by its kind.
    if (deps instanceof Error) throw deps;
    const d = await this.deps.ensure(job.inputs.image, baseId, deps, {
      memoryBytes: Math.max(limits.memoryMiB, 512) * MiB,
      timeoutMs: limits.timeoutSeconds * 1000,
      onLog,
      signal,
      ...(job.buildFrom ? { source: job.buildFrom } : {}),
    });
    if (!d.ok) return fail(d.class, d.reason);
    if (d.source === 'cached') onLog(Buffer.from(`kiln: Build-Depends from cached image ${d.image}\n`));
    image = d.image;

    // A 3.0 (quilt) source from git has no upstream tarball: made from the tree (orig-tarball.ts).
    const orig = await ensureOrigTarball(work.sourceDir ?? work.buildDir, work.buildDir);
    if (orig) onLog(Buffer.from(`kiln: made ${orig} from the tree at the pinned commit (debian/ left out): a 3.0 (quilt) source in git has no upstream tarball\n`));

    // Give the build user the work dir (the bind mount), so it needs no capabilities.
    if (this.user.uid !== process.getuid?.()) await chownTree(work.root, this.user.uid, this.user.gid);
    // A sourceful build (no -b): the source package (.dsc + tarballs) is made from the cleaned
    // tree in the same locked-down container, before the binaries. A binNMU makes it from the
    // unchanged tree first (it is the source version's, as in Debian), then adds the binary-only
    // changelog entry and builds the binaries alone.
    const build = job.inputs.binNMU
      ? withBinNMU(job, ['dpkg-buildpackage', '-us', '-uc', '-b'], ['dpkg-buildpackage', '-us', '-uc', '-S'])
      : { cmd: ['dpkg-buildpackage', '-us', '-uc'], env: [] };
    const cmd = build.cmd;
    const said = job.inputs.binNMU ? 'dpkg-buildpackage -us -uc -S, binNMU changelog entry, then dpkg-buildpackage -us -uc -b' : cmd.join(' ');
    onLog(Buffer.from(`kiln: ${said} in ${image} (memory ${limits.memoryMiB} MiB, cpus ${limits.cpus}, pids ${limits.pids}, timeout ${limits.timeoutSeconds} s, no network)\n`));
    const exit = await runContainer(
      this.docker,
      {
        image,
        cmd,
        role: 'build',
        workingDir: '/build/' + relative(work.root, work.buildDir),
        user: `${this.user.uid}:${this.user.gid}`,
        env: ['HOME=/tmp', 'LANG=C.UTF-8', `DEB_BUILD_OPTIONS=parallel=${Math.max(1, Math.floor(limits.cpus))}`, ...build.env],
        network: 'none',
        memoryBytes: limits.memoryMiB * MiB,
        // Docker refuses more CPUs than the host has: such a limit means "all of them".
        nanoCpus: Math.round(Math.min(limits.cpus, availableParallelism()) * 1e9),
        pidsLimit: limits.pids,
        binds: [`${work.root}:/build`],
        labels: { ...this.opts.labels, 'kiln.key': job.key },
        timeoutMs: limits.timeoutSeconds * 1000,
      },
      { onLog, signal },
    );
    if (exit.aborted) throw new AgentInfraError('build aborted: the agent is shutting down');
    const artifacts = exit.exitCode === 0 && !exit.timedOut ? await this.collect(dirname(work.buildDir)) : [];
    return { exitCode: exit.exitCode, oomKilled: exit.oomKilled, timedOut: exit.timedOut, artifacts };
  }

  /**
   * Remove containers left behind by killed agents: those of an earlier run of this agent (same
   * labels), and any Kiln build container past its deadline, whichever agent started it (an agent
   * started with the default, pid-based id never sees its predecessor's label again).
   */
  async prepare(): Promise<void> {
    await sweepOrphanContainers(this.docker, this.opts.log, { ownLabels: this.opts.labels });
  }

  /** Build-Depends from debian/control, read from the untrusted tree without following links. */
  private async buildDeps(work: WorkDir, arch: string): Promise<string[]> {
    const root = work.sourceDir ?? work.buildDir!;
    const rel = relative(root, join(work.buildDir!, 'debian', 'control'));
    const text = (await readSourceFile(root, rel, MAX_CONTROL_BYTES)).toString('utf8');
    return applicableBuildDeps(parseBuildDepends(text, 'debian/control'), arch);
  }

  private async collect(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true });
    const binaries = entries.filter((e) => e.isFile() && DEB_ARTIFACT.test(e.name)).map((e) => join(dir, e.name));
    return [...new Set([...binaries, ...(await collectSourcePackage(dir))])].sort();
  }
}
