// oci packages and registry distributions in the metadata: parsed by their own
// schemas, normalised with defaults, and a `from:` that names neither an image by
// digest nor a Kiln oci package is a file:line error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normaliseConfig, normaliseDistribution, normalisePackage } from '../../reconciler/desired/normalise.ts';
import { parseFile } from '../../reconciler/desired/parse-file.ts';
import { imageTestHasTest, ociFromAcyclic, ociFromAndTags, ociArchitecturePlatforms, uniqueRegistryPrefixes, type Rule, type RuleInput } from '../../reconciler/desired/rules.ts';
import { formatDiagnostic } from '../../schema/errors.ts';
import type { DistributionDoc, PackageDoc } from '../../schema/metadata.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const D = 'sha256:' + 'e'.repeat(64);

function parsed(path: string, text: string) {
  const f = parseFile(path, 'package', enc(text));
  assert.deepEqual(f.diagnostics.map(formatDiagnostic), []);
  return { path, doc: f.doc as PackageDoc, positions: f.positions };
}

const base = parsed('packages/base.yaml', 'name: base\nversion: 1.0-1\nformat: oci\nsource: { git: ../img, ref: main }\narchitectures: [amd64]\n');
const app = (from: string) =>
  parsed('packages/app.yaml', `name: app\nversion: 2.0-1\nformat: oci\nsource: { git: ../img, ref: main, subdir: app }\narchitectures: [amd64]\nfrom: ${from}\ntags: ['{version}', latest]\ntest: cat /hello.txt\n`);

function rule(packages: ReturnType<typeof parsed>[]): string[] {
  const input = { packages, distributions: [], keyFiles: new Set<string>(), resolvedConfig: normaliseConfig(undefined) } as unknown as RuleInput;
  return [...ociFromAndTags(input), ...ociFromAcyclic(input)].map(formatDiagnostic);
}

const image = (name: string, extra: string) => parsed(`packages/${name}.yaml`, `name: ${name}\nversion: 1.0-1\nformat: oci\nsource: { git: ../img, ref: main }\narchitectures: [amd64]\n${extra}`);

test('desired oci - images built FROM each other in a cycle are a file:line error', () => {
  assert.deepEqual(rule([image('xx', 'from: yy\n'), image('yy', 'from: zz\n'), image('zz', 'from: xx\n')]), ['packages/xx.yaml:6:7: from: forms a cycle: xx FROM yy FROM zz FROM xx; none of these images can be built']);
  assert.deepEqual(rule([image('xx', 'from: xx\n')]), ["packages/xx.yaml:6:7: from: package 'xx' cannot be built from itself"]);
});

test('desired oci - a base that lacks an architecture of the image, or install: without buildFrom, is a file:line error', () => {
  const arm = parsed('packages/arm.yaml', 'name: arm\nversion: 1.0-1\nformat: oci\nsource: { git: ../img, ref: main }\narchitectures: [amd64, arm64]\nfrom: base\n');
  assert.deepEqual(rule([base, arm]), ["packages/arm.yaml:6:7: from: 'base' is not built for arm64 (packages/base.yaml:5), which this image needs"]);
  assert.deepEqual(rule([image('img', 'install: [hello-kiln]\n')]), ['packages/img.yaml:6:10: install: needs a distribution to fetch the packages from: set buildFrom (on the package, its pool or defaults)']);
  assert.deepEqual(rule([image('img', 'install: [hello-kiln]\nbuildFrom: testing\n')]), []);
});

