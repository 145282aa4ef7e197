// rpm headers signed once, at collect (reconciler/pipeline/signed-rpms.ts), from the
// verified bytes: the signed copy is in the artifact cache under its own digest and
// rpmkeys accepts it; a publish by the same key serves exactly that copy (no
// signature made at publish), a publish by another key, or one whose cached copy is
// gone or altered, signs from the built rpm instead. A result collected twice (the
// reconciler died before its status commit) is signed again and recorded once.
// Through collectResults on a real nats-server: a result collected before the
// reconciler has read a desired state is handed back, then signed and judged.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { rpmFormat } from '../../reconciler/formats/rpm/rpm-format.ts';
import { collectResults } from '../../reconciler/pass/collect-step.ts';
import { updatedBuilds } from '../../reconciler/pass/status-change.ts';
import { openNatsSession } from '../../reconciler/pipeline/nats-session.ts';
import { cachedArtifactPath } from '../../reconciler/pipeline/artifact-cache.ts';
import { signRpmHeaders } from '../../reconciler/pipeline/signed-rpms.ts';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import { publishDnf, type RpmInput } from '../../reconciler/publish/dnf/publish.ts';
import { signRpmCopies } from '../../reconciler/publish/dnf/sign-rpms.ts';
import { headerFacts } from '../../reconciler/publish/rpm/header-facts.ts';
import { readRpm } from '../../reconciler/publish/rpm/read-rpm.ts';
import type { RpmHeaderFacts } from '../../schema/status.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { RpmFormatError } from '../../schema/errors.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { ObservedState } from '../../reconciler/model.ts';
import { OBJECTS, SUBJECTS } from '../../schema/nats.ts';
import { quietLog } from '../helpers/kiln-service.ts';
import { startNats } from '../helpers/nats.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';
import { writeRpm, type WrittenRpm } from '../helpers/rpm.ts';
import { seededRandom } from '../helpers/seeded.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);

