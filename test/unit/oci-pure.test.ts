// The pure parts of OCI support: references, the pinned Dockerfile, the network
// failure reason, skopeo error classes, the simple-signing payload and paths,
// the consumer policy, and reading a manifest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ambiguousSpace, copyFromTrigger, logicalLines, pinBaseImage } from '../../agents/oci-dockerfile.ts';
import { networkFailureReason } from '../../agents/oci-network-reason.ts';
import { consumerPolicy, registriesDConfig } from '../../oci/consumer-policy.ts';
import { byDigest, formatRef, parseRef } from '../../oci/image-ref.ts';
import { recordedInstances } from '../../oci/registry-plan.ts';
import { describeManifest } from '../../oci/registry-client.ts';
import { lookasideDir, readPayload, signaturePayload } from '../../oci/simple-signing.ts';
import { skopeoError } from '../../oci/skopeo.ts';
import { DigestMismatchError, ImageNotFoundError, PublishInputError, RegistryError } from '../../schema/errors.ts';

const D = 'sha256:' + 'ab'.repeat(32);

test('oci refs - parse and format by digest and by tag; hostile names refused', () => {
  assert.deepEqual(parseRef(`127.0.0.1:5000/kiln/app@${D}`), { registry: '127.0.0.1:5000', repository: 'kiln/app', digest: D });
  assert.deepEqual(parseRef('reg.example:443/kiln/app:1.0-1'), { registry: 'reg.example:443', repository: 'kiln/app', tag: '1.0-1' });
  assert.equal(formatRef(byDigest('r:1', 'a/b', D)), `r:1/a/b@${D}`);
  assert.throws(() => byDigest('r:1', '../etc', D), PublishInputError);
  assert.throws(() => parseRef('r:1/a@sha256:short'), PublishInputError);
});

test('oci dockerfile - the one FROM is pinned to the digest, AS and --platform kept', () => {
  const r = pinBaseImage('# syntax\nfrom --platform=linux/amd64 kiln/base:latest AS rt\nRUN true\n', `r:1/kiln/base@${D}`);
  assert.ok(r.ok);
  assert.equal(r.ok && r.text, `# syntax\nfrom --platform=linux/amd64 r:1/kiln/base@${D} AS rt\nRUN true\n`);
  assert.equal(r.ok && r.replaced, 'kiln/base:latest');
});

test('oci dockerfile - no FROM, several FROMs, and FROM by tag without from: are refused with the line', () => {
  assert.match((pinBaseImage('RUN true\n', undefined) as { reason: string }).reason, /no FROM/);
  assert.match((pinBaseImage('FROM a\nFROM b\n', `r:1/x@${D}`) as { reason: string }).reason, /2 FROM instructions \(lines 1, 2\)/);
  assert.match((pinBaseImage('\nFROM debian:bookworm\n', undefined) as { reason: string }).reason, /^line 2: FROM debian:bookworm names an image by tag/);
  assert.ok(pinBaseImage('FROM scratch\nADD x /\n', undefined).ok);
});

test('oci dockerfile - COPY --from (any image on the agent\'s engine, outside the build key) is refused with its line; COPY of the context is not', () => {
  // Quotes and backslashes inside a flag word are Docker's parser's to take out (a build copies with each of these).
  for (const line of ['COPY --from=kiln/bookworm-buildd /etc/passwd /x', 'copy --chown=0:0 --from=sha256:abc /a /b', 'COPY --from kiln/x /a /b', 'ONBUILD COPY --from=x /a /b', 'COPY --"from"=kiln/x /a /b', 'COPY --fr\\om=kiln/x /a /b', 'COPY --chown="0 0" --from=x /a /b', "onbuild copy --'from'=x /a /b"]) {
    const r = pinBaseImage(`FROM scratch\nADD rootfs.tar /\n${line}\n`, undefined) as { ok: boolean; reason?: string };
    assert.equal(r.ok, false, line);
    assert.match(r.reason!, /^line 3: COPY --from reads another image/, line);
  }
  assert.ok(pinBaseImage('FROM scratch\nCOPY --chown=0:0 from /from\nCOPY fromage /x\nRUN echo --from=x\n', undefined).ok);
  // Fail closed: Docker splits flag words byte by byte (0xA0 inside 'à' is a space to it), so any --from in a COPY is refused.
  for (const line of ['COPY --chown=0:\u00e0--from=img /a /b', 'COPY "--from=x" /y', 'COPY -- --from=x /z']) {
    assert.match((pinBaseImage(`FROM scratch\n${line}\n`, undefined) as { reason: string }).reason, /^line 2: COPY --from/, line);
  }
});

