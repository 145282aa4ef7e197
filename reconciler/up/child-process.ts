// A child process of `kiln up` with its output in a log file: started, waited
// for (a line on stderr/stdout, or a condition), and stopped with SIGTERM —
// then SIGKILL if it does not exit in time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface Child {
  proc: ChildProcess;
  /** Resolves with the exit code (or signal name) when it exits. */
  exited: Promise<number | string>;
  /** All output so far (bounded), for error messages. */
  output(): string;
  stop(timeoutMs: number): Promise<number | string>;
}

const KEEP = 16 * 1024;

export function startChild(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Child {
  const log = createWriteStream(logFile, { flags: 'a' });
  // Its own process group: a Ctrl-C at the terminal reaches `kiln up` only, which stops the children in order.
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, detached: true });
  let buf = '';
  const onData = (d: Buffer) => {
    log.write(d);
    buf = (buf + d.toString()).slice(-KEEP);
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    proc.once('error', (e) => {
      buf += `\n${e.message}`;
      resolve('error');
    });
    proc.once('exit', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    proc,
    exited,
    output: () => buf,
    async stop(timeoutMs) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
        timer.unref();
        const r = await exited;
        clearTimeout(timer);
        return r;
      }
      return exited;
    },
  };
}

/** Wait until `pattern` appears in the child's output; rejects if it exits first or time runs out. */
export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(child.output());
    if (m) return m;
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`${what} exited:\n${child.output().slice(-2000)}`);
    if (Date.now() > end) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${child.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
