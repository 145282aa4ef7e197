// @ts-check
// An rpm's signature header, laid out again with a header signature in it: what
// `rpmsign --addsign` does for a package with reserved space (every rpm built by
// rpm >= 4.14). The main header (from its magic to the payload) is what gets signed;
// the packet goes into the signature header as RSAHEADER (RSA keys) or DSAHEADER
// (the tag rpm uses for DSA and EdDSA), the entries are laid out again in tag order
// with each type's alignment, and RESERVEDSPACE shrinks by exactly what was added,
// so the header keeps its size and only those bytes of the file change (the main
// header and payload are untouched). A package with no room (or an unexpected
// layout) gets undefined: rpmsign signs it instead. No kept npm library writes rpm
// headers (the registry's rpm packages only read them); rpm's own tools check the
// result in the tests (`rpmkeys --checksig`, dnf with gpgcheck=1).
// Plain JavaScript, type-checked from its JSDoc: the reconciler's sign threads use it
// (they start without tsx, see reconciler/signing/sign-thread.js), and so does
// reconciler/publish/dnf/rpm-header-sign.ts in the main thread.

const LEAD = 96;
const MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);
const TAG = { region: 62, dsa: 267, rsa: 268, reserved: 1008 };
/**
 * Every signature tag an earlier signer may have left: header-only (DSA, RSA), header+payload
 * (PGP 1002, GPG 1005, PGP5 1006, from `rpmsign --rpmv3`) and OPENPGP (278, rpm >= 4.20). A
 * foreign one kept beside ours makes rpm report NOKEY and dnf refuse the package.
 */
const SIGNATURE_TAGS = new Set([TAG.dsa, TAG.rsa, 278, 1002, 1005, 1006]);
const BIN = 7;
/** rpm's alignment of each data type (headerExport). @type {Record<number, number>} */
const ALIGN = { 3: 2, 4: 4, 5: 8 };

/** The code of a malformed signature header (RpmFormatError's, schema/errors.ts): the sign threads pass it on. */
/** @type {'KILN_RPM_FORMAT'} */
export const RPM_FORMAT = 'KILN_RPM_FORMAT';

/**
 * @typedef {{ tag: number, type: number, count: number, data: Buffer }} Entry
 * @typedef {{ entries: Entry[], size: number, mainStart: number, mainEnd: number }} ParsedRpm
 */

/** @param {string} message */
const formatError = (message) => Object.assign(new Error(message), { code: RPM_FORMAT });

/**
 * Length of an entry's data in the store (rpm's dataLength).
 * @param {number} type @param {number} count @param {Buffer} store @param {number} offset
 */
function dataLength(type, count, store, offset) {
  /** @param {number} n */
  const strings = (n) => {
    let p = offset;
    for (let i = 0; i < n; i++) {
      const nul = store.indexOf(0, p);
      if (nul < 0) throw formatError('unterminated string in the signature header');
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
    default: throw formatError(`unknown data type ${type} in the signature header`);
  }
}

/**
 * The signature header's entries (region first), its size, and where the main header (what
 * a header signature covers) starts and ends; undefined for bytes that are not an rpm with a
 * main header. Throws (code RPM_FORMAT) for a signature header rpm could not read either.
 * @param {Buffer} rpm
 * @returns {ParsedRpm | undefined}
 */
export function parseRpm(rpm) {
  if (rpm.length < LEAD + 16 || !rpm.subarray(LEAD, LEAD + 4).equals(MAGIC)) return undefined;
  const il = rpm.readInt32BE(LEAD + 8);
  const dl = rpm.readInt32BE(LEAD + 12);
  const index = LEAD + 16;
  // Counts and offsets are the file's word: each is checked against the bytes there are, so a
  // malformed header is this rpm's format error, not a RangeError taken for the signer's failure.
  if (il < 0 || dl < 0 || index + 16 * il + dl > rpm.length) throw formatError(`the signature header claims ${il} entries and ${dl} bytes of data, more than the file holds`);
  const store = rpm.subarray(index + 16 * il, index + 16 * il + dl);
  /** @type {Entry[]} */
  const entries = [];
  for (let i = 0; i < il; i++) {
    const at = index + 16 * i;
    const [tag, type, offset, count] = [rpm.readInt32BE(at), rpm.readInt32BE(at + 4), rpm.readInt32BE(at + 8), rpm.readInt32BE(at + 12)];
    if (offset < 0 || offset > dl || count < 0) throw formatError(`signature header entry ${i} (tag ${tag}) points outside the header's data`);
    const length = dataLength(type, count, store, offset);
    if (offset + length > dl) throw formatError(`signature header entry ${i} (tag ${tag}) runs past the header's data`);
    // Views of the rpm's bytes, which nothing here changes: withSignature lays them out into a new buffer.
    entries.push({ tag, type, count, data: store.subarray(offset, offset + length) });
  }
  const size = 16 + 16 * il + dl;
  const mainStart = LEAD + size + ((8 - (size % 8)) % 8);
  if (rpm.length < mainStart + 16 || !rpm.subarray(mainStart, mainStart + 4).equals(MAGIC)) return undefined;
  const mainEnd = mainStart + 16 + 16 * rpm.readInt32BE(mainStart + 8) + rpm.readInt32BE(mainStart + 12);
  if (mainEnd < mainStart + 16 || mainEnd > rpm.length) throw formatError('the main header claims more bytes than the file holds');
  return { entries, size, mainStart, mainEnd };
}

/**
 * Pure: the signature header with `sig` added under `tag`, the same size as `size`; undefined when there is no room.
 * @param {Entry[]} entries @param {number} size @param {number} tag @param {Buffer} sig
 * @returns {Buffer | undefined}
 */
export function withSignature(entries, size, tag, sig) {
  const [region, ...others] = entries;
  if (region?.tag !== TAG.region) return undefined;
  // Signing replaces every earlier signature (as rpmsign --resign does): its room goes back to the reserved space.
  const rest = others.filter((e) => !SIGNATURE_TAGS.has(e.tag));
  const reserved = rest.find((e) => e.tag === TAG.reserved);
  if (!reserved) return undefined;
  /** @param {Entry[]} list */
  const lay = (list) => {
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

/**
 * The rpm's bytes with `signature` (a binary signature packet over its main header) in its
 * signature header, any earlier one replaced, as three pieces in file order: the lead and the
 * rest (views of `rpm`) around the new signature header, which has the old one's size; undefined
 * when the header has no room for it. Hashed and written piece by piece, a copy needs no buffer
 * of its own (rpm-copies.js).
 * @param {Buffer} rpm @param {ParsedRpm} parsed @param {'rsa' | 'dsa'} keyAlgorithm @param {Buffer} signature
 * @returns {[Buffer, Buffer, Buffer] | undefined}
 */
export function signedRpmParts(rpm, parsed, keyAlgorithm, signature) {
  const next = withSignature(parsed.entries, parsed.size, keyAlgorithm === 'rsa' ? TAG.rsa : TAG.dsa, signature);
  if (!next) return undefined;
  return [rpm.subarray(0, LEAD), next, rpm.subarray(LEAD + next.length)];
}

/**
 * signedRpmParts as one new buffer of the rpm's size.
 * @param {Buffer} rpm @param {ParsedRpm} parsed @param {'rsa' | 'dsa'} keyAlgorithm @param {Buffer} signature
 * @returns {Buffer | undefined}
 */
export function signedRpm(rpm, parsed, keyAlgorithm, signature) {
  const parts = signedRpmParts(rpm, parsed, keyAlgorithm, signature);
  return parts && Buffer.concat(parts);
}