test('oci dockerfile - lines are joined and directives read as the engine does: a COPY --from after an escaped escape character, or after directives Docker reads otherwise, is refused', () => {
  const cases: Array<[string, number]> = [
    ['FROM scratch\nRUN echo \\\\\nCOPY --from=x /a /b\n', 3], // `\\` at the end: an escaped backslash, no continuation
    ['# foo=bar\n# escape=`\nFROM scratch\nRUN echo `\nCOPY --from=x /a /b\n', 5], // an unknown directive ends them: the escape stays \\
    ['  # escape=`\nFROM scratch\nRUN echo \\\nCOPY --from=x /a /b\n', 4], // an indented directive counts
    ['# syntax=a b\n# escape=`\nFROM scratch\nRUN echo \\\nCOPY --from=x /a /b\n', 5], // a directive's value may hold a space
  ];
  for (const [text, line] of cases) {
    const r = pinBaseImage(text, undefined) as { ok: boolean; reason?: string };
    assert.equal(r.ok, false, JSON.stringify(text));
    assert.match(r.reason!, new RegExp(`^line ${line}: COPY --from`), JSON.stringify(text));
  }
  assert.deepEqual(logicalLines('# foo=bar\n# escape=`\nFROM scratch\nRUN a `\nb\n').map((l) => l.text), ['FROM scratch', 'RUN a `', 'b']);
  assert.deepEqual(logicalLines('# syntax=x y\n# escape=`\nFROM scratch\nRUN a `\nb\n').map((l) => l.text), ['FROM scratch', 'RUN a b']);
});

test('oci dockerfile - a character Docker may read as a space, or a byte order mark, is refused with its line and code point', () => {
  for (const [ch, code] of [['\u0085', '0085'], ['\u00a0', '00A0'], ['\u3000', '3000'], ['\ufeff', 'FEFF']]) {
    const r = pinBaseImage(`FROM scratch\n${ch}COPY --chown=0:0 a /b\n`, undefined) as { ok: boolean; reason?: string };
    assert.equal(r.ok, false, code);
    assert.match(r.reason!, new RegExp(`^line 2: the character U\\+${code}`), code);
  }
  assert.equal(ambiguousSpace('RUN echo \u00a0hi'), 'U+00A0');
  assert.equal(ambiguousSpace('RUN echo hi\tthere'), undefined);
});

test('oci dockerfile - a base image\'s ONBUILD triggers: the first COPY --from among them is found; other triggers and none are fine', () => {
  assert.equal(copyFromTrigger(['RUN echo hi', 'COPY --chown=0:0 \\\n  --from=x /a /b', 'COPY --from=y /c /d']), 'COPY --chown=0:0 \\\n  --from=x /a /b');
  assert.equal(copyFromTrigger(['copy --from kiln/x /a /b']), 'copy --from kiln/x /a /b');
  // Docker parses a trigger as a Dockerfile and runs each of its instructions (a hand-made config may hold several).
  for (const t of ['RUN true\nCOPY --from=img /a /b', '# c\nCOPY --from=img /a /b', 'COPY --"from"=kiln/bookworm-buildd /x /y']) assert.equal(copyFromTrigger(['RUN echo hi', t]), t, t);
  for (const none of [undefined, null, [], ['RUN echo --from=x', 'COPY from /from', 'ADD x /y']]) assert.equal(copyFromTrigger(none), undefined, JSON.stringify(none));
});

