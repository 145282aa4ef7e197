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
import { PassThrough } from 'node:stream';

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
  return [
    'set -e',
    'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*',
    'rm -rf /var/lib/apt/lists/*',
    `printf '%s\\n' ${shellQuote(line)} > /etc/apt/sources.list.d/kiln.list`,
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
  const container = await docker.createContainer({
    Image: run.image ?? 'kiln/bookworm-buildd',
    Cmd: ['bash', '-c', aptScript(run, source, keyInContainer)],
    Tty: false,
    HostConfig: { NetworkMode: run.repoUrl ? 'host' : 'none', Binds: binds },
  });
  let output = '';
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => (output += d.toString()));
    container.modem.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((r) => stream.once('end', () => r()));
    const waited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
    await container.start();
    const timer = setTimeout(() => void container.kill().catch(() => {}), run.timeoutMs ?? 120_000);
    const { StatusCode } = await waited.finally(() => clearTimeout(timer));
    // The output stream may finish just after the exit: wait for it, briefly.
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    return { exitCode: StatusCode, output, updateOk: output.includes(UPDATE_OK) };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
