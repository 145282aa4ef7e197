// Benchmark of the registry release target: promote N (default 200) small distinct
// images from a candidate registry into a fresh production registry by digest
// (registryTarget.apply: the real path, with its observation of production, digest
// checks, tag moves, a simple-signing signature for every tag, tags.json signed).
// Baseline, same run, same images, its own fresh production registry: one
// `skopeo copy` per image by digest to its version tag, run one after another
// (what a release script does), and the same copies N_PAR at a time.
// Registries: Debian docker-registry on loopback with temp state (test/helpers).
// Images: a shared busybox layer + one distinct small layer each, pushed to the
// candidate over the registry API (setup, not measured).
// Wall times, best of ROUNDS, with the load average; prints, asserts nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import pMap from 'p-map';
import tar from 'tar-stream';
import type { RegistryDistribution } from '../reconciler/model.ts';
import type { ReleaseUnit } from '../reconciler/release-targets/target.ts';
import { PROMOTE_CONCURRENCY } from '../oci/promote.ts';
import { registryTarget } from '../reconciler/release-targets/registry/registry-target.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import type { OciImage } from '../schema/oci.ts';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.ts';
import { writeBusyboxRootfs } from '../test/helpers/tiny-image.ts';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 2);
/** Concurrency of the parallel baseline: the same as the registry target's. */
const N_PAR = PROMOTE_CONCURRENCY;
const TAGS = ['{version}', 'latest'];
const ms = (t: number) => `${t.toFixed(0).padStart(7)} ms`;
const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const CONFIG = 'application/vnd.docker.container.image.v1+json';

async function layerTar(i: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name: 'etc/bench-id', mtime: new Date(0), uid: 0, gid: 0 }, `image ${i}\n`.repeat(64));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function putBlob(reg: TestRegistry, repo: string, bytes: Uint8Array, digest: string, mountFrom?: string): Promise<void> {
  const base = `http://${reg.host}/v2/${repo}/blobs/uploads/`;
  const start = await fetch(mountFrom ? `${base}?mount=${digest}&from=${mountFrom}` : base, { method: 'POST' });
  if (start.status === 201) return; // mounted
  if (start.status !== 202) throw new Error(`upload ${repo}: ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, `http://${reg.host}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`put blob ${repo}: ${put.status} ${await put.text()}`);
}

/** Push N images kiln/imgNNN:build-1 to the candidate; their image.json descriptions. */
async function pushImages(cand: TestRegistry, dir: string): Promise<OciImage[]> {
  const rootfs = await readFile(await writeBusyboxRootfs(dir));
  const baseGz = gzipSync(rootfs);
  const base = { digest: sha256(baseGz), size: baseGz.length, diffId: sha256(rootfs) };
  return pMap(
    Array.from({ length: N }, (_, i) => i),
    async (i) => {
      const repo = `kiln/img${String(i).padStart(4, '0')}`;
      const t = await layerTar(i);
      const gz = gzipSync(t);
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [base.diffId, sha256(t)] } }));
      await putBlob(cand, repo, baseGz, base.digest, i === 0 ? undefined : 'kiln/img0000');
      await putBlob(cand, repo, gz, sha256(gz));
      await putBlob(cand, repo, config, sha256(config));
      const layers = [{ digest: base.digest, size: base.size, mediaType: LAYER }, { digest: sha256(gz), size: gz.length, mediaType: LAYER }];
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: CONFIG, size: config.length, digest: sha256(config) }, layers }));
      const res = await fetch(`http://${cand.host}/v2/${repo}/manifests/build-1`, { method: 'PUT', body: manifest, headers: { 'content-type': MANIFEST } });
      if (res.status !== 201) throw new Error(`put manifest ${repo}: ${res.status} ${await res.text()}`);
      const size = manifest.length + config.length + layers.reduce((n, l) => n + l.size, 0);
      return { repository: `${cand.host}/${repo}`, manifestDigest: sha256(manifest), mediaType: MANIFEST, configDigest: sha256(config), layers, size };
    },
    // One at a time: the first push must finish before the others mount its base blob.
    { concurrency: 1 },
  );
}