test('oci dockerfile - instructions are read as Docker reads them: COPY --from across continuations, comments and blank lines is refused; words inside a RUN are not instructions', () => {
  const refused = [
    'FROM scratch\nCOPY \\\n  --from=kiln/bookworm-buildd /etc/passwd /x\n',
    'FROM scratch\nCOPY --chown=0:0 \\\n# a comment\n\n--from=x /a /b\n',
    '# escape=`\nFROM scratch\nCOPY `\n --from=x /a /b\n',
    'FROM scratch\r\nCOPY \\\r\n --from=x /a /b\r\n',
  ];
  for (const text of refused) {
    const r = pinBaseImage(text, undefined) as { ok: boolean; reason?: string };
    assert.equal(r.ok, false, JSON.stringify(text));
    assert.match(r.reason!, /^line (2|3): COPY --from/, JSON.stringify(text));
  }
  // A RUN continued over lines that start with instruction words: one RUN, not a COPY or a second FROM.
  assert.ok(pinBaseImage('FROM scratch\nRUN echo \\\nCOPY x \\\nFROM y\n', undefined).ok);
  // But a line that on its own reads as a COPY --from is refused wherever it stands (fail closed).
  assert.match((pinBaseImage('FROM scratch\nRUN echo \\\nCOPY --from=x \\\nFROM y\n', undefined) as { reason: string }).reason, /^line 3: COPY --from/);
  // With a backtick escape, a backslash at the end of a line is text.
  assert.match((pinBaseImage('# escape=`\nFROM scratch\nRUN echo \\\nFROM y\n', undefined) as { reason: string }).reason, /2 FROM instructions \(lines 2, 4\)/);
});

test('oci dockerfile - CRLF line ends are read; a FROM continued over lines is refused (its image is what Kiln replaces)', () => {
  const r = pinBaseImage('FROM kiln/base\r\nRUN true\r\n', `r:1/kiln/base@${D}`);
  assert.ok(r.ok);
  assert.equal(r.ok && r.text, `FROM r:1/kiln/base@${D}\nRUN true\n`);
  assert.deepEqual(logicalLines('# escape=\\\n# c\nFROM \\\n  x AS b\nRUN a \\\n\n  b\n'), [
    { line: 3, last: 4, text: 'FROM   x AS b' },
    { line: 5, last: 7, text: 'RUN a   b' },
  ]);
  assert.match((pinBaseImage('FROM \\\n  kiln/base\n', `r:1/kiln/base@${D}`) as { reason: string }).reason, /^line 1: write the FROM instruction on one line/);
});

test('oci network reason - resolver and unreachable messages are named; other failures are not', () => {
  assert.match(networkFailureReason("wget: bad address 'deb.debian.org'\n") ?? '', /tried to use the network.*bad address/);
  assert.match(networkFailureReason('curl: (6) Could not resolve host: example.org\n') ?? '', /Could not resolve host/);
  assert.match(networkFailureReason("Err:1 http://deb.debian.org bookworm InRelease\n  Temporary failure resolving 'deb.debian.org'\n") ?? '', /Temporary failure resolving/);
  assert.equal(networkFailureReason('make: *** [all] Error 2\n'), undefined);
});

test('oci skopeo errors - down is transient, missing is not-found, bad digest is terminal integrity', () => {
  const down = skopeoError(['inspect'], 'dial tcp 127.0.0.1:1: connect: connection refused', 1);
  assert.ok(down instanceof RegistryError);
  assert.equal(down.kind, 'transient');
  assert.ok(skopeoError(['inspect'], 'manifest unknown: manifest unknown', 1) instanceof ImageNotFoundError);
  const bad = skopeoError(['copy'], 'Digest did not match, expected sha256:a, got sha256:b', 1);
  assert.ok(bad instanceof DigestMismatchError);
  assert.equal(bad.kind, 'terminal');
  const pulled = skopeoError(['copy'], `level=fatal msg="determining manifest MIME type for docker://r:1/a@${D}: Manifest does not match provided manifest digest ${D}"`, 1);
  assert.ok(pulled instanceof DigestMismatchError);
  assert.equal(skopeoError(['copy'], 'unauthorized: authentication required', 1).kind, 'usage');
});

