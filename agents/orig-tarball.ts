// The upstream tarball of a `3.0 (quilt)` source package kept in git. dpkg-source
// needs ../NAME_UPSTREAM.orig.tar.* next to the tree, and a git checkout has none:
// the agent makes it from the tree at the pinned commit, debian/ left out, the way
// git-buildpackage does when no upstream tag or pristine-tar is given. The tree is
// taken as patches-unapplied (gbp's layout): dpkg-source applies debian/patches.
// Reproducible (sorted, fixed owner, mode and mtime, gzip without a timestamp), so
// every Debian revision of one upstream version yields the same bytes: the pool
// holds one orig tarball per upstream version, as Debian's archive requires.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { SourceResolveError } from '../schema/errors.ts';
import { readSourceFile } from './source-tree.ts';

/** debian/source/format and the changelog's first line are tiny; these bound what is read from the untrusted tree. */
const MAX_FORMAT_BYTES = 1024;
const MAX_CHANGELOG_BYTES = 1 << 20;

/** Pure: the upstream part of a Debian version (no epoch, no revision); undefined for a native version. */
export function upstreamVersion(version: string): string | undefined {
  const noEpoch = version.replace(/^[0-9]+:/, '');
  const dash = noEpoch.lastIndexOf('-');
  return dash > 0 ? noEpoch.slice(0, dash) : undefined;
}

/** Pure: source name and version from debian/changelog's first entry. */
export function changelogHead(text: string): { name: string; version: string } | undefined {
  const m = /^([a-z0-9][a-z0-9+.-]+) \(([^()\s]+)\)/.exec(text);
  return m ? { name: m[1], version: m[2] } : undefined;
}

async function readOptional(root: string, rel: string, max: number): Promise<string | undefined> {
  try {
    return (await readSourceFile(root, rel, max)).toString('utf8');
  } catch (e) {
    if (e instanceof SourceResolveError && /not found/.test(e.message)) return undefined;
    throw e;
  }
}

/** tar of `dir` without debian/ (and VCS or quilt state), members under PREFIX/, reproducible. */
function tarArgs(dir: string, prefix: string): string[] {
  return [
    '--create', '--file=-', `--directory=${dir}`,
    '--anchored', '--exclude=./debian', '--exclude=./.git', '--exclude=./.pc',
    '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--mode=u+rw,go+r,go-w', '--format=gnu',
    // Member names only (r) and hard-link targets (h), never symlink targets.
    `--transform=flags=rh;s,^\\.,${prefix},`,
    '.',
  ];
}

/**
 * For a `3.0 (quilt)` tree at `buildDir` whose parent has no NAME_UPSTREAM.orig.tar.*, write
 * NAME_UPSTREAM.orig.tar.gz there and return its file name; otherwise undefined (dpkg-source
 * then reports whatever else is wrong, e.g. a quilt package with a native version).
 */
export async function ensureOrigTarball(sourceDir: string, buildDir: string): Promise<string | undefined> {
  const rel = (p: string) => relative(sourceDir, join(buildDir, p));
  const format = await readOptional(sourceDir, rel('debian/source/format'), MAX_FORMAT_BYTES);
  if (format?.trim() !== '3.0 (quilt)') return undefined;
  const head = changelogHead((await readOptional(sourceDir, rel('debian/changelog'), MAX_CHANGELOG_BYTES)) ?? '');
  const upstream = head && upstreamVersion(head.version);
  if (!head || !upstream) return undefined;
  const parent = dirname(buildDir);
  const stem = `${head.name}_${upstream}.orig.tar.`;
  if ((await readdir(parent)).some((f) => f.startsWith(stem))) return undefined;
  const name = `${stem}gz`;
  const tmp = join(parent, `.${name}.tmp`);
  const tar = spawn('tar', tarArgs(buildDir, `${head.name}-${upstream}`), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', resolve);
  });
  try {
    // zlib's gzip header carries no name and mtime 0: the bytes depend on the tar stream alone.
    await pipeline(tar.stdout, createGzip({ level: 9 }), createWriteStream(tmp));
    const code = await exited;
    if (code !== 0) throw new SourceResolveError(`could not make ${name} from the source tree: tar exited ${code}: ${stderr.trim()}`, { file: name });
    await rename(tmp, join(parent, name));
    return name;
  } finally {
    await rm(tmp, { force: true });
  }
}
