// The trust policy for desired-state commits, as pure decisions over facts the
// I/O layer gathered (who signed each commit, which keys were trusted at its
// parent). No git, no crypto here: see verify-desired-commit.ts for those.
//
// Rules:
//  - The anchor is the last commit a pass reconciled (the status branch's
//    Kiln-Desired). For a brand-new repo it is the first-parent root commit,
//    accepted by the operator (`kiln verify --accept-root`, kept in
//    refs/kiln/trust-root) or signed by a configured root fingerprint.
//  - Every commit after the anchor, along the FIRST-PARENT chain, must be signed
//    by a key listed in kiln.yaml at its first parent. A commit can therefore
//    never trust its own key: adding a key takes a signature by a key trusted
//    before it. requireSignedCommits is read at the parent too, so a commit
//    cannot switch signing off for itself.
//  - Merge commits: the merge itself must be signed by a key trusted at its
//    first parent; its signer vouches for the merged content, the merged side
//    branch's own commits are not checked one by one (like a signed merge on a
//    protected branch).
//  - The first refused commit refuses every commit after it.

export interface TrustedKeyInfo {
  fingerprint: string;
  userId: string;
  /** Path of the key file in the metadata repo, e.g. keys/alice.asc. */
  path: string;
}

/** The keys kiln.yaml trusts as of one commit. */
export interface TrustSet {
  /** The commit this set was read from. */
  at: string;
  requireSignedCommits: boolean;
  keys: Map<string, TrustedKeyInfo>;
  /** Unreadable key files, invalid trust section: reported, never trusted. */
  problems: string[];
}

/** What the signature on one commit says, before any policy. */
export type SignatureCheck =
  | { status: 'unsigned' }
  /** Cryptographically valid, made by this (known) key. */
  | { status: 'valid'; fingerprint: string; userId: string }
  /** Made by a key we have, but it does not verify (altered commit, expired key…). */
  | { status: 'bad'; fingerprint?: string; keyId?: string; reason: string }
  /** Made by a key that appears in no kiln.yaml we looked at. */
  | { status: 'unknown-key'; keyId: string };

export interface Signer {
  fingerprint: string;
  userId: string;
}

export interface StepVerdict {
  commit: string;
  trusted: boolean;
  reason: string;
  signer?: Signer;
}

export type AnchorKind = 'last-trusted' | 'accepted-root' | 'root-fingerprint' | 'unsigned-root';

export interface Anchor {
  commit: string;
  kind: AnchorKind;
}

export interface TrustVerdict {
  trusted: boolean;
  commit: string;
  signer?: Signer;
  reason: string;
  anchor?: Anchor;
  /** Each commit after the anchor, oldest first, up to the first refused one. */
  chain?: StepVerdict[];
}

const short = (oid: string) => oid.slice(0, 12);

export function describeSigner(s: Signer): string {
  return `${s.userId} (${s.fingerprint})`;
}

/** Is `commit` (first parent `parent`) trusted, given its signature and the trust at its parent? */
export function judgeCommit(commit: string, signature: SignatureCheck, trustAtParent: TrustSet): StepVerdict {
  const signer = signature.status === 'valid' ? { fingerprint: signature.fingerprint, userId: signature.userId } : undefined;
  if (!trustAtParent.requireSignedCommits) {
    return { commit, trusted: true, signer, reason: `signatures are not required as of ${short(trustAtParent.at)} (trust.requireSignedCommits: false)` };
  }
  switch (signature.status) {
    case 'unsigned':
      return { commit, trusted: false, reason: `commit ${short(commit)} is not signed` };
    case 'unknown-key':
      return {
        commit,
        trusted: false,
        reason: `commit ${short(commit)} is signed by key ${signature.keyId.toUpperCase()}, which is not trusted as of its parent ${short(trustAtParent.at)}`,
      };
    case 'bad':
      return {
        commit,
        trusted: false,
        reason: `the signature on ${short(commit)}${signature.fingerprint ? ` by ${signature.fingerprint}` : ''} does not verify: ${signature.reason}`,
      };
    case 'valid': {
      const s = signature as { fingerprint: string; userId: string };
      if (trustAtParent.keys.has(s.fingerprint)) {
        return { commit, trusted: true, signer, reason: `signed by ${describeSigner(s)}, trusted as of ${short(trustAtParent.at)}` };
      }
      return {
        commit,
        trusted: false,
        signer,
        reason: `commit ${short(commit)} is signed by ${describeSigner(s)}, a key not trusted as of its parent ${short(trustAtParent.at)} (a commit cannot trust its own key)`,
      };
    }
  }
}

