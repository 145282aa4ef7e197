// The rpm runner: `rpmbuild -ba` of the job's spec at the pinned commit, inside
// a container of the job's image (the rpm build image), with the same lock-down
// as Debian builds: no network, no capabilities, a non-root user, the job's
// memory/CPU/pids/time limits. Before it builds, rpm itself says what the spec
// declares (rpm/spec-query.ts); a spec of another name or version than the job's
// is not built. BuildRequires the image lacks come from a dependency phase with
// the network (rpm-deps-image.ts); rpmbuild itself then runs offline.
// Artifacts: the binary rpms and the .src.rpm (the agent uploads them with
// their sha256).
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, posix, relative } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from '../containers/docker-client.ts';
import type { Logger } from 'pino';
import { AgentInfraError } from '../schema/errors.ts';
import type { BuildJob } from '../schema/messages.ts';
import { quote } from '../schema/quote.ts';
import { runContainer } from '../containers/run-container.ts';
import { sweepOrphanContainers } from '../containers/sweep.ts';
import { rpmArch } from '../rpm/arch.ts';
import { evr, querySpec } from '../rpm/spec-query.ts';
import { RPMDB, RpmDepsImages } from './rpm-deps-image.ts';
import { chownTree } from './source-tree.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from './runner.ts';

export interface RpmRunnerOptions {
  log: Logger;
  docker?: Docker;
  /** The uid/gid builds run as. Default: the agent's own, or 1000:1000 when the agent is root. */
  buildUser?: { uid: number; gid: number };
  labels?: Record<string, string>;
}

const MiB = 1024 * 1024;
/** rpmbuild's tree, under the job's work dir (mounted at /build). */
const TOPDIR = 'rpmbuild';

function defaultBuildUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 1000;
  const gid = process.getgid?.() ?? 1000;
  return uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid };
}

/** The rpmbuild command: sources next to the spec, everything else under /build/rpmbuild. */
export function rpmbuildCommand(specInContainer: string, target: string | undefined, cpus: number, dbpath?: string): string[] {
  return [
    'rpmbuild', '-ba',
    ...(target ? ['--target', target] : []),
    '--define', `_topdir /build/${TOPDIR}`,
    ...(dbpath ? ['--define', `_dbpath ${dbpath}`] : []),
    '--define', `_sourcedir ${posix.dirname(specInContainer)}`,
    '--define', `_smp_build_ncpus ${Math.max(1, Math.floor(cpus))}`,
    specInContainer,
  ];
}

/** Pure: why rpmbuild's output says it failed, when it says so more precisely than an exit code. */
export function rpmbuildFailure(output: string): string | undefined {
  const lines = output.split('\n');
  const i = lines.findIndex((l) => l.startsWith('error: Failed build dependencies:'));
  if (i >= 0) return `BuildRequires not met: ${lines.slice(i + 1).filter((l) => /^\s/.test(l)).map((l) => l.trim()).join('; ')}`;
  return undefined;
}

export class RpmRunner implements BuildRunner {
  readonly name = 'rpm';
  readonly needsSource = true;
  private readonly docker: Docker;
  private readonly user: { uid: number; gid: number };
  private readonly deps: RpmDepsImages;

  constructor(private readonly opts: RpmRunnerOptions) {
    this.docker = opts.docker ?? dockerClient();
    this.user = opts.buildUser ?? defaultBuildUser();
    this.deps = new RpmDepsImages(this.docker, opts.log.child({ component: 'rpm-deps-image' }));
  }

  async prepare(): Promise<void> {
    await sweepOrphanContainers(this.docker, this.opts.log, { ownLabels: this.opts.labels });
  }

