// kiln retry: ask for another attempt of a failed build, as a signed status commit.
import { loadReconcilerSigner } from '../../keys/load-signer.ts';
import { findByPrefix } from '../../pipeline/build-list.ts';
import { retryBuild } from '../../pipeline/retry-build.ts';
import { readObserved } from '../../status/reader.ts';
import { str, type Command } from '../command.ts';
import { repoDir, repoOption, SIGNING_KEY_OPTION, signingKeySource } from '../options.ts';

const command: Command = {
  path: ['retry'],
  summary: 'Ask for another attempt of a failed build (a signed commit on kiln/status).',
  description:
    'Marks the failed build whose key starts with KEY-PREFIX as retryable now, in one signed commit on\n' +
    'kiln/status. The next reconcile pass dispatches a new attempt. Use it after fixing what a non-retryable\n' +
    'failure (build, limit, poison, integrity) needed. Builds that are not failed are left alone.\n' +
    'A retry grants a fresh budget of maxAttempts (kiln.yaml defaults) attempts.',
  options: {
    repo: repoOption('The repo holding kiln/status'),
    'signing-key': SIGNING_KEY_OPTION,
  },
  positionals: [{ name: 'KEY-PREFIX', description: 'The first characters (at least 4) of the build key, as shown by `kiln builds`.', required: true }],
  examples: ['kiln retry 3f9a2c', 'kiln retry 3f9a2c --repo ./metadata --json'],
  async run(args, ctx) {
    const dir = repoDir(args, ctx.env);
    const prefix = args.positionals[0];
    const cache = {};
    // Resolve the key first, so a typo fails before the signing key is even loaded.
    const { state: before } = await readObserved({ dir, cache, log: ctx.log });
    const target = findByPrefix(before.builds.values(), prefix);
    const signer = await loadReconcilerSigner(signingKeySource(args, ctx.env));
    const { commit } = await retryBuild({ dir, cache, signer, key: target.key, now: new Date(), log: ctx.log });
    const what = `${target.inputs.package} ${target.inputs.version} (${target.inputs.arch}) ${target.key.slice(0, 12)}`;
    if (!commit) {
      return { data: { key: target.key, retried: false, state: target.state }, human: `${what} is ${target.state}${target.failure?.retryable ? ' and already retryable' : ''}: nothing to retry`, exitCode: 1 };
    }
    return { data: { key: target.key, retried: true, statusCommit: commit }, human: `${what}: retry requested in ${commit.slice(0, 12)}; the next reconcile pass dispatches attempt ${target.attempts.length + 1}` };
  },
};
export default command;
