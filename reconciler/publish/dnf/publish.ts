// publishDnf: make ROOT/<dist> a signed dnf repository holding exactly the given
// rpms. Layout: layout.ts and served.ts; order of writes: signed rpms under new
// names, staged repodata, repomd.xml.asc, repomd.xml last (switchRepodata), prune.
// An rpm whose header the reconciler signed at collect with this key
// (pipeline/signed-rpms.ts) is placed as it is (hard-linked from the cache), its
// header facts as rpm read them at collect (recorded with it) trusted; any other
// is read by rpm and signed here.
import { createHash } from 'node:crypto';
import { readFile as readFileCallback } from 'node:fs';
import { chmod, copyFile, link, mkdir, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import pMap from 'p-map';
import type { Logger } from 'pino';
import { DigestMismatchError, PublishInputError } from '../../../schema/errors.ts';
import { quote } from '../../../schema/quote.ts';
import type { RpmHeaderFacts } from '../../../schema/status.ts';
import type { Signer } from '../../signing/signer.ts';
import { isTempName, tempNameFor, writeFileAtomic } from '../apt/atomic-write.ts';
import { withRepoLock } from '../apt/repo-lock.ts';
import { sha256File } from '../apt/hashes.ts';
import { headerEvr, headerNameProblem, ownerOf, readRpms, type RpmHeader } from '../rpm/read-rpm.ts';
import { repomdLocations, stageRepodata } from './createrepo.ts';
import { DNF_STATE_FILE, HASHED_REPODATA, keyFileName, PACKAGES_DIR, REPODATA_DIR, REPOMD, REPOMD_SIG, repoFileName, rpmFileName, STAGE_DIR } from './layout.ts';
import { repoFile } from './repo-file.ts';
import { armoredHeaderSignature, keyIdOf, signRpmCopies, type SignedCopy } from './sign-rpms.ts';
import { listServed, placeSigned, removeEmptyDirs, servedName } from './served.ts';
import { emptyDnfState, readDnfState, type DnfState } from './state.ts';

export interface RpmInput {
  /** The artifact's name (for messages). */
  name: string;
  sha256: string;
  size: number;
  path: string;
  /** The package the header must name, or one of its subpackages (<package>-…); refused otherwise. */
  package: string;
  /** The `[E:]V-R` the header must carry (refused otherwise). */
  version: string;
  /** A copy of it header-signed at collect: served as it is when signed by this publish's key and still what was recorded. */
  headerSigned?: { path: string; sha256: string; size: number; signingKey: string; signature?: string; rpm?: RpmHeaderFacts };
}

export interface PublishDnfOptions {
  root: string;
  distribution: { name: string; baseUrl?: string; title?: string };
  packages: RpmInput[];
  signer: Signer;
  now: Date;
  log?: Logger;
  /** How long files no longer referenced stay for readers of the previous repodata (default 600 s). */
  retainSeconds?: number;
  /** Ignore the state cache: regenerate all repodata (the repository drifted). */
  fresh?: boolean;
}

export interface SignedRpm {
  /** Published path, relative to ROOT/<dist>. */
  file: string;
  /** sha256 of the built (unsigned) artifact. */
  built: string;
  /** sha256 of the published, signed file. */
  sha256: string;
  size: number;
  keyFingerprint: string;
  /** The rpm header's OpenPGP signature, armored (absent for a file signed before Kiln recorded them). */
  signature?: string;
}

export interface PublishDnfReport {
  /** sha256 of the published repomd.xml (what repomd.xml.asc signs). */
  repomdSha256: string;
  changed: boolean;
  rpms: SignedRpm[];
}

/** mkdir -p, world-readable, every time: a repository deleted under a running publisher is made again (ensureDir remembers directories). */
async function makeDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
}

async function checkDigest(p: RpmInput): Promise<void> {
  const got = await sha256File(p.path).catch(() => undefined);
  if (!got || got.sha256 !== p.sha256 || got.size !== p.size) {
    throw new DigestMismatchError(`${p.name}: expected sha256 ${p.sha256} (${p.size} bytes), the file has ${got ? `${got.sha256} (${got.size} bytes)` : 'gone'}`, { artifact: p.name });
  }
}

/** An input whose header was read: the package name and `[E:]V-R` it carries. */
type Checked = RpmInput & { header: { name: string; evr: string } };

const sha256Hex = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The header of an rpm header-signed at collect by this publish's key, as rpm read it then from the
 * built bytes (signing changes only the signature header); undefined: rpm reads it here. Its copy's
 * sha256 is checked when it is placed, the built bytes' when a copy that fails is signed again.
 */
