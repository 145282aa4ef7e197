// Carry out install/uninstall steps (install-plan.ts), under `root` when given.
// Stops at the first failing command and says which one and why.
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { UsageError } from '../../schema/errors.ts';
import { writeFileAtomic } from '../keys/write-key-file.ts';
import type { Step } from './install-plan.ts';

const run = promisify(execFile);

export async function applySteps(steps: Step[], root: string | undefined, log: Logger): Promise<void> {
  const at = (p: string) => (root ? join(root, p) : p);
  for (const s of steps) {
    switch (s.kind) {
      case 'write':
        await mkdir(dirname(at(s.path)), { recursive: true });
        await writeFileAtomic(at(s.path), s.content, s.mode);
        break;
      case 'mkdir':
        await mkdir(at(s.path), { recursive: true, mode: s.mode });
        break;
      case 'remove':
        await rm(at(s.path), { recursive: true, force: true });
        break;
      case 'run':
        try {
          await run(s.argv[0], s.argv.slice(1));
        } catch (e) {
          const err = e as { stderr?: string; message: string };
          throw new UsageError(`'${s.argv.join(' ')}' (to ${s.why}) failed: ${(err.stderr || err.message).trim()}`, { argv: s.argv });
        }
        break;
    }
    log.debug({ step: s.kind, target: s.kind === 'run' ? s.argv.join(' ') : at(s.path) }, 'done');
  }
}
