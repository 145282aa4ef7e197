// A gate script in a clean container: as root (a package manager must install),
// no network, only the capabilities given, memory/pids limits and the same
// labels and deadline as build containers, so a reconciler killed mid-gate
// leaves nothing running for long and the next start-up sweep removes it.
// The output kept is the tail: a package manager's verdict comes last.
import type Docker from 'dockerode';
import { runContainer } from '../../containers/run-container.ts';
import type { GateRun } from './gate-script.ts';

export interface GateContainer {
  image: string;
  script: string;
  env: Record<string, string>;
  binds: string[];
  capAdd: string[];
  labels: Record<string, string>;
  timeoutSeconds: number;
}

const MAX_OUTPUT_CHARS = 256 * 1024;

export async function runGateScript(docker: Docker, g: GateContainer): Promise<GateRun> {
  let output = '';
  const exit = await runContainer(
    docker,
    {
      image: g.image,
      cmd: ['bash', '-c', g.script],
      role: 'gate',
      user: 'root',
      env: Object.entries(g.env).map(([k, v]) => `${k}=${v}`),
      network: 'none',
      capAdd: g.capAdd,
      memoryBytes: 1024 * 1024 * 1024,
      pidsLimit: 512,
      binds: g.binds,
      labels: g.labels,
      timeoutMs: g.timeoutSeconds * 1000,
    },
    {
      onLog: (b) => {
        output += b.toString('utf8');
        if (output.length > MAX_OUTPUT_CHARS * 2) output = output.slice(-MAX_OUTPUT_CHARS);
      },
    },
  );
  return { exitCode: exit.exitCode, output: output.slice(-MAX_OUTPUT_CHARS), timedOut: exit.timedOut, oomKilled: exit.oomKilled };
}
