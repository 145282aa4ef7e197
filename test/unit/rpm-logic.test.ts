// The pure parts of rpm support: architecture names, reading rpmspec's and
// rpm's query output, rpmbuild's failure reasons, the .repo file, the dnf gate's verdicts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rpmbuildFailure } from '../../agents/rpm-runner.ts';
import { dnfFailure, parseResolvedRpms, rpmDepsImageTag, unmetBuildRequires } from '../../agents/rpm-deps-image.ts';
import { interpretDnfGateRun } from '../../reconciler/gate/dnf-gate-script.ts';
import { GATE_EXIT, MARK } from '../../reconciler/gate/gate-script.ts';
import { repomdLocations } from '../../reconciler/publish/dnf/createrepo.ts';
import { rpmFileName } from '../../reconciler/publish/dnf/layout.ts';
import { repoFile, servedBaseUrl } from '../../reconciler/publish/dnf/repo-file.ts';
import { headerEvr, headerNameProblem, ownerOf, parseHeaderFields, parseHeaderRecords } from '../../reconciler/publish/rpm/read-rpm.ts';
import { kilnArch, rpmArch } from '../../rpm/arch.ts';
import { validators } from '../../schema/validate.ts';
import { signedArtifactSchema } from '../../schema/status.ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { cacheControl, contentType } from '../../reconciler/serve/request-path.ts';
import { evr, interpretSpecQuery } from '../../rpm/spec-query.ts';

test('rpm arch - Kiln and rpm names map both ways', () => {
  assert.equal(rpmArch('amd64'), 'x86_64');
  assert.equal(rpmArch('arm64'), 'aarch64');
  assert.equal(rpmArch('all'), 'noarch');
  assert.equal(rpmArch('armel'), undefined);
  assert.equal(rpmArch('toString'), undefined);
  assert.equal(kilnArch('x86_64'), 'amd64');
  assert.equal(kilnArch('aarch64'), 'arm64');
  assert.equal(kilnArch('noarch'), 'all');
  assert.equal(kilnArch('i686'), 'i386');
  assert.equal(kilnArch('sparc64'), undefined);
});

test('rpm spec query - facts from rpmspec output; a spec rpm cannot parse keeps rpm\'s words and the metadata path', () => {
  const ok = interpretSpecQuery('pkg/hello.spec', 0, '@@kiln-srpm@@hello\t(none)\t1.0\t1\n@@kiln-rpm@@hello\tnoarch\n@@kiln-rpm@@hello-doc\tnoarch\n');
  assert.deepEqual(ok, { ok: true, facts: { name: 'hello', epoch: undefined, version: '1.0', release: '1', packages: [{ name: 'hello', arch: 'noarch' }, { name: 'hello-doc', arch: 'noarch' }] } });
  assert.equal(ok.ok && evr(ok.facts), '1.0-1');
  assert.equal(evr({ epoch: '2', version: '1.0', release: '3' }), '2:1.0-3');
  const bad = interpretSpecQuery('pkg/hello.spec', 1, 'error: line 7: Unknown tag: Bogus: x\nerror: query of specfile /src/pkg/hello.spec failed, can\'t parse\n');
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.message, "pkg/hello.spec: rpmspec cannot parse the spec (exit 1):\nerror: line 7: Unknown tag: Bogus: x\nerror: query of specfile pkg/hello.spec failed, can't parse");
});

test('rpm header - query line with and without a signature', () => {
  const [h] = parseHeaderRecords('<r><f>\t<string>hello</string></f><f>(none)</f><f>\t<string>1.0</string></f><f>\t<string>1</string></f><f>\t<string>noarch</string></f><f>\t<string>hello-1.0-1.src.rpm</string></f><f>(none)</f><f>EdDSA/SHA256, Mon Nov 30 04:22:29 2026, Key ID 22b65a0fd7f6ab3d</f><f>(none)</f><f>(none)</f></r>\n');
  assert.deepEqual(h, { name: 'hello', epoch: undefined, version: '1.0', release: '1', arch: 'noarch', source: false, signedBy: '22B65A0FD7F6AB3D' });
  const s = parseHeaderFields(['hello', '3', '1.0', '1', 'x86_64', '(none)', '(none)', '(none)']);
  assert.equal(s.source, true);
  assert.equal(s.signedBy, undefined);
  assert.equal(headerEvr(s), '3:1.0-1');
  assert.equal(rpmFileName(s), 'hello-1.0-1.src.rpm');
  assert.equal(rpmFileName(h), 'hello-1.0-1.noarch.rpm');
});

