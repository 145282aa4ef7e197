// The one way Kiln runs a command in a throw-away container: build agents, the
// dependency phase and promotion gates all come through here, so every Kiln
// container gets the same lock-down, labels and deadline, and its output is
// read completely.
//
// Engine pitfalls handled here (see TOOLCHAIN.md): wait({condition:'next-exit'})
// is set up before start(); output is attached before start for live logs, but
// an attach stream can lose the last bytes at exit, so after exit the rest is
// read from the engine's log (complete once wait() has returned) and handed to
// onLog before this returns; OOM is read from State.OOMKilled, or from the
// engine's "oom" event when that comes after the exit (oom-events.ts); the
// container is always removed.
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Container } from 'dockerode';
import { EngineLogLength } from './engine-log-length.ts';
import { LATE_OOM_WAIT_MS, watchOom } from './oom-events.ts';
import { DEADLINE_LABEL, ORPHAN_GRACE_SECONDS, ROLE_LABEL } from './labels.ts';

export interface ContainerSpec {
  image: string;
  cmd: string[];
  /** What the container is for ('build', 'deps', 'gate' …): the `kiln.role` label. */
  role: string;
  workingDir?: string;
  /** 'uid:gid' or a user name. */
  user?: string;
  env?: string[];
  network: 'none' | 'host';
  /** Capabilities kept; every other one is dropped. Default: none. */
  capAdd?: string[];
  memoryBytes?: number;
  nanoCpus?: number;
  pidsLimit?: number;
  binds?: string[];
  labels?: Record<string, string>;
  /** The runner kills the container after this long. */
  timeoutMs: number;
  /**
   * Also hold the limit inside the container (`timeout -s KILL`, a little later than the
   * runner's own kill so its verdict comes first), so a killed runner leaves nothing running
   * for long. Needs `timeout` in the image (coreutils). Default true.
   */
  deadlineInside?: boolean;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
  timedOut: boolean;
  /** Aborted by the caller's signal. */
  aborted: boolean;
}

export interface ContainerHooks {
  /** Every byte of stdout and stderr, interleaved, in order; the last chunk arrives before runContainer returns. */
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
  /** Runs after exit, before removal (e.g. to commit the container as an image). */
  afterExit?(container: Container, exit: ContainerExit): Promise<void>;
}

/**
 * The engine's log is where the end of the output is read back from (deliverRest), counted in
 * json-file's terms: so say json-file, not rotated (a petabyte: json-file refuses '-1'), whatever the daemon's defaults (it merges its
 * log-opts into a container's config of the same driver; `compress` would refuse to start without rotation).
 */
export const ENGINE_LOG = { Type: 'json-file', Config: { 'max-size': '1p', 'max-file': '1', compress: 'false' } };

function hostConfig(spec: ContainerSpec): Docker.HostConfig {
  return {
    NetworkMode: spec.network,
    CapDrop: ['ALL'],
    CapAdd: spec.capAdd,
    SecurityOpt: ['no-new-privileges'],
    Memory: spec.memoryBytes,
    // Same as Memory: no swap, so a memory limit ends in an OOM kill instead of thrashing.
    MemorySwap: spec.memoryBytes,
    NanoCpus: spec.nanoCpus,
    PidsLimit: spec.pidsLimit,
    Binds: spec.binds,
    AutoRemove: false,
    LogConfig: ENGINE_LOG,
  };
}

/** The command as run: wrapped in `timeout -s KILL` unless the spec opts out. */
export function commandWithDeadline(spec: Pick<ContainerSpec, 'cmd' | 'timeoutMs' | 'deadlineInside'>): string[] {
  if (spec.deadlineInside === false) return spec.cmd;
  const seconds = Math.ceil(spec.timeoutMs / 1000) + ORPHAN_GRACE_SECONDS;
  return ['timeout', '-s', 'KILL', String(seconds), ...spec.cmd];
}

