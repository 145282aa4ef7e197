// The reconciler's signing key, as one small interface: status commits,
// artifact signatures and apt Release files all sign through it.
import * as openpgp from 'openpgp';
import type { Logger } from 'pino';
import { SigningError, SigningKeyError } from '../../schema/errors.ts';
import { withGnupgHome } from './gnupg-home.ts';
import { signRpmCopies, storeOffThread, type RpmCopiesTarget } from './rpm-copies.js';
import { SignPool, threadError, type RpmCopy, type RpmToSign } from './sign-worker.ts';
import { errorAnswer } from './thread-errors.js';

export interface Signer {
  /** Upper-case hex fingerprint (40 chars, v4 key). */
  readonly fingerprint: string;
  readonly userId: string;
  readonly publicKeyArmored: string;
  /** Detached, armored signature (git commits, signatures/<sha>.asc, Release.gpg). */
  signDetached(data: string | Uint8Array): Promise<string>;
  /** The same detached signature as one binary signature packet (rpm header signatures). */
  signBinary(data: Uint8Array): Promise<Uint8Array>;
  /**
   * rpms header-signed by this key into the artifact cache `target.cacheDir` (each rpm's digest and
   * size checked first; a copy under its own sha256), in order; null for an rpm with no room for a
   * signature. Made and written by the signing threads (reconciler/signing/rpm-copies.js).
   */
  signRpms(target: RpmCopiesTarget, rpms: RpmToSign[]): Promise<Array<RpmCopy | null>>;
  /** Cleartext-signed message (apt InRelease). */
  signCleartext(text: string): Promise<string>;
  /** A binary OpenPGP signed message holding `data` (containers/image "simple signing" signatures). */
  signMessage(data: Uint8Array): Promise<Uint8Array>;
  /** Run `fn` with a throwaway GNUPGHOME holding this key (for rpmsign), removed afterwards. */
  withGnupgHome<T>(fn: (gnupgHome: string) => Promise<T>): Promise<T>;
  /** Binary signatures made in this thread because the worker pool failed (each cause is logged once). */
  fallbacks(): number;
  /** Stop the signing threads (the signer's owner shuts down); a later signature starts them again. */
  dispose(): Promise<void>;
}

export interface SignerOptions {
  /** Where a fall back to main-thread signing is reported (a warning, once per cause); absent: process.emitWarning. */
  log?: Logger;
}

export interface GeneratedKey {
  publicKeyArmored: string;
  privateKeyArmored: string;
  fingerprint: string;
}

/** A new v4 key (gpg 2.2 cannot read v6 keys). */
export async function generateKey(opts: { name: string; email: string; passphrase?: string; expiresInDays?: number }): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: opts.name, email: opts.email }],
    passphrase: opts.passphrase,
    keyExpirationTime: opts.expiresInDays ? opts.expiresInDays * 86400 : 0,
    format: 'armored',
    config: { v6Keys: false },
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKeyArmored: publicKey, privateKeyArmored: privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** A Signer from an armored private key (decrypted with `passphrase` when protected). */
export async function loadSigner(armoredPrivateKey: string, passphrase?: string, opts: SignerOptions = {}): Promise<Signer> {
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
  } catch (cause) {
    throw new SigningError('the signing key is not an armored OpenPGP private key', {}, { cause });
  }
  if (!key.isDecrypted()) {
    if (!passphrase) throw new SigningError('the signing key is passphrase-protected: set KILN_SIGNING_PASSPHRASE');
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch (cause) {
      throw new SigningError('could not decrypt the signing key: wrong passphrase?', {}, { cause });
    }
  }
  const fingerprint = key.getFingerprint().toUpperCase();
  const userId = key.getUserIDs()[0] ?? fingerprint;
  const publicKeyArmored = key.toPublic().armor();
  const signingKey = key;
  // Binary data (artifacts and rpm headers, signed by the hundred or thousand) is signed in worker threads.
  const pool = new SignPool(signingKey.armor());
  const signHere = async (data: string | Uint8Array) => {
    const message = typeof data === 'string' ? await openpgp.createMessage({ text: data, format: 'binary' }) : await openpgp.createMessage({ binary: data });
    return (await openpgp.sign({ message, signingKeys: signingKey, detached: true, format: 'armored' })) as string;
  };
  const signBinaryHere = async (data: Uint8Array) => (await openpgp.readSignature({ armoredSignature: await signHere(data) })).write();
  // Should the thread fail (it cannot start, it died), this thread signs instead: counted, and said once per cause; never for a SigningKeyError.
  let fallbacks = 0;
  const warned = new Set<string>();
  const fellBack = (e: unknown) => {
    // The key cannot sign (its secret does not match it, say): this thread must not sign with it either.
    if (e instanceof SigningKeyError) throw e;
    fallbacks++;
    const cause = (e as Error)?.message ?? String(e);
    if (warned.has(cause)) return;
    warned.add(cause);
    const msg = `the signing worker pool failed (${cause}); signing in the main thread`;
    if (opts.log) opts.log.warn({ err: cause }, msg);
    else process.emitWarning(msg, { code: 'KILN_SIGN_FALLBACK' });
  };
  return {
    fingerprint,
    userId,
    publicKeyArmored,
    async signDetached(data) {
      if (typeof data !== 'string') {
        return pool.sign(data).catch((e: unknown) => {
          fellBack(e);
          return signHere(data);
        });
      }
      return signHere(data);
    },
    async signBinary(data) {
      return pool.signBinary(data).catch((e: unknown) => {
        fellBack(e);
        return signBinaryHere(data);
      });
    },
    async signRpms(target, rpms) {
      return pool.signRpms(target, rpms).catch(async (e: unknown) => {
        // The rpm's or the cache's error (a malformed header, other bytes, a full disk) is not the pool's: no second try here.
        if (!(e instanceof SigningError)) throw e;
        fellBack(e);
        // As a sign thread does it (reconciler/signing/rpm-copies.js), with a signature made here.
        return signRpmCopies(rpms, target, signBinaryHere, storeOffThread).catch((caught: unknown) => {
          throw threadError(errorAnswer(caught));
        });
      });
    },
    async signCleartext(text) {
      const message = await openpgp.createCleartextMessage({ text });
      return (await openpgp.sign({ message, signingKeys: signingKey, format: 'armored' })) as string;
    },
    async signMessage(data) {
      const message = await openpgp.createMessage({ binary: data });
      return (await openpgp.sign({ message, signingKeys: signingKey, format: 'binary' })) as Uint8Array;
    },
    withGnupgHome(fn) {
      return withGnupgHome(signingKey.armor(), fn);
    },
    fallbacks: () => fallbacks,
    dispose: () => pool.stop(),
  };
}
