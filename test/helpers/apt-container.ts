// Runs the real apt client in a container of the bookworm buildd image against
// a Kiln apt repository, with the image's Debian sources removed so that only
// the Kiln repo is used.
//
// Two ways to reach the repo (pick by what the test claims):
//  - repoDir: bind-mounted read-only at /repo, source `file:/repo`, NetworkMode
//    'none' (no server needed; apt verifies signatures and hashes all the same).
//  - repoUrl: an HTTP URL served on 127.0.0.1 (e.g. startRepoServer), NetworkMode
//    'host' since dockerd here runs without a bridge.
// The key is bind-mounted at /kiln/<basename> and named in `signed-by=`; its
// extension (.asc armored / .gpg binary) must match its content.
//
//   const r = await aptInContainer({ repoDir, keyPath, suite: 'stable', install: ['hello'], commands: ['hello'] });
//   assert.equal(r.exitCode, 0, r.output);
import Docker from 'dockerode';
import { basename } from 'node:path';
import { APT_AS_ROOT_CAPABILITIES } from '../../containers/capabilities.ts';
import { runContainer } from '../../containers/run-container.ts';

export interface AptRun {
  image?: string;
  /** Published repository root of one distribution (ROOT/<dist>). */
  repoDir?: string;
  /** URL of the same, e.g. http://127.0.0.1:PORT/<dist>. */
  repoUrl?: string;
  keyPath: string;
  suite: string;
  /** Default 'main'. */
  component?: string;
  /** Also a `deb-src` line for the same repository (apt-get source). */
  debSrc?: boolean;
  /** Packages to `apt-get install -y` after the update. */
  install?: string[];
  /** Shell commands run after install (each must succeed). */
  commands?: string[];
  /** Kill the container after this long (default 120 s). */
  timeoutMs?: number;
}

export interface AptResult {
  exitCode: number;
  /** stdout and stderr interleaved. */
  output: string;
  /** Whether `apt-get update` itself succeeded (false: the run stopped there). */
  updateOk: boolean;
}

const UPDATE_OK = '@@kiln-apt-update-ok@@';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function aptScript(run: AptRun, source: string, keyInContainer: string): string {
  const line = `deb [signed-by=${keyInContainer}] ${source} ${run.suite} ${run.component ?? 'main'}`;
  const lines = run.debSrc ? [line, line.replace(/^deb /, 'deb-src ')] : [line];
  return [
    'set -e',
    'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*',
    'rm -rf /var/lib/apt/lists/*',
    `printf '%s\\n' ${lines.map(shellQuote).join(' ')} > /etc/apt/sources.list.d/kiln.list`,
    // --error-on=any: a hash or signature problem fails the command, not only warns.
    'apt-get update --error-on=any',
    `echo ${UPDATE_OK}`,
    ...(run.install?.length ? [`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${run.install.map(shellQuote).join(' ')}`] : []),
    ...(run.commands ?? []),
  ].join('\n');
}

export async function aptInContainer(run: AptRun, docker = new Docker()): Promise<AptResult> {
  if (!run.repoDir === !run.repoUrl) throw new Error('aptInContainer: give exactly one of repoDir or repoUrl');
  const keyInContainer = `/kiln/${basename(run.keyPath)}`;
  const source = run.repoUrl ?? 'file:/repo';
  const binds = [`${run.keyPath}:${keyInContainer}:ro`, ...(run.repoDir ? [`${run.repoDir}:/repo:ro`] : [])];
  let output = '';
  // The shared runner reads the complete output (an attach stream alone can lose the last lines).
  const exit = await runContainer(
    docker,
    {
      image: run.image ?? 'kiln/bookworm-buildd',
      cmd: ['bash', '-c', aptScript(run, source, keyInContainer)],
      role: 'test-apt',
      user: 'root',
      network: run.repoUrl ? 'host' : 'none',
      capAdd: APT_AS_ROOT_CAPABILITIES,
      binds,
      timeoutMs: run.timeoutMs ?? 120_000,
    },
    { onLog: (b) => (output += b.toString()) },
  );
  return { exitCode: exit.exitCode, output, updateOk: output.includes(UPDATE_OK) };
}