test('oci skopeo errors - status codes count only as statuses: 401/403/404/502 inside digests, ports and names decide nothing', () => {
  const H = `sha256:4010403404502${'a'.repeat(51)}`;
  // A registry on port 4013 that is down: transient (before: "401" matched as refused credentials).
  const down = skopeoError(['inspect'], `time="x" level=fatal msg="Error reading manifest ${H} in 127.0.0.1:4013/kiln/app: dial tcp 127.0.0.1:4013: connect: connection refused"`, 1);
  assert.ok(down instanceof RegistryError && down.kind === 'transient', `${down.name} ${down.kind}`);
  // A 404 in a digest and a port is not a missing image (before: ImageNotFoundError, an integrity failure).
  const odd = skopeoError(['copy'], `level=fatal msg="writing blob: uploading layer ${H} to 127.0.0.1:40404/kiln/app: unexpected EOF while reading"`, 1);
  assert.ok(!(odd instanceof ImageNotFoundError), odd.name);
  const other = skopeoError(['copy'], `level=fatal msg="copying ${H} to 127.0.0.1:14035/kiln/app-403: invalid layer media type"`, 1);
  assert.ok(other instanceof RegistryError && other.kind !== 'usage' && !(other instanceof ImageNotFoundError), `${other.name} ${other.kind}`);
  // Statuses in context still count.
  assert.equal(skopeoError(['inspect'], 'reading manifest latest in 127.0.0.1:1/a: received unexpected HTTP status: 403 Forbidden', 1).kind, 'usage');
  assert.equal(skopeoError(['inspect'], 'requested access to the resource is denied', 1).kind, 'usage');
  assert.ok(skopeoError(['inspect'], `reading manifest ${H} in 127.0.0.1:4013/a: received unexpected HTTP status: 404 Not Found`, 1) instanceof ImageNotFoundError);
  assert.equal(skopeoError(['inspect'], 'reading manifest latest in 127.0.0.1:1/a: received unexpected HTTP status: 502 Bad Gateway', 1).kind, 'transient');
  // Down wins over anything else in the text.
  assert.equal(skopeoError(['inspect'], 'manifest unknown; then: dial tcp 127.0.0.1:1: connect: connection refused', 1).kind, 'transient');
});

test('oci simple signing - payload names the reference and digest; lookaside path is REPO@sha256=HEX', () => {
  const bytes = signaturePayload('r:1/kiln/app:1.0', D, new Date('2026-01-01T00:00:00Z'));
  const json = JSON.parse(new TextDecoder().decode(bytes));
  assert.deepEqual(json.critical, { type: 'atomic container signature', image: { 'docker-manifest-digest': D }, identity: { 'docker-reference': 'r:1/kiln/app:1.0' } });
  assert.equal(json.optional.timestamp, 1767225600);
  assert.deepEqual(readPayload(bytes), { dockerReference: 'r:1/kiln/app:1.0', digest: D });
  assert.equal(readPayload(new TextEncoder().encode('{"critical":{}}')), undefined);
  assert.equal(lookasideDir('kiln/app', D), `kiln/app@sha256=${'ab'.repeat(32)}`);
});

