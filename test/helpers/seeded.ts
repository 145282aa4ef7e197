// Seeded randomness for fault-injection tests: the seed comes from
// KILN_TEST_SEED when set (to replay a failure) or is drawn fresh, and is
// printed so that a failing run names the seed that reproduces it.
import type { TestContext } from 'node:test';

/** mulberry32: a small, well-known 32-bit PRNG; plenty for choosing kill points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source for this test, its seed printed as a diagnostic and on stderr. */
export function seededRandom(t: TestContext): { random: () => number; seed: number } {
  const fromEnv = process.env.KILN_TEST_SEED;
  const seed = fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  const msg = `seed ${seed} (replay with KILN_TEST_SEED=${seed})`;
  t.diagnostic(msg);
  process.stderr.write(`${t.name}: ${msg}\n`);
  return { random: prng(seed), seed };
}
