// Real git repositories for tests, built from object literals with native git.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Kiln Test',
  GIT_AUTHOR_EMAIL: 'test@kiln.invalid',
  GIT_COMMITTER_NAME: 'Kiln Test',
  GIT_COMMITTER_EMAIL: 'test@kiln.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd: dir,
    env: { ...process.env, ...GIT_ENV },
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout.trim();
}

export type Files = Record<string, string | Buffer>;

export async function writeFiles(dir: string, files: Files): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

/** A new repo (branch main) with one commit of `files`; returns its dir and commit id. */
export async function makeRepo(files: Files, opts: { dir?: string; message?: string } = {}): Promise<{ dir: string; commit: string }> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'kiln-repo-')));
  await git(dir, 'init', '-q', '-b', 'main');
  const commit = await commitFiles(dir, files, opts.message ?? 'initial');
  return { dir, commit };
}

/** Write `files` into the work tree and commit them all; returns the new commit id. */
export async function commitFiles(dir: string, files: Files, message = 'change'): Promise<string> {
  await writeFiles(dir, files);
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}
