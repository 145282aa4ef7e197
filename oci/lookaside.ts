// The sigstore lookaside directory: where "simple signing" signatures of images live,
// next to the published repositories (kiln serve serves it; consumers point
// registries.d `lookaside:` at it). One signature per tag Kiln writes, on the digest
// the tag points at (and, for an image index, on each of its images: containers/image
// judges a pull of one platform by that image's signatures), and on no other: a tag Kiln moves or prunes has its signature
// withdrawn from the digest it left (else a tag rolled back by hand would still be
// accepted). Signing is idempotent (a valid signature of ours for the same reference
// is kept); every change replaces a manifest's whole signature set atomically
// (signature-set.ts).
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as openpgp from 'openpgp';
import { byDigest } from './image-ref.ts';
import { readSignatureSet, replaceSignatureSet } from './signature-set.ts';
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
  /** sha256 (hex) of the signature file. */
  sha256: string;
  /** False when a valid signature for this exact reference was already there. */
  written: boolean;
}

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

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

/** What a signature claims, whoever made it (withdrawal judges the claim, not the signer: an old key may still be trusted). */
async function claimedReference(bytes: Uint8Array): Promise<{ dockerReference: string; digest: string } | undefined> {
  try {
    const data = (await openpgp.readMessage({ binaryMessage: bytes })).getLiteralData();
    return data instanceof Uint8Array ? readPayload(data) : undefined;
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
  const key = await openpgp.readKey({ armoredKey: opts.publicKeyArmored });
  const existing = await readSignatureSet(dir);
  for (const [i, bytes] of existing.entries()) {
    const names = await signedReference(bytes, key);
    if (names?.dockerReference === dockerReference && names.digest === t.digest) return { file: `${rel}/${signatureFileName(i + 1)}`, sha256: sha256Hex(bytes), written: false };
  }
  const signature = await opts.sign(signaturePayload(dockerReference, t.digest, opts.now));
  await replaceSignatureSet(dir, [...existing, signature]);
  return { file: `${rel}/${signatureFileName(existing.length + 1)}`, sha256: sha256Hex(signature), written: true };
}

/** The manifests of `repository` that have a lookaside directory (digests). */
async function signedDigests(root: string, repository: string): Promise<string[]> {
  const prefix = `${basename(repository)}@sha256=`;
  const names = await readdir(join(root, dirname(repository))).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix) && !n.includes('~')).map((n) => `sha256:${n.slice(prefix.length)}`).sort();
}

export interface WithdrawnSignature {
  repository: string;
  digest: string;
  dockerReference: string;
}

/**
 * Withdraw from every manifest of `repository` each signature that does not name a tag Kiln
 * points at that manifest now (`keep`: tag → the digests it signs as released: the one it points
 * at, and an index's images): the signatures of tags moved away or pruned, in any earlier
 * release. Idempotent; an unreadable signature goes too.
 */
export async function withdrawStaleSignatures(root: string, registry: string, repository: string, keep: ReadonlyMap<string, ReadonlySet<string>>): Promise<WithdrawnSignature[]> {
  const out: WithdrawnSignature[] = [];
  for (const digest of await signedDigests(root, repository)) {
    const dir = join(root, lookasideDir(repository, digest));
    const set = await readSignatureSet(dir);
    const kept: Uint8Array[] = [];
    for (const bytes of set) {
      const names = await claimedReference(bytes);
      const tag = names?.dockerReference.startsWith(`${registry}/${repository}:`) ? names.dockerReference.slice(`${registry}/${repository}:`.length) : undefined;
      if (names && names.digest === digest && tag !== undefined && keep.get(tag)?.has(digest)) kept.push(bytes);
      else out.push({ repository, digest, dockerReference: names?.dockerReference ?? '(unreadable signature)' });
    }
    if (kept.length !== set.length) await replaceSignatureSet(dir, kept);
  }
  return out;
}

/** The references our valid signatures of one manifest name (drift checks, pruning). */
export async function signedReferences(root: string, repository: string, digest: string, publicKeyArmored: string): Promise<string[]> {
  const key = await openpgp.readKey({ armoredKey: publicKeyArmored });
  const out: string[] = [];
  for (const bytes of await readSignatureSet(join(root, lookasideDir(repository, digest)))) {
    const names = await signedReference(bytes, key);
    if (names && names.digest === digest) out.push(names.dockerReference);
  }
  return out;
}