test('oci consumer policy - signedBy Kiln\'s key for each scope, reject otherwise', () => {
  const p = consumerPolicy({ scopes: ['reg:5000/kiln'], keyPath: '/etc/pki/kiln.asc' }) as { default: unknown; transports: { docker: Record<string, unknown> } };
  assert.deepEqual(p.default, [{ type: 'reject' }]);
  assert.deepEqual(p.transports.docker['reg:5000/kiln'], [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/etc/pki/kiln.asc' }]);
  assert.deepEqual(JSON.parse(registriesDConfig('reg:5000', 'http://h/sigstore')), { docker: { 'reg:5000': { lookaside: 'http://h/sigstore' } } });
});

test('oci manifest - described with config, layers and total size; a manifest list is refused', () => {
  const raw = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: D, size: 10, mediaType: 'c' }, layers: [{ digest: D, size: 100, mediaType: 'l' }] });
  const img = describeManifest('r:1/a', raw, D);
  assert.equal(img.size, Buffer.byteLength(raw) + 110);
  assert.equal(img.configDigest, D);
  assert.throws(() => describeManifest('r:1/a', JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), D), /not a single image manifest/);
});

test('oci tag templates - {version} and {version}-{build}; unknown placeholders and invalid tags refused', async () => {
  const { renderTag, tagTemplateProblem } = await import('../../oci/tag-template.ts');
  assert.equal(renderTag('{version}-{build}', { version: '1:2.0~rc1+b1', build: '3' }), '1_2.0_rc1_b1-3');
  assert.equal(tagTemplateProblem('{version}'), undefined);
  assert.match(tagTemplateProblem('{release}') ?? '', /unknown placeholder \{release\}/);
  assert.match(tagTemplateProblem('-{version}') ?? '', /does not make a valid tag/);
});

test('oci registry plan - copies, tag moves, drift against the record, prune and stale tags', async () => {
  const { planRegistryRelease } = await import('../../oci/registry-plan.ts');
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => 'sha256:' + x.repeat(64));
  const plan = planRegistryRelease(
    [{ repository: 'r', tag: '2', digest: b }, { repository: 'r', tag: 'latest', digest: b }],
    [{ repository: 'r', tags: { '1': a, latest: c, old: b, '0': d, 'build-x': d, hand: c } }],
    [{ repository: 'r', tag: 'latest', digest: a }, { repository: 'r', tag: '1', digest: a }, { repository: 'r', tag: 'old', digest: b }, { repository: 'r', tag: '0', digest: d }],
  );
  assert.deepEqual(plan.copy, []);
  assert.deepEqual(plan.setTags.map((t) => t.tag), ['2', 'latest']);
  assert.deepEqual(plan.drift, [{ repository: 'r', tag: 'latest', found: c, desired: b }]);
  // a: only Kiln's dropped tag '1' points at it. d: dropped '0', but an agent's build tag remains on it.
  assert.deepEqual(plan.deleteManifests, [{ repository: 'r', digest: a }]);
  assert.deepEqual(plan.staleTags, [{ repository: 'r', tag: '0', digest: d }, { repository: 'r', tag: 'old', digest: b }]);
});

test('oci registry plan - tags Kiln never released are not pruned (build tags in a shared repository)', async () => {
  const { planRegistryRelease } = await import('../../oci/registry-plan.ts');
  const [a, b] = ['a', 'b'].map((x) => 'sha256:' + x.repeat(64));
  const plan = planRegistryRelease([{ repository: 'r', tag: '1', digest: a }], [{ repository: 'r', tags: { '1': a, 'build-k': b } }]);
  assert.deepEqual(plan.deleteManifests, []);
  assert.deepEqual(plan.staleTags, []);
});

test('oci registry plan - a dropped index tag keeps its recorded images (from any row naming the digest), so a later prune deletes them too', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const recorded = [
    { repository: 'kiln/a', tag: '1.0-1', digest: d('1'), instances: [d('2'), d('3')] },
    { repository: 'kiln/a', tag: 'stale', digest: d('1') },
    { repository: 'kiln/b', tag: '1.0-1', digest: d('1'), instances: [d('4')] },
    { repository: 'kiln/a', tag: 'single', digest: d('5') },
  ];
  assert.deepEqual(recordedInstances(recorded, { repository: 'kiln/a', digest: d('1') }), [d('2'), d('3')]);
  assert.deepEqual(recordedInstances(recorded, { repository: 'kiln/a', digest: d('5') }), []);
});
