// kiln validate: check the metadata repo at a revision (or its work tree), compiler style.
import { formatDiagnostic, UsageError } from '../../../schema/errors.ts';
import { METADATA_PREFIXES } from '../../desired/layout.ts';
import { validateDesired } from '../../desired/validate-desired.ts';
import { resolveCommit } from '../../git/tree.ts';
import { commitWorktree, worktreeChanges, worktreeWarning } from '../../git/worktree.ts';
import { flag, str, type Command } from '../command.ts';
import { localSpecChecker } from '../spec-checker.ts';
import { openRepoArg, REMOTE_OPTIONS, revisionIn, urlRepoOption } from '../repo-arg.ts';

const command: Command = {
  path: ['validate'],
  summary: 'Check the metadata repo: YAML, schemas and cross-file rules, with file:line:col for each problem.',
  description:
    'Reads the committed tree at REV, not the work tree: when the work tree differs from HEAD in\n' +
    'metadata files, a warning names them. --worktree checks the work tree instead (uncommitted edits\n' +
    'included; like `git stash create`, this writes git objects but no ref, index or file).\n' +
    "An rpm package's name and version are held against its spec at the pinned source commit, as rpm\n" +
    "evaluates it (rpmspec in a locked-down container of the package's build image): that needs this host's\n" +
    'Docker engine and the image; without them, or when the source cannot be fetched now, a warning says the\n' +
    'spec was not checked and why (the reconciler and the agent check it before building).\n' +
    'Exit 0 when valid, 1 when there are problems.',
  options: {
    repo: urlRepoOption(),
    rev: { type: 'string', valueName: 'REV', description: 'Branch, tag or commit to check (default: HEAD).' },
    ...REMOTE_OPTIONS,
    worktree: { type: 'boolean', description: 'Check the work tree, uncommitted edits included.' },
  },
  examples: ['kiln validate', 'kiln validate --worktree', 'kiln validate --repo ./meta --rev my-branch --json'],
  async run(args, ctx) {
    const repo = await openRepoArg(args, ctx);
    const dir = repo.dir;
    const revArg = str(args, 'rev');
    const rev = revArg === undefined ? undefined : await revisionIn(repo, revArg);
    const useWorktree = flag(args, 'worktree');
    if (useWorktree && rev) throw new UsageError('--worktree and --rev exclude each other: the work tree is checked against HEAD');
    const cache = {};
    const head = await resolveCommit(dir, 'HEAD', cache);
    const target = rev ? await resolveCommit(dir, rev, cache) : head;
    // Edits only matter when HEAD is what is checked.
    const changes = target === head ? await worktreeChanges(dir, METADATA_PREFIXES, cache) : [];
    if (useWorktree && !changes) throw new UsageError(`--worktree: ${dir} is a bare repository (no work tree)`);
    const checked = useWorktree && changes?.length ? await commitWorktree(dir, changes, cache) : target;
    const report = await validateDesired({ dir, rev: checked, cache, log: ctx.log, checkSpec: localSpecChecker() });
    const where = useWorktree ? 'in the work tree' : `at ${report.commit.slice(0, 12)}`;
    const warning = useWorktree ? undefined : worktreeWarning(changes ?? [], 'kiln validate');
    const errors = report.diagnostics.filter((d) => d.severity === 'error').length;
    const lines = report.diagnostics.map(formatDiagnostic);
    lines.push(
      report.ok
        ? `ok: ${report.packages} package${report.packages === 1 ? '' : 's'}, ${report.distributions} distribution${report.distributions === 1 ? '' : 's'} ${where}`
        : `${errors} problem${errors === 1 ? '' : 's'} ${where}`,
    );
    return {
      data: {
        ok: report.ok,
        commit: report.commit,
        worktree: useWorktree,
        uncommitted: (changes ?? []).map((c) => c.path),
        packages: report.packages,
        distributions: report.distributions,
        diagnostics: report.diagnostics,
      },
      human: lines.join('\n'),
      warnings: warning ? [warning] : [],
      exitCode: report.ok ? 0 : 1,
    };
  },
};
export default command;