export interface ChainStep {
  commit: string;
  signature: SignatureCheck;
  trustAtParent: TrustSet;
}

/** The verdict on `target` given its anchor and the steps from the anchor (exclusive) to it, oldest first. */
export function judgeChain(target: string, anchor: Anchor, steps: ChainStep[]): TrustVerdict {
  const chain: StepVerdict[] = [];
  for (const step of steps) {
    const v = judgeCommit(step.commit, step.signature, step.trustAtParent);
    chain.push(v);
    if (!v.trusted) {
      const problems = step.trustAtParent.problems.length ? ` [trust problems at ${short(step.trustAtParent.at)}: ${step.trustAtParent.problems.join('; ')}]` : '';
      const reason = step.commit === target ? v.reason + problems : `${v.reason}${problems}; ${short(target)} builds on it`;
      return { trusted: false, commit: target, signer: chain.at(-1)?.commit === target ? v.signer : undefined, reason, anchor, chain };
    }
  }
  const last = chain.at(-1);
  if (!last) return { trusted: true, commit: target, reason: anchorReason(anchor), anchor, chain };
  const n = chain.length;
  return {
    trusted: true,
    commit: target,
    signer: last.signer,
    reason: `${last.reason}${n > 1 ? `; ${n} commits since ${short(anchor.commit)} all trusted` : ''}`,
    anchor,
    chain,
  };
}

function anchorReason(anchor: Anchor): string {
  switch (anchor.kind) {
    case 'last-trusted':
      return `${short(anchor.commit)} was already reconciled as trusted`;
    case 'accepted-root':
      return `${short(anchor.commit)} is the root of trust accepted by the operator`;
    case 'root-fingerprint':
      return `${short(anchor.commit)} is the root commit, signed by a configured root key`;
    case 'unsigned-root':
      return `${short(anchor.commit)} is the root commit and its kiln.yaml does not require signed commits`;
  }
}

/**
 * Can the first-parent root `root` become the anchor without an operator's
 * approval? Its own kiln.yaml is all there is to go by.
 */
export function judgeRoot(
  root: string,
  signature: SignatureCheck,
  ownTrust: TrustSet,
  opts: { accepted: boolean; rootFingerprints: string[] },
): { anchor?: Anchor; verdict: StepVerdict } {
  if (!ownTrust.requireSignedCommits) {
    return { anchor: { commit: root, kind: 'unsigned-root' }, verdict: { commit: root, trusted: true, reason: anchorReason({ commit: root, kind: 'unsigned-root' }) } };
  }
  const self = judgeCommit(root, signature, ownTrust);
  if (!self.trusted) {
    return { verdict: { ...self, reason: `root ${self.reason.replace(/^commit /, '')} (its own kiln.yaml must list the key that signs it)` } };
  }
  const fpr = self.signer!.fingerprint;
  if (opts.rootFingerprints.map((f) => f.toUpperCase()).includes(fpr)) {
    return { anchor: { commit: root, kind: 'root-fingerprint' }, verdict: self };
  }
  if (opts.accepted) return { anchor: { commit: root, kind: 'accepted-root' }, verdict: self };
  return {
    verdict: {
      commit: root,
      trusted: false,
      signer: self.signer,
      reason: `no root of trust yet: root commit ${short(root)} is signed by ${describeSigner(self.signer!)}; if that is right, run 'kiln verify --accept-root ${short(root)}'`,
    },
  };
}
