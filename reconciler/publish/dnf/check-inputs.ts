// publishDnf's first step: every input checked before anything is written (a bad one refuses
// the whole publish): its header as the state, the record made at collect by this key, or rpm
// says, judged by the name rules; the built bytes' digest checked before rpm reads them.
import { DigestMismatchError, PublishInputError } from '../../../schema/errors.ts';
import { quote } from '../../../schema/quote.ts';
import type { RpmHeaderFacts } from '../../../schema/status.ts';
import type { Signer } from '../../signing/signer.ts';
import { sha256File } from '../apt/hashes.ts';
import { headerEvr, headerNameProblem, ownerOf, readRpms, type RpmHeader } from '../rpm/read-rpm.ts';
import { PACKAGES_DIR, rpmFileName } from './layout.ts';
import { servedName } from './served.ts';
import type { DnfState } from './state.ts';

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

async function checkDigest(p: RpmInput): Promise<void> {
  const got = await sha256File(p.path).catch(() => undefined);
  if (!got || got.sha256 !== p.sha256 || got.size !== p.size) {
    throw new DigestMismatchError(`${p.name}: expected sha256 ${p.sha256} (${p.size} bytes), the file has ${got ? `${got.sha256} (${got.size} bytes)` : 'gone'}`, { artifact: p.name });
  }
}

/** An input whose header was read: the package name and `[E:]V-R` it carries. */
export type Checked = RpmInput & { header: { name: string; evr: string } };

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
export async function checkInputs(packages: RpmInput[], state: DnfState, signer: Signer): Promise<Map<string, Checked>> {
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
export function recordedByName(state: DnfState): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rel of Object.keys(state.files)) {
    const plain = `${PACKAGES_DIR}/${servedName(rel)}`;
    out.set(plain, [...(out.get(plain) ?? []), rel]);
  }
  return out;
}

