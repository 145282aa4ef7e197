// The CLI's front door: which command argv names, how a bad option is
// explained, old option names, and one option name per concept.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { Command } from '../../reconciler/cli/command.ts';
import { dispatch, hoistGlobalFlags } from '../../reconciler/cli/dispatch.ts';
import { explainParseError, parseCommandArgs } from '../../reconciler/cli/parse-args.ts';
import { allCommands } from '../../reconciler/cli/registry.ts';
import { resolveCommand } from '../../reconciler/cli/resolve-command.ts';
import { SIGNING_KEY_OPTION } from '../../reconciler/cli/options.ts';

const PATHS = [['plan'], ['validate'], ['agents'], ['agents', 'drain'], ['keys', 'generate'], ['keys', 'renew'], ['keys', 'show'], ['version']];

test('cli parse - argv words resolve to a command, a group or an unknown word with a suggestion', () => {
  const cases: { argv: string[]; want: ReturnType<typeof resolveCommand> }[] = [
    { argv: ['plan', '--repo', 'x'], want: { kind: 'command', path: ['plan'], rest: ['--repo', 'x'] } },
    { argv: ['agents', 'drain', 'a1'], want: { kind: 'command', path: ['agents', 'drain'], rest: ['a1'] } },
    { argv: ['agents', 'a1'], want: { kind: 'command', path: ['agents'], rest: ['a1'] } },
    { argv: ['keys'], want: { kind: 'group', prefix: ['keys'], rest: [] } },
    { argv: ['keys', '--help'], want: { kind: 'group', prefix: ['keys'], rest: ['--help'] } },
    { argv: ['pln'], want: { kind: 'unknown', words: ['pln'], suggestion: ['plan'] } },
    { argv: ['valdiate'], want: { kind: 'unknown', words: ['valdiate'], suggestion: ['validate'] } },
    { argv: ['Plan'], want: { kind: 'unknown', words: ['Plan'], suggestion: ['plan'] } },
    { argv: ['keys', 'gen'], want: { kind: 'unknown', words: ['keys', 'gen'], suggestion: ['keys', 'generate'] } },
    { argv: ['keys', 'rnew'], want: { kind: 'unknown', words: ['keys', 'rnew'], suggestion: ['keys', 'renew'] } },
    { argv: ['frobnicate'], want: { kind: 'unknown', words: ['frobnicate'] } },
  ];
  for (const c of cases) assert.deepEqual(resolveCommand(c.argv, PATHS), c.want, c.argv.join(' '));
});

const plan: Command = {
  path: ['plan'],
  summary: 'plan things',
  options: {
    repo: { type: 'string', valueName: 'DIR', description: 'repo' },
    rev: { type: 'string', valueName: 'REV', description: 'rev', default: 'HEAD' },
    'signing-key': SIGNING_KEY_OPTION,
  },
  run: async () => ({ data: null }),
};

