// rpm header signatures made in-process: what `rpmsign --addsign` does for a
// package with reserved space (every rpm built by rpm >= 4.14), without a gpg
// process per file (rpmsign starts gpg once per package: 2,000 rpms took 50 s).
// The main header (from its magic to the payload) is signed by the release key
// as an OpenPGP v4 binary-document signature; the packet goes into the
// signature header as RSAHEADER (RSA keys) or DSAHEADER (the tag rpm uses for
// DSA and EdDSA), the signature header is laid out again in tag order with each
// type's alignment, and RESERVEDSPACE shrinks by exactly what was added, so the
// header keeps its size and the file is rewritten in place (the main header and
// payload are untouched). A package with no room (or an unexpected layout) is
// left to rpmsign. Works on the file's bytes: the publisher reads each rpm once. No kept npm library writes rpm headers (the registry's rpm
// packages only read them), and rpm's own tools are what checks the result:
// tests verify it with `rpmkeys --checksig` and real dnf with gpgcheck=1.
import { RpmFormatError } from '../../../schema/errors.ts';
import type { Signer } from '../../signing/signer.ts';

const LEAD = 96;
const MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);
const TAG = { region: 62, dsa: 267, rsa: 268, reserved: 1008 } as const;
/**
 * Every signature tag an earlier signer may have left: header-only (DSA, RSA), header+payload
 * (PGP 1002, GPG 1005, PGP5 1006, from `rpmsign --rpmv3`) and OPENPGP (278, rpm >= 4.20). A
 * foreign one kept beside ours makes rpm report NOKEY and dnf refuse the package.
 */
const SIGNATURE_TAGS: ReadonlySet<number> = new Set([TAG.dsa, TAG.rsa, 278, 1002, 1005, 1006]);
const BIN = 7;
/** rpm's alignment of each data type (headerExport). */
const ALIGN: Record<number, number> = { 3: 2, 4: 4, 5: 8 };

interface Entry {
  tag: number;
  type: number;
  count: number;
  data: Buffer;
}

/** Length of an entry's data in the store (rpm's dataLength). */
function dataLength(type: number, count: number, store: Buffer, offset: number): number {
  const strings = (n: number) => {
    let p = offset;
    for (let i = 0; i < n; i++) {
      const nul = store.indexOf(0, p);
      if (nul < 0) throw new RpmFormatError('unterminated string in the signature header');
      p = nul + 1;
    }
    return p - offset;
  };
  switch (type) {
    case 0: return 0;
    case 1: case 2: case 7: return count;
    case 3: return 2 * count;
    case 4: return 4 * count;
    case 5: return 8 * count;
    case 6: return strings(1);
    case 8: case 9: return strings(count);
    default: throw new RpmFormatError(`unknown data type ${type} in the signature header`, { type });
  }
}

/** The signature header's entries (region first), and where the main header starts and ends. */
function parseSignatureHeader(head: Buffer): { entries: Entry[]; size: number; mainStart: number } {
  if (!head.subarray(LEAD, LEAD + 4).equals(MAGIC)) throw new RpmFormatError('no signature header');
  const il = head.readInt32BE(LEAD + 8);
  const dl = head.readInt32BE(LEAD + 12);
  const index = LEAD + 16;
  const store = head.subarray(index + 16 * il, index + 16 * il + dl);
  const entries: Entry[] = [];
  for (let i = 0; i < il; i++) {
    const at = index + 16 * i;
    const [tag, type, offset, count] = [head.readInt32BE(at), head.readInt32BE(at + 4), head.readInt32BE(at + 8), head.readInt32BE(at + 12)];
    entries.push({ tag, type, count, data: Buffer.from(store.subarray(offset, offset + dataLength(type, count, store, offset))) });
  }
  const size = 16 + 16 * il + dl;
  return { entries, size, mainStart: LEAD + size + ((8 - (size % 8)) % 8) };
}