test('desired oci - from: a Kiln oci package or an image by digest is accepted; anything else is a file:line error', () => {
  assert.deepEqual(rule([base, app('base')]), []);
  assert.deepEqual(rule([base, app(`127.0.0.1:5000/kiln/base@${D}`)]), []);
  assert.deepEqual(rule([base, app('debian:bookworm')]), [
    "packages/app.yaml:6:7: from: 'debian:bookworm' is neither an image by digest (HOST/REPO@sha256:…), an image by tag in a registry (HOST[:PORT]/REPO:TAG) nor a Kiln oci package",
  ]);
  // A tag in a registry (host with a port, a dot, or localhost) is resolved to its digest by each pass.
  assert.deepEqual(rule([base, app('127.0.0.1:5000/kiln/bookworm-buildd:latest')]), []);
  const config = normaliseConfig(undefined);
  const fromOf = (from: string) => {
    const p = normalisePackage('packages/app.yaml', app(from).doc, config, { url: '/src/img', commit: 'a'.repeat(40) });
    return p.format === 'oci' ? p.from : undefined;
  };
  assert.deepEqual(fromOf('127.0.0.1:5000/kiln/bookworm-buildd:latest'), { tag: '127.0.0.1:5000/kiln/bookworm-buildd:latest' });
  assert.deepEqual(fromOf('registry.example/debian:bookworm'), { tag: 'registry.example/debian:bookworm' });
  assert.deepEqual(fromOf('base'), { package: 'base' });
});

test('desired oci - unknown tag placeholders are a file:line error', () => {
  const bad = parsed('packages/xx.yaml', "name: xx\nversion: '1'\nformat: oci\nsource: { git: ../img, ref: main }\narchitectures: [amd64]\ntags: ['{release}']\n");
  assert.match(rule([bad])[0], /^packages\/xx\.yaml:6:\d+: tags: unknown placeholder \{release\}/);
});

test('desired oci - normalised with defaults; a registry distribution too', () => {
  const config = normaliseConfig(undefined);
  const p = normalisePackage('packages/app.yaml', app('base').doc, config, { url: '/src/img', commit: 'a'.repeat(40) });
  assert.equal(p.format, 'oci');
  assert.ok(p.format === 'oci' && p.dockerfile === 'Dockerfile' && p.context === '.');
  assert.deepEqual(p.format === 'oci' && p.from, { package: 'base' });
  assert.deepEqual(p.format === 'oci' && p.tags, ['{version}', 'latest']);
  const f = parseFile('distributions/images.yaml', 'distribution', enc('name: images\nformat: registry\nurl: 127.0.0.1:5001\nrepository: kiln\narchitectures: [amd64]\npromoteFrom: candidate\n'));
  assert.deepEqual(f.diagnostics, []);
  const d = normaliseDistribution('distributions/images.yaml', f.doc as never, config);
  assert.deepEqual({ format: d.format, gate: d.gate }, { format: 'registry', gate: 'image-test' });
  const wrong = parseFile('distributions/bad.yaml', 'distribution', enc('name: bad\nformat: registry\nurl: "http://x/"\narchitectures: [amd64]\n'));
  assert.match(wrong.diagnostics.map(formatDiagnostic).join('\n'), /distributions\/bad\.yaml:3:\d+: .*url/);
});

test('desired registries - kiln.yaml registries.<host>.insecure marks plain-http registries; a distribution at that url inherits it, its own field wins', () => {
  const k = parseFile('kiln.yaml', 'config', enc('registries:\n  cand.lan:5000:\n    insecure: true\n  prod.example: {}\n'));
  assert.deepEqual(k.diagnostics.map(formatDiagnostic), []);
  const config = normaliseConfig(k.doc as never);
  assert.deepEqual(config.registries, { 'cand.lan:5000': { insecure: true }, 'prod.example': { insecure: false } });
  const dist = (text: string) => normaliseDistribution('distributions/images.yaml', parseFile('distributions/images.yaml', 'distribution', enc(text)).doc as never, config);
  const d = dist('name: images\nformat: registry\nurl: cand.lan:5000\narchitectures: [amd64]\n');
  assert.ok(d.format === 'registry' && d.insecure === true);
  assert.deepEqual(d.format === 'registry' && d.plainHttp, ['cand.lan:5000']);
  const own = dist('name: images\nformat: registry\nurl: cand.lan:5000\ninsecure: false\narchitectures: [amd64]\n');
  assert.ok(own.format === 'registry' && own.insecure === false);
  assert.ok(normaliseConfig(undefined).registries !== undefined);
});

