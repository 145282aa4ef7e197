// The rpm dependency phase, like the Debian one (deps-image.ts): rpmbuild
// itself says which BuildRequires the build image lacks (`rpmbuild --nobuild`,
// offline, as the build user); dnf resolves and downloads them with the network
// from the repositories the image configures (/etc/yum.repos.d); the exact rpms
// downloaded are installed offline and the result committed as an image tagged
// by the hash of (base image id, each resolved NEVRA and header digest). The
// build then runs offline in that image; the next build that resolves to the
// same rpms reuses it. A BuildRequires dnf cannot satisfy fails the build with
// dnf's reason.
import { createHash, randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DNF_INSTALLROOT_CAPABILITIES } from '../containers/capabilities.ts';
import { runContainer, type ContainerSpec } from '../containers/run-container.ts';
import type { DepsImage } from './deps-image.ts';

export interface RpmDepsOptions {
  /** The job's tree, mounted read-only at /build. */
  workRoot: string;
  /** The spec inside the container (/build/…). */
  spec: string;
  target?: string;
  /** 'uid:gid' of the offline check. */
  user: string;
  memoryBytes: number;
  timeoutMs: number;
  labels?: Record<string, string>;
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
}

const RESOLVED = 'kiln-resolved';
/**
 * The rpm database of a deps image, which its builds read. Debian's rpm keeps it in $HOME/.rpmdb
 * (root's would be invisible to the non-root build, and a Debian-hosted base has no rpm packages:
 * its check sees every BuildRequires unmet, as it should); a native image's default is this path.
 */
export const RPMDB = '/var/lib/rpm';
const DOWNLOADS = '/var/cache/kiln-rpms';
const NETWORK_TROUBLE = /Curl error|Cannot download|Failed to download metadata|Could not resolve host|Connection refused|Network is unreachable/;

/**
 * Pure: the BuildRequires rpmbuild names as missing ("\tX is needed by Y" after "Failed build
 * dependencies:"). Its stdout and stderr come through separate pipes, so stdout lines (or parts
 * of them: the streams are chunked) may land between the stderr ones: every such line after the
 * heading counts, whatever is in between.
 */
export function unmetBuildRequires(output: string): string[] {
  const lines = output.split('\n');
  // The heading may be split by the other stream mid-line ("error: " + a stdout line + the rest).
  const i = lines.findIndex((l) => l.includes('Failed build dependencies:'));
  if (i < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(i + 1)) {
    const m = /^\s+(.+?) is needed by \S+\s*$/.exec(l);
    if (m) out.push(m[1]);
  }
  return [...new Set(out)].sort();
}

/** Pure: the resolve step's rpms as sorted `NEVRA sha256` lines. */
export function parseResolvedRpms(output: string): string[] {
  const out = new Set<string>();
  for (const line of output.split('\n')) {
    const m = new RegExp(`^${RESOLVED} (\\S+) ([0-9a-f]{64})\\r?$`).exec(line);
    if (m) out.add(`${m[1]} ${m[2]}`);
  }
  return [...out].sort();
}

/** Pure: why dnf could not resolve, from its output. */
export function dnfFailure(output: string, unmet: readonly string[]): { class: 'build' | 'infra'; reason: string } {
  const said = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(Error:|No match for argument:|Problem:|- nothing provides)/.test(l));
  const reason = (said.length ? said.join('\n') : output.trim().split('\n').slice(-5).join('\n')).slice(0, 2000);
  return { class: NETWORK_TROUBLE.test(output) && !/No match|Unable to find a match|nothing provides/.test(output) ? 'infra' : 'build', reason: `BuildRequires cannot be met (${unmet.join(', ')}): ${reason}` };
}

export function rpmDepsImageTag(resolved: readonly string[], baseImageId: string): string {
  const h = createHash('sha256').update(JSON.stringify({ resolved: [...resolved].sort(), base: baseImageId })).digest('hex');
  return `kiln-rpm-deps:${h}`;
}

/** Debian-hosted dnf has no system-release to take $releasever from: give it one, and leave a native image's alone. */
const RELEASEVER = 'if rpm -q --whatprovides system-release >/dev/null 2>&1; then RV=; else RV=--releasever=1; fi';

/** With the network: download what satisfies the arguments (and what they need), print each file's NEVRA and header digest. */
export const RESOLVE_SCRIPT = [
  'exec 2>&1',
  'set -e',
  RELEASEVER,
  `dnf -y $RV --setopt=install_weak_deps=False install --downloadonly --destdir ${DOWNLOADS} "$@"`,
  `for f in ${DOWNLOADS}/*.rpm; do [ -e "$f" ] && rpm -qp --nosignature --qf '${RESOLVED} %{NEVRA} %{SHA256HEADER}\\n' "$f"; done`,
].join('\n');

/** Offline: install exactly the downloaded files. */
export const INSTALL_SCRIPT = ['exec 2>&1', 'set -e', `rpm -U --replacepkgs --dbpath ${RPMDB} ${DOWNLOADS}/*.rpm`, `rm -rf ${DOWNLOADS}/*`].join('\n');

