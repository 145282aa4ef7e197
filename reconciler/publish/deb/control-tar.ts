// control.tar{,.gz,.xz,.zst} -> the text of ./control. gzip comes from
// node:zlib, xz from the kept `xz-decompress` (WebAssembly; Node has no xz).
import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import xz from 'xz-decompress';
import { DebFormatError } from '../../../schema/errors.ts';

const { XzReadableStream } = xz as unknown as { XzReadableStream: new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> };

/** Decompress a control.tar member by its name's extension. */
export async function decompressMember(name: string, data: Buffer, where: string): Promise<Buffer> {
  try {
    if (name.endsWith('.gz')) return gunzipSync(data);
    if (name.endsWith('.xz')) return Buffer.from(await new Response(new XzReadableStream(new Blob([new Uint8Array(data)]).stream())).arrayBuffer());
    if (name.endsWith('.tar')) return data;
  } catch (cause) {
    throw new DebFormatError(`${where}: cannot decompress ${name}: ${(cause as Error).message}`, { file: where, member: name }, { cause });
  }
  throw new DebFormatError(`${where}: unsupported compression of ${name} (Kiln reads .tar, .tar.gz and .tar.xz)`, { file: where, member: name });
}

/** The bytes of `./control` inside an uncompressed tar. */
export async function controlFromTar(tarBytes: Buffer, where: string): Promise<string> {
  const extract = tar.extract();
  let found: string | undefined;
  const done = (async () => {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.\//, '');
      if (name === 'control' && entry.header.type === 'file') {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        found = Buffer.concat(chunks).toString('utf8');
      } else {
        entry.resume();
      }
    }
  })();
  Readable.from([tarBytes]).pipe(extract);
  try {
    await done;
  } catch (cause) {
    throw new DebFormatError(`${where}: control archive is not a valid tar: ${(cause as Error).message}`, { file: where }, { cause });
  }
  if (found === undefined) throw new DebFormatError(`${where}: control archive has no ./control file`, { file: where });
  return found;
}