async function units(dir: string, images: OciImage[]): Promise<ReleaseUnit[]> {
  await mkdir(join(dir, 'units'), { recursive: true });
  return Promise.all(
    images.map(async (img, i) => {
      const text = JSON.stringify(img);
      const path = join(dir, 'units', `${i}.json`);
      await writeFile(path, text);
      const name = img.repository.split('/').at(-1)!;
      return { name, version: '1.0-1', arch: 'amd64', build: createHash('sha256').update(name).digest('hex'), tagTemplates: TAGS, files: [{ name: 'image.json', path, size: text.length, sha256: sha256(Buffer.from(text)).slice(7) }] };
    }),
  );
}

const skopeoCopy = (img: OciImage, prod: TestRegistry) =>
  run('skopeo', [
    '--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false',
    `docker://${img.repository}@${img.manifestDigest}`, `docker://${prod.host}/${img.repository.split('/').slice(1).join('/')}:1.0-1`,
  ]);

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-oci-'));
const registries: TestRegistry[] = [];
const fresh = async (name: string) => {
  const r = await startRegistry(name);
  registries.push(r);
  return r;
};
try {
  const cand = await fresh('bench-candidate');
  const { stdout: version } = await run('skopeo', ['--version']);
  console.log(`bench-publish oci: ${N} images (busybox layer + 1 distinct layer), ${TAGS.length} tags each, best of ${ROUNDS}; ${version.trim()}; node ${process.version}, ${(await run('nproc')).stdout.trim()} cores; load ${await load()}`);
  let t0 = performance.now();
  const images = await pushImages(cand, dir);
  console.log(`push ${N} images to the candidate (setup)       ${ms(performance.now() - t0)}`);
  const us = await units(dir, images);
  const signer = await loadSigner((await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' })).privateKeyArmored);
  const best = { kiln: Infinity, noop: Infinity, observe: Infinity, seq: Infinity, par: Infinity };
  const loads: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    loads.push(await load());
    // Interleaved, each side with its own fresh production registry.
    const prodB = await fresh('bench-prod-skopeo');
    best.seq = Math.min(best.seq, await timed(async () => { for (const img of images) await skopeoCopy(img, prodB); }));
    const prodK = await fresh('bench-prod-kiln');
    const root = join(dir, `repos-${round}`);
    const distribution: RegistryDistribution = { name: 'images', file: 'distributions/images.yaml', format: 'registry', url: prodK.host, repository: 'kiln', insecure: true, plainHttp: [cand.host], architectures: ['amd64'], keep: 3, gate: 'none' };
    const apply = () => registryTarget.apply({ root, distribution, units: us, signer, now: new Date() });
    let released = '';
    best.kiln = Math.min(best.kiln, await timed(async () => (released = (await apply()).releaseSha256)));
    best.noop = Math.min(best.noop, await timed(apply));
    // The drift check every full pass runs: each published tag resolved in production.
    const record = { releaseSha256: released } as Parameters<typeof registryTarget.observe>[2];
    best.observe = Math.min(best.observe, await timed(async () => assert.equal((await registryTarget.observe(root, distribution, record, 0)).drift, undefined)));
    const prodP = await fresh('bench-prod-skopeo-par');
    best.par = Math.min(best.par, await timed(() => pMap(images, (img) => skopeoCopy(img, prodP), { concurrency: N_PAR })));
    for (const r of [prodB, prodK, prodP]) await r.dispose();
    await rm(root, { recursive: true, force: true });
  }
  loads.push(await load());
  console.log(`kiln promote ${N} images (copy, ${TAGS.length} tags, sign each)  ${ms(best.kiln)}`);
  console.log(`kiln promote again (no change)                 ${ms(best.noop)}`);
  console.log(`kiln drift check of the ${N * TAGS.length} tags (observe)       ${ms(best.observe)}`);
  console.log(`skopeo copy ×${N}, one after another (baseline) ${ms(best.seq)}`);
  console.log(`skopeo copy ×${N}, ${N_PAR} at a time                  ${ms(best.par)}`);
  console.log(`load average (1/5/15 min) at each round start and the end: ${loads.join(' | ')}`);
  console.log('');
  console.log(`kiln / sequential skopeo copy   ${(best.kiln / best.seq).toFixed(2)}x   (target <= 1.5x)`);
  console.log(`kiln / parallel skopeo copy     ${(best.kiln / best.par).toFixed(2)}x`);
} finally {
  for (const r of registries) await r.dispose().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
