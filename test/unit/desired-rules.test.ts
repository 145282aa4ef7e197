// Each semantic rule alone, on documents built in memory (positions are all 1:1 here).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normaliseConfig } from '../../reconciler/desired/normalise.ts';
import * as rules from '../../reconciler/desired/rules.ts';
import type { Located, RuleInput } from '../../reconciler/desired/rules.ts';
import type { AptDistributionDoc, DebPackageDoc, DistributionDoc, KilnConfigDoc, PackageDoc } from '../../schema/metadata.ts';

const loc = <T>(path: string, doc: T): Located<T> => ({ path, doc, positions: {} });
const pkg = (name: string, extra: Partial<DebPackageDoc> = {}, file = `packages/${name}.yaml`) =>
  loc<PackageDoc>(file, { name, version: '1.0-1', source: { git: 'x', ref: 'main' }, format: 'deb', architectures: ['amd64'], ...extra });
const dist = (name: string, extra: Partial<AptDistributionDoc> = {}, file = `distributions/${name}.yaml`) =>
  loc<DistributionDoc>(file, { name, format: 'apt', suite: name, architectures: ['amd64'], ...extra });

function input(p: Partial<Omit<RuleInput, 'resolvedConfig'>> & { configDoc?: KilnConfigDoc } = {}): RuleInput {
  const config = p.configDoc ? loc('kiln.yaml', p.configDoc) : undefined;
  return { config, resolvedConfig: normaliseConfig(p.configDoc), packages: p.packages ?? [], distributions: p.distributions ?? [], keyFiles: p.keyFiles ?? new Set(), unparsed: p.unparsed };
}
const messages = (ds: { file: string; message: string }[]) => ds.map((d) => `${d.file}: ${d.message}`);

test('rules - duplicate package and distribution names name both places', () => {
  const out = rules.uniquePackageNames(input({ packages: [pkg('hello'), pkg('hello', {}, 'packages/other.yaml')] }));
  assert.deepEqual(messages(out), [
    "packages/hello.yaml: package 'hello' is declared more than once (also in packages/other.yaml:1)",
    "packages/other.yaml: package 'hello' is declared more than once (also in packages/hello.yaml:1)",
  ]);
  assert.equal(rules.uniqueDistributionNames(input({ distributions: [dist('a1'), dist('a1', {}, 'distributions/b.yaml')] })).length, 2);
  assert.deepEqual(rules.uniquePackageNames(input({ packages: [pkg('a1'), pkg('b1')] })), []);
});

test('rules - two distributions cannot share a codename', () => {
  const out = rules.uniqueCodenames(input({ distributions: [dist('testing', { codename: 'kiln' }), dist('stable', { codename: 'kiln' })] }));
  assert.match(messages(out)[0], /distributions\/stable.yaml: codename 'kiln' is already used by distribution 'testing'/);
});

test('rules - the file name must match the name', () => {
  assert.deepEqual(messages(rules.fileNameMatchesName(input({ packages: [pkg('hello', {}, 'packages/hi.yaml')], distributions: [dist('stable')] }))), [
    'packages/hi.yaml: name \'hello\' does not match the file name: packages/hi.yaml must declare name: hi (or rename the file to packages/hello.yaml)',
  ]);
});

test('rules - Debian versions are checked', () => {
  assert.deepEqual(messages(rules.formatVersions(input({ packages: [pkg('hello', { version: 'v1' })] }))), [
    "packages/hello.yaml: version 'v1' is not a valid Debian version: the upstream version 'v1' must start with a digit",
  ]);
});

test('rules - release targets must exist, unless their file failed to parse', () => {
  const i = input({ packages: [pkg('hello', { release: ['testing', 'stabel'] })], distributions: [dist('testing'), dist('stable')] });
  assert.deepEqual(messages(rules.releaseTargetsExist(i)), ["packages/hello.yaml: release: no distribution named 'stabel'; did you mean 'stable'? (declare it in distributions/stabel.yaml)"]);
  const broken = input({ packages: [pkg('hello', { release: ['testing'] })], unparsed: new Set(['distributions/testing.yaml']) });
  assert.deepEqual(rules.releaseTargetsExist(broken), []);
});

test('rules - package architectures must be in each released-to distribution and in its pool', () => {
  const i = input({
    configDoc: { pools: { deb: { architectures: ['amd64', 'arm64'] } } },
    packages: [pkg('hello', { architectures: ['amd64', 'arm64', 'riscv64'], release: ['testing'] })],
    distributions: [dist('testing', { architectures: ['amd64', 'riscv64'] })],
  });
  assert.deepEqual(messages(rules.architecturesWithinDistributions(i)), [
    "packages/hello.yaml: architectures arm64 of package 'hello' are not in distribution 'testing' (which has amd64, riscv64; distributions/testing.yaml:1)",
  ]);
  assert.deepEqual(messages(rules.architecturesWithinPool(i)), ["packages/hello.yaml: architectures riscv64 cannot be built: pool 'deb' has only amd64, arm64"]);
});

