// The dependency phase: when a package needs Build-Depends that the builder
// image lacks (asked of dpkg-checkbuilddeps in an offline container), resolve
// them with apt (network allowed) from the base archive plus, when the job
// builds from a distribution of Kiln's, that signed repository (preferred),
// then install exactly what was resolved once and commit the result as an
// image tagged by the hash of (base image id, resolved name=version and
// digest of each package). Builds then run offline from that image; the next
// build that resolves to the same packages reuses it, and a new version of
// any of them (a new libfoo-dev in Kiln's repo) makes a new image.
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { AptSource } from '../schema/messages.ts';
import { depsImageTag } from './build-deps.ts';
import { APT_AS_ROOT_CAPABILITIES } from '../containers/capabilities.ts';
import { runContainer, type ContainerSpec } from '../containers/run-container.ts';

/** The image to build in: the base itself (it has the deps), a cached deps image, or one built just now. */
export type DepsImage =
  | { ok: true; image: string; source: 'base' | 'cached' | 'built'; resolved?: string[] }
  | { ok: false; class: 'build' | 'infra'; reason: string };

export interface DepsPhaseOptions {
  memoryBytes: number;
  timeoutMs: number;
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
  /** Kiln's repository of the job's buildFrom distribution, used beside the base archive. */
  source?: AptSource;
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

const KILN_LIST = '/etc/apt/sources.list.d/kiln-build-from.list';
const KILN_PREFS = '/etc/apt/preferences.d/kiln-build-from';
const KILN_KEY = '/etc/apt/keyrings/kiln-build-from.asc';

/** Environment for the scripts below: the source line, its key and the host its packages are preferred from. */
export function sourceEnv(src: AptSource | undefined): string[] {
  if (!src) return [];
  const line = `deb [signed-by=${KILN_KEY}] ${src.url} ${src.suite} ${src.components.join(' ')}`;
  return [`KILN_SRC_LINE=${line}`, `KILN_SRC_KEY=${src.key}`, `KILN_SRC_HOST=${new URL(src.url).hostname}`];
}

/**
 * Shell lines: with a source in the environment, add it (signed-by its key) and prefer its
 * packages over the base archive's (priority 600 > 500: its version is the candidate, so the
 * constraint's match in Kiln's repository is what gets installed). Values come from the
 * environment, never spliced into the script.
 */
export const SOURCE_SETUP = [
  'if [ -n "${KILN_SRC_LINE:-}" ]; then',
  `  mkdir -p /etc/apt/keyrings && printf '%s\\n' "$KILN_SRC_KEY" > ${KILN_KEY}`,
  `  printf '%s\\n' "$KILN_SRC_LINE" > ${KILN_LIST}`,
  `  printf 'Package: *\\nPin: origin "%s"\\nPin-Priority: 600\\n' "$KILN_SRC_HOST" > ${KILN_PREFS}`,
  'fi',
].join('\n');

/** Marks one resolved package in the resolve step's output: name, version, sha256 of its .deb. */
const RESOLVED = 'kiln-resolved';

/** Simulate the install, then print each package apt would install with the digest its index gives. */
export const RESOLVE_SCRIPT = [
  'exec 2>&1',
  'set -e',
  SOURCE_SETUP,
  'apt-get update -q',
  'if ! apt-get satisfy -s -q --no-install-recommends "$@" > /tmp/kiln-sim 2>&1; then cat /tmp/kiln-sim; exit 100; fi',
  // "Inst NAME [OLD] (VERSION ORIGIN [ARCH])": the version is the token after '('.
  `awk '/^Inst /{for(i=3;i<=NF;i++) if ($i ~ /^\\(/) {print $2, substr($i,2); break}}' /tmp/kiln-sim | while read -r n v; do`,
  `  sha=$(apt-cache show "$n=$v" | sed -n 's/^SHA256: //p' | head -n 1)`,
  `  echo "${RESOLVED} $n $v \${sha:-unknown}"`,
  'done',
].join('\n');

/** Install exactly the resolved NAME=VERSION list (apt's lists are the resolve step's); the image keeps no trace of the extra source. */
export const INSTALL_SCRIPT = [
  'exec 2>&1',
  'set -e',
  SOURCE_SETUP,
  'apt-get install -y -q --no-install-recommends --allow-downgrades "$@"',
  `rm -f ${KILN_LIST} ${KILN_PREFS} ${KILN_KEY}`,
  'apt-get clean',
].join('\n');

/** Pure: the resolve step's packages as sorted `name=version sha256` lines. */
export function parseResolved(output: string): string[] {
  const out = new Set<string>();
  for (const line of output.split('\n')) {
    const m = new RegExp(`^${RESOLVED} (\\S+) (\\S+) (\\S+)\\r?$`).exec(line);
    if (m) out.add(`${m[1]}=${m[2]} ${m[3]}`);
  }
  return [...out].sort();
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
  /** Phases under way in this process, so concurrent jobs that resolve alike share one. */
  private readonly inFlight = new Map<string, Promise<DepsImage>>();

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  /** Dependency sets (by names and base) the base image already satisfies: asked once per process. */
  private readonly satisfiedByBase = new Set<string>();

  /** An image with `deps` installed on `baseImage` (whose id is `baseImageId`). */
  async ensure(baseImage: string, baseImageId: string, deps: string[], opts: DepsPhaseOptions): Promise<DepsImage> {
    if (deps.length === 0) return { ok: true, image: baseImage, source: 'base' };
    const asked = JSON.stringify({ deps: [...deps].sort(), base: baseImageId });
    if (this.satisfiedByBase.has(asked)) return { ok: true, image: baseImage, source: 'base' };
    if (await this.baseSatisfies(baseImage, deps)) {
      this.satisfiedByBase.add(asked);
      return { ok: true, image: baseImage, source: 'base' };
    }
    // apt's lists live in a volume both steps mount: one `apt-get update`, and never in the committed image.
    const lists = `kiln-apt-lists-${randomBytes(8).toString('hex')}`;
    try {
      const resolved = await this.resolve(baseImage, deps, lists, opts);
      if (!resolved.ok) return resolved;
      const tag = depsImageTag(resolved.packages, baseImageId);
      if (await imageExists(this.docker, tag)) return { ok: true, image: tag, source: 'cached', resolved: resolved.packages };
      let p = this.inFlight.get(tag);
      if (!p) {
        p = this.build(baseImage, tag, deps, resolved.packages, lists, opts).finally(() => this.inFlight.delete(tag));
        this.inFlight.set(tag, p);
      }
      return await p;
    } finally {
      await this.docker.getVolume(lists).remove().catch((e: Error) => this.log.debug({ volume: lists, err: e.message }, 'apt lists volume not removed'));
    }
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

  /** apt as root with the network, in a throwaway container of the base image. */
  private aptSpec(baseImage: string, script: string, args: string[], lists: string, opts: DepsPhaseOptions): ContainerSpec {
    return {
      image: baseImage,
      // Arguments, never spliced into the script. exec 2>&1: one ordered stream, so apt's E: lines stay lines of their own.
      cmd: ['sh', '-c', script, 'kiln-deps', ...args],
      role: 'deps',
      user: 'root',
      binds: [`${lists}:/var/lib/apt/lists`],
      env: ['DEBIAN_FRONTEND=noninteractive', ...sourceEnv(opts.source)],
      network: 'host',
      capAdd: APT_AS_ROOT_CAPABILITIES,
      memoryBytes: opts.memoryBytes,
      timeoutMs: opts.timeoutMs,
    };
  }

  /** Which packages (name=version, digest) installing `deps` takes, from the base archive plus the job's source. */
  private async resolve(baseImage: string, deps: string[], lists: string, opts: DepsPhaseOptions): Promise<{ ok: true; packages: string[] } | { ok: false; class: 'build' | 'infra'; reason: string }> {
    const from = opts.source ? ` (base archive + ${opts.source.url} ${opts.source.suite}, preferred)` : '';
    opts.onLog(Buffer.from(`kiln: resolving Build-Depends${from}: ${deps.join(', ')}\n`));
    let output = '';
    const exit = await runContainer(this.docker, this.aptSpec(baseImage, RESOLVE_SCRIPT, deps, lists, opts), {
      signal: opts.signal,
      onLog: (b) => {
        output += b.toString('utf8');
        if (output.length > 1024 * 1024) output = output.slice(-512 * 1024);
      },
    });
    if (exit.timedOut) return { ok: false, class: 'infra', reason: 'resolving Build-Depends timed out' };
    if (exit.exitCode !== 0) {
      opts.onLog(Buffer.from(output.slice(-64 * 1024)));
      return { ok: false, ...aptFailure(output) };
    }
    const packages = parseResolved(output);
    opts.onLog(Buffer.from(`kiln: Build-Depends resolve to ${packages.map((p) => p.split(' ')[0]).join(' ') || 'nothing new'}\n`));
    return { ok: true, packages };
  }

  private async build(baseImage: string, tag: string, deps: string[], resolved: string[], lists: string, opts: DepsPhaseOptions): Promise<DepsImage> {
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
    const exact = resolved.map((r) => r.split(' ')[0]);
    const exit = await runContainer(this.docker, this.aptSpec(baseImage, INSTALL_SCRIPT, exact, lists, opts), {
      onLog,
      signal: opts.signal,
      afterExit: async (c, e) => {
        if (e.exitCode === 0 && !e.timedOut) await c.commit({ repo, tag: version, comment: `kiln build-deps: ${exact.join(' ')}` });
      },
    });
    if (exit.timedOut) return { ok: false, class: 'infra', reason: 'installing Build-Depends timed out' };
    if (exit.exitCode !== 0) return { ok: false, ...aptFailure(output) };
    log.info({ deps, resolved, ms: Date.now() - t0 }, 'built dependency image');
    opts.onLog(Buffer.from(`kiln: Build-Depends installed into image ${tag}\n`));
    return { ok: true, image: tag, source: 'built', resolved };
  }
}
