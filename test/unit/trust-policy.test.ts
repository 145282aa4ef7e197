// The pure trust policy: table tests over signatures and trust sets, no git, no crypto.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRecordFor } from '../../reconciler/trust/check-record.ts';
import { judgeChain, judgeCommit, judgeRoot, type ChainStep, type SignatureCheck, type TrustSet } from '../../reconciler/trust/policy.ts';
import { parseTrustConfig } from '../../reconciler/trust/trust-config.ts';
import { validators } from '../../schema/validate.ts';

const A = 'A'.repeat(40);
const B = 'B'.repeat(40);
const M = 'C'.repeat(40);
const oid = (n: number) => n.toString(16).padStart(40, '0');

function trust(at: string, fprs: string[], requireSignedCommits = true): TrustSet {
  return { at, requireSignedCommits, keys: new Map(fprs.map((f) => [f, { fingerprint: f, userId: `user-${f[0]}`, path: `keys/${f[0]}.asc` }])), problems: [] };
}
const signed = (f: string): SignatureCheck => ({ status: 'valid', fingerprint: f, userId: `user-${f[0]}` });
const anchor = { commit: oid(0), kind: 'last-trusted' as const };

describe('trust - judgeCommit', () => {
  const cases: Array<{ name: string; sig: SignatureCheck; at: TrustSet; trusted: boolean; reason: RegExp }> = [
    { name: 'unsigned commit', sig: { status: 'unsigned' }, at: trust(oid(0), [A]), trusted: false, reason: /is not signed/ },
    { name: 'signature by a trusted key', sig: signed(A), at: trust(oid(0), [A]), trusted: true, reason: /signed by user-A .*trusted as of/ },
    { name: 'signature by a key listed only in the commit itself', sig: signed(M), at: trust(oid(0), [A]), trusted: false, reason: /cannot trust its own key/ },
    { name: 'signature by an unknown key', sig: { status: 'unknown-key', keyId: 'abcd' }, at: trust(oid(0), [A]), trusted: false, reason: /ABCD, which is not trusted/ },
    { name: 'bad signature', sig: { status: 'bad', fingerprint: A, reason: 'Signed digest did not match' }, at: trust(oid(0), [A]), trusted: false, reason: /does not verify: Signed digest/ },
    { name: 'requireSignedCommits false, unsigned', sig: { status: 'unsigned' }, at: trust(oid(0), [], false), trusted: true, reason: /not required/ },
  ];
  for (const c of cases) {
    test(`trust - judgeCommit: ${c.name}`, () => {
      const v = judgeCommit(oid(1), c.sig, c.at);
      assert.equal(v.trusted, c.trusted);
      assert.match(v.reason, c.reason);
    });
  }
});

describe('trust - judgeChain', () => {
  test('trust - a key added in an unsigned commit does not make later commits by that key trusted', () => {
    const steps: ChainStep[] = [
      { commit: oid(1), signature: { status: 'unsigned' }, trustAtParent: trust(oid(0), [A]) },
      { commit: oid(2), signature: signed(M), trustAtParent: trust(oid(1), [A, M]) },
    ];
    const v = judgeChain(oid(2), anchor, steps);
    assert.equal(v.trusted, false);
    assert.match(v.reason, /is not signed.*builds on it/);
    assert.equal(v.chain?.length, 1, 'stops at the first refused commit');
  });

  test('trust - a key added by a trusted signer signs trusted commits afterwards', () => {
    const steps: ChainStep[] = [
      { commit: oid(1), signature: signed(A), trustAtParent: trust(oid(0), [A]) },
      { commit: oid(2), signature: signed(B), trustAtParent: trust(oid(1), [A, B]) },
    ];
    const v = judgeChain(oid(2), anchor, steps);
    assert.equal(v.trusted, true);
    assert.equal(v.signer?.fingerprint, B);
    assert.match(v.reason, /2 commits since/);
  });

  test('trust - a removed key is no longer trusted', () => {
    const steps: ChainStep[] = [
      { commit: oid(1), signature: signed(B), trustAtParent: trust(oid(0), [A, B]) },
      { commit: oid(2), signature: signed(A), trustAtParent: trust(oid(1), [B]) },
    ];
    const v = judgeChain(oid(2), anchor, steps);
    assert.equal(v.trusted, false);
    assert.equal(v.signer?.fingerprint, A);
  });

  test('trust - the anchor itself is trusted with no steps', () => {
    const v = judgeChain(oid(0), anchor, []);
    assert.equal(v.trusted, true);
    assert.match(v.reason, /already reconciled/);
  });

  test('trust - trust problems at the parent are named in a refusal', () => {
    const at = { ...trust(oid(0), []), problems: ['keys/a.asc is a PRIVATE key'] };
    const v = judgeChain(oid(1), anchor, [{ commit: oid(1), signature: signed(A), trustAtParent: at }]);
    assert.match(v.reason, /PRIVATE key/);
  });
});

