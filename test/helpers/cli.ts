// `kiln …` as a user runs it: bin/kiln.js in a child process, with its exit code and output.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface KilnRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runKiln(args: string[], env: Record<string, string> = {}): Promise<KilnRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [`${ROOT}bin/kiln.js`, ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as KilnRun;
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
