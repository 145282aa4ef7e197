// `--repo DIR|URL` for every command that reads the metadata repo: a directory
// is used as is; a URL is mirrored under the state dir and fetched first
// (reconciler/remote/). The flags for remote access are defined here once.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../schema/errors.ts';
import { STATUS_BRANCH } from '../../schema/status.ts';
import { fetchRevision, pullRequestRef } from '../remote/fetch-revision.ts';
import { openMirror, type Mirror } from '../remote/mirror.ts';
import { parseRepoLocation, repoId } from '../remote/remote-url.ts';
import { syncMirror, type SyncOptions, type SyncReport } from '../remote/sync.ts';
import { assertStatusSigned } from '../trust/index.ts';
import { str, type CommandContext, type OptionSpec, type ParsedArgs } from './command.ts';
import { repoDir, repoOption } from './options.ts';

/** --repo for the commands that take a URL as well as a directory. */
export function urlRepoOption(what = 'The metadata repo'): OptionSpec {
  return { ...repoOption(`${what}: a directory, or an https://, ssh:// or user@host:path URL`), valueName: 'DIR|URL' };
}

export const REMOTE_OPTIONS: Record<string, OptionSpec> = {
  branch: { type: 'string', valueName: 'NAME', description: "With a URL --repo: the branch to track (default: the remote's HEAD)." },
  'state-dir': { type: 'string', valueName: 'DIR', description: 'With a URL --repo: where its mirror lives (default: $XDG_STATE_HOME/kiln/<repo-id>).' },
  'git-token-file': { type: 'string', valueName: 'FILE', description: 'With an https:// --repo: file holding the access token (default: $KILN_GIT_TOKEN).' },
  'ssh-key': { type: 'string', valueName: 'FILE', description: 'With an ssh:// or user@host:path --repo: the private key to use.' },
};

export interface OpenedRepo {
  /** The directory every reader takes: the repo itself, or the mirror's git dir. */
  dir: string;
  mirror?: Mirror;
  sync?: SyncReport;
}

async function readToken(args: ParsedArgs, ctx: CommandContext): Promise<string | undefined> {
  const file = str(args, 'git-token-file');
  if (!file) return ctx.env.gitToken;
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw new UsageError(`--git-token-file ${file}: ${(e as Error).message}`, { file });
  }
  if (!token) throw new UsageError(`--git-token-file ${file} is empty`, { file });
  return token;
}

/**
 * Resolve --repo. With a URL: open its mirror and, unless `sync` is false (the
 * reconciler fetches before each pass itself), fetch it read-only now. With
 * `releaseKeyFile`, a fetched kiln/status must be signed by that key.
 */
export async function openRepoArg(args: ParsedArgs, ctx: CommandContext, opts: { sync?: boolean; releaseKeyFile?: string } = {}): Promise<OpenedRepo> {
  const arg = repoDir(args, ctx.env);
  const location = parseRepoLocation(arg);
  if (location.kind === 'dir') {
    for (const f of ['branch', 'state-dir', 'git-token-file', 'ssh-key']) if (str(args, f)) throw new UsageError(`--${f} applies only when --repo is a URL (got the directory '${arg}')`);
    return { dir: location.dir };
  }
  if (location.kind === 'ssh' && str(args, 'git-token-file')) throw new UsageError('--git-token-file is for https:// remotes; an ssh remote takes --ssh-key');
  if (location.kind === 'http' && str(args, 'ssh-key')) throw new UsageError('--ssh-key is for ssh remotes; an https:// remote takes --git-token-file or KILN_GIT_TOKEN');
  const branch = str(args, 'branch');
  if (branch && branch.replace(/^refs\/heads\//, '') === STATUS_BRANCH) throw new UsageError(`--branch ${branch}: that is where Kiln records what happened; track the branch holding the desired state`);
  const stateDir = str(args, 'state-dir') ?? (ctx.env.stateHome ? join(ctx.env.stateHome, 'kiln', repoId(location.url)) : undefined);
  if (!stateDir) throw new UsageError('no state dir for the mirror: pass --state-dir or set XDG_STATE_HOME');
  const mirror = await openMirror({ location, stateDir, branch, token: await readToken(args, ctx), sshKey: str(args, 'ssh-key'), log: ctx.log });
  if (opts.sync === false) return { dir: mirror.gitdir, mirror };
  const syncOpts: SyncOptions = { readOnly: true };
  if (opts.releaseKeyFile) {
    const publicKeyArmored = await readFile(opts.releaseKeyFile, 'utf8');
    syncOpts.verifyStatus = (commit) => assertStatusSigned({ dir: mirror.gitdir, cache: {}, commit, publicKeyArmored });
  }
  return { dir: mirror.gitdir, mirror, sync: await syncMirror(mirror, syncOpts) };
}

/**
 * A revision named on the command line: with a URL, a branch, tag, ref or commit
 * other than the tracked branch is fetched first. `pullRequest` (kiln check --pr N)
 * names refs/pull/N/head, where the forges keep a pull request's head (a fork's too).
 */
export async function revisionIn(repo: OpenedRepo, rev: string | undefined, o: { pullRequest?: number } = {}): Promise<string> {
  if (repo.mirror && (rev !== 'HEAD' || o.pullRequest !== undefined)) return fetchRevision(repo.mirror, rev, o);
  if (rev !== undefined) return rev;
  if (o.pullRequest === undefined) throw new TypeError('revisionIn: a revision or a pull request is needed');
  return pullRequestRef(o.pullRequest);
}
