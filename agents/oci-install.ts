// The dependency phase of an oci build (recipe.oci.install): the named binary
// packages of Kiln's own repo, downloaded with apt (network allowed) from the
// job's buildFrom source alone — Kiln's signed repository: apt checks InRelease
// against the source's key and each .deb against the index — into a directory
// the build context gets as `.kiln-debs/`. The Dockerfile then installs them
// offline (`COPY .kiln-debs/ /tmp/debs/` + `RUN apt-get install /tmp/debs/*.deb`
// or dpkg -i), since RUN has no network. The same phase as a deb build's
// Build-Depends (deps-image.ts), ending in files instead of an image.
import type Docker from 'dockerode';
import type { AptSource } from '../schema/messages.ts';
import { APT_AS_ROOT_CAPABILITIES } from '../containers/capabilities.ts';
import { runContainer } from '../containers/run-container.ts';
import { SOURCE_SETUP, sourceEnv } from './deps-image.ts';

/** Name of the directory the build context gets (at its root). */
export const INSTALL_DIR = '.kiln-debs';

/** Only Kiln's source: a package of the base archive with the same name can never stand in. */
export const DOWNLOAD_SCRIPT = [
  'exec 2>&1',
  'set -e',
  'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*',
  SOURCE_SETUP,
  'apt-get update -q',
  'cd /kiln-debs',
  'apt-get download -q "$@"',
  'chown -R "$KILN_OWNER" /kiln-debs',
  'ls -l /kiln-debs',
].join('\n');

export type InstallOutcome = { ok: true } | { ok: false; class: 'build' | 'infra'; reason: string };

const NETWORK_TROUBLE = /Failed to fetch|Temporary failure resolving|Could not resolve|Unable to connect|Connection failed|Network is unreachable/;

/** Pure: why the download failed, from apt's output. */
export function downloadFailure(output: string, source: AptSource): { class: 'build' | 'infra'; reason: string } {
  const errors = output.split('\n').filter((l) => /^(E|W): /.test(l.trim())).map((l) => l.trim());
  const text = (errors.length ? errors.join('\n') : output.trim().split('\n').slice(-5).join('\n')).slice(0, 2000);
  return { class: NETWORK_TROUBLE.test(output) ? 'infra' : 'build', reason: `cannot fetch install: packages from ${source.url} ${source.suite}: ${text}` };
}

export interface InstallSpec {
  packages: string[];
  source: AptSource;
  /** An image with apt (the agent's builder image). */
  image: string;
  /** Host directory the .debs are written to (becomes the context's .kiln-debs/). */
  dir: string;
  memoryBytes: number;
  timeoutMs: number;
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
}

export async function downloadInstallPackages(docker: Docker, spec: InstallSpec): Promise<InstallOutcome> {
  spec.onLog(Buffer.from(`kiln: fetching ${spec.packages.join(', ')} from ${spec.source.url} ${spec.source.suite} into ${INSTALL_DIR}/ (network allowed; the build that follows has none)\n`));
  let output = '';
  const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const exit = await runContainer(
    docker,
    {
      image: spec.image,
      // Arguments, never spliced into the script.
      cmd: ['sh', '-c', DOWNLOAD_SCRIPT, 'kiln-install', ...spec.packages],
      role: 'deps',
      user: 'root',
      binds: [`${spec.dir}:/kiln-debs`],
      env: ['DEBIAN_FRONTEND=noninteractive', `KILN_OWNER=${owner}`, ...sourceEnv(spec.source)],
      network: 'host',
      capAdd: APT_AS_ROOT_CAPABILITIES,
      memoryBytes: spec.memoryBytes,
      timeoutMs: spec.timeoutMs,
    },
    {
      signal: spec.signal,
      onLog: (b) => {
        output += b.toString('utf8');
        spec.onLog(b);
      },
    },
  );
  if (exit.aborted) return { ok: false, class: 'infra', reason: 'the install: download was aborted (the agent is stopping)' };
  if (exit.timedOut) return { ok: false, class: 'infra', reason: `the install: download did not finish within ${Math.round(spec.timeoutMs / 1000)} s` };
  if (exit.exitCode !== 0) return { ok: false, ...downloadFailure(output, spec.source) };
  return { ok: true };
}
