// The binary packages a Debian source declares: the `Package:` field of every
// binary paragraph of debian/control. Read on the host before the build runs
// (the build may rewrite its tree), never through a symlink and never more than
// a bounded number of bytes; the reconciler checks each built .deb against them.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_CONTROL_BYTES = 1 << 20;
const BINARY_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** Pure: binary package names of a debian/control text, in order (the source paragraph is skipped). */
export function parseDeclaredBinaries(control: string): string[] {
  const names: string[] = [];
  const paragraphs = control.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/);
  for (const para of paragraphs.slice(1)) {
    const m = /^Package:[ \t]*(\S+)[ \t]*$/im.exec(para.split('\n').filter((l) => !l.startsWith('#')).join('\n'));
    if (m && BINARY_NAME.test(m[1]) && !names.includes(m[1])) names.push(m[1]);
  }
  return names;
}

/** debian/control under `buildDir` as a regular file (no symlink at debian/ or control), or undefined. */
async function readControl(buildDir: string): Promise<string | undefined> {
  const dir = await lstat(join(buildDir, 'debian')).catch(() => undefined);
  if (!dir?.isDirectory()) return undefined;
  const fh = await open(join(buildDir, 'debian', 'control'), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_CONTROL_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The declared binaries, or undefined when debian/control cannot be read safely (the build then reports why). */
export async function declaredBinaries(buildDir: string): Promise<string[] | undefined> {
  const text = await readControl(buildDir);
  const names = text === undefined ? [] : parseDeclaredBinaries(text);
  return names.length ? names : undefined;
}