  async run(job: BuildJob, work: WorkDir, { onLog, signal }: RunOptions): Promise<RunOutcome> {
    const fail = (reason: string, cls: 'build' | 'limit' | 'infra' = 'build'): RunOutcome => ({
      exitCode: -1, oomKilled: false, timedOut: false, artifacts: [], failure: { class: cls, reason },
    });
    const recipe = job.inputs.recipe;
    if (recipe.format !== 'rpm') return fail(`format ${quote(recipe.format)} is not built by the rpm runner`);
    if (!recipe.spec) return fail('the job names no spec (recipe.spec)');
    if (!work.buildDir) throw new AgentInfraError('RpmRunner needs a source checkout');
    const target = job.inputs.arch === 'all' ? undefined : rpmArch(job.inputs.arch);
    if (job.inputs.arch !== 'all' && !target) return fail(`architecture ${quote(job.inputs.arch)} has no rpm name`);
    const baseImageId = await this.imageId(job.inputs.image);

    if (this.user.uid !== process.getuid?.()) await chownTree(work.root, this.user.uid, this.user.gid);
    const user = `${this.user.uid}:${this.user.gid}`;
    const labels = { ...this.opts.labels, 'kiln.key': job.key };
    const specRel = posix.join(relative(work.root, work.buildDir).split('\\').join('/'), recipe.spec);

    const q = await querySpec(this.docker, { image: job.inputs.image, dir: work.root, spec: specRel, target, user, labels, signal });
    if (!q.ok) return fail(q.message.split(`${specRel}:`).join(`${recipe.spec}:`));
    const declared = evr(q.facts);
    if (q.facts.name !== job.inputs.package || declared !== job.inputs.version) {
      return fail(`${recipe.spec} declares ${q.facts.name} ${declared}, the job is ${job.inputs.package} ${job.inputs.version}`);
    }

    const limits = job.limits;
    const deps = await this.deps.ensure(job.inputs.image, baseImageId, {
      workRoot: work.root, spec: `/build/${specRel}`, target, user, labels, onLog, signal,
      memoryBytes: limits.memoryMiB * MiB, timeoutMs: limits.timeoutSeconds * 1000,
    });
    if (signal.aborted) throw new AgentInfraError('build aborted: the agent is shutting down');
    if (!deps.ok) return fail(deps.reason, deps.class);
    const image = deps.image;
    const cmd = rpmbuildCommand(`/build/${specRel}`, target, limits.cpus, deps.source === 'base' ? undefined : RPMDB);
    onLog(Buffer.from(`kiln: ${cmd.join(' ')} in ${image} (memory ${limits.memoryMiB} MiB, cpus ${limits.cpus}, pids ${limits.pids}, timeout ${limits.timeoutSeconds} s, no network)\n`));
    let tailText = '';
    const exit = await runContainer(
      this.docker,
      {
        image,
        cmd,
        role: 'build',
        workingDir: `/build/${posix.dirname(specRel)}`,
        user,
        env: ['HOME=/tmp', 'LANG=C.UTF-8'],
        network: 'none',
        memoryBytes: limits.memoryMiB * MiB,
        nanoCpus: Math.round(Math.min(limits.cpus, availableParallelism()) * 1e9),
        pidsLimit: limits.pids,
        binds: [`${work.root}:/build`],
        labels,
        timeoutMs: limits.timeoutSeconds * 1000,
      },
      {
        onLog: (b) => {
          tailText = (tailText + b.toString('utf8')).slice(-64 * 1024);
          onLog(b);
        },
        signal,
      },
    );
    if (exit.aborted) throw new AgentInfraError('build aborted: the agent is shutting down');
    const ok = exit.exitCode === 0 && !exit.timedOut;
    const why = ok ? undefined : rpmbuildFailure(tailText);
    const artifacts = ok ? await this.collect(join(work.root, TOPDIR)) : [];
    return { exitCode: exit.exitCode, oomKilled: exit.oomKilled, timedOut: exit.timedOut, artifacts, ...(why ? { failure: { class: 'build' as const, reason: why } } : {}) };
  }

  private async imageId(image: string): Promise<string> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch (e) {
      throw new AgentInfraError(`builder image ${quote(image)} is not available on this host: ${(e as Error).message}`, { image }, { cause: e });
    }
  }

  /** RPMS/<arch>/*.rpm and SRPMS/*.src.rpm: what `rpmbuild -ba` makes. */
  private async collect(topdir: string): Promise<string[]> {
    const entries = await readdir(topdir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile() && e.name.endsWith('.rpm'))
      .map((e) => join(e.parentPath, e.name))
      .filter((p) => /\/(RPMS\/[^/]+|SRPMS)\/[^/]+\.rpm$/.test(p))
      .sort();
  }
}
