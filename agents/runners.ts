// Agents choose a runner by the job's recipe format (BuildJob.inputs.recipe.format):
// one runner per format in a table (deb -> the docker runner; oci and rpm add
// theirs). A job whose format no runner here builds fails as a build failure
// naming the formats this agent builds. No reconciler/ import: the table is
// keyed by the wire's format string.
import type { BuildJob } from '../schema/messages.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from './runner.ts';

export type RunnerTable = Readonly<Record<string, BuildRunner>>;

export class RunnersByFormat implements BuildRunner {
  readonly name: string;
  /** The agent fetches the source when any of its runners needs it (every build runner does today). */
  readonly needsSource: boolean;

  constructor(private readonly table: RunnerTable) {
    this.name = Object.entries(table).map(([format, r]) => `${format}:${r.name}`).join(',');
    this.needsSource = Object.values(table).some((r) => r.needsSource);
  }

  /** The runner of a job's format, or undefined when this agent builds no such format. */
  runnerFor(job: BuildJob): BuildRunner | undefined {
    return Object.hasOwn(this.table, job.inputs.recipe.format) ? this.table[job.inputs.recipe.format] : undefined;
  }

  run(job: BuildJob, work: WorkDir, opts: RunOptions): Promise<RunOutcome> {
    const runner = this.runnerFor(job);
    if (runner) return runner.run(job, work, opts);
    const reason = `format '${job.inputs.recipe.format}' is not built by this agent (it builds: ${Object.keys(this.table).join(', ')})`;
    return Promise.resolve({ exitCode: -1, oomKilled: false, timedOut: false, artifacts: [], failure: { class: 'build', reason } });
  }

  async prepare(): Promise<void> {
    for (const r of Object.values(this.table)) await r.prepare?.();
  }

  async close(opts: { hard?: boolean }): Promise<void> {
    for (const r of Object.values(this.table)) await r.close?.(opts);
  }
}