test('cli parse - parseArgs errors are rewritten to name the command and the nearest option', () => {
  const explain = (argv: string[]) => {
    try {
      parseCommandArgs(plan, argv);
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
    return 'parsed';
  };
  assert.equal(explain(['--foo']), "unknown option --foo for 'kiln plan'");
  assert.equal(explain(['--rpo', 'x']), "unknown option --rpo for 'kiln plan' (did you mean --repo?)");
  assert.equal(explain(['--signing-kye=k']), "unknown option --signing-kye for 'kiln plan' (did you mean --signing-key?)");
  assert.equal(explain(['-z']), "unknown option -z for 'kiln plan'");
  assert.equal(explain(['--repo']), "option --repo for 'kiln plan' needs a value (DIR)");
  assert.equal(explain(['--json=yes']), "option --json for 'kiln plan' takes no value");
  assert.equal(explain(['--repo', '-x']), "option --repo for 'kiln plan' needs a value; one that starts with '-' is written --repo=VALUE");
  assert.equal(explain(['--repo=-x']), 'parsed');
  assert.equal(explainParseError(plan, Object.assign(new Error('Something else'), { code: 'X' })), "Something else ('kiln plan')");
});

test('cli parse - an old option name still works, with a deprecation note; both names at once are refused', () => {
  const { args, notes } = parseCommandArgs(plan, ['--key', 'k.asc']);
  assert.equal(args.values['signing-key'], 'k.asc');
  assert.equal(args.values.key, undefined);
  assert.equal(args.values.rev, 'HEAD', 'defaults still apply');
  assert.deepEqual(notes, ['--key is deprecated: use --signing-key']);
  assert.deepEqual(parseCommandArgs(plan, ['--signing-key', 'k.asc']).notes, []);
  assert.throws(() => parseCommandArgs(plan, ['--key', 'a', '--signing-key', 'b']), /--key and --signing-key are the same option/);
});

test('cli parse - one option name per concept; no default hides an environment variable', async () => {
  for (const c of await allCommands()) {
    const name = `kiln ${c.path.join(' ')}`;
    assert.ok(!('key' in c.options), `${name}: the signing key is --signing-key`);
    if (c.options.repo) assert.equal(c.options.repo.default, undefined, `${name}: --repo has no parser default, so $KILN_REPO applies`);
    if (c.options['signing-key']) assert.deepEqual(c.options['signing-key'].deprecatedNames, ['key'], `${name}: --key still accepted`);
    if (c.options.nats) assert.equal(c.options.nats.default, undefined, `${name}: --nats has no parser default, so $KILN_NATS_URL applies`);
  }
});

test('cli parse - the example kiln.yaml, keys/README.md and the README name the same release key path', async () => {
  const read = (p: string) => readFile(new URL(`../../${p}`, import.meta.url), 'utf8');
  const [yaml, keysReadme, readme] = await Promise.all([read('examples/metadata/kiln.yaml'), read('examples/metadata/keys/README.md'), read('README.md')]);
  const path = (text: string) => /publicKey: (keys\/[\w.-]+\.asc)/.exec(text)?.[1];
  assert.equal(path(yaml), 'keys/kiln-release.asc');
  assert.equal(path(readme), path(yaml));
  assert.match(keysReadme, /keys\/kiln-release\.asc/);
  assert.doesNotMatch(keysReadme, /kiln init` generates real keys/, 'init copies public keys; it generates none');
});

test('cli parse - global flags before the command name are taken as the command\'s; other options there are refused with where they go', async () => {
  assert.deepEqual(hoistGlobalFlags(['--json', 'status', '--repo', 'x']), { argv: ['status', '--json', '--repo', 'x'], help: false });
  assert.deepEqual(hoistGlobalFlags(['-q', '--json', 'agents', 'drain', 'a1']), { argv: ['agents', 'drain', '-q', '--json', 'a1'], help: false });
  assert.deepEqual(hoistGlobalFlags(['--help', 'keys']), { argv: ['keys', '--help'], help: true });
  assert.deepEqual(hoistGlobalFlags(['--json', '--version']), { argv: ['version', '--json'], help: false });
  assert.deepEqual(hoistGlobalFlags(['plan', '--', '--json']), { argv: ['plan', '--', '--json'], help: false }, 'nothing moves without leading flags');
  assert.throws(() => hoistGlobalFlags(['--repo', 'x', 'status']), /--repo goes after the command name .*'kiln <command> --repo …'/);

  const run = await dispatch(['--json', 'status']);
  assert.equal(run.kind, 'run');
  if (run.kind === 'run') {
    assert.deepEqual(run.command.path, ['status']);
    assert.equal(parseCommandArgs(run.command, run.rest).args.values.json, true);
  }
  const help = await dispatch(['--help', 'status']);
  assert.equal(help.kind, 'run', 'the command then prints its own help');
  if (help.kind === 'run') assert.equal(parseCommandArgs(help.command, help.rest).args.values.help, true);
  const root = await dispatch(['-q', '--help']);
  assert.equal(root.kind === 'help' && root.exit, 0);
  const bare = await dispatch(['--json']);
  assert.equal(bare.kind === 'help' && bare.exit, 2, 'a global flag alone names no command');
});
