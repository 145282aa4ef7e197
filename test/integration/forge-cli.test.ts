// `kiln reconcile` refuses bad forge/webhook settings before it does anything:
// exit 2, a message naming the flag (and file:line), and no status commit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { git, makeRepo } from '../helpers/git.ts';

function kiln(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/kiln.js', ...args], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, KILN_NATS_URL: '', KILN_FORGE_TOKEN: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('forge cli - bad webhook and token settings exit 2 with a clear error and record nothing', async () => {
  const { dir } = await makeRepo({ 'kiln.yaml': 'trust:\n  requireSignedCommits: false\n' });
  const files = await mkdtemp(join(tmpdir(), 'kiln-forge-cli-'));
  const empty = join(files, 'empty');
  const secret = join(files, 'secret');
  await writeFile(empty, '\n');
  await writeFile(secret, 's3cret\n');
  const cases: Array<{ args: string[]; want: RegExp }> = [
    { args: ['--once', '--webhook-listen', '127.0.0.1:0', '--webhook-secret-file', secret], want: /--webhook-listen needs --watch/ },
    { args: ['--watch', '--webhook-listen', '127.0.0.1:0'], want: /--webhook-listen needs --webhook-secret-file/ },
    { args: ['--watch', '--webhook-listen', '127.0.0.1:0', '--webhook-secret-file', join(files, 'missing')], want: /--webhook-secret-file .*missing: no such file/ },
    { args: ['--watch', '--webhook-listen', 'everywhere', '--webhook-secret-file', secret], want: /--webhook-listen: expected HOST:PORT, got 'everywhere'/ },
    { args: ['--watch', '--webhook-secret-file', secret], want: /--webhook-secret-file needs --webhook-listen/ },
    { args: ['--once', '--forge-token-file', empty], want: new RegExp(`--forge-token-file ${empty}:1: the file is empty`) },
  ];
  for (const c of cases) {
    const r = await kiln(['reconcile', '--repo', dir, ...c.args]);
    assert.equal(r.code, 2, `${c.args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, c.want, c.args.join(' '));
  }
  await assert.rejects(git(dir, 'rev-parse', '--verify', 'kiln/status'), 'nothing was recorded');
});
