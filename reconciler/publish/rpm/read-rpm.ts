// What an rpm file says about itself, asked of the host's rpm (Debian `rpm`):
// its digests checked (`rpm -K --nosignature`), then the header's name, EVR,
// arch, whether it is a source package, and who signed the header. rpm's own
// reader, never a header parser of ours.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PublishInputError } from '../../../schema/errors.ts';

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

const QF = '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{RSAHEADER:pgpsig}\\t%{DSAHEADER:pgpsig}\\t%{RSAHEADER}\\t%{DSAHEADER}\\n';

/** Pure: a header from the query line. */
export function parseHeaderLine(line: string): RpmHeader {
  const [name, epoch, version, release, arch, sourceRpm, rsa, dsa, rsaHex, dsaHex] = line.replace(/\n$/, '').split('\t');
  const sig = [rsa, dsa].find((s) => s && s !== '(none)');
  const keyId = sig && /Key ID ([0-9a-fA-F]{16})/.exec(sig)?.[1].toUpperCase();
  const hex = [rsaHex, dsaHex].find((h) => h && /^[0-9a-f]+$/.test(h));
  return { name, epoch: epoch === '(none)' ? undefined : epoch, version, release, arch, source: sourceRpm === '(none)', ...(keyId ? { signedBy: keyId } : {}), ...(keyId && hex ? { signatureHex: hex } : {}) };
}

/** Whether a header's name is the package's or one of its subpackages' (a spec's subpackages are named <package>-<suffix>). */
export const isOfPackage = (headerName: string, pkg: string) => headerName === pkg || headerName.startsWith(`${pkg}-`);

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
  return parseHeaderLine(out.stdout);
}

/** readRpm of many files with two rpm processes in all (a publish of thousands); a bad file is then named by readRpm alone. */
export async function readRpms(files: { path: string; label: string }[]): Promise<RpmHeader[]> {
  if (files.length === 0) return [];
  const out: RpmHeader[] = [];
  for (let i = 0; i < files.length; i += 500) {
    const batch = files.slice(i, i + 500);
    const paths = batch.map((f) => f.path);
    const env = { ...process.env, LC_ALL: 'C' };
    const ok = await run('rpm', ['-K', '--nosignature', ...paths], { env, maxBuffer: 64 * 1024 * 1024 }).then(() => true, () => false);
    const q = ok ? await run('rpm', ['-qp', '--nosignature', '--qf', QF, ...paths], { env, maxBuffer: 64 * 1024 * 1024 }).catch(() => undefined) : undefined;
    const lines = q?.stdout.split('\n').filter(Boolean) ?? [];
    if (!q || lines.length !== batch.length) {
      for (const f of batch) out.push(await readRpm(f.path, f.label));
      continue;
    }
    out.push(...lines.map(parseHeaderLine));
  }
  return out;
}
