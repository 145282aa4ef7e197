// kiln check: the pull-request check. What would merging REV into BASE do?
import { UsageError } from '../../../schema/errors.ts';
import { checkRevision } from '../../check/check-revision.ts';
import { formatCheckMarkdown, formatCheckText, checkSummary } from '../../check/format-check.ts';
import { readObservedForTrust } from '../../trust/index.ts';
import { num, str, type Command } from '../command.ts';
import { localSpecChecker } from '../spec-checker.ts';
import { openRepoArg, REMOTE_OPTIONS, revisionIn, urlRepoOption } from '../repo-arg.ts';

const FORMATS = ['text', 'markdown'];

const command: Command = {
  path: ['check'],
  summary: 'The pull-request check: trust, validation and plan difference of merging REV into the base (exit 0 pass, 1 fail).',
  description:
    'Says what merging REV into BASE would do: whether every commit REV adds on top of the merge base is signed\n' +
    'by a key trusted as of its parent, the validation problems of REV with file:line:col, and the difference\n' +
    "between plan(BASE) and plan(REV) against the same kiln/status: builds, releases, promotions, prunes and\n" +
    'refusals, each with its reason. The files of a refused REV are never parsed. --format markdown prints a\n' +
    'pull-request comment. With a URL --repo, REV and BASE may be branches, tags, refs such as refs/pull/12/head\n' +
    "or commit ids: what is not on the tracked branch is fetched (a commit id through a ref of the remote that\n" +
    "points at it). --pr N checks pull request N's head (refs/pull/N/head, a fork's too); with --rev, a commit\n" +
    "of that pull request. REV's rpm packages are held against their specs as `kiln validate` does (a warning\n" +
    'when Docker, the build image or the source is not at hand).',
  options: {
    repo: urlRepoOption(),
    rev: { type: 'string', valueName: 'REV', description: 'The pull request head: branch, tag, ref or commit (required unless --pr).' },
    pr: { type: 'string', valueName: 'N', description: "The pull request's number: check its head (refs/pull/N/head, fetched with a URL --repo)." },
    base: { type: 'string', valueName: 'REF', description: 'The branch REV would merge into (default: HEAD; with a URL, the tracked branch).' },
    format: { type: 'string', valueName: 'FORMAT', description: 'text or markdown (a pull-request comment).', default: 'text' },
    'release-key': { type: 'string', valueName: 'FILE', description: "The reconciler's public key: kiln/status must be signed by it (recommended for CI checks)." },
    ...REMOTE_OPTIONS,
  },
  examples: ['kiln check --rev feature --base main', 'kiln check --repo https://git.example.org/team/meta.git --pr 12 --format markdown'],
  async run(args, ctx) {
    const revArg = str(args, 'rev');
    const pr = num(args, 'pr');
    if (pr !== undefined && !(Number.isInteger(pr) && pr > 0)) throw new UsageError(`--pr takes a pull request number, got '${str(args, 'pr')}'`);
    if (!revArg && pr === undefined) throw new UsageError("missing --rev or --pr: the pull request's head (branch, ref or commit) or its number\nRun 'kiln check --help' for usage.");
    const format = str(args, 'format') ?? 'text';
    if (!FORMATS.includes(format)) throw new UsageError(`--format takes ${FORMATS.join(' or ')}, got '${format}'`);
    const releaseKeyFile = str(args, 'release-key');
    const repo = await openRepoArg(args, ctx, { releaseKeyFile });
    const { dir, mirror } = repo;
    const baseArg = str(args, 'base');
    const rev = await revisionIn(repo, revArg, { pullRequest: pr });
    const base = await revisionIn(repo, baseArg ?? 'HEAD');
    const baseName = baseArg ?? (mirror?.remote.branch?.replace(/^refs\/heads\//, '') || 'HEAD');
    const cache = {};
    const { state: observed } = await readObservedForTrust({ dir, cache, releaseKeyFile, log: ctx.log });
    const report = await checkRevision({ dir, cache, rev, base, observed, now: new Date(), checkSpec: localSpecChecker(), log: ctx.log });
    return {
      data: { ...report, summary: checkSummary(report) },
      human: format === 'markdown' ? formatCheckMarkdown(report, baseName) : formatCheckText(report, baseName),
      exitCode: report.ok ? 0 : 1,
    };
  },
};
export default command;
