// The smallest valid .deb for a job (control only, no files): what NoopRunner
// "builds", so benchmarks and queue tests go through the same checks as real
// builds (the reconciler records a success only for a .deb of the declared package).
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { BuildInputs } from '../schema/status.ts';

async function tarGz(name: string, content: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  const mtime = new Date(0);
  pack.entry({ name: './', type: 'directory', mode: 0o755, mtime });
  if (content) pack.entry({ name, type: 'file', mode: 0o644, mtime }, content);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), { level: 1 });
}

function ar(members: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')];
  for (const [name, data] of members) {
    parts.push(Buffer.from(`${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`, 'latin1'), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** The data member is the same empty archive in every no-op .deb: made once (a gzip per job is a visible share of a benchmark agent's CPU). */
let emptyData: Promise<Buffer> | undefined;

/** Debian's file name for the package (epoch dropped) and the bytes of an empty .deb of it. */
export async function noopDeb(inputs: Pick<BuildInputs, 'package' | 'version' | 'arch'>, note: string): Promise<{ name: string; bytes: Buffer }> {
  const control = `Package: ${inputs.package}\nVersion: ${inputs.version}\nArchitecture: ${inputs.arch}\nMaintainer: Kiln <noop@kiln.invalid>\nDescription: no-op build\n ${note}\n`;
  const bytes = ar([
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', await tarGz('./control', control)],
    ['data.tar.gz', await (emptyData ??= tarGz('', '').catch((e: unknown) => {
      emptyData = undefined; // a failure is not kept for every later build
      throw e;
    }))],
  ]);
  const name = `${inputs.package}_${inputs.version.replace(/^\d+:/, '')}_${inputs.arch}.deb`.replace(/[^A-Za-z0-9._+~-]/g, '_');
  return { name, bytes };
}
