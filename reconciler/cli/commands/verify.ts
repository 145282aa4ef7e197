// kiln verify REV: would the reconciler act on this desired-state commit?
// Prints the trust verdict and who signed it; exit 0 trusted, 1 refused.
import { UsageError } from '../../../schema/errors.ts';
import { FINGERPRINT_PATTERN } from '../../../schema/metadata.ts';
import { resolveCommit } from '../../git/tree.ts';
import { acceptTrustRoot, readObservedForTrust, verifyDesiredCommit, type TrustVerdict } from '../../trust/index.ts';
import { flag, str, type Command } from '../command.ts';
import { openRepoArg, REMOTE_OPTIONS, revisionIn, urlRepoOption } from '../repo-arg.ts';
import { pushTrustRoot } from '../../remote/sync.ts';

function formatVerdict(v: TrustVerdict): string {
  const lines = [`${v.trusted ? 'TRUSTED' : 'REFUSED'} ${v.commit}`];
  if (v.signer) lines.push(`  signer:  ${v.signer.userId} (${v.signer.fingerprint})`);
  if (v.anchor) lines.push(`  anchor:  ${v.anchor.commit.slice(0, 12)} (${v.anchor.kind})`);
  lines.push(`  reason:  ${v.reason}`);
  const chain = v.chain ?? [];
  if (chain.length > 1) {
    lines.push('  chain:');
    for (const s of chain) lines.push(`    ${s.trusted ? '✓' : '✗'} ${s.commit.slice(0, 12)} ${s.reason}`);
  }
  return lines.join('\n');
}

const command: Command = {
  path: ['verify'],
  summary: 'Check that a desired-state commit is signed by a trusted key (exit 0 trusted, 1 refused).',
  description:
    'Walks the first-parent history from the last commit reconciled as trusted (kiln/status) to REV;\n' +
    'every commit must be signed by a key that kiln.yaml trusted at its parent, so a commit can never\n' +
    'trust its own key. A brand-new repo has no last trusted commit: its root commit must be signed by\n' +
    'a key listed in its own kiln.yaml and approved once, either with --accept-root (recorded in\n' +
    'refs/kiln/trust-root) or with --root-fingerprint. Merge commits are judged by their own signature.',
  options: {
    repo: urlRepoOption(),
    rev: { type: 'string', valueName: 'REV', description: 'Revision to verify (default: HEAD), as in plan, validate and check; the positional REV says the same.' },
    'accept-root': { type: 'boolean', description: 'Approve REV as the root of trust (after checking its signer).' },
    'root-fingerprint': { type: 'string', valueName: 'FPR', multiple: true, description: 'A key allowed to sign the root commit of a new repo.' },
    since: { type: 'string', valueName: 'REV', description: 'Judge from this commit instead of the one kiln/status records.' },
    'release-key': { type: 'string', valueName: 'FILE', description: "The reconciler's public key: kiln/status must be signed by it (recommended for CI checks)." },
    ...REMOTE_OPTIONS,
  },
  positionals: [{ name: 'REV', description: 'Revision to verify (default HEAD); the same as --rev.' }],
  examples: ['kiln verify --rev main', 'kiln verify main', 'kiln verify --accept-root $(git rev-list --max-parents=0 HEAD)', 'kiln verify HEAD --json'],
  async run(args, ctx) {
    const repo = await openRepoArg(args, ctx, { releaseKeyFile: str(args, 'release-key') });
    const { dir, mirror } = repo;
    const rev = await revisionIn(repo, revArgument(str(args, 'rev'), args.positionals[0]));
    const cache = {};
    const roots = (args.values['root-fingerprint'] as string[] | undefined) ?? [];
    for (const f of roots) if (!new RegExp(FINGERPRINT_PATTERN).test(f.toUpperCase())) throw new UsageError(`--root-fingerprint '${f}' is not a 40-hex-digit fingerprint`);

    if (flag(args, 'accept-root')) {
      const v = await acceptTrustRoot({ dir, cache, commit: rev });
      // A remote repo's root of trust travels with it (refs/kiln/trust-root).
      if (v.trusted && mirror) await pushTrustRoot(mirror);
      return { data: v, human: formatVerdict(v), exitCode: v.trusted ? 0 : 1 };
    }
    const since = str(args, 'since');
    const lastTrusted = since
      ? await resolveCommit(dir, since, cache)
      : (await readObservedForTrust({ dir, cache, releaseKeyFile: str(args, 'release-key'), log: ctx.log })).state.desiredCommit;
    const v = await verifyDesiredCommit({ dir, cache, commit: rev, lastTrusted, rootFingerprints: roots });
    return { data: v, human: formatVerdict(v), exitCode: v.trusted ? 0 : 1 };
  },
};
export default command;

/** One revision from --rev or the positional REV (both: they must agree). */
function revArgument(flagged: string | undefined, positional: string | undefined): string {
  if (flagged !== undefined && positional !== undefined && flagged !== positional) throw new UsageError(`--rev ${flagged} and REV ${positional} name two revisions: give one`);
  return flagged ?? positional ?? 'HEAD';
}
