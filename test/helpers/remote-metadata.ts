// A metadata repo as a forge holds it: a bare repository (served by
// startGitServer or sshd) with a signed first commit accepted as the root of
// trust (refs/kiln/trust-root), and a work clone to push changes from.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptTrustRoot } from '../../reconciler/trust/index.ts';
import { git, makeRepo, type Files } from './git.ts';
import { commitSigned, makeSignedRepo, trustFiles, type SignedCommitOptions, type TestKey } from './signed-repo.ts';

export interface RemoteMetadata {
  /** The directory served: bare repos live under it. */
  root: string;
  /** The bare repository (root/<name>.git). */
  bare: string;
  /** A work clone whose `origin` is the bare repo. */
  work: string;
  name: string;
  /** The first commit (the accepted root of trust). */
  rootCommit: string;
}

export const POOLS = 'pools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n';

export const packageYaml = (name: string, version: string, source: string) =>
  `name: ${name}\nversion: ${version}\nsource:\n  git: ${source}\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n`;

/** Files of a metadata repo trusting `committer`, with one package `hello` built from a fresh source repo. */
export async function metadataFiles(committer: TestKey): Promise<{ files: Files; source: string }> {
  const source = (await makeRepo({ 'debian/changelog': 'x' })).dir;
  const files = {
    ...trustFiles([committer], { requireSignedCommits: true, extra: POOLS }),
    'packages/hello.yaml': packageYaml('hello', '1.0-1', source),
    'distributions/testing.yaml': 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n',
  };
  return { files, source };
}

export async function makeRemoteMetadata(committer: TestKey, opts: { root?: string; name?: string; files?: Files } = {}): Promise<RemoteMetadata> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'kiln-forge-')));
  const name = opts.name ?? 'metadata';
  const files = opts.files ?? (await metadataFiles(committer)).files;
  const { dir: work, commit } = await makeSignedRepo(files, { signer: committer.signer });
  await acceptTrustRoot({ dir: work, cache: {}, commit });
  const bare = join(root, `${name}.git`);
  await git(root, 'init', '-q', '--bare', '-b', 'main', bare);
  await git(work, 'remote', 'add', 'origin', bare);
  await git(work, 'push', '-q', 'origin', 'main', 'refs/kiln/trust-root');
  return { root, bare, work, name, rootCommit: commit };
}

/** A signed commit of `files` on the work clone's main, pushed to the bare repo (`force`: rewrite it). */
export async function pushSigned(m: RemoteMetadata, files: Files, opts: SignedCommitOptions & { force?: boolean } = {}): Promise<string> {
  const commit = await commitSigned(m.work, files, opts);
  await git(m.work, 'push', '-q', ...(opts.force ? ['-f'] : []), 'origin', 'main');
  return commit;
}
