// Benchmark of the desired-commit trust check (verifyDesiredCommit):
//   a 300-commit first-parent chain, signed by openpgp.js keys, with one key
//   rotation half-way (alice adds bob; bob signs the rest).
// Baseline (same repo, same commits): native `git log --format=%G?`, which has
// gpg verify every commit signature (and applies no trust policy).
// Also: the incremental case a reconcile pass meets (1 new commit since the last trusted one).
// Run: node --import tsx scripts/bench-trust.ts
import { rm } from 'node:fs/promises';
import { acceptTrustRoot, verifyDesiredCommit } from '../reconciler/trust/index.ts';
import { makeGpgHome } from '../test/helpers/gpg.ts';
import { commitSigned, makeSignedRepo, makeTestKey, trustFiles } from '../test/helpers/signed-repo.ts';

const COMMITS = Number(process.env.BENCH_COMMITS ?? 300);

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

const [alice, bob] = await Promise.all([makeTestKey('alice'), makeTestKey('bob')]);
const { dir } = await makeSignedRepo(trustFiles([alice]), { signer: alice.signer });
await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
const t0 = performance.now();
let prev = '';
for (let i = 1; i <= COMMITS; i++) {
  const rotate = i === Math.floor(COMMITS / 2);
  const files = rotate ? trustFiles([alice, bob]) : { [`packages/p${i % 50}.yaml`]: `name: p${i % 50}\nversion: 1.${i}\n` };
  prev = await commitSigned(dir, files, { signer: i > COMMITS / 2 ? bob.signer : alice.signer, message: `change ${i}` });
}
const head = prev;
console.log(`repo: ${COMMITS} signed commits written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const [full, fullMs] = await time(() => verifyDesiredCommit({ dir, cache: {}, commit: 'HEAD' }));
if (!full.trusted || full.chain?.length !== COMMITS) throw new Error(`unexpected verdict: ${full.reason}`);
const parent = full.chain[COMMITS - 2].commit;
const [inc, incMs] = await time(() => verifyDesiredCommit({ dir, cache: {}, commit: head, lastTrusted: parent }));
if (!inc.trusted || inc.chain?.length !== 1) throw new Error(`unexpected verdict: ${inc.reason}`);

const gpg = await makeGpgHome(alice.publicKeyArmored, bob.publicKeyArmored);
const [native, nativeMs] = await time(() => gpg.git(dir, 'log', '--first-parent', '--format=%G?', 'HEAD'));
const good = native.stdout.split('\n').filter((l) => l === 'G').length;
await gpg.dispose();

console.log(`verifyDesiredCommit, ${COMMITS} commits from the root of trust: ${fullMs.toFixed(0)} ms (${(fullMs / COMMITS).toFixed(2)} ms/commit)`);
console.log(`baseline git log --format=%G? (gpg checks ${good} good signatures, no policy): ${nativeMs.toFixed(0)} ms`);
console.log(`ratio kiln/native: ${(fullMs / nativeMs).toFixed(2)}x`);
console.log(`incremental pass, 1 new commit since the last trusted: ${incMs.toFixed(1)} ms (${(fullMs / incMs).toFixed(0)}x cheaper than the full chain)`);
await rm(dir, { recursive: true, force: true });
