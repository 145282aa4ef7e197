// @ts-check
// The artifact cache's layout: a file per sha256, under a fan-out directory of its
// first two hex digits. Plain JavaScript so that the sign threads, which start
// without tsx (reconciler/signing/sign-thread.js), place signed rpms by the same rule.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** @param {string} cacheDir @param {string} sha256 */
export const cachedArtifactPath = (cacheDir, sha256) => join(cacheDir, sha256.slice(0, 2), sha256);

/**
 * Where a cache file is written before it is renamed into place: random bytes besides the pid,
 * as processes sharing a cache may have one pid (each PID 1 in its container), and threads one process.
 * @param {string} dest
 */
export const cacheTempPath = (dest) => `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
