// kiln retry: ask for another attempt of a failed build, as a signed status commit
// (pushed back to the remote when --repo is a URL).
import { loadReconcilerSigner } from '../../keys/load-signer.ts';
import { findByPrefix } from '../../pipeline/build-list.ts';
import { retryBuild, type RetryOutcome } from '../../pipeline/retry-build.ts';
import { remoteStep } from '../../remote/remote-step.ts';
import { readObserved } from '../../status/reader.ts';
import { assertStatusSigned } from '../../trust/index.ts';
import { type Command } from '../command.ts';
import { SIGNING_KEY_OPTION, signingKeySource } from '../options.ts';
import { openRepoArg, REMOTE_OPTIONS, urlRepoOption } from '../repo-arg.ts';

const command: Command = {
  path: ['retry'],
  summary: 'Ask for another attempt of a failed build (a signed commit on kiln/status).',
  description:
    'Marks the failed build whose key starts with KEY-PREFIX as retryable now, in one signed commit on\n' +
    'kiln/status. The next reconcile pass dispatches a new attempt. Use it after fixing what a non-retryable\n' +
    'failure (build, limit, poison, integrity) needed. Builds that are not failed are left alone.\n' +
    'A retry grants a fresh budget of maxAttempts (kiln.yaml defaults) attempts.\n' +
    "With a URL --repo the remote's kiln/status is fetched (it must be signed by --signing-key's key), and the\n" +
    'commit is pushed back with compare-and-set (re-applied on top when a reconciler moved the branch meanwhile).',
  options: {
    repo: urlRepoOption('The repo holding kiln/status'),
    ...REMOTE_OPTIONS,
    'signing-key': SIGNING_KEY_OPTION,
  },
  positionals: [{ name: 'KEY-PREFIX', description: 'The first characters (at least 4) of the build key, as shown by `kiln builds`.', required: true }],
  examples: ['kiln retry 3f9a2c', 'kiln retry 3f9a2c --repo ./metadata --json', 'kiln retry 3f9a2c --repo https://git.example.org/team/meta.git --signing-key kiln.key'],
  async run(args, ctx) {
    const { dir, mirror } = await openRepoArg(args, ctx, { sync: false });
    const prefix = args.positionals[0];
    const cache = {};
    // A remote kiln/status is only taken when signed by the release key: the key is needed to fetch.
    const early = mirror ? await loadReconcilerSigner(signingKeySource(args, ctx.env)) : undefined;
    const remote = mirror && early ? remoteStep(mirror, (commit) => assertStatusSigned({ dir, cache: {}, commit, publicKeyArmored: early.publicKeyArmored }), early) : undefined;
    await remote?.beforePass();
    // Resolve the key first, so a typo fails before the signing key is even loaded.
    const { state: before } = await readObserved({ dir, cache, log: ctx.log });
    const target = findByPrefix(before.builds.values(), prefix);
    const signer = early ?? (await loadReconcilerSigner(signingKeySource(args, ctx.env)));
    const retry = () => retryBuild({ dir, cache: {}, signer, key: target.key, now: new Date(), log: ctx.log });
    let outcome: RetryOutcome = await retry();
    // Pushed even when there was nothing to retry: a retry recorded by an earlier run whose push failed goes now.
    if (remote) outcome = await remote.afterRecord(outcome, retry);
    const { commit } = outcome;
    const what = `${target.inputs.package} ${target.inputs.version} (${target.inputs.arch}) ${target.key.slice(0, 12)}`;
    if (!commit) {
      return { data: { key: target.key, retried: false, state: target.state }, human: `${what} is ${target.state}${target.failure?.retryable ? ' and already retryable' : ''}: nothing to retry`, exitCode: 1 };
    }
    const pushed = mirror ? ` and pushed to ${mirror.transport.url}` : '';
    return { data: { key: target.key, retried: true, statusCommit: commit }, human: `${what}: retry requested in ${commit.slice(0, 12)}${pushed}; the next reconcile pass dispatches attempt ${target.attempts.length + 1}` };
  },
};
export default command;
