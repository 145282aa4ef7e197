// Before a pass (and before any read-only command on a URL): fetch the tracked
// branch, kiln/status and refs/kiln/trust-root into the mirror, then decide
// what each local ref becomes:
//   tracked branch  -> the remote's, always (the trust policy then refuses a
//                      head that no longer descends from the last trusted commit);
//   kiln/status     -> the remote's when it is new to us and signed by the release
//                      key; ours when ours is ahead (pending: the push step sends it);
//   trust root      -> the remote's when we have none; ours is pushed when the remote has none.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { NotFoundError, RemoteRejectedError, RemoteUnreachableError, UntrustedStatusError } from '../../schema/errors.ts';
import { STATUS_REF } from '../../schema/status.ts';
import { compareAndSwapRef, readRef } from '../status/ref-cas.ts';
import { TRUST_ROOT_REF } from '../trust/trust-root.ts';
import type { Signer } from '../signing/signer.ts';
import { isAncestor, type Mirror } from './mirror.ts';
import { reapplyPending } from './reapply-pending.ts';

export interface SyncOptions {
  /** Read-only callers (kiln status, plan, check …) never push, and never drop a local kiln/status commit. */
  readOnly?: boolean;
  /** Throws when a kiln/status head is not signed by the release key; absent: the remote's branch is taken as is. */
  verifyStatus?: (commit: string) => Promise<void>;
  /** The release key, to re-apply our unpushed status commits on a remote head that moved meanwhile. */
  signer?: Signer;
}

export type StatusSync = 'none' | 'same' | 'adopted' | 'pending' | 'diverged';

export interface SyncReport {
  branch: string;
  head: string;
  /** The tracked branch's head before this fetch, when it was different. */
  previousHead?: string;
  /** The remote rewrote the tracked branch: the previous head is no longer its ancestor. */
  forcePushed: boolean;
  status: StatusSync;
}

const fullBranch = (b: string) => (b.startsWith('refs/') ? b : `refs/heads/${b}`);

export async function syncMirror(m: Mirror, o: SyncOptions = {}): Promise<SyncReport> {
  const listed = await m.transport.listRefs();
  const wanted = m.branch ?? listed.head;
  if (!wanted) throw new NotFoundError(`${m.transport.url}: the remote names no default branch (HEAD); pass --branch`, { url: m.transport.url });
  const branch = fullBranch(wanted);
  if (!listed.refs.has(branch)) throw new NotFoundError(`${m.transport.url}: no branch ${branch.replace(/^refs\/heads\//, '')} on the remote`, { url: m.transport.url, branch });
  const fetched = await m.transport.fetch([branch, STATUS_REF, TRUST_ROOT_REF].filter((r) => listed.refs.has(r)));
  const head = fetched.get(branch);
  if (!head) throw new NotFoundError(`${m.transport.url}: branch ${branch} vanished while fetching it; try again`, { url: m.transport.url, branch }, { kind: 'transient' });
  m.remote = { branch, status: fetched.get(STATUS_REF) ?? null, trustRoot: fetched.get(TRUST_ROOT_REF) ?? null };

  const tracked = await syncTrackedBranch(m, branch, head);
  const status = await syncStatus(m, o);
  await syncTrustRoot(m, o);
  return { branch, head, ...tracked, status };
}

/** Point the mirror's branch (and HEAD) at the remote's head; say so loudly when history was rewritten. */
async function syncTrackedBranch(m: Mirror, branch: string, head: string): Promise<{ previousHead?: string; forcePushed: boolean }> {
  const previous = await readRef(m.gitdir, branch);
  if (previous === head) return { forcePushed: false };
  const forcePushed = previous !== null && !(await isAncestor(m, previous, head));
  if (forcePushed) {
    m.log.error(
      { branch, previous, head },
      `the remote's ${branch} was rewritten (force push): ${previous!.slice(0, 12)} is no longer an ancestor of ${head.slice(0, 12)}; ` +
        'Kiln refuses to act on commits that do not descend from the last trusted commit, and records why on kiln/status (checks/)',
    );
  }
  await compareAndSwapRef(m.gitdir, branch, previous, head);
  await setHead(m, branch);
  return { previousHead: previous ?? undefined, forcePushed };
}

async function setHead(m: Mirror, branch: string): Promise<void> {
  const path = `${m.gitdir}/HEAD`;
  const want = `ref: ${branch}\n`;
  if ((await readFile(path, 'utf8').catch(() => '')) === want) return;
  await writeFile(`${path}.kiln-tmp`, want);
  await rename(`${path}.kiln-tmp`, path);
}

async function syncStatus(m: Mirror, o: SyncOptions): Promise<StatusSync> {
  const local = await readRef(m.gitdir, STATUS_REF);
  const remote = m.remote.status ?? null;
  if (remote === local) return remote === null ? 'none' : 'same';
  if (remote === null || (local !== null && (await isAncestor(m, remote, local)))) return 'pending';
  try {
    await o.verifyStatus?.(remote);
  } catch (e) {
    if (!(e instanceof UntrustedStatusError)) throw e;
    // Refused before anything local changes: the mirror keeps the last kiln/status we believed.
    throw new UntrustedStatusError(`fetched from ${m.transport.url}: ${e.message}`, { ...e.data, url: m.transport.url }, { cause: e });
  }
  if (local === null || (await isAncestor(m, local, remote))) {
    await compareAndSwapRef(m.gitdir, STATUS_REF, local, remote);
    return 'adopted';
  }
  if (o.readOnly) {
    m.log.warn({ local, remote }, 'local kiln/status and the remote one diverged; showing the local one (the reconciler settles it on its next pass)');
    return 'diverged';
  }
  if (!o.signer) {
    m.log.warn({ local, remote }, 'kiln/status diverged from the remote; taking the remote branch (no signing key here to re-apply ours)');
    await compareAndSwapRef(m.gitdir, STATUS_REF, local, remote);
    return 'diverged';
  }
  // Our commits were never pushed and another writer moved on: ours go on top of theirs (the push step sends them).
  await reapplyPending(m, { local, remote, signer: o.signer, verifyStatus: o.verifyStatus ?? (async () => undefined) });
  return 'diverged';
}

async function syncTrustRoot(m: Mirror, o: SyncOptions): Promise<void> {
  const local = await readRef(m.gitdir, TRUST_ROOT_REF);
  const remote = m.remote.trustRoot ?? null;
  if (local === remote) return;
  if (local === null) {
    await compareAndSwapRef(m.gitdir, TRUST_ROOT_REF, null, remote!);
    return;
  }
  if (remote !== null) {
    m.log.warn({ local, remote }, `${TRUST_ROOT_REF} differs from the remote's; keeping the one accepted here`);
    return;
  }
  if (!o.readOnly) await pushTrustRoot(m);
}

/** Publish the locally accepted root of trust (kiln verify --accept-root) when the remote has none. */
export async function pushTrustRoot(m: Mirror): Promise<void> {
  const local = await readRef(m.gitdir, TRUST_ROOT_REF);
  if (!local || m.remote.trustRoot === local) return;
  try {
    await m.transport.push(TRUST_ROOT_REF, m.remote.trustRoot ?? null, local);
    m.remote.trustRoot = local;
    m.log.info({ commit: local }, `pushed ${TRUST_ROOT_REF}`);
  } catch (e) {
    if (!(e instanceof RemoteRejectedError || e instanceof RemoteUnreachableError)) throw e;
    m.log.warn({ err: e.message }, `${TRUST_ROOT_REF} not pushed; trying again on the next pass`);
  }
}
