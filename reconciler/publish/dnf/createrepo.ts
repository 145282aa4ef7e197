// createrepo_c (Debian `createrepo-c`) makes the repodata of exactly the listed
// packages into a staging directory; `--update` reuses the metadata of every
// package already described by the published repodata (same name, size, mtime),
// so adding one package to thousands reads one rpm. Metadata is gzip-compressed
// whatever the version's default (createrepo_c >= 1.0 writes zstd): Kiln reads the
// primary metadata back (placed-digests.ts).
import { execFile } from 'node:child_process';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PublishError } from '../../../schema/errors.ts';
import { REPOMD, STAGE_DIR } from './layout.ts';

const run = promisify(execFile);

export function createrepoArgs(repoDir: string, opts: { pkglist: string; outputDir: string; reuse: boolean; revision: string }): string[] {
  return [
    '--quiet', '--no-database',
    '--general-compress-type', 'gz',
    '--pkglist', opts.pkglist,
    '--outputdir', opts.outputDir,
    '--revision', opts.revision,
    ...(opts.reuse ? ['--update', '--update-md-path', repoDir] : []),
    repoDir,
  ];
}

/** Repodata of `files` (paths relative to repoDir) in repoDir/.kiln/stage/repodata; returns that directory. */
export async function stageRepodata(repoDir: string, files: string[], revision: string, fresh: boolean): Promise<string> {
  const outputDir = join(repoDir, STAGE_DIR);
  await rm(outputDir, { recursive: true, force: true });
  await mkdir(outputDir, { recursive: true });
  const pkglist = join(repoDir, '.kiln', 'pkglist');
  await writeFile(pkglist, files.map((f) => f + '\n').join(''));
  const reuse = !fresh && (await access(join(repoDir, REPOMD)).then(() => true, () => false));
  await run('createrepo_c', createrepoArgs(repoDir, { pkglist, outputDir, reuse, revision }), { maxBuffer: 16 * 1024 * 1024 }).catch(
    (cause: { stderr?: string; message?: string }) => {
      throw new PublishError(`createrepo_c failed for ${repoDir}: ${(cause.stderr || cause.message || '').trim().split('\n').slice(-3).join(' ')}`, { repo: repoDir }, { cause });
    },
  );
  return join(outputDir, 'repodata');
}

/** Pure: the repodata files a repomd.xml names (`repodata/…`), as createrepo_c writes them. */
export function repomdLocations(repomd: string): string[] {
  return [...repomd.matchAll(/<location href="(repodata\/[^"]+)"/g)].map((m) => m[1]);
}
