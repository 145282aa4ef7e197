// One reconcile pass -> at most ONE signed commit on kiln/status.
//   read observed -> build(observed) -> write changed blobs and trees -> sign
//   -> compare-and-set the ref. If the ref moved meanwhile, re-read (only what
//   changed), call build again with the fresher state, and retry: a concurrent
//   update is never overwritten. Never touches HEAD, the index or the work tree.
import type { Logger } from 'pino';
import { InvalidStatusChangeError, RefLockedError, StatusConflictError } from '../../schema/errors.ts';
import { STATUS_REF, TRAILERS } from '../../schema/status.ts';
import type { Signer } from '../signing/signer.ts';
import type { ObservedState } from '../model.ts';
import { readCommitInfo, type GitCache } from '../git/tree.ts';
import { parseUserId, writeSignedCommit, type Identity } from './commit-object.ts';
import { gitdirOf, writeObjects } from './git-objects.ts';
import { formatMessage, messageProblem, type Trailers } from './message.ts';
import { formatProblem } from './parse-record.ts';
import { readObserved } from './reader.ts';
import { compareAndSwapRef } from './ref-cas.ts';
import { applyChanges, parseChanges, type ObservedSnapshot, type ParsedChanges } from './snapshot.ts';
import { pathProblem } from './tree-format.ts';
import { updateTree, type TreeContext } from './tree-update.ts';

export interface StatusChange {
  /** path -> new content; null deletes the file. */
  files: Map<string, string | null>;
  /** One line: what this pass did. */
  summary: string;
  /** Kiln-Desired (defaults to the last reconciled desired commit), then counts. */
  trailers: Trailers;
}

export interface RecordPassOptions {
  dir: string;
  cache: GitCache;
  signer: Signer;
  /** Author and committer; defaults to the signing key's user id. */
  author?: Identity;
  /** What to write, given the CURRENT observed state; null: nothing to do. May be called again after a conflict. */
  build: (observed: ObservedState) => StatusChange | null;
  /** Commit time (default: now). */
  now?: Date;
  /** A snapshot from an earlier read or pass: makes the read incremental. */
  previous?: ObservedSnapshot;
  /** Attempts before giving up on a branch that keeps moving (default 20). */
  maxAttempts?: number;
  /** Age at which a ref lock counts as left by a killed writer and is broken (default 30 s). */
  staleLockMs?: number;
  log?: Logger;
  /**
   * Called with a status head this writer is about to build on when someone else
   * moved the branch since `previous` (throw to refuse): the reconciler checks that
   * the head is signed by its own key, so it never signs on top of a forged commit.
   */
  verifyHead?: (commit: string) => Promise<void>;
  /** Injected for tests; default a jittered 5-50 ms growing with the attempt. */
  delay?: (attempt: number) => Promise<void>;
}

export interface RecordPassResult {
  /** The new status commit, or null when there was nothing to write. */
  commit: string | null;
  observed: ObservedState;
  snapshot: ObservedSnapshot;
  attempts: number;
}

const defaultDelay = (attempt: number) =>
  new Promise<void>((r) => setTimeout(r, Math.min(5 * 2 ** Math.min(attempt, 4), 80) * (0.5 + Math.random())));

const DEFAULT_AUTHOR: Identity = { name: 'Kiln', email: 'kiln@localhost' };

/** Refuse a change that would write something the reader could not read back. */
function checkChange(change: StatusChange): ParsedChanges {
  const bad = messageProblem(change.summary, change.trailers);
  if (bad) throw new InvalidStatusChangeError(`status commit message: ${bad}`, { summary: change.summary });
  for (const path of change.files.keys()) {
    const p = pathProblem(path);
    if (p) throw new InvalidStatusChangeError(`status file '${path}' ${p}`, { path });
  }
  const parsed = parseChanges(change.files);
  for (const v of parsed.values()) {
    if (v && 'message' in v && !('kind' in v)) throw new InvalidStatusChangeError(`refusing to write an invalid status record: ${formatProblem(v)}`, { ...v });
  }
  return parsed;
}

