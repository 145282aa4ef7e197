// @ts-check
// The artifact cache's layout: a file per sha256, under a fan-out directory of its
// first two hex digits. Plain JavaScript so that the sign threads, which start
// without tsx (reconciler/signing/sign-thread.js), place signed rpms by the same rule.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** @param {string} cacheDir @param {string} sha256 */
export const cachedArtifactPath = (cacheDir, sha256) => join(cacheDir, sha256.slice(0, 2), sha256);

/**
 * This thread's part of its temp names: random bytes besides the pid, as processes sharing a cache
 * may have one pid (each PID 1 in its container), and threads one process (each thread loads this
 * module anew). Drawn once: a randomBytes call per file was ~5 µs of a sign thread's ~165 µs per rpm.
 */
const prefix = `${process.pid}-${randomBytes(6).toString('hex')}`;
let made = 0;

/**
 * Where a cache file is written before it is renamed into place: a name no other writer uses.
 * @param {string} dest
 */
export const cacheTempPath = (dest) => `${dest}.tmp-${prefix}-${(made++).toString(36)}`;
