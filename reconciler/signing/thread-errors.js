// @ts-check
// An error as it crosses from a sign thread to the main thread (structured clone keeps
// no class): its message, its code (KEY_ERROR, an rpm's RPM_FORMAT, DIGEST_MISMATCH, an
// errno name), its data, and the syscall of a system error (a full disk writing the
// cache stays a resource error). sign-worker.ts turns it back into the typed error.

/** The code of bytes that are not the recorded artifact (DigestMismatchError's, schema/errors.ts). */
/** @type {'KILN_DIGEST_MISMATCH'} */
export const DIGEST_MISMATCH = 'KILN_DIGEST_MISMATCH';

/**
 * @typedef {{ error: string, code?: string, data?: Record<string, unknown>, syscall?: string, errno?: number }} ErrorAnswer
 */

/**
 * @param {unknown} caught
 * @returns {ErrorAnswer}
 */
export function errorAnswer(caught) {
  const e = /** @type {{ message?: unknown, code?: unknown, data?: unknown, syscall?: unknown, errno?: unknown } | null | undefined} */ (caught);
  return {
    error: String((e && e.message) || e),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(e?.data && typeof e.data === 'object' ? { data: /** @type {Record<string, unknown>} */ (e.data) } : {}),
    ...(typeof e?.syscall === 'string' ? { syscall: e.syscall, ...(typeof e.errno === 'number' ? { errno: e.errno } : {}) } : {}),
  };
}
