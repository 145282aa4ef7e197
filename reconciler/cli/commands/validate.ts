// kiln validate: check the metadata repo at a revision, compiler style.
import { formatDiagnostic } from '../../../schema/errors.ts';
import { validateDesired } from '../../desired/validate-desired.ts';
import { str, type Command } from '../command.ts';

const command: Command = {
  path: ['validate'],
  summary: 'Check the metadata repo: YAML, schemas and cross-file rules, with file:line:col for each problem.',
  description: 'Reads the committed tree at REV (not the work tree). Exit 0 when valid, 1 when there are problems.',
  options: {
    repo: { type: 'string', valueName: 'DIR', description: 'The metadata repo (default: $KILN_REPO or .).' },
    rev: { type: 'string', valueName: 'REV', description: 'Branch, tag or commit to check.', default: 'HEAD' },
  },
  examples: ['kiln validate', 'kiln validate --repo ./meta --rev my-branch --json'],
  async run(args, ctx) {
    const dir = str(args, 'repo') ?? ctx.env.repo ?? '.';
    const rev = str(args, 'rev') ?? 'HEAD';
    const report = await validateDesired({ dir, rev, log: ctx.log });
    const errors = report.diagnostics.filter((d) => d.severity === 'error').length;
    const lines = report.diagnostics.map(formatDiagnostic);
    lines.push(
      report.ok
        ? `ok: ${report.packages} package${report.packages === 1 ? '' : 's'}, ${report.distributions} distribution${report.distributions === 1 ? '' : 's'} at ${report.commit.slice(0, 12)}`
        : `${errors} problem${errors === 1 ? '' : 's'} at ${report.commit.slice(0, 12)}`,
    );
    return {
      data: { ok: report.ok, commit: report.commit, packages: report.packages, distributions: report.distributions, diagnostics: report.diagnostics },
      human: lines.join('\n'),
      exitCode: report.ok ? 0 : 1,
    };
  },
};
export default command;