test('rpm header - a NAME with tabs, newlines or our own markup cannot shift the fields', () => {
  // What rpm's :xml format prints for NAME "a\t</f><f>b\nc" ('<' escaped, the rest raw).
  const [h] = parseHeaderRecords('<r><f>\t<string>a\t&lt;/f&gt;&lt;f&gt;b\nc</string></f><f>(none)</f><f>\t<string>1.0</string></f><f>\t<string>1</string></f><f>\t<string>noarch</string></f><f>\t<string>x.src.rpm</string></f><f>(none)</f><f>(none)</f><f>(none)</f><f>(none)</f></r>\n');
  assert.equal(h.name, 'a\t</f><f>b\nc');
  assert.equal(h.version, '1.0');
  assert.match(headerNameProblem(h, 'x.rpm')!, /x\.rpm: the rpm header's NAME .* cannot be part of a file name/);
});

test('rpm header - fields that would make a path are refused', () => {
  const base = parseHeaderFields(['hello', '(none)', '1.0', '1', 'noarch', 'hello-1.0-1.src.rpm', '(none)', '(none)']);
  assert.equal(headerNameProblem(base, 'x'), undefined);
  for (const bad of [{ name: 'k-/../../tmp/Z' }, { name: '.hidden' }, { version: '1 0' }, { release: '1/2' }, { arch: '..' }, { name: '' }, { name: 'a\u0007b' }]) {
    assert.ok(headerNameProblem({ ...base, ...bad }, 'x'), JSON.stringify(bad));
  }
});

test('rpm owner - an rpm name belongs to the declared package it is, else the longest declared package it is a subpackage of', () => {
  const declared = new Set(['foo', 'foo-libs', 'bar-', 'baz']);
  assert.equal(ownerOf('foo', declared), 'foo');
  assert.equal(ownerOf('foo-tools', declared), 'foo');
  assert.equal(ownerOf('foo-libs', declared), 'foo-libs');
  assert.equal(ownerOf('foo-libs-devel', declared), 'foo-libs');
  assert.equal(ownerOf('foolish', declared), undefined, 'a prefix is a package only up to a dash');
  assert.equal(ownerOf('bar--x', declared), 'bar-');
  assert.equal(ownerOf('qux-foo', declared), undefined);
  assert.equal(ownerOf('-foo', declared), undefined);
});

test('rpmbuild failure - unmet BuildRequires are named', () => {
  const out = 'Building target platforms: x86_64\nerror: Failed build dependencies:\n\tgcc is needed by hello-1.0-1.x86_64\n\tmake is needed by hello-1.0-1.x86_64\n';
  assert.equal(rpmbuildFailure(out), 'BuildRequires not met: gcc is needed by hello-1.0-1.x86_64; make is needed by hello-1.0-1.x86_64');
  assert.equal(rpmbuildFailure('error: Bad exit status from /var/tmp/rpm-tmp.1 (%build)\n'), undefined);
});

test('dnf repo file - both signature checks on, key next to the repodata', () => {
  assert.equal(
    repoFile({ distribution: 'stable', baseUrl: 'https://repo.example.org/stable/' }, 'RPM-GPG-KEY-stable'),
    '[kiln-stable]\nname=Kiln stable\nbaseurl=https://repo.example.org/stable\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=https://repo.example.org/stable/RPM-GPG-KEY-stable\n',
  );
  assert.deepEqual(repomdLocations('<data type="primary"><location href="repodata/ab-primary.xml.gz"/></data><data><location href="repodata/cd-other.xml.gz"/>'), ['repodata/ab-primary.xml.gz', 'repodata/cd-other.xml.gz']);
});

test('dnf repo file - baseurl: the distribution\'s baseUrl, else where the repositories are served, else none (the publisher writes file://)', () => {
  const stable = { name: 'stable' };
  assert.equal(servedBaseUrl({ ...stable, baseUrl: 'https://repo.example.org/stable' }, 'http://127.0.0.1:8080/repos'), 'https://repo.example.org/stable');
  assert.equal(servedBaseUrl(stable, 'http://127.0.0.1:8080/repos/'), 'http://127.0.0.1:8080/repos/stable');
  assert.equal(servedBaseUrl(stable, undefined), undefined);
});

test('rpm artifacts - an rpm of a ^ (post-release) version is a valid artifact name on the wire and on kiln/status', () => {
  // rpmVersionProblem accepts ~ and ^ in versions, and rpmbuild names the file after the version.
  const name = rpmFileName({ name: 'kiln-keep', version: '1.10^git1', release: '1', arch: 'noarch', source: false });
  const artifact = { name, sha256: 'a'.repeat(64), size: 1 };
  const result = { v: 1, key: 'b'.repeat(64), attempt: 1, inputs: { package: 'kiln-keep', version: '1.10^git1-1', source: { url: '/src', commit: 'c'.repeat(40) }, recipe: 'rpm', image: 'kiln/bookworm-rpm', arch: 'amd64', target: 'x86_64' }, pool: 'rpm', agent: 'a', outcome: 'succeeded', exitCode: 0, artifacts: [artifact], startedAt: '2026-11-30T10:00:00Z', finishedAt: '2026-11-30T10:00:01Z' };
  const artifactErrors = () => (validators.buildResult.errors ?? []).filter((e) => e.instancePath.startsWith('/artifacts'));
  validators.buildResult(result);
  assert.deepEqual(artifactErrors(), []);
  for (const bad of ['.hidden.rpm', 'a/b.rpm', 'a b.rpm']) {
    validators.buildResult({ ...result, artifacts: [{ ...artifact, name: bad }] });
    assert.notDeepEqual(artifactErrors(), [], bad);
  }
});

test('dnf gate - verdicts from the script run', () => {
  const what = { package: 'hello', version: '1.0-1', timeoutSeconds: 60 };
  assert.equal(interpretDnfGateRun({ exitCode: 0, output: `x\n${MARK} passed\n`, timedOut: false }, what).verdict, 'passed');
  const sig = interpretDnfGateRun({ exitCode: GATE_EXIT.install, output: 'Importing GPG key 0x1:\n From : /repo/RPM-GPG-KEY-t\nPackage hello-1.0-1.noarch.rpm is not signed\nError: GPG check FAILED\n', timedOut: false }, what);
  assert.equal(sig.reason, 'dnf install hello-1.0-1 failed: Package hello-1.0-1.noarch.rpm is not signed; Error: GPG check FAILED');
  // A bad repomd.xml signature makes dnf skip the repository and then find nothing: both are said.
  const tampered = interpretDnfGateRun({ exitCode: GATE_EXIT.install, output: "Error: Failed to download metadata for repo 'kiln': repomd.xml GPG signature verification error: Bad GPG signature\nIgnoring repositories: kiln\nError: Unable to find a match: hello-1.0-1\n", timedOut: false }, what);
  assert.equal(tampered.reason, "dnf install hello-1.0-1 failed: Error: Failed to download metadata for repo 'kiln': repomd.xml GPG signature verification error: Bad GPG signature; Error: Unable to find a match: hello-1.0-1");
  assert.match(interpretDnfGateRun({ exitCode: 0, output: '', timedOut: true }, what).reason, /within 60 s/);
  assert.match(interpretDnfGateRun({ exitCode: GATE_EXIT.notInstalled, output: 'rpm -q: package hello is not installed\n', timedOut: false }, what).reason, /not installed after dnf install \(package hello is not installed\)/);
});

test('serve - dnf repositories: content types, and only checksum-named repodata cached for ever', () => {
  assert.equal(contentType('stable/packages/hello-1.0-1.noarch.rpm'), 'application/x-rpm');
  assert.equal(contentType('stable/repodata/repomd.xml'), 'application/xml');
  assert.equal(contentType('stable/repodata/repomd.xml.asc'), 'application/pgp-signature');
  assert.equal(contentType('stable/RPM-GPG-KEY-stable'), 'application/pgp-keys');
  assert.equal(contentType('stable/stable.repo'), 'text/plain; charset=utf-8');
  assert.equal(contentType('stable/stable-archive-keyring.asc'), 'application/pgp-keys');
  assert.equal(cacheControl(`stable/repodata/${'a'.repeat(64)}-primary.xml.gz`), 'public, max-age=31536000, immutable');
  assert.equal(cacheControl('stable/repodata/repomd.xml'), 'no-cache');
  assert.equal(cacheControl('stable/packages/hello-1.0-1.noarch.rpm'), 'no-cache');
});

test('rpm deps phase - unmet BuildRequires from rpmbuild, resolved rpms, dnf\'s reason', () => {
  // stdout and stderr interleave in any order around rpmbuild's list.
  const out = 'warning: x\nBuilding target platforms: x86_64\n\nRPM build warnings:\nerror: Failed build dependencies:\n\tfoo-devel >= 1.0 is needed by bar-1-1.noarch\n\tbaz is needed by bar-1-1.noarch\n    Could not canonicalize hostname: h\n';
  assert.deepEqual(unmetBuildRequires(out), ['baz', 'foo-devel >= 1.0']);
  assert.deepEqual(unmetBuildRequires('Building target platforms: x86_64\n'), []);
  // stdout lines between the stderr ones (two pipes, no order between them): every needed line counts.
  const interleaved = 'error: Failed build dependencies:\nBuilding target platforms: x86_64\n\tfoo-devel >= 1.0 is needed by x-1-1.noarch\nBuilding for target x86_64\n\tbaz is needed by x-1-1.noarch\n';
  assert.deepEqual(unmetBuildRequires(interleaved), ['baz', 'foo-devel >= 1.0']);
  // Seen in CI: a stdout line landed inside the heading, after stderr's "error: ".
  const split = 'warning: Could not canonicalize hostname: h\nerror: Building target platforms: x86_64\nBuilding for target x86_64\n\nRPM build warnings:\nFailed build dependencies:\n\tkiln-dep-tool is needed by kiln-needs-tool-1.0-1.noarch\n';
  assert.deepEqual(unmetBuildRequires(split), ['kiln-dep-tool']);
  const sha = 'a'.repeat(64);
  assert.deepEqual(parseResolvedRpms(`Downloading...\nkiln-resolved foo-devel-1.2-1.noarch ${sha}\nkiln-resolved baz-0:2-1.x86_64 ${sha}\nnoise\n`), [`baz-0:2-1.x86_64 ${sha}`, `foo-devel-1.2-1.noarch ${sha}`]);
  assert.deepEqual(dnfFailure('Last metadata expiration check: 0:00:01 ago\nNo match for argument: nosuch\nError: Unable to find a match: nosuch\n', ['nosuch']), { class: 'build', reason: 'BuildRequires cannot be met (nosuch): No match for argument: nosuch\nError: Unable to find a match: nosuch' });
  assert.equal(dnfFailure("Curl error (7): Couldn't connect to server\nError: Failed to download metadata for repo 'x': Cannot download repomd.xml\n", ['x']).class, 'infra');
  assert.notEqual(rpmDepsImageTag([`a-1-1.noarch ${sha}`], 'sha256:1'), rpmDepsImageTag([`a-1-2.noarch ${sha}`], 'sha256:1'));
  assert.notEqual(rpmDepsImageTag([`a-1-1.noarch ${sha}`], 'sha256:1'), rpmDepsImageTag([`a-1-1.noarch ${sha}`], 'sha256:2'));
});

test('status schema - a signed rpm record: signingKey is a 40-hex upper-case fingerprint, the header facts are file-name characters and a Kiln rpm architecture', () => {
  const valid = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(signedArtifactSchema);
  const ok = { name: 'kiln-cs-1.0-1.noarch.rpm', built: 'a'.repeat(64), sha256: 'b'.repeat(64), size: 1, signingKey: 'C'.repeat(40), rpm: { name: 'kiln-cs', version: '1.0^git1', release: '1', arch: 'noarch', source: false } };
  assert.ok(valid(ok), JSON.stringify(valid.errors));
  const bad = (change: object, path: string) => {
    assert.equal(valid({ ...ok, ...change }), false, path);
    assert.ok(valid.errors?.some((e) => e.instancePath === path), `${path}: ${JSON.stringify(valid.errors)}`);
  };
  bad({ signingKey: 'c'.repeat(40) }, '/signingKey');
  bad({ signingKey: 'KEY' }, '/signingKey');
  bad({ rpm: { ...ok.rpm, name: '../x' } }, '/rpm/name');
  bad({ rpm: { ...ok.rpm, release: '1 2' } }, '/rpm/release');
  bad({ rpm: { ...ok.rpm, arch: 'sparc64' } }, '/rpm/arch');
  bad({ rpm: { ...ok.rpm, epoch: 'x' } }, '/rpm/epoch');
});