describe('rpm collect-time signing', () => {
  let dir = '';
  let cache = '';
  let signer: Signer;
  let rpms: WrittenRpm[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-rpm-collect-sign-'));
    cache = join(dir, 'cache');
    signer = await loadSigner((await generateKey({ name: 'Kiln Collect', email: 'collect@kiln.invalid' })).privateKeyArmored);
    rpms = [await writeRpm(dir, { name: 'kiln-cs', version: '1.0-1' }), await writeRpm(dir, { name: 'kiln-cs-libs', version: '1.0-1' })];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const resultOf = (artifacts: WrittenRpm[]) =>
    ({ key: 'a'.repeat(64), outcome: 'succeeded', artifacts: artifacts.map((r) => ({ name: r.name, sha256: r.sha256, size: r.size })), inputs: { package: 'kiln-cs', version: '1.0-1', arch: 'amd64', recipe: { format: 'rpm' } } }) as unknown as BuildResult;
  const read = async (a: { sha256: string }) => readFile(rpms.find((r) => r.sha256 === a.sha256)!.path);
  const inputs = (signed: Awaited<ReturnType<typeof signRpmHeaders>>): RpmInput[] =>
    rpms.map((r) => {
      const s = signed.find((x) => x.built === r.sha256);
      return { ...r, package: 'kiln-cs', version: '1.0-1', ...(s ? { headerSigned: { path: cachedArtifactPath(cache, s.sha256), sha256: s.sha256, size: s.size, signingKey: s.signingKey, signature: s.signature } } : {}) };
    });

  async function checksig(file: string, key: Signer): Promise<string> {
    const db = await mkdtemp(join(dir, 'db-'));
    await writeFile(join(db, 'k.asc'), key.publicKeyArmored);
    await run('rpmkeys', ['--dbpath', db, '--import', join(db, 'k.asc')]);
    return (await run('rpmkeys', ['--dbpath', db, '--checksig', '-v', file])).stdout;
  }

  test('rpm collect signing - each rpm signed once into the cache; a publish by that key serves those very copies', async () => {
    const signed = await signRpmHeaders(resultOf(rpms), read, signer, cache);
    assert.equal(signed.length, 2);
    for (const s of signed) {
      const copy = cachedArtifactPath(cache, s.sha256);
      assert.deepEqual(await sha256File(copy), { sha256: s.sha256, size: s.size });
      assert.notEqual(s.sha256, s.built);
      assert.equal(s.signingKey, signer.fingerprint);
      assert.match(await checksig(copy, signer), /Header V4 EdDSA\/SHA\d+ Signature, key ID [0-9a-f]{8}: OK/);
    }
    // The publisher must not sign a header: a signer that refuses to proves every served rpm is a collected copy (repomd.xml is still signed).
    const noSigning: Signer = { ...signer, signBinary: () => Promise.reject(new Error('an rpm header signed at publish')) };
    const root = join(dir, 'same-key');
    const report = await publishDnf({ root, distribution: { name: 't' }, packages: inputs(signed), signer: noSigning, now: new Date() });
    assert.deepEqual(report.rpms.map((r) => [r.built, r.sha256, r.signature]).sort(), signed.map((s) => [s.built, s.sha256, s.signature]).sort());
    for (const r of report.rpms) assert.equal((await sha256File(join(root, 't', r.file))).sha256, r.sha256);
  });

  test('rpm collect signing - another key, or a cached copy gone or altered: signed at publish from the built rpm', async () => {
    const signed = await signRpmHeaders(resultOf(rpms), read, signer, cache);
    const other = await loadSigner((await generateKey({ name: 'Kiln Other', email: 'other@kiln.invalid' })).privateKeyArmored);
    const byOther = await publishDnf({ root: join(dir, 'other-key'), distribution: { name: 't' }, packages: inputs(signed), signer: other, now: new Date() });
    for (const r of byOther.rpms) {
      assert.ok(!signed.some((s) => s.sha256 === r.sha256), 'not the collected copy');
      assert.equal(r.keyFingerprint, other.fingerprint);
      assert.match(await checksig(join(dir, 'other-key', 't', r.file), other), /Signature, key ID [0-9a-f]{8}: OK/);
    }
    // One copy deleted from the cache, the other altered: both are signed again, by this key.
    await rm(cachedArtifactPath(cache, signed[0].sha256));
    // Replaced (write, then rename), as the cache is only ever changed: an earlier publish may hard-link the file.
    const altered = await readFile(cachedArtifactPath(cache, signed[1].sha256));
    altered[altered.length - 1] ^= 1;
    await writeFile(`${cachedArtifactPath(cache, signed[1].sha256)}.new`, altered);
    await rename(`${cachedArtifactPath(cache, signed[1].sha256)}.new`, cachedArtifactPath(cache, signed[1].sha256));
    const root = join(dir, 'lost-copies');
    const report = await publishDnf({ root, distribution: { name: 't' }, packages: inputs(signed), signer, now: new Date() });
    for (const r of report.rpms) {
      assert.ok(!signed.some((s) => s.sha256 === r.sha256), 'not a recorded copy');
      assert.match(await checksig(join(root, 't', r.file), signer), /Signature, key ID [0-9a-f]{8}: OK/);
    }
  });

  test('rpm collect signing - header facts recorded: a publish by that key hard-links the copies and asks rpm nothing of the built rpms; the name rule and the digest still hold', async () => {
    const headers = new Map<string, RpmHeaderFacts>();
    for (const r of rpms) headers.set(r.sha256, headerFacts(await readRpm(r.path))!);
    const own = join(dir, 'facts-cache');
    const signed = await signRpmHeaders(resultOf(rpms), read, signer, own, headers);
    assert.deepEqual(signed.map((s) => s.rpm?.name).sort(), ['kiln-cs', 'kiln-cs-libs']);
    // The built rpms are not there: only the recorded facts and the copies can make this publish.
    const gone = join(dir, 'not-there.rpm');
    const withFacts = (list: typeof signed, rename?: string): RpmInput[] =>
      rpms.map((r) => {
        const s = list.find((x) => x.built === r.sha256)!;
        const rpm = { ...s.rpm!, ...(rename && s.rpm!.name === 'kiln-cs' ? { name: rename } : {}) };
        return { ...r, path: gone, package: 'kiln-cs', version: '1.0-1', headerSigned: { path: cachedArtifactPath(own, s.sha256), sha256: s.sha256, size: s.size, signingKey: s.signingKey, signature: s.signature, rpm } };
      });
    const noSigning: Signer = { ...signer, signBinary: () => Promise.reject(new Error('an rpm header signed at publish')) };
    const root = join(dir, 'facts');
    const report = await publishDnf({ root, distribution: { name: 't' }, packages: withFacts(signed), signer: noSigning, now: new Date() });
    assert.equal(report.rpms.length, 2);
    for (const r of report.rpms) {
      const s = signed.find((x) => x.built === r.built)!;
      assert.equal(r.sha256, s.sha256);
      const [served, cached] = await Promise.all([stat(join(root, 't', r.file)), stat(cachedArtifactPath(own, s.sha256))]);
      assert.equal(served.ino, cached.ino, 'the cache file hard-linked, not copied');
      assert.match(await checksig(join(root, 't', r.file), signer), /Signature, key ID [0-9a-f]{8}: OK/);
    }
    // A recorded name outside the package is refused as a header read by rpm would be.
    await assert.rejects(publishDnf({ root: join(dir, 'facts-renamed'), distribution: { name: 't' }, packages: withFacts(signed, 'other'), signer: noSigning, now: new Date() }), /the rpm header names other 1\.0-1, expected kiln-cs 1\.0-1; nothing published/);
    // A copy altered in the cache (replaced, as the served link keeps the recorded bytes): signed again from the built rpm, whose digest is checked.
    const again = await signRpmHeaders(resultOf(rpms), read, signer, own, headers);
    const copy = cachedArtifactPath(own, again[0].sha256);
    const altered = await readFile(copy);
    altered[altered.length - 1] ^= 1;
    await writeFile(`${copy}.new`, altered);
    await rename(`${copy}.new`, copy);
    await assert.rejects(publishDnf({ root: join(dir, 'facts-altered'), distribution: { name: 't' }, packages: withFacts(again), signer, now: new Date() }), { code: 'ENOENT' }, 'the built rpm is read to sign again');
    // Copies are linked unread and checked by createrepo_c's reading: what the failed publish linked is gone again.
    assert.deepEqual(await readdir(join(dir, 'facts-altered', 't', 'packages')).catch(() => []), [], 'nothing left linked');
    const resigned = await publishDnf({ root: join(dir, 'facts-altered'), distribution: { name: 't' }, packages: withFacts(again).map((p, i) => ({ ...p, path: rpms[i].path })), signer, now: new Date() });
    const altBuilt = again[0].built;
    for (const r of resigned.rpms) assert.equal(r.sha256 === again.find((x) => x.built === r.built)!.sha256, r.built !== altBuilt, 'only the altered copy replaced');
    assert.ok(!(await readFile(join(dir, 'facts-altered', 't', resigned.rpms.find((r) => r.built === altBuilt)!.file))).equals(altered), 'the altered bytes are not served');
  });

  test('rpm collect signing - a publish that fails after linking (signing the rest, or staging the repodata) removes what it linked and leaves the key and .repo file as they were', async () => {
    const root = join(dir, 'failed-publish');
    const repo = join(root, 't');
    const other = await loadSigner((await generateKey({ name: 'Kiln Before', email: 'before@kiln.invalid' })).privateKeyArmored);
    await publishDnf({ root, distribution: { name: 't' }, packages: inputs([]), signer: other, now: new Date() });
    const served = async () => (await readdir(join(repo, 'packages'), { recursive: true })).sort();
    const published = async () => Promise.all(['RPM-GPG-KEY-t', 't.repo', 'repodata/repomd.xml.asc'].map((f) => readFile(join(repo, f), 'utf8')));
    const before = { files: await served(), published: await published() };
    assert.equal(before.published[0], other.publicKeyArmored);
    // One rpm collected by this key (linked unread), the other to sign here: that signing fails after the link.
    const signed = await signRpmHeaders(resultOf([rpms[0]]), read, signer, join(dir, 'failed-cache'));
    const collected = inputs([]).map((p, i) => (i === 0 ? { ...p, headerSigned: { path: cachedArtifactPath(join(dir, 'failed-cache'), signed[0].sha256), sha256: signed[0].sha256, size: signed[0].size, signingKey: signed[0].signingKey, signature: signed[0].signature } } : p));
    const failing: Signer = { ...signer, signBinary: () => Promise.reject(new Error('signing refused by the test')) };
    await assert.rejects(publishDnf({ root, distribution: { name: 't' }, packages: collected, signer: failing, now: new Date() }), /signing refused by the test/);
    assert.deepEqual(await served(), before.files, 'the linked copy removed');
    assert.equal((await stat(cachedArtifactPath(join(dir, 'failed-cache'), signed[0].sha256))).nlink, 1, 'the collected copy linked nowhere');
    // Staging fails (createrepo_c's package list cannot be written): the new key is not served beside the old repomd.xml.asc.
    await rm(join(repo, '.kiln', 'pkglist'));
    await mkdir(join(repo, '.kiln', 'pkglist'));
    await assert.rejects(publishDnf({ root, distribution: { name: 't' }, packages: collected, signer, now: new Date() }), { code: 'EISDIR' });
    assert.deepEqual(await published(), before.published, 'key, .repo file and signature as they were');
    assert.equal((await stat(cachedArtifactPath(join(dir, 'failed-cache'), signed[0].sha256))).nlink, 1, 'the collected copy linked nowhere');
    await rm(join(repo, '.kiln', 'pkglist'), { recursive: true });
    await publishDnf({ root, distribution: { name: 't' }, packages: collected, signer, now: new Date() });
    assert.equal(await readFile(join(repo, 'RPM-GPG-KEY-t'), 'utf8'), signer.publicKeyArmored);
  });

  test('rpm collect signing - a source rpm under a binary name: the guard refuses it; recorded facts say source as rpm does, so both publish paths serve it as the .src.rpm it is', async () => {
    const top = await mkdtemp(join(dir, '.srpm-'));
    await writeFile(join(top, 'kiln-cs.spec'), rpmSpec({ name: 'kiln-cs', version: '1.0', release: '1' }));
    await run('rpmbuild', ['-bs', '--quiet', '--define', `_topdir ${top}`, join(top, 'kiln-cs.spec')], { env: { ...process.env, HOME: top, LC_ALL: 'C' } });
    const path = join(dir, 'kiln-cs-1.0-1.noarch.rpm.src');
    await rename(join(top, 'SRPMS', 'kiln-cs-1.0-1.src.rpm'), path);
    const srpm = { name: 'kiln-cs-1.0-1.noarch.rpm', path, ...(await sha256File(path)) };
    const result = resultOf([srpm]);
    const bytes = () => readFile(path);
    const problems = await rpmFormat.artifactProblems!(result, bytes, { declared: new Map([['kiln-cs', { format: 'rpm' as const }]]), rpmHeaders: new Map() });
    assert.ok(problems.some((p) => p === "kiln-cs-1.0-1.noarch.rpm: a source rpm (its header names no source package) under a binary rpm's name"), problems.join('; '));

    const facts = headerFacts(await readRpm(path))!;
    assert.equal(facts.source, true);
    const own = join(dir, 'srpm-cache');
    const [copy] = await signRpmHeaders(result, bytes, signer, own, new Map([[srpm.sha256, facts]]));
    assert.equal(copy.rpm?.source, true, 'recorded with the copy');
    const input = (rpm: RpmHeaderFacts, builtPath: string): RpmInput => ({ ...srpm, path: builtPath, package: 'kiln-cs', version: '1.0-1', headerSigned: { path: cachedArtifactPath(own, copy.sha256), sha256: copy.sha256, size: copy.size, signingKey: copy.signingKey, signature: copy.signature, rpm } });
    const publish = (name: string, p: RpmInput) => publishDnf({ root: join(dir, name), distribution: { name: 't' }, packages: [p], signer, now: new Date() });
    const byFacts = await publish('srpm-facts', input(copy.rpm!, join(dir, 'not-there.rpm')));
    const byRpm = await publish('srpm-read', { ...srpm, package: 'kiln-cs', version: '1.0-1' });
    assert.deepEqual([byFacts.rpms[0].file, byRpm.rpms[0].file], ['packages/kiln-cs-1.0-1.src.rpm', 'packages/kiln-cs-1.0-1.src.rpm']);
    // Facts recorded before `source` was kept are not trusted: rpm reads the built rpm.
    const { source: _s, ...older } = copy.rpm!;
    await assert.rejects(publish('srpm-older', input(older, join(dir, 'not-there.rpm'))), { code: 'KILN_DIGEST_MISMATCH' }, 'the built rpm is read');
    assert.equal((await publish('srpm-older', input(older, path))).rpms[0].file, 'packages/kiln-cs-1.0-1.src.rpm');
  });

  test('rpm collect signing - an rpm is never signed in place: signRpmCopies refuses to = from (a served file may be a hard link to a cache entry)', async () => {
    const target = join(dir, 'in-place.rpm');
    await writeFile(target, await readFile(rpms[0].path));
    await assert.rejects(signRpmCopies(signer, [{ from: target, to: join(dir, '.', 'in-place.rpm') }]), (e: Error & { code?: string }) => e.code === 'KILN_PUBLISH_INPUT' && /never in place/.test(e.message));
    assert.equal((await sha256File(target)).sha256, rpms[0].sha256, 'the file is unchanged');
  });

  test('rpm collect signing - a result collected twice (no status commit between) is signed again and recorded once per rpm; only what the record keeps', async () => {
    const result = resultOf([rpms[0]]);
    const first = await signRpmHeaders(result, read, signer, cache);
    const second = await signRpmHeaders(result, read, signer, cache);
    assert.equal(first.length, 1);
    const observed = { builds: new Map() } as unknown as ObservedState;
    const ctx = { policy: { maxAttempts: 3 }, now: new Date(), random: () => 0.5 } as Parameters<typeof updatedBuilds>[2];
    const stray = { ...first[0], built: 'f'.repeat(64) };
    const { updated } = updatedBuilds(observed, { desiredCommit: 'd'.repeat(40), results: [result, result], dispatched: [], signed: new Map([[result.key, [...first, ...second, stray]]]) }, ctx);
    const record = updated.get(result.key)!;
    assert.equal(record.state, 'succeeded');
    assert.equal(record.signed?.length, 1, 'one copy of the one kept rpm');
    assert.ok([first[0], second[0]].some((s) => s.sha256 === record.signed![0].sha256), 'one of the copies made, each a cache file');
    assert.notEqual(first[0].sha256, second[0].sha256, 'a new signature each time (a salted signature packet): the earlier copy is only an unnamed cache file');
  });

  test('rpm collect signing - in the sign threads: bytes other than the recorded artifact are refused (KILN_DIGEST_MISMATCH), a malformed signature header names the artifact (KILN_RPM_FORMAT); nothing is written to the cache', async () => {
    const own = join(dir, 'refused-cache');
    const other = await readFile(rpms[1].path);
    await assert.rejects(signRpmHeaders(resultOf([rpms[0]]), async () => other, signer, own), (e: Error & { code?: string }) => e.code === 'KILN_DIGEST_MISMATCH' && e.message.startsWith(`${rpms[0].name}: expected sha256 ${rpms[0].sha256}`));
    // The signature header's second entry given a data type rpm does not know.
    const bad = await readFile(rpms[0].path);
    bad.writeInt32BE(99, 96 + 16 + 16 + 4);
    const path = join(dir, 'kiln-cs-bad-1.0-1.noarch.rpm');
    await writeFile(path, bad);
    const badRpm = { name: 'kiln-cs-bad-1.0-1.noarch.rpm', path, ...(await sha256File(path)) };
    await assert.rejects(signRpmHeaders(resultOf([badRpm]), async () => bad, signer, own), (e: Error) => e instanceof RpmFormatError && e.message === `${badRpm.name}: unknown data type 99 in the signature header`);
    assert.deepEqual(await readdir(own).catch(() => []), [], 'nothing in the cache');
    assert.equal(signer.fallbacks(), 0, 'the sign threads answered');
  });

  test('rpm collect signing - the sign threads stopped mid-batch: this thread signs and writes the copies instead, each as a thread would (a fall back, counted)', async () => {
    const own = join(dir, 'fallback-cache');
    const fresh = await loadSigner((await generateKey({ name: 'Kiln Fallback', email: 'fallback@kiln.invalid' })).privateKeyArmored, undefined, { log: quietLog });
    const many = Array.from({ length: 40 }, (_, i) => ({ ...rpms[i % 2], name: `${i}-${rpms[i % 2].name}` }));
    const signing = signRpmHeaders(resultOf(many), read, fresh, own);
    // The threads are still starting: stopping them now leaves every batch unanswered.
    await until(async () => (fresh.fallbacks() > 0 ? true : (await fresh.dispose(), undefined)), 30_000, 'a fall back to this thread');
    const signed = await signing;
    assert.equal(signed.length, many.length);
    for (const s of signed) assert.deepEqual(await sha256File(cachedArtifactPath(own, s.sha256)), { sha256: s.sha256, size: s.size });
    assert.match(await checksig(cachedArtifactPath(own, signed[0].sha256), fresh), /Signature, key ID [0-9a-f]{8}: OK/);
    await fresh.dispose();
  });

  test('rpm collect signing - the reconciler killed while the sign threads write copies: every named cache file is whole (its sha256 is its name); the rest are unnamed temp files', async (t) => {
    const own = join(dir, 'killed-cache');
    const { random } = seededRandom(t);
    const count = 400;
    // The fault point (seeded): the process is killed once this many copies are named in the cache.
    const killAfter = 1 + Math.floor(random() * (count / 4));
    t.diagnostic(`killed after ${killAfter} copies`);
    const keyFile = join(dir, 'killed-key.asc');
    await writeFile(keyFile, (await generateKey({ name: 'Kiln Killed', email: 'killed@kiln.invalid' })).privateKeyArmored);
    const root = new URL('../..', import.meta.url).pathname;
    const code = `
      const { register } = await import('tsx/esm/api');
      register();
      const { readFile } = await import('node:fs/promises');
      const { loadSigner } = await import('./reconciler/signing/signer.ts');
      const { signRpmHeaders } = await import('./reconciler/pipeline/signed-rpms.ts');
      const rpms = ${JSON.stringify(rpms)};
      const signer = await loadSigner(await readFile(${JSON.stringify(keyFile)}, 'utf8'));
      const artifacts = Array.from({ length: ${count} }, (_, i) => ({ ...rpms[i % 2], name: i + '-' + rpms[i % 2].name }));
      const result = { outcome: 'succeeded', artifacts, inputs: { recipe: { format: 'rpm' } } };
      const bytes = await Promise.all(rpms.map((r) => readFile(r.path)));
      for (;;) await signRpmHeaders(result, async (a) => bytes[rpms.findIndex((r) => r.sha256 === a.sha256)], signer, ${JSON.stringify(own)});
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const named = async () => (await readdir(own, { recursive: true }).catch(() => [] as string[])).filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(f));
    await until(async () => ((await named()).length >= killAfter ? true : undefined), 120_000, `${killAfter} copies in the cache (child: ${stderr})`);
    child.kill('SIGKILL');
    await exited;
    const files = await readdir(own, { recursive: true });
    const whole = await named();
    assert.ok(whole.length >= killAfter);
    for (const f of whole) assert.equal((await sha256File(join(own, f))).sha256, f.slice(3), `${f} is whole`);
    const rest = files.filter((f) => f.includes('/') && !whole.includes(f));
    for (const f of rest) assert.match(f, /^[0-9a-f]{2}\/[0-9a-f]{64}\.tmp-\d+-[0-9a-f]{12}-[0-9a-z]+$/, 'only unnamed temp files besides');
    t.diagnostic(`${whole.length} named copies, ${rest.length} temp files`);
  });

  test('rpm collect signing - through collect: handed back until a desired state was read, then judged by its names and header-signed', async (t) => {
    const nats = await startNats();
    t.after(() => nats.dispose());
    const session = await openNatsSession(nats.url, { name: 'collect-test', log: quietLog, pools: { rpm: { architectures: ['amd64'] } } });
    t.after(() => session.close());
    const key = 'b'.repeat(64);
    const now = new Date().toISOString();
    const inputs = { package: 'kiln-cs', version: '1.0-1', source: { url: 'file:///src', commit: 'c'.repeat(40) }, recipe: { format: 'rpm', rebuild: 0, spec: 'x.spec' }, image: 'kiln/bookworm-rpm', arch: 'amd64', target: 'bookworm' };
    for (const r of rpms) await session.objectStore.putBlob({ name: OBJECTS.artifact(r.sha256) }, new Uint8Array(await readFile(r.path)));
    const result = { v: 1, key, attempt: 1, inputs, pool: 'rpm', agent: 'stand-in', outcome: 'succeeded', exitCode: 0, artifacts: rpms.map((r) => ({ name: r.name, sha256: r.sha256, size: r.size })), startedAt: now, finishedAt: now };
    await session.js.publish(SUBJECTS.result(key), JSON.stringify(result), { msgID: `${key}.1.result` });
    const artifactsDir = join(dir, 'collect-cache');
    const opts = { max: 10, waitMs: 5000, signer, artifactsDir, log: quietLog };

    const early = await collectResults(session, opts);
    assert.deepEqual([early.pending.length, early.results.length, early.signed.size], [0, 0, 0], 'handed back: nothing to record yet');

    // kiln-cs-libs declared as a package of its own: kiln-cs's build may not carry it.
    const declaredOwn = new Map([['kiln-cs', { format: 'rpm' as const }], ['kiln-cs-libs', { format: 'rpm' as const }]]);
    const refused = await until(async () => {
      const c = await collectResults(session, { ...opts, declared: declaredOwn });
      return c.pending.length ? c : undefined;
    }, 30_000, 'the result delivered again');
    assert.equal(refused.results[0].outcome, 'failed');
    assert.match(refused.results[0].reason ?? '', /kiln-cs-libs-1\.0-1\.noarch\.rpm: the header names package kiln-cs-libs, not kiln-cs or one of its subpackages \(kiln-cs-libs is a package of its own\)/);
    assert.equal(refused.signed.size, 0, 'nothing signed for a refused build');
    for (const p of refused.pending) p.nak(0);

    // Only kiln-cs declared: kiln-cs-libs is its subpackage; both rpms signed, the copies in the cache.
    const accepted = await until(async () => {
      const c = await collectResults(session, { ...opts, declared: new Map([['kiln-cs', { format: 'rpm' as const }]]) });
      return c.pending.length ? c : undefined;
    }, 30_000, 'the result delivered once more');
    assert.equal(accepted.results[0].outcome, 'succeeded');
    const signed = accepted.signed.get(key) ?? [];
    assert.deepEqual(signed.map((s) => s.built).sort(), rpms.map((r) => r.sha256).sort());
    // What rpm read in the guard is recorded with each copy.
    assert.deepEqual(signed.map((s) => s.rpm).sort((a, b) => a!.name.localeCompare(b!.name)), [{ name: 'kiln-cs', version: '1.0', release: '1', arch: 'noarch', source: false }, { name: 'kiln-cs-libs', version: '1.0', release: '1', arch: 'noarch', source: false }]);
    for (const s of signed) assert.match(await checksig(cachedArtifactPath(artifactsDir, s.sha256), signer), /Signature, key ID [0-9a-f]{8}: OK/);
    await Promise.all(accepted.pending.map((p) => p.ack()));
  });

  test('rpm collect signing - one result that cannot be signed does not hold back the batch: a transient error hands it back alone, a malformed package records it failed', async (t) => {
    const nats = await startNats();
    t.after(() => nats.dispose());
    const session = await openNatsSession(nats.url, { name: 'collect-errors-test', log: quietLog, pools: { rpm: { architectures: ['amd64'] } } });
    t.after(() => session.close());
    const now = new Date().toISOString();
    const inputs = { package: 'kiln-cs', version: '1.0-1', source: { url: 'file:///src', commit: 'c'.repeat(40) }, recipe: { format: 'rpm', rebuild: 0, spec: 'x.spec' }, image: 'kiln/bookworm-rpm', arch: 'amd64', target: 'bookworm' };
    const [good, bad] = ['d'.repeat(64), 'e'.repeat(64)];
    for (const [key, r] of [[good, rpms[0]], [bad, rpms[1]]] as const) {
      await session.objectStore.putBlob({ name: OBJECTS.artifact(r.sha256) }, new Uint8Array(await readFile(r.path)));
      const result = { v: 1, key, attempt: 1, inputs, pool: 'rpm', agent: 'stand-in', outcome: 'succeeded', exitCode: 0, artifacts: [{ name: r.name, sha256: r.sha256, size: r.size }], startedAt: now, finishedAt: now };
      await session.js.publish(SUBJECTS.result(key), JSON.stringify(result), { msgID: `${key}.1.result` });
    }
    // Signing fails for what names kiln-cs-libs (the rpm and its header carry the name), first for a while, then for good.
    let failure = (): Error => new Error('the signing worker went away');
    const libs = Buffer.from('kiln-cs-libs');
    const flaky: Signer = { ...signer, signRpms: (target, list) => (list.some((r) => Buffer.from(r.bytes).includes(libs)) ? Promise.reject(failure()) : signer.signRpms(target, list)) };
    const opts = { max: 10, waitMs: 5000, signer: flaky, artifactsDir: join(dir, 'errors-cache'), log: quietLog, declared: new Map([['kiln-cs', { format: 'rpm' as const }]]) };

    const first = await collectResults(session, opts);
    assert.deepEqual(first.results.map((r) => [r.key, r.outcome]), [[good, 'succeeded']], 'the good result recorded, the other handed back');
    assert.deepEqual(first.pending.map((p) => p.result.key), [good], 'only what is recorded is acked');
    assert.equal(first.signed.get(good)?.length, 1);
    await Promise.all(first.pending.map((p) => p.ack()));

    failure = () => new RpmFormatError('kiln-cs-libs-1.0-1.noarch.rpm: unknown data type 99 in the signature header');
    const second = await until(async () => {
      const c = await collectResults(session, opts);
      return c.pending.length ? c : undefined;
    }, 30_000, 'the handed-back result delivered again (with backoff)');
    assert.equal(second.pending[0].deliveries, 2);
    assert.deepEqual(second.results.map((r) => [r.key, r.outcome, r.failureClass]), [[bad, 'failed', 'build']]);
    assert.match(second.results[0].reason ?? '', /signing failed: KILN_RPM_FORMAT: kiln-cs-libs-1\.0-1\.noarch\.rpm: unknown data type 99/);
    assert.equal(second.signed.size, 0);
    await Promise.all(second.pending.map((p) => p.ack()));
  });
});