test('rules - pools referenced by packages and defaults must exist', () => {
  const i = input({ configDoc: { pools: { deb: { architectures: ['amd64'] } }, defaults: { pool: 'gpu' } }, packages: [pkg('hello', { pool: 'dbe' }), pkg('other')] });
  assert.deepEqual(messages(rules.poolsExist(i)), [
    "kiln.yaml: defaults.pool: no pool named 'gpu'; pools are: deb",
    "packages/hello.yaml: pool: no pool named 'dbe'; did you mean 'deb'?; kiln.yaml declares: deb",
    "packages/other.yaml: package uses the default pool 'gpu', which kiln.yaml does not declare (pools: deb); set pool: or defaults.pool",
  ]);
  assert.deepEqual(rules.poolsExist({ ...i, configBroken: true }), [], 'silent while kiln.yaml is broken');
});

test('rules - promoteFrom must name another existing distribution, without cycles', () => {
  const self = input({ distributions: [dist('stable', { promoteFrom: 'stable' })] });
  assert.deepEqual(messages(rules.promotionSources(self)), ["distributions/stable.yaml: promoteFrom: distribution 'stable' cannot promote from itself"]);
  assert.deepEqual(rules.promotionAcyclic(self), [], 'a self-loop is reported once, by promotionSources');
  const missing = input({ distributions: [dist('stable', { promoteFrom: 'tseting' }), dist('testing')] });
  assert.deepEqual(messages(rules.promotionSources(missing)), ["distributions/stable.yaml: promoteFrom: no distribution named 'tseting'; did you mean 'testing'?"]);
  const cycle = input({ distributions: [dist('a1', { promoteFrom: 'c1' }), dist('b1', { promoteFrom: 'a1' }), dist('c1', { promoteFrom: 'b1' }), dist('d1', { promoteFrom: 'a1' })] });
  assert.deepEqual(messages(rules.promotionAcyclic(cycle)), ['distributions/a1.yaml: promoteFrom forms a cycle: a1 <- c1 <- b1 <- a1']);
  const chain = input({ distributions: [dist('a1'), dist('b1', { promoteFrom: 'a1' }), dist('c1', { promoteFrom: 'b1' })] });
  assert.deepEqual(rules.promotionAcyclic(chain), []);
  const gateOnly = rules.promotionSources(input({ distributions: [dist('a1', { gate: 'install-smoke' })] }));
  assert.deepEqual(gateOnly.map((d) => [d.severity, d.message]), [['warning', "gate 'install-smoke' has no effect without promoteFrom"]]);
});

test('rules - a package released to a promoted distribution must also reach its source', () => {
  const i = input({ packages: [pkg('hello', { release: ['stable'] })], distributions: [dist('testing'), dist('stable', { promoteFrom: 'testing' })] });
  assert.deepEqual(messages(rules.promotedPackagesReachSource(i)), [
    "packages/hello.yaml: release: 'stable' takes versions promoted from 'testing', but this package is not released to 'testing'; add it to release",
  ]);
});

test('rules - trusted keys and the signing key must exist under keys/', () => {
  const i = input({ configDoc: { trust: { keys: ['keys/alice.asc', 'keys/bob.asc'] }, signing: { publicKey: 'keys/kiln.asc' } }, keyFiles: new Set(['keys/alice.asc', 'keys/kiln.pub.asc']) });
  assert.deepEqual(messages(rules.trustKeysExist(i)), [
    'kiln.yaml: trust.keys: keys/bob.asc does not exist in the repo',
    "kiln.yaml: signing.publicKey: keys/kiln.asc does not exist in the repo; did you mean 'keys/kiln.pub.asc'?",
  ]);
});

test('rules - a consistent set passes every rule', () => {
  const i = input({
    configDoc: { pools: { deb: { architectures: ['amd64'] } } },
    packages: [pkg('hello', { release: ['testing', 'stable'] })],
    distributions: [dist('testing'), dist('stable', { promoteFrom: 'testing' })],
  });
  assert.deepEqual(rules.runRules(i), []);
});

test('rules - a promoted registry distribution on its source\'s registry is warned about at its url (credentials cover a whole registry)', () => {
  const reg = (name: string, url: string, extra: Record<string, unknown> = {}) => loc<DistributionDoc>(`distributions/${name}.yaml`, { name, format: 'registry', url, repository: name, architectures: ['amd64'], ...extra } as unknown as DistributionDoc);
  const shared = rules.promotionSources(input({ distributions: [reg('candidate', '127.0.0.1:5000'), reg('production', '127.0.0.1:5000', { promoteFrom: 'candidate' })] }));
  assert.equal(shared.length, 1);
  assert.equal(shared[0].severity, 'warning');
  assert.equal(shared[0].file, 'distributions/production.yaml');
  assert.ok(typeof shared[0].line === 'number' && shared[0].line >= 1);
  assert.match(shared[0].message, /^url '127\.0\.0\.1:5000' is also the registry of 'candidate'.*kiln up refuses/);
  assert.deepEqual(rules.promotionSources(input({ distributions: [reg('candidate', '127.0.0.1:5000'), reg('production', '127.0.0.1:5001', { promoteFrom: 'candidate' })] })), []);
});