describe('trust - judgeRoot', () => {
  test('trust - a root signed by a key its own kiln.yaml lists needs acceptance or a configured fingerprint', () => {
    const own = trust(oid(0), [A]);
    assert.equal(judgeRoot(oid(0), signed(A), own, { accepted: false, rootFingerprints: [] }).anchor, undefined);
    assert.equal(judgeRoot(oid(0), signed(A), own, { accepted: true, rootFingerprints: [] }).anchor?.kind, 'accepted-root');
    assert.equal(judgeRoot(oid(0), signed(A), own, { accepted: false, rootFingerprints: [A.toLowerCase()] }).anchor?.kind, 'root-fingerprint');
  });
  test('trust - a root not signed by its own listed key is never accepted', () => {
    assert.equal(judgeRoot(oid(0), signed(M), trust(oid(0), [A]), { accepted: true, rootFingerprints: [M] }).anchor, undefined);
    assert.equal(judgeRoot(oid(0), { status: 'unsigned' }, trust(oid(0), [A]), { accepted: true, rootFingerprints: [] }).anchor, undefined);
  });
  test('trust - a root that does not require signatures anchors by itself', () => {
    assert.equal(judgeRoot(oid(0), { status: 'unsigned' }, trust(oid(0), [], false), { accepted: false, rootFingerprints: [] }).anchor?.kind, 'unsigned-root');
  });
});

describe('trust - parseTrustConfig', () => {
  test('trust - defaults to requiring signatures and trusting nobody', () => {
    assert.deepEqual(parseTrustConfig('pools: {}\n'), { keys: [], requireSignedCommits: true, problems: [] });
    assert.equal(parseTrustConfig(undefined).requireSignedCommits, true);
    assert.match(parseTrustConfig(undefined).problems[0], /missing/);
  });
  test('trust - reads keys and requireSignedCommits', () => {
    const c = parseTrustConfig('trust:\n  keys: [keys/a.asc]\n  requireSignedCommits: false\n');
    assert.deepEqual(c, { keys: ['keys/a.asc'], requireSignedCommits: false, problems: [] });
  });
  test('trust - a kiln.yaml with CR-only line endings trusts nobody and says why (YAML saw one line)', () => {
    const c = parseTrustConfig('# settings\rtrust:\r  keys: [keys/a.asc]\r  requireSignedCommits: false\r');
    assert.deepEqual([c.keys, c.requireSignedCommits], [[], true]);
    assert.match(c.problems[0], /^kiln.yaml:1:11: line endings are CR only/);
  });
  test('trust - an invalid trust section trusts nobody and says why', () => {
    const c = parseTrustConfig('trust:\n  keys: [../etc/passwd]\n  requireSignedCommits: false\n');
    assert.deepEqual(c.keys, []);
    assert.equal(c.requireSignedCommits, true, 'a broken file never switches signing off');
    assert.match(c.problems[0], /invalid trust section/);
    assert.match(parseTrustConfig('trust: [\n').problems[0], /kiln\.yaml/);
  });
});

describe('trust - checkRecordFor', () => {
  test('trust - a refused verdict becomes a valid check record', () => {
    const v = judgeChain(oid(2), anchor, [
      { commit: oid(1), signature: { status: 'unsigned' }, trustAtParent: trust(oid(0), [A]) },
    ]);
    const rec = checkRecordFor(v, new Date('2026-01-02T03:04:05Z'));
    assert.equal(rec.verdict, 'refused');
    assert.equal(rec.commit, oid(2));
    assert.equal(rec.at, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(rec.diagnostics, [`${oid(1)}: commit ${oid(1).slice(0, 12)} is not signed`]);
    assert.ok(validators.checkRecord(rec), JSON.stringify(validators.checkRecord.errors));
  });
  test('trust - a trusted verdict names its signer', () => {
    const v = judgeChain(oid(1), anchor, [{ commit: oid(1), signature: signed(A), trustAtParent: trust(oid(0), [A]) }]);
    const rec = checkRecordFor(v, new Date(0));
    assert.equal(rec.verdict, 'trusted');
    assert.equal(rec.signer, `user-A <${A}>`);
    assert.ok(validators.checkRecord(rec));
  });
});
