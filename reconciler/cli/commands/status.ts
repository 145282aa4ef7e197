// kiln status: what the status branch says (observed state), like `git status`.
import { STATUS_BRANCH } from '../../../schema/status.ts';
import { readCommitInfo } from '../../git/tree.ts';
import { readObserved } from '../../status/reader.ts';
import { formatStatus, summarize, type HeadInfo } from '../../status/summary.ts';
import { str, type Command } from '../command.ts';
import { openRepoArg, REMOTE_OPTIONS, urlRepoOption } from '../repo-arg.ts';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../../../schema/errors.ts';

async function isRepo(dir: string): Promise<boolean> {
  for (const p of [join(dir, '.git'), join(dir, 'HEAD')]) {
    try {
      await access(p);
      return true;
    } catch {
      // try the next layout
    }
  }
  return false;
}

const command: Command = {
  path: ['status'],
  summary: 'Show the observed state on the kiln/status branch: builds, releases, gates, checks.',
  description:
    'Reads the kiln/status branch of the repo (never the work tree) and prints its head commit, the last\n' +
    'desired commit reconciled, builds by state (failed ones with their reason), what each distribution\n' +
    'publishes, promotion gates and commit checks. Status records that cannot be read are listed, not fatal.',
  options: {
    repo: urlRepoOption('The repo holding kiln/status'),
    ...REMOTE_OPTIONS,
  },
  examples: ['kiln status', 'kiln status --repo ./metadata --json'],
  async run(args, ctx) {
    const { dir } = await openRepoArg(args, ctx);
    if (!(await isRepo(dir))) throw new NotFoundError(`no git repository at ${dir}`, { dir });
    const cache = {};
    const read = await readObserved({ dir, cache, log: ctx.log });
    let head: HeadInfo | null = null;
    if (read.state.statusCommit) {
      const c = await readCommitInfo(dir, read.state.statusCommit, cache);
      head = {
        commit: read.state.statusCommit,
        summary: c.message.split('\n')[0],
        date: new Date(c.committer.timestamp * 1000).toISOString(),
        signed: Boolean(c.gpgsig),
      };
    }
    const summary = summarize(STATUS_BRANCH, head, read.state, read.problems);
    return { data: summary, human: formatStatus(summary), exitCode: 0 };
  },
};
export default command;