export class RpmDepsImages {
  private readonly inFlight = new Map<string, Promise<DepsImage>>();

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  /** An image with the spec's BuildRequires: the base when it has them, else a cached or new deps image. */
  async ensure(baseImage: string, baseImageId: string, o: RpmDepsOptions): Promise<DepsImage> {
    const unmet = await this.unmet(baseImage, o);
    if (unmet.length === 0) return { ok: true, image: baseImage, source: 'base' };
    o.onLog(Buffer.from(`kiln: resolving BuildRequires with dnf from the image's repositories: ${unmet.join(', ')}\n`));
    // The downloads live in a volume both steps mount, never in the committed image.
    const volume = `kiln-rpm-downloads-${randomBytes(8).toString('hex')}`;
    try {
      let output = '';
      const exit = await runContainer(this.docker, this.rootSpec(baseImage, RESOLVE_SCRIPT, unmet, volume, 'host', o), {
        signal: o.signal,
        onLog: (b) => {
          output = (output + b.toString('utf8')).slice(-512 * 1024);
        },
      });
      if (exit.timedOut) return { ok: false, class: 'infra', reason: 'resolving BuildRequires timed out' };
      if (exit.exitCode !== 0) {
        o.onLog(Buffer.from(output.slice(-64 * 1024)));
        return { ok: false, ...dnfFailure(output, unmet) };
      }
      const resolved = parseResolvedRpms(output);
      o.onLog(Buffer.from(`kiln: BuildRequires resolve to ${resolved.map((r) => r.split(' ')[0]).join(' ') || 'nothing new'}\n`));
      const tag = rpmDepsImageTag(resolved, baseImageId);
      if (await this.docker.getImage(tag).inspect().then(() => true, () => false)) {
        o.onLog(Buffer.from(`kiln: BuildRequires already installed in image ${tag}\n`));
        return { ok: true, image: tag, source: 'cached', resolved };
      }
      let p = this.inFlight.get(tag);
      if (!p) {
        p = this.install(baseImage, tag, resolved, volume, o).finally(() => this.inFlight.delete(tag));
        this.inFlight.set(tag, p);
      }
      return await p;
    } finally {
      await this.docker.getVolume(volume).remove().catch((e: Error) => this.log.debug({ volume, err: e.message }, 'rpm downloads volume not removed'));
    }
  }

  /** What rpmbuild says is missing, offline and unprivileged; anything else wrong with the spec is the build's to report. */
  private async unmet(image: string, o: RpmDepsOptions): Promise<string[]> {
    let output = '';
    const exit = await runContainer(
      this.docker,
      {
        image,
        cmd: ['rpmbuild', '-bb', '--nobuild', ...(o.target ? ['--target', o.target] : []), '--define', '_topdir /tmp/kiln-rpmbuild', o.spec],
        role: 'deps-check',
        user: o.user,
        env: ['HOME=/tmp', 'LANG=C.UTF-8'],
        network: 'none',
        binds: [`${o.workRoot}:/build:ro`],
        memoryBytes: 256 * 1024 * 1024,
        labels: o.labels,
        timeoutMs: 60_000,
      },
      { onLog: (b) => (output += b.toString('utf8')), signal: o.signal },
    );
    if (exit.exitCode === 0) return [];
    const unmet = unmetBuildRequires(output);
    // Not a dependency problem: the build itself reports it; its output is kept for whoever reads the log.
    if (unmet.length === 0) o.onLog(Buffer.from(`kiln: the BuildRequires check exited ${exit.exitCode}${exit.timedOut ? ' (timed out)' : ''} naming no missing BuildRequires:\n${output.slice(-8 * 1024)}\n`));
    return unmet;
  }

  private rootSpec(image: string, script: string, args: string[], volume: string, network: 'host' | 'none', o: RpmDepsOptions): ContainerSpec {
    return {
      image,
      cmd: ['sh', '-c', script, 'kiln-rpm-deps', ...args],
      role: 'deps',
      user: 'root',
      binds: [`${volume}:${DOWNLOADS}`],
      network,
      // rpm sets owners and modes and chroots for scriptlets, as in the dnf gate.
      capAdd: DNF_INSTALLROOT_CAPABILITIES,
      memoryBytes: o.memoryBytes,
      labels: o.labels,
      timeoutMs: o.timeoutMs,
    };
  }

  private async install(baseImage: string, tag: string, resolved: string[], volume: string, o: RpmDepsOptions): Promise<DepsImage> {
    const t0 = Date.now();
    let output = '';
    const [repo, version] = tag.split(':');
    const exit = await runContainer(this.docker, this.rootSpec(baseImage, INSTALL_SCRIPT, [], volume, 'none', o), {
      signal: o.signal,
      onLog: (b) => {
        output = (output + b.toString('utf8')).slice(-64 * 1024);
        o.onLog(b);
      },
      afterExit: async (c, e) => {
        if (e.exitCode === 0 && !e.timedOut) await c.commit({ repo, tag: version, comment: `kiln rpm build-requires: ${resolved.map((r) => r.split(' ')[0]).join(' ')}` });
      },
    });
    if (exit.timedOut) return { ok: false, class: 'infra', reason: 'installing BuildRequires timed out' };
    if (exit.exitCode !== 0) return { ok: false, class: 'build', reason: `installing BuildRequires failed: ${output.trim().split('\n').slice(-5).join('\n')}` };
    this.log.info({ resolved, ms: Date.now() - t0, image: tag }, 'built rpm dependency image');
    o.onLog(Buffer.from(`kiln: BuildRequires installed into image ${tag}\n`));
    return { ok: true, image: tag, source: 'built', resolved };
  }
}
