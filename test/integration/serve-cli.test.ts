// The operator's path end to end, through the real CLI processes:
// `kiln publish` a directory of .debs, `kiln serve` it, apt installs over HTTP.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { writeDeb } from '../helpers/deb.ts';
import { freePort } from '../helpers/nats.ts';

const run = promisify(execFile);
const KILN = new URL('../../bin/kiln.js', import.meta.url).pathname;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-serve-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('serve cli - kiln publish then kiln serve: apt installs over HTTP; SIGTERM stops the server cleanly', async (t) => {
  const debs = join(dir, 'debs');
  await mkdir(debs);
  await writeDeb(debs, { name: 'ops-tool', version: '0.3-1', script: 'echo "ops tool via kiln serve"' });
  const key = await generateKey({ name: 'Kiln Ops', email: 'ops@kiln.invalid' });
  await writeFile(join(dir, 'key.asc'), key.privateKeyArmored);
  const repos = join(dir, 'repos');

  const { stdout } = await run('node', [KILN, 'publish', '--repos', repos, '--dist', 'ops', '--suite', 'stable', '--signing-key', join(dir, 'key.asc'), '--json', '-q', debs]);
  const report = JSON.parse(stdout) as { filesAdded: string[]; signedBy: string };
  assert.deepEqual(report.filesAdded, ['pool/main/o/ops-tool/ops-tool_0.3-1_all.deb']);
  assert.equal(report.signedBy, key.fingerprint);

  const port = await freePort();
  const server = spawn('node', [KILN, 'serve', '--repos', repos, '--listen', `127.0.0.1:${port}`, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('serving')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`kiln serve exited ${code}: ${out}`)));
  });

  const r = await aptInContainer({
    repoUrl: `http://127.0.0.1:${port}/ops`,
    keyPath: join(repos, 'ops', 'ops-archive-keyring.asc'),
    suite: 'stable',
    install: ['ops-tool'],
    commands: ['ops-tool'],
  });
  assert.equal(r.exitCode, 0, r.output);
  assert.match(r.output, /ops tool via kiln serve/);

  server.kill('SIGTERM');
  assert.equal(await exited, 0);
});
