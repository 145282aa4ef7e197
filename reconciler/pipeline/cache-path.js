// @ts-check
// The artifact cache's layout: a file per sha256, under a fan-out directory of its
// first two hex digits. Plain JavaScript so that the sign threads, which start
// without tsx (reconciler/signing/sign-thread.js), place signed rpms by the same rule.
import { join } from 'node:path';

/** @param {string} cacheDir @param {string} sha256 */
export const cachedArtifactPath = (cacheDir, sha256) => join(cacheDir, sha256.slice(0, 2), sha256);
