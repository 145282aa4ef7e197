// The sigstore lookaside directory: where "simple signing" signatures of images live,
// next to the published repositories (kiln serve serves it; consumers point
// registries.d `lookaside:` at it). One signature per tag Kiln writes; signing is
// idempotent (a valid signature of ours for the same reference is kept) and
// crash-safe (written to a hidden temp file, then linked into place without
// overwriting: a reader sees a whole signature or none).
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { byDigest } from './image-ref.ts';
import { lookasideDir, readPayload, signatureFileName, signaturePayload } from './simple-signing.ts';

export interface TagSignature {
  /** registry host:port as consumers pull it. */
  registry: string;
  repository: string;
  tag: string;
  digest: string;
}

export interface SignTagOptions {
  /** Root of the lookaside tree (e.g. REPOS/sigstore). */
  root: string;
  /** Makes a binary OpenPGP signed message of the payload (Signer.signMessage). */
  sign(payload: Uint8Array): Promise<Uint8Array>;
  /** Our public key: an existing signature counts only if it verifies with it. */
  publicKeyArmored: string;
  now: Date;
}

export interface SignedTag {
  /** Path relative to the lookaside root. */
  file: string;
  /** False when a valid signature for this exact reference was already there. */
  written: boolean;
}

/** Bounded: a manifest with more signatures than this is someone's mistake. */
const MAX_SIGNATURES = 1000;

async function signedReference(bytes: Uint8Array, key: openpgp.PublicKey): Promise<{ dockerReference: string; digest: string } | undefined> {
  try {
    const message = await openpgp.readMessage({ binaryMessage: bytes });
    const { data, signatures } = await openpgp.verify({ message, verificationKeys: key, format: 'binary', expectSigned: true });
    await signatures[0]?.verified;
    return readPayload(data as Uint8Array);
  } catch {
    return undefined;
  }
}

/** Sign `registry/repository:tag` as naming `digest`, unless a valid signature of ours says so already. */
export async function signTag(t: TagSignature, opts: SignTagOptions): Promise<SignedTag> {
  const ref = byDigest(t.registry, t.repository, t.digest);
  const dockerReference = `${ref.registry}/${ref.repository}:${t.tag}`;
  const rel = lookasideDir(ref.repository, t.digest);
  const dir = join(opts.root, rel);
  await mkdir(dir, { recursive: true });
  const key = await openpgp.readKey({ armoredKey: opts.publicKeyArmored });
  let signature: Uint8Array | undefined;
  for (let i = 1; i <= MAX_SIGNATURES; i++) {
    const file = signatureFileName(i);
    const existing = await readFile(join(dir, file)).catch(() => undefined);
    if (existing) {
      const names = await signedReference(existing, key);
      if (names?.dockerReference === dockerReference && names.digest === t.digest) return { file: `${rel}/${file}`, written: false };
      continue;
    }
    signature ??= await opts.sign(signaturePayload(dockerReference, t.digest, opts.now));
    const tmp = join(dir, `.tmp-${process.pid}-${i}`);
    await writeFile(tmp, signature);
    try {
      await link(tmp, join(dir, file));
      return { file: `${rel}/${file}`, written: true };
    } catch (e) {
      // Another writer took this index: try the next.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await rm(tmp, { force: true });
    }
  }
  throw new Error(`${rel} already has ${MAX_SIGNATURES} signatures`);
}

/** The references our valid signatures of one manifest name (drift checks, pruning). */
export async function signedReferences(root: string, repository: string, digest: string, publicKeyArmored: string): Promise<string[]> {
  const dir = join(root, lookasideDir(repository, digest));
  const key = await openpgp.readKey({ armoredKey: publicKeyArmored });
  const out: string[] = [];
  for (let i = 1; i <= MAX_SIGNATURES; i++) {
    const bytes = await readFile(join(dir, signatureFileName(i))).catch(() => undefined);
    if (!bytes) break;
    const names = await signedReference(bytes, key);
    if (names && names.digest === digest) out.push(names.dockerReference);
  }
  return out;
}