test('desired registries - a bad host or a non-boolean insecure is a kiln.yaml:line error naming the field', () => {
  const host = parseFile('kiln.yaml', 'config', enc('trust:\n  requireSignedCommits: false\nregistries:\n  "http://cand.lan/":\n    insecure: true\n'));
  assert.match(host.diagnostics.map(formatDiagnostic).join('\n'), /^kiln\.yaml:4:\d+: .*registries.*http:\/\/cand\.lan\//m);
  const value = parseFile('kiln.yaml', 'config', enc('registries:\n  cand.lan:5000:\n    insecure: yes please\n'));
  assert.match(value.diagnostics.map(formatDiagnostic).join('\n'), /^kiln\.yaml:3:15: registries\.cand\.lan:5000\.insecure: expected true or false/m);
});

function parsedDist(path: string, text: string) {
  const f = parseFile(path, 'distribution', enc(text));
  assert.deepEqual(f.diagnostics.map(formatDiagnostic), []);
  return { path, doc: f.doc as DistributionDoc, positions: f.positions };
}

const registryDist = (name: string, extra: string) => parsedDist(`distributions/${name}.yaml`, `name: ${name}\nformat: registry\nurl: 127.0.0.1:5481\n${extra}architectures: [amd64]\n`);

function ruleOf(r: Rule, packages: ReturnType<typeof parsed>[], distributions: ReturnType<typeof parsedDist>[] = []): string[] {
  return r({ packages, distributions, keyFiles: new Set<string>(), resolvedConfig: normaliseConfig(undefined) } as unknown as RuleInput).map((d) => `${d.severity}: ${formatDiagnostic(d)}`);
}

test('desired oci - an image of several architectures is valid; an architecture with no OCI platform (all) is a file:line error', () => {
  const two = parsed('packages/two.yaml', 'name: two\nversion: 1.0-1\nformat: oci\nsource: { git: ../img, ref: main }\narchitectures: [amd64, arm64]\n');
  assert.deepEqual(ruleOf(ociArchitecturePlatforms, [two]), []);
  const all = parsed('packages/all.yaml', 'name: all\nversion: 1.0-1\nformat: oci\nsource: { git: ../img, ref: main }\narchitectures: [arm64, all]\n');
  assert.deepEqual(ruleOf(ociArchitecturePlatforms, [all]), [
    "error: packages/all.yaml:5:24: architectures: 'all' is no machine an image can be built for; an oci image names real architectures (amd64, arm64, armhf, armel, i386, ppc64el, s390x, riscv64, mips64el)",
  ]);
  assert.deepEqual(ruleOf(ociArchitecturePlatforms, [base]), []);
});

test('desired registries - two registry distributions with one url and repository prefix are a file:line error', () => {
  const a = registryDist('prod', 'repository: kiln\n');
  const b = registryDist('prod2', 'repository: kiln\n');
  assert.deepEqual(ruleOf(uniqueRegistryPrefixes, [], [a, b]), [
    "error: distributions/prod2.yaml:4:13: registry 127.0.0.1:5481, repository prefix 'kiln' is already distribution 'prod''s (distributions/prod.yaml:3); each would prune the other's tags: give each its own url or repository",
  ]);
  assert.deepEqual(ruleOf(uniqueRegistryPrefixes, [], [a, registryDist('other', 'repository: other\n')]), []);
  assert.equal(ruleOf(uniqueRegistryPrefixes, [], [registryDist('xx', ''), registryDist('yy', '')]).length, 1, 'no prefix twice is the same prefix');
});

test('desired oci - an image released through an image-test gate without a test: command is a warning, not an error', () => {
  const dists = [registryDist('candidate', 'repository: cand\n'), registryDist('production', 'repository: kiln\npromoteFrom: candidate\n')];
  const untested = image('img', 'release: [candidate, production]\n');
  assert.deepEqual(ruleOf(imageTestHasTest, [untested], dists), [
    "warning: packages/img.yaml:6:22: warning: release: 'production' gates images with image-test, but this image has no test: command, so it is promoted untested",
  ]);
  assert.deepEqual(ruleOf(imageTestHasTest, [image('img', 'release: [candidate, production]\ntest: "true"\n')], dists), []);
  assert.deepEqual(ruleOf(imageTestHasTest, [untested], [dists[0], registryDist('production', 'repository: kiln\npromoteFrom: candidate\ngate: none\n')]), []);
});
