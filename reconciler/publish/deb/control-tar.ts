// control.tar{,.gz,.xz} -> the text of ./control. gzip comes from node:zlib,
// xz from the kept `xz-decompress` (WebAssembly; Node has no xz).
// The tar walk is hand-written and synchronous on purpose: a control archive
// is a few KB, and tar-stream's async machinery cost ~0.15 ms per .deb, half
// of a 5,000-package publish (see scripts/bench-publish).
import { gunzipSync } from 'node:zlib';
import xz from 'xz-decompress';
import { DebFormatError } from '../../../schema/errors.ts';

const { XzReadableStream } = xz as unknown as { XzReadableStream: new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> };

/** A control archive holds a few KB; a bigger one is refused before it can exhaust memory (a decompression bomb). */
export const MAX_CONTROL_BYTES = 16 * 1024 * 1024;

/** Read a stream to its end, refusing it past `max` bytes. */
async function readBounded(stream: ReadableStream<Uint8Array>, max: number, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new RangeError(`${what} expands past ${max} bytes`);
    }
    chunks.push(value);
  }
}

/** Decompress a control.tar member by its name's extension. */
export async function decompressMember(name: string, data: Buffer, where: string): Promise<Buffer> {
  try {
    if (name.endsWith('.gz')) return gunzipSync(data, { maxOutputLength: MAX_CONTROL_BYTES });
    if (name.endsWith('.xz')) return await readBounded(new XzReadableStream(new Blob([new Uint8Array(data)]).stream()), MAX_CONTROL_BYTES, name);
    if (name.endsWith('.tar')) {
      if (data.length > MAX_CONTROL_BYTES) throw new RangeError(`${name} is larger than ${MAX_CONTROL_BYTES} bytes`);
      return data;
    }
  } catch (cause) {
    throw new DebFormatError(`${where}: cannot decompress ${name}: ${(cause as Error).message}`, { file: where, member: name }, { cause });
  }
  throw new DebFormatError(`${where}: unsupported compression of ${name} (Kiln reads .tar, .tar.gz and .tar.xz)`, { file: where, member: name });
}

const BLOCK = 512;

function cstr(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

function tarNumber(buf: Buffer, start: number, len: number): number {
  if (buf[start] & 0x80) {
    // GNU base-256 for large values
    let n = buf[start] & 0x7f;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + buf[i];
    return n;
  }
  const s = cstr(buf, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === tarNumber(h, 148, 8);
}

/** `path=` of a pax extended header, if any. */
function paxPath(data: Buffer): string | undefined {
  const text = data.toString('utf8');
  const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
  return m?.[1];
}

/** The entries of an uncompressed tar, as (name, type, data). */
export function* tarEntries(tar: Buffer, where: string): Generator<{ name: string; type: string; data: Buffer }> {
  let off = 0;
  let longName: string | undefined;
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return;
    if (!checksumOk(h)) throw new DebFormatError(`${where}: control archive is not a valid tar (bad header checksum at byte ${off})`, { file: where, offset: off });
    const size = tarNumber(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const start = off + BLOCK;
    if (start + size > tar.length) throw new DebFormatError(`${where}: control archive is truncated`, { file: where });
    const data = tar.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = cstr(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === 'g') continue;
    const magic = h.toString('latin1', 257, 262);
    const prefix = magic === 'ustar' ? cstr(h, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    longName = undefined;
    yield { name, type, data };
  }
}

/** The text of `./control` inside an uncompressed tar. */
export function controlFromTar(tar: Buffer, where: string): string {
  for (const e of tarEntries(tar, where)) {
    if (e.name.replace(/^\.\//, '') === 'control' && (e.type === '0' || e.type === '7')) return e.data.toString('utf8');
  }
  throw new DebFormatError(`${where}: control archive has no ./control file`, { file: where });
}