function recordedHeader(p: RpmInput, signer: Signer): RpmHeader | undefined {
  const h = p.headerSigned;
  // Facts recorded before `source` was kept: rpm reads the header (a source rpm must not pass as a binary one).
  if (!h?.rpm || h.rpm.source === undefined || !h.signature || h.signingKey !== signer.fingerprint) return undefined;
  return { ...h.rpm, source: h.rpm.source };
}

/**
 * Check every input before anything is written: a bad one refuses the whole publish. Headers of
 * rpms published before (same built sha256) are known from the state, those of rpms signed at
 * collect by this key from their record; the others are read by rpm, after their digest is
 * checked. (The bytes of a known one are checked when they are read again, to be signed:
 * sign-rpms.ts, or placed: collectedCopy.)
 */
async function checkInputs(packages: RpmInput[], state: DnfState, signer: Signer): Promise<Map<string, Checked>> {
  const known = new Map(Object.entries(state.files).filter(([, f]) => f.name && f.evr).map(([rel, f]) => [f.built, { file: `${PACKAGES_DIR}/${servedName(rel)}`, name: f.name!, evr: f.evr! }]));
  const recorded = recordedByName(state);
  const unknown = packages.filter((p) => !known.has(p.sha256));
  const fromRecord = new Map<RpmInput, RpmHeader>();
  for (const p of unknown) {
    const h = recordedHeader(p, signer);
    if (h) fromRecord.set(p, h);
  }
  const toRead = unknown.filter((p) => !fromRecord.has(p));
  for (const p of toRead) await checkDigest(p);
  const read = await readRpms(toRead.map((p) => ({ path: p.path, label: p.name })));
  toRead.forEach((p, i) => fromRecord.set(p, read[i]));
  const headers = unknown.map((p) => fromRecord.get(p)!);
  unknown.forEach((p, i) => {
    const problem = headerNameProblem(headers[i], p.name);
    if (problem) throw new PublishInputError(`${problem}; nothing published`, { artifact: p.name, header: headers[i].name });
  });
  const declared = new Set(packages.map((p) => p.package));
  unknown.forEach((p, i) => known.set(p.sha256, { file: `${PACKAGES_DIR}/${rpmFileName(headers[i])}`, name: headers[i].name, evr: headerEvr(headers[i]) }));
  const byFile = new Map<string, Checked>();
  for (const p of packages) {
    const h = known.get(p.sha256)!;
    if (ownerOf(h.name, declared) !== p.package || h.evr !== p.version) {
      const other = ownerOf(h.name, declared);
      const whose = other && other !== p.package ? ` (${other} is a package of its own)` : '';
      throw new PublishInputError(`${p.name}: the rpm header names ${h.name} ${h.evr}${whose}, expected ${p.package} ${p.version}; nothing published`, { artifact: p.name, header: h.name, expected: p.package });
    }
    const before = (recorded.get(h.file) ?? []).map((rel) => state.files[rel]);
    const other = before.find((f) => f.built !== p.sha256);
    // A noarch rpm comes once per architecture of the release: the same bytes, kept once.
    if (byFile.get(h.file)?.sha256 === p.sha256) continue;
    if (byFile.has(h.file) || other) {
      throw new PublishInputError(`${quote(h.file)} is already published with other contents (built sha256 ${(other?.built ?? byFile.get(h.file)!.sha256).slice(0, 12)}…); a new build needs a new Release`, { file: h.file });
    }
    byFile.set(h.file, { ...p, header: { name: h.name, evr: h.evr } });
    for (const f of before) Object.assign(f, { name: h.name, evr: h.evr });
  }
  return byFile;
}

/** Recorded served paths by the plain path of their file name (packages/<file>): a file may be served under several. */
function recordedByName(state: DnfState): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rel of Object.keys(state.files)) {
    const plain = `${PACKAGES_DIR}/${servedName(rel)}`;
    out.set(plain, [...(out.get(plain) ?? []), rel]);
  }
  return out;
}

// The callback API: fs/promises makes a FileHandle per file (thousands of rpms are placed).
const readWhole = promisify(readFileCallback);
/** Above this, a placed file is hashed as a stream (not held in memory). */
const READ_WHOLE_MAX = 16 * 1024 * 1024;

async function digestOf(path: string, expectedSize: number): Promise<{ sha256: string; size: number }> {
  if (expectedSize > READ_WHOLE_MAX) return sha256File(path);
  const bytes = await readWhole(path);
  return { sha256: sha256Hex(bytes), size: bytes.length };
}

