// Run one command to completion in a fresh container with no network, and
// return its exit code and output. The container is always removed.
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import type { GateRun } from './gate-script.ts';

export interface ContainerRun {
  docker: Docker;
  image: string;
  cmd: string[];
  env: Record<string, string>;
  /** host:container[:ro] */
  binds: string[];
  timeoutSeconds: number;
  memoryBytes?: number;
  pids?: number;
  /** Keep this much output at most (the tail). */
  maxOutputChars?: number;
}

export async function runContainer(run: ContainerRun): Promise<GateRun> {
  const container = await run.docker.createContainer({
    Image: run.image,
    Cmd: run.cmd,
    Env: Object.entries(run.env).map(([k, v]) => `${k}=${v}`),
    Tty: false,
    HostConfig: {
      NetworkMode: 'none',
      Binds: run.binds,
      Memory: run.memoryBytes ?? 1024 * 1024 * 1024,
      PidsLimit: run.pids ?? 512,
      SecurityOpt: ['no-new-privileges'],
    },
  });
  const max = run.maxOutputChars ?? 256 * 1024;
  let output = '';
  let timedOut = false;
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.length > max * 2) output = output.slice(-max);
    });
    container.modem.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((r) => stream.once('end', () => r()));
    const waited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
    await container.start();
    const timer = setTimeout(() => {
      timedOut = true;
      void container.kill().catch(() => {});
    }, run.timeoutSeconds * 1000);
    const { StatusCode } = await waited.finally(() => clearTimeout(timer));
    // Output may still be in flight just after the exit.
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    const info = await container.inspect().catch(() => undefined);
    return { exitCode: StatusCode, output: output.slice(-max), timedOut, oomKilled: info?.State?.OOMKilled === true };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
