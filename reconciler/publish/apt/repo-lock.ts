// One writer per repository across processes (the reconciler, a manual
// `kiln publish`): ROOT/<dist>/.kiln/lock, created exclusively, holding the
// writer's pid. A lock whose pid is gone (a killed writer) is taken over.
// Same-host only, which is where a repository's files live.
import { hostname } from 'node:os';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PublishError } from '../../../schema/errors.ts';
import { remakeDir } from './atomic-write.ts';
import { STATE_DIR } from './layout.ts';

const LOCK = `${STATE_DIR}/lock`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname() }), { flag: 'wx', mode: 0o644 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Run fn holding the lock; fn learns whether a dead writer's lock was taken over (a crash to clean up after). */
export async function withRepoLock<T>(repoDir: string, fn: (tookOver: boolean) => Promise<T>): Promise<T> {
  const path = join(repoDir, LOCK);
  // Made again, not taken from the cache of made directories: the repository may have been deleted since.
  await remakeDir(join(repoDir, STATE_DIR));
  let tookOver = false;
  if (!(await tryCreate(path))) {
    tookOver = true;
    const holder = await readFile(path, 'utf8').then((t) => JSON.parse(t) as { pid: number; host: string }, () => undefined);
    if (holder && holder.pid !== process.pid && alive(holder.pid)) {
      throw new PublishError(`${repoDir} is being published by process ${holder.pid}; try again when it is done`, { repo: repoDir, pid: holder.pid });
    }
    await unlink(path).catch(() => {}); // a killed writer's lock (or unreadable): take it over
    if (!(await tryCreate(path))) throw new PublishError(`${repoDir}: another process took the publish lock first; try again`, { repo: repoDir });
  }
  try {
    return await fn(tookOver);
  } finally {
    await unlink(path).catch(() => {});
  }
}