/** The copy header-signed at collect by this key, hard-linked (copied across filesystems) to `tmp`; undefined when there is none, or it is gone or not what was recorded (then it is signed here). */
async function collectedCopy(input: RpmInput, tmp: string, signer: Signer): Promise<SignedCopy | undefined> {
  const h = input.headerSigned;
  if (!h?.signature || h.signingKey !== signer.fingerprint) return undefined;
  const placed = await link(h.path, tmp).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== 'ENOENT' && copyFile(h.path, tmp).then(() => true, () => false),
  );
  if (!placed) return undefined;
  // What is served is checked, after it was linked: never bytes other than the recorded ones.
  const got = await digestOf(tmp, h.size).catch(() => undefined);
  if (got?.sha256 !== h.sha256 || got.size !== h.size) {
    // Unlinked before anything writes to this name (a write would go into the cache's file).
    await rm(tmp, { force: true });
    return undefined;
  }
  return { sha256: h.sha256, size: h.size, signature: h.signature };
}

/** Copies of the rpms read at a time (collected copies placed, or signed). */
const COPY_CONCURRENCY = 16;

/**
 * Signed copies of the rpms not yet served signed by this key: temp files, signed, then moved to
 * where they are served (served.ts: never over a served file). Returns each file's served path.
 */
async function signNew(repoDir: string, byFile: Map<string, Checked>, state: DnfState, signer: Signer): Promise<Map<string, string>> {
  const served = new Map<string, string>();
  const todo: { file: string; input: Checked; tmp: string }[] = [];
  // One listing, not a stat per file: thousands of rpms are published.
  const onDisk = new Set(await listServed(repoDir));
  const recorded = recordedByName(state);
  for (const [file, input] of byFile) {
    // Signed by this key before and still there: served as it is (the copy the repodata names first).
    const had = (recorded.get(file) ?? [])
      .filter((rel) => state.files[rel].built === input.sha256 && state.files[rel].key === signer.fingerprint && onDisk.has(rel))
      .sort((x, y) => Number(x in state.retired) - Number(y in state.retired))[0];
    if (had) {
      served.set(file, had);
      delete state.retired[had];
      continue;
    }
    todo.push({ file, input, tmp: tempNameFor(join(repoDir, file)) });
  }
  if (todo.length === 0) return served;
  await makeDir(join(repoDir, PACKAGES_DIR));
  const taken = new Set([...onDisk, ...Object.keys(state.files)]);
  // Temp files that may exist: removed when the publish stops (a placed one was renamed).
  const unplaced = new Set(todo);
  try {
    const signed = await pMap(todo, (t) => collectedCopy(t.input, t.tmp, signer), { concurrency: COPY_CONCURRENCY });
    const unsigned = todo.flatMap((t, i) => (signed[i] ? [] : [i]));
    const made = await signRpmCopies(signer, unsigned.map((i) => ({ from: todo[i].input.path, to: todo[i].tmp, expect: todo[i].input })));
    for (const [j, i] of unsigned.entries()) signed[i] = made[j];
    // What rpmsign signed (packages without reserved space) is read back: rpm says whose signature it holds.
    const byRpmsign = todo.filter((_, i) => !signed[i]);
    const read = new Map((await readRpms(byRpmsign.map((t) => ({ path: t.tmp, label: t.input.name })))).map((h, i) => [byRpmsign[i], h]));
    // Placed side by side (each rename waits on the disk); placeSigned takes each path before it waits.
    await pMap(todo.entries(), async ([i, t]) => {
      let copy = signed[i];
      if (!copy) {
        const h = read.get(t)!;
        if (h.signedBy !== keyIdOf(signer.fingerprint)) throw new PublishInputError(`${t.input.name}: rpmsign left no signature by ${signer.fingerprint}`, { artifact: t.input.name });
        copy = { ...(await sha256File(t.tmp)), signature: h.signatureHex ? await armoredHeaderSignature(h.signatureHex) : '' };
      }
      const rel = await placeSigned(repoDir, t.tmp, servedName(t.file), copy.sha256, taken);
      unplaced.delete(t);
      const { name, evr } = t.input.header;
      state.files[rel] = { built: t.input.sha256, sha256: copy.sha256, size: copy.size, key: signer.fingerprint, name, evr, ...(copy.signature ? { signature: copy.signature } : {}) };
      delete state.retired[rel];
      served.set(t.file, rel);
    }, { concurrency: COPY_CONCURRENCY });
  } finally {
    await Promise.all([...unplaced].map((t) => rm(t.tmp, { force: true })));
  }
  return served;
}

