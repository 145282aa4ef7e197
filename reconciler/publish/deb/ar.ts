// The `ar` container of a .deb: a global header, then members with a fixed
// 60-byte header each. Tiny and Kiln-owned, so hand-written (no dependency).
import { DebFormatError } from '../../../schema/errors.ts';

export interface ArMember {
  name: string;
  data: Buffer;
}

const MAGIC = '!<arch>\n';
const HEADER = 60;

/** Every member of an ar archive, in order. `where` names the file in errors. */
export function parseAr(buf: Buffer, where = '<buffer>'): ArMember[] {
  if (buf.length < MAGIC.length || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new DebFormatError(`${where}: not a .deb (no ar archive magic)`, { file: where });
  }
  const members: ArMember[] = [];
  let off = MAGIC.length;
  while (off < buf.length) {
    if (off + HEADER > buf.length) throw new DebFormatError(`${where}: truncated ar header at byte ${off}`, { file: where, offset: off });
    const h = buf.toString('latin1', off, off + HEADER);
    if (h.slice(58, 60) !== '`\n') throw new DebFormatError(`${where}: bad ar member header at byte ${off}`, { file: where, offset: off });
    // GNU ar ends names with '/'; dpkg writes them without. Both are accepted.
    const name = h.slice(0, 16).trimEnd().replace(/\/$/, '');
    const size = Number(h.slice(48, 58).trim());
    if (!Number.isSafeInteger(size) || size < 0) throw new DebFormatError(`${where}: bad size of ar member '${name}'`, { file: where, member: name });
    const start = off + HEADER;
    if (start + size > buf.length) throw new DebFormatError(`${where}: ar member '${name}' runs past the end of the file`, { file: where, member: name });
    members.push({ name, data: buf.subarray(start, start + size) });
    off = start + size + (size % 2); // members are 2-byte aligned
  }
  return members;
}

/** An ar archive of `members` (used to build .debs in tests and benchmarks). */
export function buildAr(members: ArMember[]): Buffer {
  const parts: Buffer[] = [Buffer.from(MAGIC, 'latin1')];
  for (const m of members) {
    const header =
      m.name.padEnd(16) + '0'.padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '100644'.padEnd(8) + String(m.data.length).padEnd(10) + '`\n';
    parts.push(Buffer.from(header, 'latin1'), m.data);
    if (m.data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}
