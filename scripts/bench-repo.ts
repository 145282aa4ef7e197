// Generated metadata repos for the benchmarks (bench-plan, bench-forge-check):
// n packages in one commit via git fast-import, and one-file changes on top.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@kiln.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@kiln.invalid' };
/** One real source repo every package pins by commit id (ids are checked when the metadata is read). */
async function sourceRepo(): Promise<{ dir: string; commit: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-src-'));
  await run('git', ['init', '-q', '-b', 'main', dir]);
  await run('git', ['commit', '-q', '--allow-empty', '-m', 'source'], { cwd: dir, env: GIT_ENV });
  return { dir, commit: (await run('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim() };
}
/** Remove it when the benchmark is done: `rm(SOURCE.dir, …)`. */
export const SOURCE = await sourceRepo();

export const pkgName = (i: number) => `pkg-${String(i).padStart(5, '0')}`;
export const pkgYaml = (i: number, rebuild = 0) =>
  `name: ${pkgName(i)}\nversion: 1.0-1\nsource:\n  git: ${SOURCE.dir}\n  ref: '${SOURCE.commit}'\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\nrebuild: ${rebuild}\n`;
const KILN_YAML = 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n';
const DIST_YAML = 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n';

/** A metadata repo of n packages in one commit, written with git fast-import (seconds, not minutes). */
export async function generateRepo(n: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `kiln-bench-${n}-`));
  await run('git', ['init', '-q', '-b', 'main', dir]);
  const files: Array<[string, string]> = [['kiln.yaml', KILN_YAML], ['distributions/testing.yaml', DIST_YAML]];
  for (let i = 0; i < n; i++) files.push([`packages/${pkgName(i)}.yaml`, pkgYaml(i)]);
  const chunks = ['commit refs/heads/main\ncommitter bench <bench@kiln.invalid> 1700000000 +0000\ndata 9\ngenerate\n'];
  for (const [path, content] of files) chunks.push(`M 100644 inline ${path}\ndata ${Buffer.byteLength(content)}\n${content}\n`);
  await new Promise<void>((resolve, reject) => {
    const p = spawn('git', ['fast-import', '--quiet'], { cwd: dir, stdio: ['pipe', 'ignore', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import exited ${code}`))));
    p.stdin.end(chunks.join(''));
  });
  await run('git', ['reset', '-q', '--hard', 'main'], { cwd: dir });
  return dir;
}

export async function commitChange(dir: string, i: number): Promise<string> {
  await writeFile(join(dir, 'packages', `${pkgName(i)}.yaml`), pkgYaml(i, 1));
  await run('git', ['-c', 'gc.auto=0', 'commit', '-qam', `rebuild ${pkgName(i)}`], { cwd: dir, env: GIT_ENV });
  return (await run('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
}
