// The dependency phase: when a package needs Build-Depends that the builder
// image lacks (asked of dpkg-checkbuilddeps in an offline container), install
// them once (network allowed) and commit the result as an image tagged by the
// hash of (deps, base image id). Builds then run offline from that image; the
// next build with the same deps reuses it.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { depsImageTag } from './build-deps.ts';
import { APT_AS_ROOT_CAPABILITIES } from '../containers/capabilities.ts';
import { runContainer } from '../containers/run-container.ts';

/** The image to build in: the base itself (it has the deps), a cached deps image, or one built just now. */
export type DepsImage = { ok: true; image: string; source: 'base' | 'cached' | 'built' } | { ok: false; class: 'build' | 'infra'; reason: string };

export interface DepsPhaseOptions {
  memoryBytes: number;
  timeoutMs: number;
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
}

const NETWORK_TROUBLE = /Failed to fetch|Temporary failure resolving|Could not resolve|Unable to connect|Connection failed|Network is unreachable/;

/** Pure: why apt failed, from its output (its 'E:' lines, or the last lines). */
export function aptFailure(output: string): { class: 'build' | 'infra'; reason: string } {
  // apt names the culprit in its "unmet dependencies" lines, and the verdict in its E: lines.
  const errors = output
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.startsWith('E:') || /^\s+\S.* : (Pre-)?Depends: /.test(l) || /^\s+(Pre-)?Depends: /.test(l))
    .map((l) => l.trim());
  const reason = (errors.length ? errors.join('\n') : output.trim().split('\n').slice(-5).join('\n')).slice(0, 2000);
  return { class: NETWORK_TROUBLE.test(output) ? 'infra' : 'build', reason: `cannot install Build-Depends: ${reason}` };
}

async function imageExists(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getImage(name).inspect();
    return true;
  } catch {
    return false;
  }
}

export class DepsImages {
  /** Phases under way in this process, so concurrent jobs with the same deps share one. */
  private readonly inFlight = new Map<string, Promise<DepsImage>>();

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  /** Dependency sets (by tag) the base image already satisfies: asked once per process. */
  private readonly satisfiedByBase = new Set<string>();

  /** An image with `deps` installed on `baseImage` (whose id is `baseImageId`). */
  async ensure(baseImage: string, baseImageId: string, deps: string[], opts: DepsPhaseOptions): Promise<DepsImage> {
    if (deps.length === 0) return { ok: true, image: baseImage, source: 'base' };
    const tag = depsImageTag(deps, baseImageId);
    if (this.satisfiedByBase.has(tag)) return { ok: true, image: baseImage, source: 'base' };
    if (await imageExists(this.docker, tag)) return { ok: true, image: tag, source: 'cached' };
    if (await this.baseSatisfies(baseImage, deps)) {
      this.satisfiedByBase.add(tag);
      return { ok: true, image: baseImage, source: 'base' };
    }
    let p = this.inFlight.get(tag);
    if (!p) {
      p = this.build(baseImage, tag, deps, opts).finally(() => this.inFlight.delete(tag));
      this.inFlight.set(tag, p);
    }
    return p;
  }

  /** Does `image` already have `deps`? dpkg-checkbuilddeps, offline, unprivileged, against a stub control file. */
  private async baseSatisfies(image: string, deps: string[]): Promise<boolean> {
    let output = '';
    const exit = await runContainer(
      this.docker,
      {
        image,
        cmd: ['sh', '-c', 'printf "Source: kiln-check\n\nPackage: kiln-check\nArchitecture: any\n" > /tmp/control && dpkg-checkbuilddeps -d "$1" /tmp/control', 'kiln-check', deps.join(', ')],
        role: 'deps-check',
        user: '65534:65534',
        network: 'none',
        memoryBytes: 256 * 1024 * 1024,
        timeoutMs: 60_000,
      },
      { onLog: (b) => (output += b.toString('utf8')) },
    );
    if (exit.exitCode !== 0) this.log.debug({ image, output: output.trim() }, 'base image lacks Build-Depends');
    return exit.exitCode === 0;
  }

  private async build(baseImage: string, tag: string, deps: string[], opts: DepsPhaseOptions): Promise<DepsImage> {
    const log = this.log.child({ image: tag });
    const t0 = Date.now();
    let output = '';
    const onLog = (b: Buffer) => {
      output += b.toString('utf8');
      if (output.length > 256 * 1024) output = output.slice(-128 * 1024);
      opts.onLog(b);
    };
    opts.onLog(Buffer.from(`kiln: installing Build-Depends: ${deps.join(', ')}\n`));
    const [repo, version] = tag.split(':');
    const exit = await runContainer(
      this.docker,
      {
        image: baseImage,
        // Deps are passed as arguments, never spliced into the script.
        // exec 2>&1: one ordered stream, so apt's E: lines stay lines of their own for aptFailure().
        cmd: ['sh', '-c', 'exec 2>&1; apt-get update -q && apt-get satisfy -y -q --no-install-recommends "$@" && apt-get clean', 'kiln-deps', ...deps],
        role: 'deps',
        user: 'root',
        env: ['DEBIAN_FRONTEND=noninteractive'],
        network: 'host',
        capAdd: APT_AS_ROOT_CAPABILITIES,
        memoryBytes: opts.memoryBytes,
        timeoutMs: opts.timeoutMs,
      },
      {
        onLog,
        signal: opts.signal,
        afterExit: async (c, e) => {
          if (e.exitCode === 0 && !e.timedOut) await c.commit({ repo, tag: version, comment: `kiln build-deps: ${deps.join(', ')}` });
        },
      },
    );
    if (exit.timedOut) return { ok: false, class: 'infra', reason: 'installing Build-Depends timed out' };
    if (exit.exitCode !== 0) return { ok: false, ...aptFailure(output) };
    log.info({ deps, ms: Date.now() - t0 }, 'built dependency image');
    return { ok: true, image: tag, source: 'built' };
  }
}
