// What an rpm file says about itself, asked of the host's rpm (Debian `rpm`):
// its digests checked (`rpm -K --nosignature`), then the header's name, EVR,
// arch, whether it is a source package, and who signed the header. rpm's own
// reader, never a header parser of ours.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pMap from 'p-map';
import { PublishInputError } from '../../../schema/errors.ts';
import { RPM_FILE_NAME, rpmFileName } from '../dnf/layout.ts';

const run = promisify(execFile);

export interface RpmHeader {
  name: string;
  epoch?: string;
  version: string;
  release: string;
  arch: string;
  /** A .src.rpm (its header names no source rpm). */
  source: boolean;
  /** Key ID (16 hex, upper case) of the header's OpenPGP signature; absent: unsigned. */
  signedBy?: string;
  /** The header's OpenPGP signature packet (RSAHEADER or DSAHEADER, which also holds EdDSA), hex; absent: unsigned. */
  signatureHex?: string;
}

// Each record and field wrapped in tags of ours; the header's own strings come in rpm's :xml
// format, which escapes '<', so no NAME (tabs, newlines, '</f>' and all) can shift a field.
const FIELDS = ['%{NAME:xml}', '%{EPOCH:xml}', '%{VERSION:xml}', '%{RELEASE:xml}', '%{ARCH:xml}', '%{SOURCERPM:xml}', '%{RSAHEADER:pgpsig}', '%{DSAHEADER:pgpsig}', '%{RSAHEADER}', '%{DSAHEADER}'];
const QF = `<r>${FIELDS.map((f) => `<f>${f}</f>`).join('')}</r>\\n`;

const unXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Pure: one field as rpm printed it: `(none)`, an :xml `<string>…</string>`/`<integer>…</integer>`, or plain text. */
function fieldValue(raw: string): string {
  const m = /^\s*<(string|integer)>([\s\S]*)<\/\1>\s*$/.exec(raw);
  return m ? unXml(m[2]) : raw;
}

/** Pure: the headers in `rpm -qp --qf QF` output, one per record. */
export function parseHeaderRecords(out: string): RpmHeader[] {
  return [...out.matchAll(/<r>([\s\S]*?)<\/r>/g)].map((r) => parseHeaderFields([...r[1].matchAll(/<f>([\s\S]*?)<\/f>/g)].map((f) => fieldValue(f[1]))));
}

/** Pure: a header from its fields, in FIELDS order. */
export function parseHeaderFields([name, epoch, version, release, arch, sourceRpm, rsa, dsa, rsaHex, dsaHex]: string[]): RpmHeader {
  const sig = [rsa, dsa].find((s) => s && s !== '(none)');
  const keyId = sig && /Key ID ([0-9a-fA-F]{16})/.exec(sig)?.[1].toUpperCase();
  const hex = [rsaHex, dsaHex].find((h) => h && /^[0-9a-f]+$/.test(h));
  return { name, epoch: epoch === '(none)' ? undefined : epoch, version, release, arch, source: sourceRpm === '(none)', ...(keyId ? { signedBy: keyId } : {}), ...(keyId && hex ? { signatureHex: hex } : {}) };
}

/**
 * Why a header cannot be published under its own name (undefined: it can). Its fields make a path
 * (rpmFileName): none may hold '/', whitespace or control characters, or start with '.'.
 */
export function headerNameProblem(h: RpmHeader, label: string): string | undefined {
  const fields = { NAME: h.name, VERSION: h.version, RELEASE: h.release, ARCH: h.arch, ...(h.epoch !== undefined ? { EPOCH: h.epoch } : {}) };
  for (const [tag, v] of Object.entries(fields)) {
    if (!v || /[/\s\p{Cc}]/u.test(v) || v.startsWith('.')) return `${label}: the rpm header's ${tag} ${JSON.stringify(v)} cannot be part of a file name (empty, '/', whitespace, control characters or a leading '.')`;
  }
  const file = rpmFileName(h);
  if (!RPM_FILE_NAME.test(file)) return `${label}: the rpm header makes the file name ${JSON.stringify(file)}, which is not NAME-VERSION-RELEASE.ARCH.rpm of letters, digits and ._+~^-`;
  return undefined;
}

