// kiln builds: every build record on the status branch, one line each.
import { readObserved } from '../../status/reader.ts';
import { buildRows, formatBuilds } from '../../pipeline/build-list.ts';
import { UsageError } from '../../../schema/errors.ts';
import { str, type Command } from '../command.ts';
import { openRepoArg, REMOTE_OPTIONS, urlRepoOption } from '../repo-arg.ts';

const STATES = ['queued', 'succeeded', 'failed'];

const command: Command = {
  path: ['builds'],
  summary: 'List the builds recorded on kiln/status: state, attempts, agent, failure reason.',
  description:
    'Reads the build records (builds/<key>.yaml) from the kiln/status branch. A failed build shows its\n' +
    'failure class (build, limit, infra, poison, integrity) and reason; a retryable one when it is retried.\n' +
    'See `kiln logs KEY` for a build\'s log and `kiln retry KEY` to ask for another attempt.',
  options: {
    repo: urlRepoOption('The repo holding kiln/status'),
    ...REMOTE_OPTIONS,
    state: { type: 'string', valueName: 'STATE', description: 'Only builds in this state: queued, succeeded or failed.' },
  },
  examples: ['kiln builds', 'kiln builds --state failed --json'],
  async run(args, ctx) {
    const state = str(args, 'state');
    if (state && !STATES.includes(state)) throw new UsageError(`--state takes one of ${STATES.join(', ')}, got '${state}'`);
    const { dir } = await openRepoArg(args, ctx);
    const { state: observed } = await readObserved({ dir, cache: {}, log: ctx.log });
    const rows = buildRows(observed.builds.values()).filter((r) => !state || r.state === state);
    return { data: { statusCommit: observed.statusCommit ?? null, builds: rows }, human: formatBuilds(rows) };
  },
};
export default command;