/** Blob oids for the change's files (null stays null = delete). */
async function writeBlobs(gitdir: string, files: Map<string, string | null>): Promise<Map<string, string | null>> {
  const present = [...files].filter((e): e is [string, string] => e[1] !== null);
  const oids = await writeObjects(
    gitdir,
    'blob',
    present.map(([, c]) => Buffer.from(c, 'utf8')),
  );
  const out = new Map<string, string | null>();
  for (const [path, content] of files) if (content === null) out.set(path, null);
  present.forEach(([path], i) => out.set(path, oids[i]));
  return out;
}

async function treeOf(ctx: TreeContext, commit: string | undefined): Promise<string | undefined> {
  return commit ? (await readCommitInfo(ctx.dir, commit, ctx.cache)).tree : undefined;
}

export async function recordPass(opts: RecordPassOptions): Promise<RecordPassResult> {
  const { dir, cache, signer, log } = opts;
  const gitdir = await gitdirOf(dir);
  const ctx: TreeContext = { dir, gitdir, cache };
  const author = opts.author ?? parseUserId(signer.userId) ?? DEFAULT_AUTHOR;
  const maxAttempts = opts.maxAttempts ?? 20;
  const delay = opts.delay ?? defaultDelay;
  let snapshot = opts.previous;
  let verified = opts.previous?.commit;

  for (let attempt = 1; ; attempt++) {
    snapshot = (await readObserved({ dir, cache, previous: snapshot, log })).snapshot;
    if (opts.verifyHead && snapshot.commit && snapshot.commit !== verified) {
      await opts.verifyHead(snapshot.commit);
      verified = snapshot.commit;
    }
    const change = opts.build(snapshot.state);
    if (!change || change.files.size === 0) return { commit: null, observed: snapshot.state, snapshot, attempts: attempt };
    const parsed = checkChange(change);

    const baseTree = await treeOf(ctx, snapshot.commit);
    const tree = await updateTree(ctx, baseTree, await writeBlobs(gitdir, change.files));
    // Writing what is already there is not a change: no empty commits.
    if (tree === baseTree) return { commit: null, observed: snapshot.state, snapshot, attempts: attempt };

    const trailers: Trailers = { ...change.trailers };
    if (trailers[TRAILERS.desired] === undefined && snapshot.state.desiredCommit) trailers[TRAILERS.desired] = snapshot.state.desiredCommit;
    const commit = await writeSignedCommit(
      gitdir,
      {
        tree,
        parents: snapshot.commit ? [snapshot.commit] : [],
        author,
        committer: author,
        time: opts.now ?? new Date(),
        message: formatMessage(change.summary, trailers),
      },
      (payload) => signer.signDetached(payload),
    );

    try {
      await compareAndSwapRef(gitdir, STATUS_REF, snapshot.commit ?? null, commit, {
        staleLockMs: opts.staleLockMs,
        onStaleLock: (lock, ageMs) => log?.warn({ lock, ageMs }, 'broke a stale status ref lock left by a killed writer'),
      });
    } catch (e) {
      if (!(e instanceof StatusConflictError || e instanceof RefLockedError)) throw e;
      if (attempt >= maxAttempts) {
        const msg = `gave up recording after ${attempt} attempts: ${(e as Error).message}`;
        const data = { ...(e as RefLockedError | StatusConflictError).data, attempts: attempt };
        throw e instanceof RefLockedError ? new RefLockedError(msg, data, { cause: e }) : new StatusConflictError(msg, data, { cause: e });
      }
      log?.debug({ attempt, reason: (e as Error).message }, 'status branch moved; re-reading and retrying');
      await delay(attempt);
      continue;
    }

    const desired = trailers[TRAILERS.desired];
    const next = applyChanges(snapshot, parsed, { commit, desiredCommit: desired === undefined ? undefined : String(desired) });
    log?.info({ commit, attempt, files: change.files.size }, `status: ${change.summary}`);
    return { commit, observed: next.state, snapshot: next, attempts: attempt };
  }
}
