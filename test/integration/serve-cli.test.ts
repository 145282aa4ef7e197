// The operator's path end to end, through the real CLI processes:
// `kiln publish` a directory of .debs and a source package, `kiln serve` it,
// apt installs and fetches the source over HTTP.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { writeDeb } from '../helpers/deb.ts';
import { debSource } from '../fixtures/deb-source.ts';
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

/** The source package of ops-tool 0.3-1 (3.0 (quilt): upstream tarball, debian tarball, .dsc) made in `out` by the real dpkg-source. */
async function writeSourcePackage(out: string): Promise<void> {
  const tree = join(dir, 'ops-tool-0.3');
  const files = { ...debSource({ name: 'ops-tool', version: '0.3-1' }), 'debian/source/format': '3.0 (quilt)\n' };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(tree, rel, '..'), { recursive: true });
    await writeFile(join(tree, rel), content);
  }
  await chmod(join(tree, 'debian/rules'), 0o755);
  await run('tar', ['-C', dir, '--exclude=ops-tool-0.3/debian', '-czf', join(out, 'ops-tool_0.3.orig.tar.gz'), 'ops-tool-0.3']);
  await run('dpkg-source', ['-b', tree], { cwd: out });
}

test('serve cli - kiln publish then kiln serve: apt installs and fetches the source over HTTP; SIGTERM stops the server cleanly', async (t) => {
  const debs = join(dir, 'debs');
  await mkdir(debs);
  await writeDeb(debs, { name: 'ops-tool', version: '0.3-1', script: 'echo "ops tool via kiln serve"' });
  await writeSourcePackage(debs);
  const key = await generateKey({ name: 'Kiln Ops', email: 'ops@kiln.invalid' });
  await writeFile(join(dir, 'key.asc'), key.privateKeyArmored);
  const repos = join(dir, 'repos');

  const { stdout } = await run('node', [KILN, 'publish', '--repos', repos, '--dist', 'ops', '--suite', 'stable', '--signing-key', join(dir, 'key.asc'), '--json', '-q', debs]);
  const report = JSON.parse(stdout) as { filesAdded: string[]; signedBy: string; sources: number };
  assert.deepEqual(report.filesAdded, [
    'pool/main/o/ops-tool/ops-tool_0.3-1.debian.tar.xz',
    'pool/main/o/ops-tool/ops-tool_0.3-1.dsc',
    'pool/main/o/ops-tool/ops-tool_0.3-1_all.deb',
    'pool/main/o/ops-tool/ops-tool_0.3.orig.tar.gz',
  ]);
  assert.equal(report.sources, 1);
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
    debSrc: true,
    install: ['ops-tool'],
    commands: ['ops-tool', 'cd /tmp && apt-get source --only-source ops-tool', 'test -f /tmp/ops-tool-0.3/debian/control && echo @@source-unpacked@@'],
  });
  assert.equal(r.exitCode, 0, r.output);
  assert.match(r.output, /ops tool via kiln serve/);
  assert.match(r.output, /@@source-unpacked@@/);

  server.kill('SIGTERM');
  assert.equal(await exited, 0);
});