/** Move the staged repodata in: checksum-named files first (new names only), then the signature, then repomd.xml (the switch). */
export async function switchRepodata(repoDir: string, staged: string, signer: Signer): Promise<string> {
  const repomd = await readFile(join(staged, 'repomd.xml'));
  const signature = await signer.signDetached(repomd);
  await makeDir(join(repoDir, REPODATA_DIR));
  for (const name of await readdir(staged)) {
    if (name === 'repomd.xml') continue;
    const target = join(repoDir, REPODATA_DIR, name);
    const exists = await stat(target).then(() => true, () => false);
    if (!exists) await rename(join(staged, name), target);
  }
  await writeFileAtomic(join(repoDir, REPOMD_SIG), signature);
  await writeFileAtomic(join(repoDir, REPOMD), repomd);
  return sha256Hex(repomd);
}

/** Mark what the new repository no longer names, and delete what has been unnamed for `retainMs`. */
export async function prune(repoDir: string, state: DnfState, current: Set<string>, now: number, retainMs: number): Promise<void> {
  const onDisk = [
    ...(await listServed(repoDir)),
    ...(await readdir(join(repoDir, REPODATA_DIR)).catch(() => [] as string[])).map((n) => `${REPODATA_DIR}/${n}`),
  ];
  for (const rel of onDisk) {
    if (isTempName(basename(rel))) {
      await rm(join(repoDir, rel), { force: true });
      continue;
    }
    const prunable = rel.startsWith(`${PACKAGES_DIR}/`) || HASHED_REPODATA.test(rel);
    if (!prunable || current.has(rel)) {
      delete state.retired[rel];
      continue;
    }
    const since = (state.retired[rel] ??= now);
    if (now - since >= retainMs) {
      await unlink(join(repoDir, rel)).catch(() => undefined);
      delete state.retired[rel];
      delete state.files[rel];
    }
  }
  await removeEmptyDirs(repoDir);
}

export async function publishDnf(o: PublishDnfOptions): Promise<PublishDnfReport> {
  const dist = o.distribution.name;
  const repoDir = join(o.root, dist);
  const now = o.now.getTime();
  const log = o.log?.child({ component: 'publish-dnf', distribution: dist });
  return withRepoLock(repoDir, async (tookOver) => {
    const state = o.fresh ? emptyDnfState() : await readDnfState(repoDir);
    if (tookOver) await rm(join(repoDir, STAGE_DIR), { recursive: true, force: true });
    const byFile = await checkInputs(o.packages, state, o.signer);
    const served = await signNew(repoDir, byFile, state, o.signer);

    const files = [...served.values()].sort();
    const keyFile = keyFileName(dist);
    const repo = repoFile({ distribution: dist, baseUrl: o.distribution.baseUrl ?? `file://${repoDir}`, title: o.distribution.title }, keyFile);
    const contentKey = sha256Hex(JSON.stringify([files.map((f) => [f, state.files[f].sha256]), o.signer.fingerprint, repo]));
    const published = await readFile(join(repoDir, REPOMD)).catch(() => undefined);
    const signed = await stat(join(repoDir, REPOMD_SIG)).then(() => true, () => false);
    let repomdSha256: string;
    let changed = false;
    if (!o.fresh && published && signed && state.contentKey === contentKey && state.repomd === sha256Hex(published)) {
      repomdSha256 = state.repomd;
    } else {
      const staged = await stageRepodata(repoDir, files, String(Math.floor(now / 1000)), Boolean(o.fresh));
      await writeFileAtomic(join(repoDir, keyFile), o.signer.publicKeyArmored);
      await writeFileAtomic(join(repoDir, repoFileName(dist)), repo);
      repomdSha256 = await switchRepodata(repoDir, staged, o.signer);
      await rm(join(repoDir, STAGE_DIR), { recursive: true, force: true });
      state.contentKey = contentKey;
      state.repomd = repomdSha256;
      changed = true;
    }
    const repomd = await readFile(join(repoDir, REPOMD), 'utf8');
    await prune(repoDir, state, new Set([...files, ...repomdLocations(repomd)]), now, (o.retainSeconds ?? 600) * 1000);
    await writeFileAtomic(join(repoDir, DNF_STATE_FILE), JSON.stringify(state));
    log?.info({ rpms: files.length, changed }, changed ? 'dnf repository published' : 'dnf repository unchanged');
    return {
      repomdSha256,
      changed,
      rpms: await Promise.all(
        files.map(async (f) => {
          const s = state.files[f];
          // A state written before sizes were kept: the file says.
          const size = s.size ?? (await stat(join(repoDir, f))).size;
          return { file: f, built: s.built, sha256: s.sha256, size, keyFingerprint: s.key, ...(s.signature ? { signature: s.signature } : {}) };
        }),
      ),
    };
  });
}