export async function runContainer(docker: Docker, spec: ContainerSpec, hooks: ContainerHooks): Promise<ContainerExit> {
  const deadline = Date.now() + spec.timeoutMs + ORPHAN_GRACE_SECONDS * 1000;
  const container = await docker.createContainer({
    Image: spec.image,
    Cmd: commandWithDeadline(spec),
    WorkingDir: spec.workingDir,
    User: spec.user,
    Env: spec.env,
    Labels: { ...spec.labels, [ROLE_LABEL]: spec.role, [DEADLINE_LABEL]: String(deadline) },
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: spec.network === 'none',
    HostConfig: hostConfig(spec),
  });
  try {
    return await runCreated(docker, container, spec, hooks);
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

/**
 * Live output from the attach stream, counted per stream (the engine keeps order within stdout
 * and within stderr, not across them), so that the rest can be read from the log afterwards.
 */
class LiveOutput {
  readonly delivered = { stdout: 0, stderr: 0 };
  /** The same bytes as the json-file log driver stores them (invalid UTF-8 grows there). */
  readonly inJsonLog = { stdout: new EngineLogLength(), stderr: new EngineLogLength() };
  private open = true;
  constructor(private readonly onLog: (b: Buffer) => void) {}
  sink(which: 'stdout' | 'stderr'): PassThrough {
    const out = new PassThrough();
    out.on('data', (b: Buffer) => {
      if (!this.open) return;
      this.delivered[which] += b.length;
      this.inJsonLog[which].add(b);
      this.onLog(b);
    });
    return out;
  }
  /** How much of the engine's log (driver `logDriver`) the live output already covered, per stream. */
  covered(logDriver: string | undefined): { stdout: number; stderr: number } {
    if (logDriver !== 'json-file') return this.delivered;
    return { stdout: this.inJsonLog.stdout.length, stderr: this.inJsonLog.stderr.length };
  }
  close(): void {
    this.open = false;
  }
}

/** SIGKILL's exit status: the OOM killer's, among others. */
const KILLED = 137;

async function runCreated(docker: Docker, container: Container, spec: ContainerSpec, hooks: ContainerHooks): Promise<ContainerExit> {
  const oom = spec.memoryBytes ? await watchOom(docker, container.id) : undefined;
  try {
    return await runWatched(container, spec, hooks, oom);
  } finally {
    oom?.close();
  }
}

async function runWatched(container: Container, spec: ContainerSpec, hooks: ContainerHooks, oom: Awaited<ReturnType<typeof watchOom>> | undefined): Promise<ContainerExit> {
  const live = new LiveOutput(hooks.onLog);
  const stream = await container.attach({ stream: true, stdout: true, stderr: true });
  const [stdout, stderr] = [live.sink('stdout'), live.sink('stderr')];
  container.modem.demuxStream(stream, stdout, stderr);
  const waited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;

  let timedOut = false;
  let aborted = false;
  const kill = () => container.kill().catch(() => undefined);
  const timer = setTimeout(() => {
    timedOut = true;
    void kill();
  }, spec.timeoutMs);
  const onAbort = () => {
    aborted = true;
    void kill();
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await container.start();
    const { StatusCode } = await waited;
    live.close();
    (stream as unknown as Readable).destroy?.();
    const info = await container.inspect();
    const state = info.State;
    // Best effort: the exit is known; a log the engine cannot give back (a container being removed
    // by someone else, a driver without read support) costs at most the tail the attach missed.
    await deliverRest(container, live.covered(info.HostConfig?.LogConfig?.Type), hooks.onLog).catch((e: unknown) =>
      hooks.onLog(Buffer.from(`kiln: the rest of the output could not be read from the engine's log (${(e as Error).message}); it may be incomplete\n`)),
    );
    const killedByOom = Boolean(state.OOMKilled) || (StatusCode === KILLED && !timedOut && !aborted && oom !== undefined && (await oom.seen(LATE_OOM_WAIT_MS)));
    const exit: ContainerExit = { exitCode: StatusCode, oomKilled: killedByOom, timedOut, aborted };
    if (hooks.afterExit) await hooks.afterExit(container, exit);
    return exit;
  } finally {
    clearTimeout(timer);
    hooks.signal?.removeEventListener('abort', onAbort);
    live.close();
    stdout.end();
    stderr.end();
  }
}

/**
 * Read the container's whole log (the engine has it all once wait() returned) as a stream,
 * skip per stream what the attach stream already delivered, and hand on the rest.
 * Streamed, so a build with a huge log is not held in memory.
 */
async function deliverRest(container: Container, skip: { stdout: number; stderr: number }, onLog: (b: Buffer) => void): Promise<void> {
  const raw = (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
  const rest = (already: number): PassThrough => {
    const out = new PassThrough();
    let seen = 0;
    out.on('data', (b: Buffer) => {
      const start = Math.max(0, already - seen);
      seen += b.length;
      if (start < b.length) onLog(start === 0 ? b : b.subarray(start));
    });
    return out;
  };
  const [stdout, stderr] = [rest(skip.stdout), rest(skip.stderr)];
  const done = new Promise<void>((resolve, reject) => {
    raw.on('end', resolve);
    raw.on('close', resolve);
    raw.on('error', reject);
  });
  container.modem.demuxStream(raw, stdout, stderr);
  await done;
  // demuxStream writes synchronously from raw's 'data' events: everything has been handed on.
  stdout.end();
  stderr.end();
}
