// Tiny images for OCI tests (no registry on the network here): a root file system
// of Debian's static busybox with its applets as links, ≈2 MB, as a tar a
// Dockerfile can ADD (`FROM scratch`) or `docker import` can load.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, copyFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { makeRepo } from './git.ts';

const run = promisify(execFile);
export const BUSYBOX = '/bin/busybox';

/** Write `rootfs.tar` (busybox in /bin, every applet linked, /tmp) into `dir`; returns its path. */
export async function writeBusyboxRootfs(dir: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kiln-rootfs-'));
  try {
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'tmp'));
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile(BUSYBOX, join(root, 'bin', 'busybox'));
    await chmod(join(root, 'bin', 'busybox'), 0o755);
    const { stdout } = await run(BUSYBOX, ['--list']);
    for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) await symlink('busybox', join(root, 'bin', applet));
    const tar = join(dir, 'rootfs.tar');
    // Fixed owner and mtime: the same input gives the same layer.
    await run('tar', ['-C', root, '--owner=0', '--group=0', '--numeric-owner', '--mtime=2020-01-01', '--sort=name', '-cf', tar, '.']);
    return tar;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** `docker import` of the busybox root as `name`; returns the image ID. */
export async function importBusyboxImage(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-tiny-'));
  try {
    const tar = await writeBusyboxRootfs(dir);
    await run('docker', ['import', '-c', 'CMD ["sh"]', '-c', 'ENV PATH=/bin', tar, name]);
    const { stdout } = await run('docker', ['image', 'inspect', '-f', '{{.Id}}', name]);
    return stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A git repo at `dir` (branch main, one commit) whose `subdir` holds the busybox rootfs.tar and
 * `dockerfile`: the source of an oci package built FROM scratch. Returns its dir and commit.
 */
export async function makeImageSource(dir: string, subdir: string, dockerfile: string): Promise<{ dir: string; commit: string }> {
  await mkdir(join(dir, subdir), { recursive: true });
  await writeBusyboxRootfs(join(dir, subdir));
  return makeRepo({ [join(subdir, 'Dockerfile')]: dockerfile }, { dir, message: 'image source' });
}
