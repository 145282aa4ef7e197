// A runner that builds nothing: after an optional delay it "produces" one empty
// .deb of the job's package. For the dispatch benchmark and agent tests only; it can be chosen
// solely by passing it to the Agent constructor, never from config or flags.
import { writeFile as writeFileCallback } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BuildJob } from '../schema/messages.ts';
import { noopDeb } from './noop-deb.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from './runner.ts';

// The callback API on a plain fd: fs/promises makes a FileHandle per file (measurable per job, as in upload.ts).
const writeFile = promisify(writeFileCallback);

export class NoopRunner implements BuildRunner {
  readonly name = 'noop';
  readonly needsSource = false;
  constructor(private readonly opts: { delayMs?: number } = {}) {}

  async run(job: BuildJob, work: WorkDir, { onLog, signal }: RunOptions): Promise<RunOutcome> {
    onLog(Buffer.from(`noop build of ${job.inputs.package} ${job.inputs.version} (${job.key})\n`));
    if (this.opts.delayMs) await sleep(this.opts.delayMs, undefined, { signal }).catch(() => undefined);
    const deb = await noopDeb(job.inputs, job.key);
    const file = join(work.root, deb.name);
    await writeFile(file, deb.bytes);
    return { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [file] };
  }
}
