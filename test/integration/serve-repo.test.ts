// The repo server with real clients: raw HTTP requests (traversal, HEAD,
// If-Modified-Since), apt over HTTP in a container (host network), and
// readers that must see a consistent InRelease <-> index pair while
// publishes run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { publishApt, type PublishPackage } from '../../reconciler/publish/index.ts';
import { startRepoServer, type RepoServer } from '../../reconciler/serve/repo-server.ts';
import { startHttpServer, type HttpServer } from '../../reconciler/http/server.ts';
import { makeRepo } from '../helpers/git.ts';
import { pino } from 'pino';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { writeDeb, type BuiltDeb } from '../helpers/deb.ts';
import { aptDistribution } from '../helpers/distribution.ts';
import { withDeadline } from '../helpers/until.ts';

const dist = (name: string) => aptDistribution(name, { suite: 'stable', codename: 'stable' });
const asPackage = (d: BuiltDeb): PublishPackage => ({ name: d.package, version: d.version, arch: 'amd64', files: [{ name: d.name, sha256: d.sha256, size: d.size, path: d.path }] });

/** A raw request: node's http client sends the path exactly as given (fetch would normalise '..'). */
function raw(url: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve', () => {
  let dir: string;
  let root: string;
  let server: RepoServer;
  /** The Kiln HTTP service serves the same root under /repos/, by the same rules. */
  let service: HttpServer;
  const servers = () => [
    { name: 'kiln serve', url: server.url, prefix: '' },
    { name: 'kiln http /repos', url: service.url, prefix: '/repos' },
  ];
  let signer: Signer;
  let hello: BuiltDeb;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-serve-'));
    root = join(dir, 'repos');
    await mkdir(join(dir, 'debs'), { recursive: true });
    signer = await loadSigner((await generateKey({ name: 'Kiln Serve', email: 'serve@kiln.invalid' })).privateKeyArmored);
    hello = await writeDeb(join(dir, 'debs'), { name: 'hello', version: '1.0-1', script: 'echo "served by kiln"' });
    await publishApt({ root, distribution: dist('web'), packages: [asPackage(hello)], signer, now: new Date() });
    await writeFile(join(dir, 'secret.txt'), 'outside the root');
    await symlink(join(dir, 'secret.txt'), join(root, 'web', 'link-out'));
    server = await startRepoServer({ root, host: '127.0.0.1', port: 0 });
    service = await startHttpServer({ repoDir: (await makeRepo({ README: 'x\n' }, { dir: await mkdtemp(join(dir, 'meta-')) })).dir, reposDir: root, log: pino({ level: 'silent' }) });
  });
  after(async () => {
    await server?.close();
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('serve - nothing outside the root or hidden is served', async () => {
    for (const { name, url, prefix } of servers()) {
      for (const p of ['/../secret.txt', '/web/../../secret.txt', '/%2e%2e/secret.txt', '/web/..%2f..%2fsecret.txt', '/web/link-out', '/web/.kiln/state.json', '/web/%2e%2e/%2e%2e/secret.txt', '/web/a%00b']) {
        const r = await raw(url, prefix + p);
        assert.ok(r.status === 400 || r.status === 404, `${name} ${p} -> ${r.status}`);
        assert.doesNotMatch(r.body.toString(), /outside the root|"version"/, `${name} ${p}`);
      }
      assert.equal((await raw(url, `${prefix}/web/dists`)).status, 404, `${name}: a directory`);
      assert.equal((await raw(url, `${prefix}/web/dists/stable/InRelease`, 'POST')).status, prefix ? 404 : 405, `${name}: POST`);
    }
  });

  test('serve - a FIFO in the repos dir does not hang the server; links to hidden or non-regular files are not served', async () => {
    await mkdir(join(root, 'web', '.kiln'), { recursive: true });
    await writeFile(join(root, 'web', '.kiln', 'state.json'), '{"version": 1}');
    await symlink(join(root, 'web', '.kiln', 'state.json'), join(root, 'web', 'state-link'));
    await symlink(join(root, 'web', '.kiln'), join(root, 'web', 'kiln-dir'));
    execFileSync('mkfifo', [join(root, 'web', 'fifo')]);
    await symlink(join(root, 'web', 'fifo'), join(root, 'web', 'fifo-link'));
    await symlink('/dev/zero', join(root, 'web', 'zero'));
    for (const p of ['/web/fifo', '/web/fifo-link', '/web/state-link', '/web/kiln-dir/state.json', '/web/zero']) {
      const r = await withDeadline(raw(server.url, p), 30_000, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /"version"/, p);
    }
    // And the server still answers everyone else.
    assert.equal((await withDeadline(raw(server.url, '/web/dists/stable/InRelease'), 30_000, 'InRelease')).status, 200);
  });

  test('serve - GET and HEAD give the Content-Length of the file; If-Modified-Since gives 304', async () => {
    for (const { name, url, prefix } of servers()) await getAndHead(name, url, prefix);
  });

  async function getAndHead(name: string, url: string, prefix: string): Promise<void> {
    const path = `/web/pool/main/h/hello/${hello.name}`;
    const get = await raw(url, prefix + path);
    assert.equal(get.status, 200, name);
    assert.equal(Number(get.headers['content-length']), hello.size, name);
    assert.equal(createHash('sha256').update(get.body).digest('hex'), hello.sha256, name);
    const head = await raw(url, prefix + path, 'HEAD');
    assert.equal(head.status, 200, name);
    assert.equal(Number(head.headers['content-length']), hello.size, name);
    assert.equal(head.body.length, 0, name);
    const lastModified = String(get.headers['last-modified']);
    assert.equal(lastModified, new Date(Math.floor((await stat(join(root, path))).mtimeMs / 1000) * 1000).toUTCString(), name);
    assert.equal((await raw(url, prefix + path, 'GET', { 'If-Modified-Since': lastModified })).status, 304, name);
    assert.equal((await raw(url, prefix + path, 'GET', { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200, name);
  }

  test('serve - apt in a container installs over HTTP from the server', async () => {
    const r = await aptInContainer({
      repoUrl: `${server.url}/web`,
      keyPath: join(root, 'web', 'web-archive-keyring.asc'),
      suite: 'stable',
      install: ['hello'],
      commands: ['hello'],
    });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /Get:\d+ http:\/\/127\.0\.0\.1:\d+\/web stable InRelease/);
    assert.match(r.output, /served by kiln/);
  });

  test('serve - readers always see an InRelease whose by-hash index matches, while publishes run', async () => {
    const debs: BuiltDeb[] = [];
    for (let i = 0; i < 12; i++) debs.push(await writeDeb(join(dir, 'debs'), { name: `pkg${i}`, version: `1.${i}-1` }));
    let publishing = true;
    let publishes = 0;
    const seen = new Set<string>();
    let reads = 0;
    const publisher = (async () => {
      try {
        // At least one publish per content size, and on until the readers have had enough turns (bounded).
        for (let i = 1; (i <= debs.length || reads < 10) && i < 200; i++) {
          await publishApt({ root, distribution: dist('busy'), packages: debs.slice(0, 1 + ((i - 1) % debs.length)).map(asPackage), signer, now: new Date() });
          publishes++;
        }
      } finally {
        publishing = false;
      }
    })();
    const reader = async () => {
      while (publishing) {
        const inRelease = await raw(server.url, '/busy/dists/stable/InRelease');
        if (inRelease.status === 404) continue; // before the first publish
        assert.equal(inRelease.status, 200);
        const text = inRelease.body.toString();
        const m = /^SHA256:\n(?:.*\n)*? ([0-9a-f]{64}) +(\d+) main\/binary-amd64\/Packages$/m.exec(text);
        assert.ok(m, text);
        const index = await raw(server.url, `/busy/dists/stable/main/binary-amd64/by-hash/SHA256/${m[1]}`);
        assert.equal(index.status, 200, `by-hash ${m[1]} missing`);
        assert.equal(createHash('sha256').update(index.body).digest('hex'), m[1]);
        assert.equal(index.body.length, Number(m[2]));
        // Every .deb the index names is there.
        for (const f of index.body.toString().matchAll(/^Filename: (.*)$/gm)) assert.equal((await raw(server.url, `/busy/${f[1]}`, 'HEAD')).status, 200, f[1]);
        seen.add(m[1]);
        reads++;
      }
    };
    await Promise.all([publisher, reader(), reader()]);
    assert.ok(publishes >= debs.length, `${publishes} publishes`);
    assert.ok(reads >= 10, `only ${reads} consistent reads in ${publishes} publishes`);
    assert.ok(seen.size >= 2, `readers saw only ${seen.size} index version(s) while ${publishes} publishes ran`);
  });
});
