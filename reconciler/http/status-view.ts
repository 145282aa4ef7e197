// What the HTTP service reads from git, cached per kiln/status head: the
// observed state (read incrementally, as the pass does), build records sorted
// newest first, the desired state of the last reconciled commit (for
// distributions) and the plan. Reads are serialised: one refresh at a time.
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { readDesired, type DesiredSnapshot } from '../desired/read-desired.ts';
import { resolveCommit, type GitCache } from '../git/tree.ts';
import type { ObservedState, Plan } from '../model.ts';
import { plan as makePlan, refusalPlan } from '../plan/plan.ts';
import { gitdirOf } from '../status/git-objects.ts';
import { readObserved } from '../status/reader.ts';
import { RefWatch } from '../status/ref-watch.ts';
import type { ObservedSnapshot } from '../status/snapshot.ts';
import { verifyDesiredCommit } from '../trust/index.ts';
import type { TrustVerdict } from '../trust/policy.ts';
import { STATUS_LAYOUT, STATUS_REF, type BuildRecord } from '../../schema/status.ts';
import type { DesiredState } from '../model.ts';
import { sortNewestFirst } from './build-summary.ts';
import { withImageTagsNow } from '../pass/observe-image-tags.ts';

const run = promisify(execFile);

export interface ObservedView {
  state: ObservedState;
  sorted: BuildRecord[];
  position: Map<string, number>;
}

export class StatusView {
  private readonly cache: GitCache = {};
  private gitdir: Promise<string> | undefined;
  private head: Promise<RefWatch> | undefined;
  private snapshot: ObservedSnapshot | undefined;
  private view: ObservedView | undefined;
  private refreshing: Promise<ObservedView> | undefined;
  private desired: DesiredSnapshot | undefined;
  private planCache: { key: string; at: number; value: Promise<{ plan: Plan; trust: TrustVerdict; statusCommit: string | null }> } | undefined;

  constructor(
    readonly repoDir: string,
    private readonly log?: Logger,
    /** How long a computed plan is reused for the same heads (retry times move with the clock). */
    private readonly planMaxAgeMs = 2000,
    /** Credentials for base images named by tag (the reconciler's --registry-auth). */
    private readonly registryAuth?: RegistryAuth,
  ) {}

  gitDir(): Promise<string> {
    this.gitdir ??= gitdirOf(this.repoDir);
    return this.gitdir;
  }

  private statusHead(): Promise<RefWatch> {
    this.head ??= this.gitDir().then((d) => new RefWatch(d, STATUS_REF));
    return this.head;
  }

  /** A writer in this process moved kiln/status: the next read must not wait for the watch event. */
  async statusMoved(): Promise<void> {
    (await this.statusHead()).invalidate();
  }

  async close(): Promise<void> {
    if (this.head) (await this.head).close();
  }

  /** The observed state at kiln/status as it is now (no disk read while the ref is unchanged). */
  async observed(): Promise<ObservedView> {
    const head = await (await this.statusHead()).read();
    if (this.view && (this.snapshot?.commit ?? null) === head) return this.view;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refresh(): Promise<ObservedView> {
    const read = await readObserved({ dir: this.repoDir, cache: this.cache, previous: this.snapshot, log: this.log });
    if (read.snapshot !== this.snapshot || !this.view) {
      const sorted = sortNewestFirst(read.state.builds.values());
      this.view = { state: read.state, sorted, position: new Map(sorted.map((r, i) => [r.key, i])) };
      this.snapshot = read.snapshot;
    }
    return this.view;
  }

  /** Which of these artifact digests have a signature file on kiln/status. */
  async signedDigests(digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const paths = digests.map((d) => STATUS_LAYOUT.signature(d));
    const out = await run('git', [`--git-dir=${await this.gitDir()}`, 'ls-tree', '--name-only', STATUS_REF, '--', ...paths]).then((r) => r.stdout, () => '');
    return new Set(out.split('\n').filter(Boolean).map((p) => p.replace(/^signatures\//, '').replace(/\.asc$/, '')));
  }

  /** The desired state of the last commit a pass reconciled (never an unjudged HEAD: its files are not parsed). */
  async desiredReconciled(): Promise<DesiredState | undefined> {
    const commit = (await this.observed()).state.desiredCommit;
    if (!commit) return undefined;
    if (this.desired?.commit !== commit) this.desired = (await readDesired({ dir: this.repoDir, rev: commit, cache: this.cache, previous: this.desired, log: this.log })).snapshot;
    return this.desired.state;
  }

  /** What `kiln plan` would print for HEAD now. */
  async plan(): Promise<{ plan: Plan; trust: TrustVerdict; statusCommit: string | null }> {
    const { state: observed } = await this.observed();
    const head = await resolveCommit(this.repoDir, 'HEAD', this.cache);
    const key = `${head}:${observed.statusCommit ?? ''}`;
    if (!this.planCache || this.planCache.key !== key || Date.now() - this.planCache.at > this.planMaxAgeMs) {
      const value = (async () => {
        const trust = await verifyDesiredCommit({ dir: this.repoDir, cache: this.cache, commit: head, lastTrusted: observed.desiredCommit });
        const desired = trust.trusted ? (await readDesired({ dir: this.repoDir, rev: head, cache: this.cache, log: this.log })).state : undefined;
        const plan = desired ? makePlan(desired, await withImageTagsNow(desired, observed, this.log, this.registryAuth), { now: new Date(), trust }) : refusalPlan(head, observed, trust.reason);
        return { plan, trust, statusCommit: observed.statusCommit ?? null };
      })();
      this.planCache = { key, at: Date.now(), value };
      value.catch(() => (this.planCache = undefined));
    }
    return this.planCache.value;
  }
}
