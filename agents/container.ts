// Run one command in a throw-away Docker container and report how it ended.
// Engine pitfalls handled here (see TOOLCHAIN.md): wait({condition:'next-exit'})
// is set up before start(), output is attached before start and demultiplexed,
// OOM is read from State.OOMKilled, and the container is always removed.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Container } from 'dockerode';

export interface ContainerSpec {
  image: string;
  cmd: string[];
  workingDir?: string;
  /** 'uid:gid' or a user name. */
  user?: string;
  env?: string[];
  network: 'none' | 'host';
  capDrop?: string[];
  memoryBytes?: number;
  nanoCpus?: number;
  pidsLimit?: number;
  binds?: string[];
  labels?: Record<string, string>;
  timeoutMs: number;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
  timedOut: boolean;
  /** Aborted by the caller's signal. */
  aborted: boolean;
}

export interface ContainerHooks {
  onLog(chunk: Buffer): void;
  signal?: AbortSignal;
  /** Runs after exit, before removal (e.g. to commit the container as an image). */
  afterExit?(container: Container, exit: ContainerExit): Promise<void>;
}

function hostConfig(spec: ContainerSpec): Docker.HostConfig {
  return {
    NetworkMode: spec.network,
    CapDrop: spec.capDrop,
    SecurityOpt: ['no-new-privileges'],
    Memory: spec.memoryBytes,
    // Same as Memory: no swap, so a memory limit ends in an OOM kill instead of thrashing.
    MemorySwap: spec.memoryBytes,
    NanoCpus: spec.nanoCpus,
    PidsLimit: spec.pidsLimit,
    Binds: spec.binds,
    AutoRemove: false,
  };
}

export async function runContainer(docker: Docker, spec: ContainerSpec, hooks: ContainerHooks): Promise<ContainerExit> {
  const container = await docker.createContainer({
    Image: spec.image,
    Cmd: spec.cmd,
    WorkingDir: spec.workingDir,
    User: spec.user,
    Env: spec.env,
    Labels: spec.labels,
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: spec.network === 'none',
    HostConfig: hostConfig(spec),
  });
  try {
    return await runCreated(container, spec, hooks);
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

async function runCreated(container: Container, spec: ContainerSpec, hooks: ContainerHooks): Promise<ContainerExit> {
  const stream = await container.attach({ stream: true, stdout: true, stderr: true });
  const out = new PassThrough();
  out.on('data', (b: Buffer) => hooks.onLog(b));
  container.modem.demuxStream(stream, out, out);
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
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
    // Let the last output drain, but do not hang on a stream that never ends.
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    const state = (await container.inspect()).State;
    const exit: ContainerExit = { exitCode: StatusCode, oomKilled: Boolean(state.OOMKilled), timedOut, aborted };
    if (hooks.afterExit) await hooks.afterExit(container, exit);
    return exit;
  } finally {
    clearTimeout(timer);
    hooks.signal?.removeEventListener('abort', onAbort);
    out.end();
  }
}