/** Whether a header's name is the package's or one of its subpackages' (a spec's subpackages are named <package>-<suffix>). */
const isOfPackage = (headerName: string, pkg: string) => headerName === pkg || headerName.startsWith(`${pkg}-`);

/**
 * The declared package an rpm name belongs to: the package itself, else the longest declared
 * package it is a subpackage of (<package>-…). So `foo` cannot publish `foo-libs` or `foo-libs-devel`
 * when `foo-libs` is a package of its own. The one rule of both the collect-time guard
 * (formats/rpm) and the publisher (publish/dnf).
 */
export function ownerOf(rpmName: string, declared: ReadonlySet<string>): string | undefined {
  // The candidates are the name and its prefixes ending before a '-', longest first: one lookup each (thousands of rpms are published at once).
  for (let end = rpmName.length; end > 0; end = rpmName.lastIndexOf('-', end - 1)) {
    const candidate = rpmName.slice(0, end);
    if (declared.has(candidate) && isOfPackage(rpmName, candidate)) return candidate;
  }
  return undefined;
}

/** `[E:]V-R`: how Kiln names an rpm version. */
export function headerEvr(h: Pick<RpmHeader, 'epoch' | 'version' | 'release'>): string {
  return `${h.epoch ? `${h.epoch}:` : ''}${h.version}-${h.release}`;
}

function rpmSaid(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr || err.message || String(e)).trim().split('\n').slice(-3).join(' ');
}

export async function readRpm(path: string, label = path): Promise<RpmHeader> {
  await run('rpm', ['-K', '--nosignature', path], { env: { ...process.env, LC_ALL: 'C' } }).catch((e: unknown) => {
    throw new PublishInputError(`${label}: not a sound rpm (its digests do not check out): ${rpmSaid(e)}`, { file: label });
  });
  const out = await run('rpm', ['-qp', '--nosignature', '--qf', QF, path], { env: { ...process.env, LC_ALL: 'C' } }).catch((e: unknown) => {
    throw new PublishInputError(`${label}: rpm cannot read its header: ${rpmSaid(e)}`, { file: label });
  });
  const [h] = parseHeaderRecords(out.stdout);
  if (!h) throw new PublishInputError(`${label}: rpm printed no header`, { file: label });
  return h;
}

/** Files per pair of rpm processes (keeps the command line well under ARG_MAX). */
const BATCH = 500;

/** One batch: the digest check and the header query run side by side; a bad file is then named by readRpm alone. */
async function readBatch(batch: { path: string; label: string }[]): Promise<RpmHeader[]> {
  const paths = batch.map((f) => f.path);
  const opts = { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024 };
  const [ok, q] = await Promise.all([
    run('rpm', ['-K', '--nosignature', ...paths], opts).then(() => true, () => false),
    run('rpm', ['-qp', '--nosignature', '--qf', QF, ...paths], opts).catch(() => undefined),
  ]);
  const headers = ok && q ? parseHeaderRecords(q.stdout) : [];
  if (headers.length === batch.length) return headers;
  const out: RpmHeader[] = [];
  for (const f of batch) out.push(await readRpm(f.path, f.label));
  return out;
}

/** readRpm of many files with two rpm processes per BATCH files, two batches at a time (a publish of thousands). */
export async function readRpms(files: { path: string; label: string }[]): Promise<RpmHeader[]> {
  const batches: { path: string; label: string }[][] = [];
  for (let i = 0; i < files.length; i += BATCH) batches.push(files.slice(i, i + BATCH));
  return (await pMap(batches, readBatch, { concurrency: 2 })).flat();
}