/** Pure: the signature header with `sig` added under `tag`, the same size as `size`; undefined when there is no room. */
export function withSignature(entries: Entry[], size: number, tag: number, sig: Buffer): Buffer | undefined {
  const [region, ...others] = entries;
  if (region?.tag !== TAG.region) return undefined;
  // Signing replaces every earlier signature (as rpmsign --resign does): its room goes back to the reserved space.
  const rest = others.filter((e) => !SIGNATURE_TAGS.has(e.tag));
  const reserved = rest.find((e) => e.tag === TAG.reserved);
  if (!reserved) return undefined;
  const lay = (list: Entry[]) => {
    let dl = 0;
    const offsets = list.map((e) => {
      const a = ALIGN[e.type] ?? 1;
      dl = Math.ceil(dl / a) * a;
      const at = dl;
      dl += e.data.length;
      return at;
    });
    return { offsets, dl: dl + 16 };
  };
  const added = [...rest, { tag, type: BIN, count: sig.length, data: sig }].sort((a, b) => a.tag - b.tag);
  // Shrink the reserved space by what the new entry (and any alignment it causes) takes.
  const grown = 16 + 16 * (added.length + 1) + lay(added).dl;
  const shrink = grown - size;
  if (shrink > reserved.data.length) return undefined;
  const room = reserved.data.length - shrink;
  const final = added.map((e) => (e === reserved ? { ...e, count: room, data: shrink > 0 ? e.data.subarray(0, room) : Buffer.concat([e.data, Buffer.alloc(-shrink)]) } : e));
  const { offsets, dl } = lay(final);
  const il = final.length + 1;
  if (16 + 16 * il + dl !== size) return undefined;
  const out = Buffer.alloc(size);
  MAGIC.copy(out, 0);
  out.writeInt32BE(il, 8);
  out.writeInt32BE(dl, 12);
  const store = 16 + 16 * il;
  // The region entry points at its trailer, the store's last 16 bytes: (tag, BIN, -(il*16), 16).
  [TAG.region, BIN, dl - 16, 16].forEach((v, i) => out.writeInt32BE(v, 16 + 4 * i));
  final.forEach((e, i) => {
    [e.tag, e.type, offsets[i], e.count].forEach((v, j) => out.writeInt32BE(v, 16 + 16 * (i + 1) + 4 * j));
    e.data.copy(out, store + offsets[i]);
  });
  [TAG.region, BIN, -16 * il, 16].forEach((v, i) => out.writeInt32BE(v, store + dl - 16 + 4 * i));
  return out;
}

/** The binary signature packet over `header` by the signer's key (a v4 signature of a binary document), made in the signer's worker threads. */
export const headerSignature = async (signer: Signer, header: Uint8Array): Promise<Buffer> => Buffer.from(await signer.signBinary(header));

/**
 * An rpm (its bytes) with its header signed by `signer` (an earlier header signature replaced), and
 * the signature packet; undefined when the package has no reserved space for it (rpmsign then).
 */
export async function signRpmBytes(rpm: Buffer, signer: Signer, keyAlgorithm: 'rsa' | 'dsa'): Promise<{ rpm: Buffer; signature: Buffer } | undefined> {
  if (rpm.length < LEAD + 16 || !rpm.subarray(LEAD, LEAD + 4).equals(MAGIC)) return undefined;
  const { entries, size, mainStart } = parseSignatureHeader(rpm);
  if (rpm.length < mainStart + 16 || !rpm.subarray(mainStart, mainStart + 4).equals(MAGIC)) return undefined;
  const mainSize = 16 + 16 * rpm.readInt32BE(mainStart + 8) + rpm.readInt32BE(mainStart + 12);
  const signature = await headerSignature(signer, rpm.subarray(mainStart, mainStart + mainSize));
  const next = withSignature(entries, size, keyAlgorithm === 'rsa' ? TAG.rsa : TAG.dsa, signature);
  if (!next) return undefined;
  const out = Buffer.from(rpm);
  next.copy(out, LEAD);
  return { rpm: out, signature };
}
