// What a build runner is: it turns a job and a prepared work dir into an exit
// status and artifact files. Docker is the real one; NoopRunner serves benchmarks.
import type { BuildJob } from '../schema/messages.ts';
import type { OciImage } from '../schema/oci.ts';

export interface RunOptions {
  /** Every chunk of build output (stdout and stderr, interleaved). */
  onLog(chunk: Buffer): void;
  /** Aborted when the agent must stop now (not on a graceful drain). */
  signal: AbortSignal;
}

export interface WorkDir {
  /** The job's private directory on the host, removed after the job. */
  root: string;
  /** Where the source tree was checked out (under root), or undefined if the runner needs none. */
  sourceDir?: string;
  /** The directory to build in: sourceDir plus the job's subdir. */
  buildDir?: string;
}

export interface RunOutcome {
  exitCode: number;
  oomKilled: boolean;
  timedOut: boolean;
  /** Absolute paths of the files the build produced. */
  artifacts: string[];
  /** Set when the runner knows the failure's class better than the exit code does (e.g. unmet Build-Depends). */
  failure?: { class: 'build' | 'limit' | 'infra'; reason: string };
  /** An OCI build's result: the image as the candidate registry serves it (its artifacts are in the registry, not files). */
  image?: OciImage;
}

export interface BuildRunner {
  /** Human name, for logs. */
  readonly name: string;
  /** Whether the agent must fetch the source before run(). */
  readonly needsSource: boolean;
  run(job: BuildJob, work: WorkDir, opts: RunOptions): Promise<RunOutcome>;
  /** Called once when the agent starts, e.g. to remove what a crashed predecessor left behind. */
  prepare?(): Promise<void>;
  /** Called once when the agent stops, after its last build: finish what runs in the background (`hard`: do not wait). */
  close?(opts: { hard?: boolean }): Promise<void>;
}
