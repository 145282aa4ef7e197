// kiln check, table-tested on real signed git repos: a pull request that adds a
// package, bumps a version, removes a package (prune), breaks a file, or is
// signed by an untrusted key — each against a base whose kiln/status says
// everything is built and published. Plus the CLI end to end (markdown, exit code).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { pino } from 'pino';
import type { CheckReport } from '../../reconciler/check/check-revision.ts';
import command from '../../reconciler/cli/commands/check.ts';
import { readEnv } from '../../reconciler/cli/env.ts';
import type { Files } from '../helpers/git.ts';
import { git } from '../helpers/git.ts';
import { recordConverged } from '../helpers/converged-status.ts';
import { metadataFiles, packageYaml } from '../helpers/remote-metadata.ts';
import { commitSigned, makeSignedRepo, makeTestKey, type TestKey } from '../helpers/signed-repo.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
let alice: TestKey;
let mallory: TestKey;
let dir: string;
let source: string;

before(async () => {
  [alice, mallory] = await Promise.all([makeTestKey('alice'), makeTestKey('mallory')]);
  const release = await makeTestKey('release');
  const meta = await metadataFiles(alice);
  source = meta.source;
  dir = (await makeSignedRepo(meta.files, { signer: alice.signer })).dir;
  await recordConverged(dir, release.signer, log);
});

/** A pull-request branch off main with one commit. */
async function prBranch(name: string, files: Files, opts: { remove?: string[]; signer?: TestKey } = {}): Promise<string> {
  await git(dir, 'checkout', '-q', '-b', name, 'main');
  try {
    return await commitSigned(dir, files, { signer: (opts.signer ?? alice).signer, remove: opts.remove, message: name });
  } finally {
    await git(dir, 'checkout', '-q', '-f', 'main');
  }
}

async function check(rev: string): Promise<{ report: CheckReport & { summary: string }; exitCode: number; human: string }> {
  const ctx = { log, env: readEnv({}), json: false, out: process.stdout, signal: new AbortController().signal };
  const result = await command.run({ values: { repo: dir, rev, base: 'main', format: 'text' }, positionals: [] }, ctx);
  return { report: result.data as CheckReport & { summary: string }, exitCode: result.exitCode ?? 0, human: result.human ?? '' };
}

const added = (r: CheckReport) => r.diff.added.map((a) => `${a.kind} ${'package' in a ? `${a.package} ${a.version}` : 'commit' in a ? a.commit.slice(0, 12) : a.distribution} ${a.reason}`);

test('kiln check - table: add, bump, remove, break, untrusted', async (t) => {
  const cases: Array<{ name: string; files: Files; remove?: string[]; signer?: TestKey; exitCode: number; want: (r: CheckReport & { summary: string }, human: string) => void }> = [
    {
      name: 'adds a package',
      files: { 'packages/world.yaml': packageYaml('world', '0.1-1', source) },
      exitCode: 0,
      want: (r) => {
        assert.equal(r.trust.trusted, true);
        assert.deepEqual(added(r), ['build world 0.1-1 NeverBuilt']);
        assert.ok(r.diff.waiting.some((w) => w.subject.includes('world')), 'its publication waits for the build');
      },
    },
    {
      name: 'bumps a version',
      files: { 'packages/hello.yaml': packageYaml('hello', '1.0-2', source) },
      exitCode: 0,
      want: (r) => assert.deepEqual(added(r), ['build hello 1.0-2 NeverBuilt']),
    },
    {
      name: 'removes a package',
      files: {},
      remove: ['packages/hello.yaml'],
      exitCode: 0,
      want: (r, human) => {
        assert.deepEqual(added(r), ['prune hello 1.0-1 RemovedFromDesiredState']);
        assert.match(human, /\+ prune hello 1\.0-1 testing/);
      },
    },
    {
      name: 'breaks a file',
      files: { 'packages/hello.yaml': 'name: hello\nversion: 1.0-1\nsource:\n  git: x\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\nbogus: 1\n' },
      exitCode: 1,
      want: (r, human) => {
        assert.equal(r.validation?.ok, false);
        assert.ok(r.validation!.diagnostics.some((d) => d.file === 'packages/hello.yaml' && d.line === 9 && d.col === 1), JSON.stringify(r.validation!.diagnostics));
        assert.match(human, /packages\/hello\.yaml:9:1: /);
        assert.deepEqual(r.diff.added, []);
        assert.match(r.summary, /^invalid: /);
      },
    },
    {
      name: 'is signed by an untrusted key',
      files: { 'packages/hello.yaml': packageYaml('hello', '6.6-6', source) },
      signer: mallory,
      exitCode: 1,
      want: (r) => {
        assert.equal(r.trust.trusted, false);
        assert.match(r.trust.reason, /mallory|not trusted|untrusted|unknown/i);
        assert.equal(r.validation, null, 'a refused commit is never parsed');
        assert.deepEqual(r.diff.added.map((a) => a.kind), ['refuse']);
        assert.match(r.summary, /^refused: /);
      },
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.test(c.name, async () => {
      const rev = await prBranch(`pr-${i}`, c.files, c);
      const { report, exitCode, human } = await check(`pr-${i}`);
      assert.equal(report.rev, rev);
      assert.equal(exitCode, c.exitCode, human);
      c.want(report, human);
    });
  }
});

test('kiln check - CLI: --format markdown prints a PR comment (table, details), exit 0; usage errors exit 2', async () => {
  await prBranch('pr-md', { 'packages/hello.yaml': packageYaml('hello', '1.1-1', source) });
  const { stdout } = await run(process.execPath, ['bin/kiln.js', 'check', '--repo', dir, '--rev', 'pr-md', '--base', 'main', '--format', 'markdown']);
  assert.match(stdout, /^### ✅ Kiln check passed/);
  assert.match(stdout, /\| 🔨 \| build \| hello \| 1\.1-1 \| amd64 \| NeverBuilt \|/);
  assert.match(stdout, /<details><summary>Details \(1 change, 1 waiting\)<\/summary>/);
  for (const args of [['check', '--repo', dir], ['check', '--repo', dir, '--rev', 'main', '--format', 'html'], ['check', '--repo', dir, '--rev', 'no-such-branch']]) {
    await assert.rejects(run(process.execPath, ['bin/kiln.js', ...args]), (e: { code?: number }) => e.code === 2);
  }
});
