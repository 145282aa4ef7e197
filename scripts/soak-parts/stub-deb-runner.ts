// The soak's build runner: no Docker, no source, but a real .deb named and
// versioned as the job's package, so a no-op build can be published. (The
// NoopRunner's `.noop` artifact cannot: publishing takes only .debs.) How long a
// build takes comes from the seed and the build key, so a replayed run asks the
// same of every build.
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from '../../agents/runner.ts';
import type { BuildJob } from '../../schema/messages.ts';
import { writeDeb } from '../../test/helpers/deb.ts';

/** Pure: a build's duration in [minMs, maxMs], from the seed and its key. */
export function buildMs(seed: number, key: string, minMs: number, maxMs: number): number {
  const h = createHash('sha256').update(`${seed}:${key}`).digest().readUInt32BE(0);
  return minMs + (h % (maxMs - minMs + 1));
}

export class StubDebRunner implements BuildRunner {
  readonly name = 'soak-stub-deb';
  readonly needsSource = false;
  constructor(private readonly o: { seed: number; minMs: number; maxMs: number; agent: string; journal: string }) {}

  async run(job: BuildJob, work: WorkDir, { onLog, signal }: RunOptions): Promise<RunOutcome> {
    appendFileSync(this.o.journal, JSON.stringify({ kind: 'run', agent: this.o.agent, key: job.key, attempt: job.attempt, at: Date.now() }) + '\n');
    onLog(Buffer.from(`soak build of ${job.inputs.package} ${job.inputs.version} (${job.key})\n`));
    await sleep(buildMs(this.o.seed, job.key, this.o.minMs, this.o.maxMs), undefined, { signal }).catch(() => undefined);
    const { package: pkg, version, arch } = job.inputs;
    const deb = await writeDeb(work.root, { name: pkg, version, arch, source: pkg, description: 'soak test package', script: `echo ${pkg}` });
    return { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [deb.path] };
  }
}
