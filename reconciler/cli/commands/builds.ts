// kiln builds: every build record on the status branch, one line each.
import { readObserved } from '../../status/reader.ts';
import { buildRows, formatBuilds } from '../../pipeline/build-list.ts';
import { UsageError } from '../../../schema/errors.ts';
import { str, type Command } from '../command.ts';
import { openRepoArg, REMOTE_OPTIONS, revisionIn, urlRepoOption, type OpenedRepo } from '../repo-arg.ts';
import type { Logger } from 'pino';
import { readDesired } from '../../desired/read-desired.ts';
import { resolveCommit, type GitCache } from '../../git/tree.ts';
import type { ObservedState } from '../../model.ts';
import { dependencyWaitRows, formatWaits, type WaitRow } from '../../pipeline/dependency-waits-view.ts';
import { plan } from '../../plan/plan.ts';
import { withImageTagsNow } from '../../pass/observe-image-tags.ts';
import { verifyDesiredCommit } from '../../trust/index.ts';
import type { RegistryAuth } from '../../../oci/registry-auth.ts';
import { READ_REGISTRY_AUTH_OPTION, readRegistryAuth } from '../registry-auth.ts';

const STATES = ['queued', 'succeeded', 'failed'];

/** What the plan at HEAD holds back for in-repo Build-Depends; none when HEAD is not trusted or cannot be read (kiln plan says why). */
async function dependencyWaits(repo: OpenedRepo, observed: ObservedState, cache: GitCache, log: Logger, registryAuth: RegistryAuth | undefined): Promise<WaitRow[]> {
  try {
    const commit = await resolveCommit(repo.dir, await revisionIn(repo, 'HEAD'), cache);
    const trust = await verifyDesiredCommit({ dir: repo.dir, cache, commit, lastTrusted: observed.desiredCommit });
    if (!trust.trusted) return [];
    const { state: desired } = await readDesired({ dir: repo.dir, rev: commit, cache, log });
    return dependencyWaitRows(plan(desired, await withImageTagsNow(desired, observed, log, registryAuth), { now: new Date(), trust }).waiting);
  } catch (e) {
    log.debug({ err: (e as Error).message }, 'no dependency waits: the desired state could not be planned');
    return [];
  }
}

const command: Command = {
  path: ['builds'],
  summary: 'List the builds recorded on kiln/status: state, attempts, agent, failure reason.',
  description:
    'Reads the build records (builds/<key>.yaml) from the kiln/status branch. A failed build shows its\n' +
    'failure class (build, limit, infra, poison, integrity) and reason; a retryable one when it is retried.\n' +
    'Builds held back by their in-repo Build-Depends (not dispatched, so not on kiln/status yet) are\n' +
    'listed after them with the plan\'s reason: AwaitingDependency (naming the relation and what the\n' +
    'buildFrom distribution publishes), DependencyFailed, DependencyCycle, DuplicateBinary, BadBuildDepends.\n' +
    'See `kiln logs KEY` for a build\'s log and `kiln retry KEY` to ask for another attempt.',
  options: {
    repo: urlRepoOption('The repo holding kiln/status'),
    ...REMOTE_OPTIONS,
    state: { type: 'string', valueName: 'STATE', description: 'Only builds in this state: queued, succeeded or failed.' },
    'registry-auth': READ_REGISTRY_AUTH_OPTION,
  },
  examples: ['kiln builds', 'kiln builds --state failed --json'],
  async run(args, ctx) {
    const state = str(args, 'state');
    if (state && !STATES.includes(state)) throw new UsageError(`--state takes one of ${STATES.join(', ')}, got '${state}'`);
    const authFile = str(args, 'registry-auth');
    const registryAuth = authFile === undefined ? undefined : await readRegistryAuth(authFile);
    const repo = await openRepoArg(args, ctx);
    const cache = {};
    const { state: observed } = await readObserved({ dir: repo.dir, cache, log: ctx.log });
    const rows = buildRows(observed.builds.values()).filter((r) => !state || r.state === state);
    const waiting = state ? [] : await dependencyWaits(repo, observed, cache, ctx.log, registryAuth);
    return { data: { statusCommit: observed.statusCommit ?? null, builds: rows, waiting }, human: formatBuilds(rows) + formatWaits(waiting) };
  },
};
export default command;
