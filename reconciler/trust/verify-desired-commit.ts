// verifyDesiredCommit: may the reconciler act on this desired-state commit?
// Gathers the facts (chain from the anchor, signatures, trust sets at each
// parent) and hands them to the pure policy in policy.ts.
import { isResourceError, UntrustedCommitError } from '../../schema/errors.ts';
import { resolveCommit, type GitCache } from '../git/tree.ts';
import { checkCommitSignature } from './commit-signature.ts';
import { firstParentChain, readSignedCommit, type SignedCommit } from './commit-chain.ts';
import { judgeChain, judgeCommit, judgeRoot, type Anchor, type ChainStep, type SignatureCheck, type TrustVerdict } from './policy.ts';
import { TrustReader } from './trust-at-commit.ts';
import { readTrustRoot, writeTrustRoot } from './trust-root.ts';

export interface VerifyDesiredOptions {
  /** The metadata repo. */
  dir: string;
  cache: GitCache;
  /** Revision to judge: branch, tag or commit id. */
  commit: string;
  /** The last desired commit reconciled as trusted (status branch Kiln-Desired). */
  lastTrusted?: string;
  /** Fingerprints allowed to sign a brand-new repo's root commit (configuration, not the repo). */
  rootFingerprints?: string[];
  /** Longest chain walked from the anchor (default 10000). */
  maxChain?: number;
}

const DEFAULT_MAX_CHAIN = 10_000;

/**
 * The verdict on `opts.commit`. Only naming a revision that does not exist throws:
 * whatever goes wrong while judging an existing commit (a chain too long to walk,
 * an object missing from the history, an entry that cannot be read) is a refusal
 * with its reason, so the pass records it instead of failing again every time.
 * The machine running short (EMFILE, ENOSPC …) is not a verdict: it is thrown, a transient error.
 */
export async function verifyDesiredCommit(opts: VerifyDesiredOptions): Promise<TrustVerdict> {
  const target = await resolveCommit(opts.dir, opts.commit, opts.cache);
  try {
    return await verify(opts, target);
  } catch (e) {
    if (e instanceof UntrustedCommitError) return { trusted: false, commit: target, reason: e.message };
    if (isResourceError(e)) throw e;
    return { trusted: false, commit: target, reason: `cannot judge ${target.slice(0, 12)}: ${(e as Error).message}` };
  }
}

async function verify(opts: VerifyDesiredOptions, target: string): Promise<TrustVerdict> {
  const { dir, cache } = opts;
  const max = opts.maxChain ?? DEFAULT_MAX_CHAIN;
  const reader = new TrustReader(dir, cache);

  const accepted = opts.lastTrusted ? undefined : await readTrustRoot(dir);
  const known: Anchor | undefined = opts.lastTrusted
    ? { commit: opts.lastTrusted, kind: 'last-trusted' }
    : accepted
      ? { commit: accepted, kind: 'accepted-root' }
      : undefined;

  if (known) {
    const chain = await firstParentChain(dir, target, cache, { stopAt: known.commit, max });
    if (chain.at(-1)!.oid !== known.commit) {
      return {
        trusted: false,
        commit: target,
        anchor: known,
        reason: `${known.commit.slice(0, 12)} (${known.kind}) is not on the first-parent history of ${target.slice(0, 12)}: history was rewritten, or this commit is on another line`,
      };
    }
    return judgeSteps(target, known, chain.slice(0, -1).reverse(), reader);
  }

  // Brand-new repo: the root commit must be approved (configured fingerprint).
  const chain = await firstParentChain(dir, target, cache, { max });
  const root = chain.at(-1)!;
  const own = await reader.at(root.oid);
  const rootSig = await checkCommitSignature(root.payload, root.gpgsig, own.keys);
  const { anchor, verdict } = judgeRoot(root.oid, rootSig, own.set, { accepted: false, rootFingerprints: opts.rootFingerprints ?? [] });
  if (!anchor) {
    const suffix = root.oid === target ? '' : `; ${target.slice(0, 12)} builds on it`;
    return { trusted: false, commit: target, signer: root.oid === target ? verdict.signer : undefined, reason: verdict.reason + suffix, chain: [verdict] };
  }
  return judgeSteps(target, anchor, chain.slice(0, -1).reverse(), reader);
}

/** Judge commits oldest first, stopping at the first refused one. */
async function judgeSteps(target: string, anchor: Anchor, commits: SignedCommit[], reader: TrustReader): Promise<TrustVerdict> {
  const steps: ChainStep[] = [];
  for (const c of commits) {
    const parent = await reader.at(c.parents[0]);
    const signature = await signatureOf(c, parent.keys, reader);
    steps.push({ commit: c.oid, signature, trustAtParent: parent.set });
    if (!judgeCommit(c.oid, signature, parent.set).trusted) break;
  }
  return judgeChain(target, anchor, steps);
}

/** Check against the parent's keys; failing that, the commit's own keys, to name who signed it. */
async function signatureOf(c: SignedCommit, parentKeys: Awaited<ReturnType<TrustReader['at']>>['keys'], reader: TrustReader): Promise<SignatureCheck> {
  const sig = await checkCommitSignature(c.payload, c.gpgsig, parentKeys);
  if (sig.status !== 'unknown-key') return sig;
  const own = await reader.at(c.oid);
  return checkCommitSignature(c.payload, c.gpgsig, own.keys);
}

/**
 * The operator approves `commit` as the root of trust (`kiln verify --accept-root`):
 * it must be signed by a key its own kiln.yaml lists (or that kiln.yaml must not
 * require signatures). Recorded in refs/kiln/trust-root only when approved.
 */
export async function acceptTrustRoot(opts: { dir: string; cache: GitCache; commit: string }): Promise<TrustVerdict> {
  const oid = await resolveCommit(opts.dir, opts.commit, opts.cache);
  const c = await readSignedCommit(opts.dir, oid, opts.cache);
  const own = await new TrustReader(opts.dir, opts.cache).at(oid);
  const sig = await checkCommitSignature(c.payload, c.gpgsig, own.keys);
  const { anchor, verdict } = judgeRoot(oid, sig, own.set, { accepted: true, rootFingerprints: [] });
  if (!anchor) return { trusted: false, commit: oid, signer: verdict.signer, reason: verdict.reason, chain: [verdict] };
  await writeTrustRoot(opts.dir, oid);
  return {
    trusted: true,
    commit: oid,
    signer: verdict.signer,
    anchor: { commit: oid, kind: 'accepted-root' },
    reason: `accepted as the root of trust${verdict.signer ? `, signed by ${verdict.signer.userId} (${verdict.signer.fingerprint})` : ''}`,
  };
}
