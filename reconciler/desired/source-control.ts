// debian/control of a package's source at its pinned commit, read without a
// checkout (source-blob.ts). Remembered per (url, commit, subdir): an object
// id names the same tree for ever, so each is read once a process.
import { posix } from 'node:path';
import { parseBinaries, parseBuildDepends, type Relation } from '../../debian/control.ts';
import { BuildDepsError } from '../../schema/errors.ts';
import { printable } from '../../schema/quote.ts';
import { readSourceBlob } from './source-blob.ts';

/** What a source's debian/control says, or why it could not be used (that package is not built). */
import type { SourceControl } from '../model.ts';
export type { SourceControl };

export interface ControlSource {
  url: string;
  ref: string;
  commit: string;
  subdir?: string;
}

/** Read and parse debian/control at `commit`; throws only for transient trouble (a remote that cannot be reached). */
export type ControlReader = (src: ControlSource) => Promise<SourceControl>;

/** debian/control is a few KiB; anything bigger is not one. */
export const MAX_CONTROL_BYTES = 1 << 20;

const controlPath = (subdir?: string) => posix.join(subdir ?? '', 'debian/control');

/** Parse control text; a bad relation or binary name becomes a message naming repo, commit and line. */
export function interpretControl(src: ControlSource, bytes: Uint8Array | undefined): SourceControl {
  const where = `${printable(src.url)} at ${src.commit.slice(0, 12)}: ${controlPath(src.subdir)}`;
  // No dependencies to order by; the build itself reports the missing file.
  if (!bytes) return { ok: true, binaries: [], buildDepends: [] };
  if (bytes.length > MAX_CONTROL_BYTES) return { ok: false, message: `${where} is ${bytes.length} bytes; the limit is ${MAX_CONTROL_BYTES}` };
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return { ok: true, binaries: parseBinaries(text, where).map((b) => b.name), buildDepends: parseBuildDepends(text, where) };
  } catch (e) {
    if (e instanceof BuildDepsError) return { ok: false, message: e.message };
    throw e;
  }
}

export function defaultControlReader(opts: { headers?: Record<string, string> } = {}): ControlReader {
  const memo = new Map<string, Promise<SourceControl>>();
  return (src) => {
    const key = `${src.url}\n${src.commit}\n${src.subdir ?? ''}`;
    let hit = memo.get(key);
    if (!hit) {
      const filepath = controlPath(src.subdir);
      hit = readSourceBlob(src, filepath, opts.headers).then((b) => interpretControl(src, b?.bytes));
      // A transient failure is not remembered: the next pass tries again.
      hit.catch(() => memo.delete(key));
      memo.set(key, hit);
    }
    return hit;
  };
}
