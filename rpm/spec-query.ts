// What an rpm spec says (name, epoch, version, release, the binary packages and
// their arch), asked of rpm itself: `rpmspec -q --qf` in a container of the rpm
// build image, never a spec parser of ours. A spec is a program (`%(…)` runs
// shell commands while it is parsed), so the query gets the build lock-down: no
// network, no capabilities, a non-root user, limits, a deadline, the tree read-only.
// Used by the agent before rpmbuild and by the reconciler before dispatch.
import type Docker from 'dockerode';
import { runContainer } from '../containers/run-container.ts';
import { quote } from '../schema/quote.ts';

export interface SpecFacts {
  name: string;
  /** Absent when the spec sets no Epoch. */
  epoch?: string;
  version: string;
  release: string;
  /** Binary packages the build makes, with the arch rpm gives each (`noarch` or the target's). */
  packages: { name: string; arch: string }[];
}

export type SpecQueryResult = { ok: true; facts: SpecFacts } | { ok: false; message: string };

export interface SpecQuery {
  image: string;
  /** Host directory mounted read-only at /src. */
  dir: string;
  /** The spec, relative to `dir` (as named in the metadata: messages use it). */
  spec: string;
  /** rpm's target arch (`--target`), e.g. x86_64; absent: the image's own. */
  target?: string;
  /** 'uid:gid' the query runs as (default 65534:65534, nobody). */
  user?: string;
  labels?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const SRPM = '@@kiln-srpm@@';
const RPM = '@@kiln-rpm@@';
const MOUNT = '/src';
const MiB = 1024 * 1024;

/** The container's command: the source package's fields, then one line per binary package. */
export function specQueryScript(): string {
  const target = '${KILN_TARGET:+--target=$KILN_TARGET}';
  return [
    'set -e',
    `cd "$(dirname "${MOUNT}/$KILN_SPEC")"`,
    `rpmspec -q --srpm ${target} --qf '${SRPM}%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\n' "${MOUNT}/$KILN_SPEC"`,
    `rpmspec -q ${target} --qf '${RPM}%{NAME}\\t%{ARCH}\\n' "${MOUNT}/$KILN_SPEC"`,
  ].join('\n');
}

/** Pure: the facts in the query's output, or rpm's own error lines with the spec's path. */
export function interpretSpecQuery(spec: string, exitCode: number, output: string): SpecQueryResult {
  const lines = output.split('\n');
  const srpm = lines.find((l) => l.startsWith(SRPM))?.slice(SRPM.length).split('\t');
  const packages = lines.filter((l) => l.startsWith(RPM)).map((l) => {
    const [name, arch] = l.slice(RPM.length).split('\t');
    return { name, arch };
  });
  if (exitCode !== 0 || !srpm || srpm.length < 4 || packages.length === 0) {
    // rpm names the spec by its path in the container: give the metadata's path instead.
    const said = lines
      .filter((l) => l.trim() && !l.startsWith(SRPM) && !l.startsWith(RPM))
      .map((l) => l.split(`${MOUNT}/${spec}`).join(spec))
      .slice(-20)
      .join('\n');
    return { ok: false, message: `${spec}: rpmspec cannot parse the spec (exit ${exitCode}):\n${said || '(no output)'}` };
  }
  const [name, epoch, version, release] = srpm;
  return { ok: true, facts: { name, epoch: epoch === '(none)' ? undefined : epoch, version, release, packages } };
}

/** `%{VERSION}-%{RELEASE}` with `EPOCH:` in front when there is one: how Kiln names an rpm version. */
export function evr(f: Pick<SpecFacts, 'epoch' | 'version' | 'release'>): string {
  return `${f.epoch ? `${f.epoch}:` : ''}${f.version}-${f.release}`;
}

export async function querySpec(docker: Docker, q: SpecQuery): Promise<SpecQueryResult> {
  if (q.spec.startsWith('/') || q.spec.split('/').includes('..')) {
    return { ok: false, message: `spec path ${quote(q.spec)} must be a relative path inside the source` };
  }
  const timeoutMs = q.timeoutMs ?? 60_000;
  let output = '';
  const exit = await runContainer(
    docker,
    {
      image: q.image,
      cmd: ['sh', '-c', specQueryScript()],
      role: 'spec-query',
      user: q.user ?? '65534:65534',
      env: ['HOME=/tmp', 'LANG=C.UTF-8', `KILN_SPEC=${q.spec}`, `KILN_TARGET=${q.target ?? ''}`],
      network: 'none',
      memoryBytes: 256 * MiB,
      pidsLimit: 64,
      nanoCpus: 1e9,
      binds: [`${q.dir}:${MOUNT}:ro`],
      labels: q.labels,
      timeoutMs,
    },
    { onLog: (b) => { if (output.length < MiB) output += b.toString('utf8'); }, signal: q.signal },
  );
  if (exit.timedOut) return { ok: false, message: `${q.spec}: rpmspec did not finish within ${Math.round(timeoutMs / 1000)} s` };
  if (exit.oomKilled) return { ok: false, message: `${q.spec}: rpmspec ran out of memory (256 MiB)` };
  return interpretSpecQuery(q.spec, exit.exitCode, output);
}
