import { readDesired } from '../../desired/read-desired.ts';
import { METADATA_PREFIXES } from '../../desired/layout.ts';
import { resolveCommit } from '../../git/tree.ts';
import { worktreeChanges, worktreeWarning } from '../../git/worktree.ts';
import { countActions, formatPlan } from '../../plan/format-plan.ts';
import { plan, refusalPlan } from '../../plan/plan.ts';
import { withImageTagsNow } from '../../pass/observe-image-tags.ts';
import { readObservedForTrust, verifyDesiredCommit } from '../../trust/index.ts';
import { str, type Command } from '../command.ts';
import { READ_REGISTRY_AUTH_OPTION, readRegistryAuth } from '../registry-auth.ts';
import { openRepoArg, REMOTE_OPTIONS, revisionIn, urlRepoOption } from '../repo-arg.ts';

const command: Command = {
  path: ['plan'],
  summary: 'Show what a reconcile pass would build, gate, publish and prune, and why.',
  description:
    'Reads the desired state at REV and the observed state on the kiln/status branch, and prints the\n' +
    'actions that would converge them, each with its reason (like `terraform plan`). Changes nothing.\n' +
    'Exit code 1 when the desired commit is refused by the trust policy.',
  options: {
    repo: urlRepoOption(),
    rev: { type: 'string', valueName: 'REV', description: 'Desired-state revision.', default: 'HEAD' },
    'release-key': { type: 'string', valueName: 'FILE', description: "The reconciler's public key: kiln/status must be signed by it (recommended for CI checks)." },
    'registry-auth': READ_REGISTRY_AUTH_OPTION,
    ...REMOTE_OPTIONS,
  },
  examples: ['kiln plan --repo ./metadata', 'kiln plan --rev feature-branch --json'],
  async run(args, ctx) {
    const authFile = str(args, 'registry-auth');
    const registryAuth = authFile === undefined ? undefined : await readRegistryAuth(authFile);
    const repo = await openRepoArg(args, ctx, { releaseKeyFile: str(args, 'release-key') });
    const dir = repo.dir;
    const cache = {};
    const commit = await resolveCommit(dir, await revisionIn(repo, str(args, 'rev') ?? 'HEAD'), cache);
    // Edits in the work tree are not what is planned: say so when HEAD is planned.
    const changes = commit === (await resolveCommit(dir, 'HEAD', cache)) ? ((await worktreeChanges(dir, METADATA_PREFIXES, cache)) ?? []) : [];
    const warning = worktreeWarning(changes, 'kiln plan');
    const { state: observed, statusVerified } = await readObservedForTrust({ dir, cache, releaseKeyFile: str(args, 'release-key'), log: ctx.log });
    // Judged first, as the reconciler does: a refused commit's files are never parsed.
    const trust = await verifyDesiredCommit({ dir, cache, commit, lastTrusted: observed.desiredCommit });
    const desired = trust.trusted ? (await readDesired({ dir, rev: commit, cache, log: ctx.log })).state : undefined;
    // Base images named by tag are resolved as the next pass would (a registry lookup, like the source refs above).
    const p = desired ? plan(desired, await withImageTagsNow(desired, observed, ctx.log, registryAuth), { now: new Date(), trust }) : refusalPlan(commit, observed, trust.reason);
    const size = desired ? ` (${desired.packages.size} packages, ${desired.distributions.size} distributions)` : '';
    const header =
      `Desired ${commit.slice(0, 12)}${size}` +
      ` against kiln/status ${observed.statusCommit?.slice(0, 12) ?? '(none yet)'}` +
      `\nTrust: ${trust.trusted ? 'trusted' : 'REFUSED'}: ${trust.reason}` +
      (statusVerified ? '' : '\n(kiln/status taken as is: pass --release-key to check it is signed by the reconciler)');
    return {
      data: { desiredCommit: commit, uncommitted: changes.map((c) => c.path), statusCommit: observed.statusCommit ?? null, trust, counts: countActions(p), actions: p.actions, waiting: p.waiting },
      human: formatPlan(p, header),
      warnings: warning ? [warning] : [],
      exitCode: trust.trusted ? 0 : 1,
    };
  },
};
export default command;
