// xz compression with the `xz` program (xz-utils is Priority: required in
// Debian, so every host that runs apt has it; Node has no xz encoder and the
// npm ones are either decoders only or unmaintained WebAssembly ports).
// Single-threaded so the output is the same bytes on every host.
import { spawn } from 'node:child_process';
import { PublishError } from '../../../schema/errors.ts';

export function xzCompress(data: string | Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('xz', ['-6', '-T1', '--check=crc64', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e) => reject(new PublishError(`cannot run xz (install xz-utils): ${e.message}`, {}, { cause: e })));
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new PublishError(`xz exited ${code}: ${err.trim()}`))));
    child.stdin.end(data);
  });
}
