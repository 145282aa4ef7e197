// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// The CLI as a new user meets it (bin/kiln.js child processes, real git and a
// real metadata repo from `kiln init --example`): help, version, suggestions,
// exit codes decided by error kinds, $KILN_REPO, and work-tree edits.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, appendFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { git } from '../helpers/git.ts';
import { freePort } from '../helpers/nats.ts';

const KILN = join(import.meta.dirname, '../../bin/kiln.js');

function kiln(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [KILN, ...args], { cwd, env: { ...process.env, KILN_LOG_LEVEL: 'silent', KILN_REPO: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('cli usage', () => {
  let tmp: string;
  let meta: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kiln-cli-usage-'));
    meta = join(tmp, 'meta');
    const init = await kiln(['init', '--example', meta, '-q']);
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test('cli usage - --version, help CMD, a bare group, and did-you-mean for commands and options', async () => {
    const version = await kiln(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^kiln \d+\.\d+\.\d+ \(node v/);

    const help = await kiln(['help', 'plan']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: kiln plan \[options\]/, 'the command help, not the top-level one');

    const keys = await kiln(['keys']);
    assert.equal(keys.code, 2, 'a group alone is incomplete usage');
    assert.match(keys.stdout, /Usage: kiln keys <command>/);
    assert.match(keys.stdout, /keys generate .*\n.*keys renew .*\n.*keys show/);
    assert.doesNotMatch(keys.stderr, /unknown command/);
    assert.equal((await kiln(['keys', '--help'])).code, 0);

    const typo = await kiln(['pln']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown command 'pln'; did you mean 'kiln plan'\?/);
    const sub = await kiln(['keys', 'gen']);
    assert.match(sub.stderr, /unknown command 'keys gen'; did you mean 'kiln keys generate'\?/);

    const flag = await kiln(['plan', '--rpo', meta]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^kiln: unknown option --rpo for 'kiln plan' \(did you mean --repo\?\)\n/);
    assert.doesNotMatch(flag.stderr, /To specify a positional argument/, "not Node's parseArgs text");
  });

  test('cli usage - the exit code follows the error kind: usage 2, transient 3, terminal 1', async () => {
    const interval = await kiln(['reconcile', '--watch', '--interval', 'abc']);
    assert.equal(interval.code, 2, interval.stderr);
    assert.match(interval.stderr, /--interval takes a number, got 'abc'/);
    assert.doesNotMatch(interval.stderr, /internal error|TypeError|at /, 'no stack for a usage error');

    const url = `nats://127.0.0.1:${await freePort()}`;
    const down = await kiln(['agents', '--nats', url]);
    assert.equal(down.code, 3, `NATS unreachable is worth retrying: ${down.stderr}`);
    assert.equal(down.stderr.split(`cannot connect to NATS at ${url}`).length - 1, 1, `said once: ${down.stderr}`);

    // A terminal error that is not invalid metadata: an unreadable .deb. The key comes through the
    // old option name, which still works and says so.
    const keysDir = join(tmp, 'keys');
    const gen = await kiln(['keys', 'generate', '--name', 'Kiln Release', '--email', 'release@kiln.invalid', '--out', keysDir]);
    assert.equal(gen.code, 0, gen.stderr);
    const debs = join(tmp, 'debs');
    await mkdir(debs);
    await writeFile(join(debs, 'broken_1.0_amd64.deb'), 'not an ar archive\n');
    const pub = await kiln(['publish', '--repos', join(tmp, 'repos'), '--dist', 'x', '--key', join(keysDir, 'kiln-release.key.asc'), debs]);
    assert.match(pub.stderr, /kiln: warning: --key is deprecated: use --signing-key/);
    assert.equal(pub.code, 1, `a bad input file is a problem found: ${pub.stderr}`);
  });

  test('cli usage - $KILN_REPO is honoured by plan and verify (no default of . wins over it)', async () => {
    for (const cmd of ['plan', 'verify', 'validate']) {
      const r = await kiln([cmd], { KILN_REPO: meta }, tmp);
      assert.equal(r.code, 0, `kiln ${cmd} with KILN_REPO: ${r.stderr}`);
    }
    const noRepo = await kiln(['plan'], {}, tmp);
    assert.equal(noRepo.code, 2, 'without it, . (not a repo) is an environment error');
    assert.match(noRepo.stderr, /no git repository at \./);
  });

  test('cli usage - validate and plan name uncommitted metadata edits; validate --worktree checks them and changes nothing', async () => {
    const head = await git(meta, 'rev-parse', 'HEAD');
    const refsBefore = await git(meta, 'for-each-ref');
    await appendFile(join(meta, 'packages/hello-kiln.yaml'), 'bogus: [\n');
    await writeFile(join(meta, 'packages/extra.yaml'), 'name: extra\n');
    await writeFile(join(meta, 'notes.txt'), 'not metadata\n');
    const statusBefore = await git(meta, 'status', '--porcelain');

    const committed = await kiln(['validate', '--repo', meta]);
    assert.equal(committed.code, 0, 'HEAD itself is valid');
    assert.match(committed.stderr, /kiln: warning: kiln validate reads the committed HEAD, but the work tree differs in packages\/extra\.yaml \(new\), packages\/hello-kiln\.yaml \(modified\)/);
    assert.doesNotMatch(committed.stderr, /notes\.txt/, 'only metadata files are named');
    assert.doesNotMatch(committed.stdout, /warning/, 'stdout stays the report');
    const planned = await kiln(['plan', '--repo', meta, '--json']);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stderr, /kiln: warning: kiln plan reads the committed HEAD/);
    assert.deepEqual(JSON.parse(planned.stdout).uncommitted, ['packages/extra.yaml', 'packages/hello-kiln.yaml']);

    const worktree = await kiln(['validate', '--repo', meta, '--worktree']);
    assert.equal(worktree.code, 1, worktree.stdout);
    assert.match(worktree.stdout, /packages\/hello-kiln\.yaml:\d+:\d+: YAML/);
    assert.match(worktree.stdout, /packages\/extra\.yaml:1:1: missing required key 'version'/);
    assert.match(worktree.stdout, /problems in the work tree$/m);

    assert.equal(await git(meta, 'rev-parse', 'HEAD'), head);
    assert.equal(await git(meta, 'for-each-ref'), refsBefore, 'no ref written');
    assert.equal(await git(meta, 'status', '--porcelain'), statusBefore, 'index and work tree untouched');
    assert.equal((await kiln(['validate', '--repo', meta, '--worktree', '--rev', 'HEAD'])).code, 2, '--worktree and --rev exclude each other');
  });
});
