// rpm header signatures by the release key, any earlier one replaced: in-process
// (rpm-header-sign.ts) for every package with reserved space, else `rpmsign
// --resign` in a throwaway GnuPG home holding the key (Debian's rpm macros point
// %__gpg at /usr/bin/gpg2, which Debian does not ship: overridden), one call for
// many files.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import pMap from 'p-map';
import { DigestMismatchError, PublishInputError, SigningError } from '../../../schema/errors.ts';
import type { Signer } from '../../signing/signer.ts';
import { signRpmBytes } from './rpm-header-sign.ts';

const run = promisify(execFile);
/** Files per rpmsign call: keeps the command line well under ARG_MAX. */
const BATCH = 500;

export function rpmsignArgs(fingerprint: string, files: string[]): string[] {
  return ['--resign', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${fingerprint}`, ...files];
}

const tags = new Map<string, Promise<'rsa' | 'dsa'>>();

/** rpm's header tag for the key: RSAHEADER for RSA, DSAHEADER for DSA and EdDSA. */
export function tagFor(signer: Signer): Promise<'rsa' | 'dsa'> {
  let tag = tags.get(signer.publicKeyArmored);
  if (!tag) {
    tag = openpgp.readKey({ armoredKey: signer.publicKeyArmored }).then((key) => (key.getAlgorithmInfo().algorithm.startsWith('rsa') ? 'rsa' : 'dsa'));
    tags.set(signer.publicKeyArmored, tag);
  }
  return tag;
}

/** Files signed in-process at a time (reads, signatures and writes overlap). */
const CONCURRENCY = 16;

/** A copy signed in-process: its digest, size and header signature (armored). */
export interface SignedCopy {
  sha256: string;
  size: number;
  signature: string;
}

/**
 * Signed copies: each `from` read once, its header signed in memory (rpm-header-sign.ts), written
 * to a new file `to`, never `from`: a served rpm may be a hard link to a cache entry, and writing
 * onto it would rewrite the entry too. A package without reserved space is copied and signed by
 * rpmsign; its entry is undefined (the caller reads what rpmsign made).
 */
export async function signRpmCopies(signer: Signer, items: { from: string; to: string; expect?: Expected }[]): Promise<Array<SignedCopy | undefined>> {
  if (items.length === 0) return [];
  const inPlace = items.find(({ from, to }) => resolve(from) === resolve(to));
  if (inPlace) throw new PublishInputError(`${inPlace.from}: an rpm is signed into a new file, never in place (it may be a hard link to the artifact cache)`, { path: inPlace.from });
  const tag = await tagFor(signer);
  const out = await pMap(
    items,
    async ({ from, to, expect }) => {
      const bytes = await readFile(from);
      if (expect) assertDigest(expect, bytes);
      const signed = await signRpmBytes(bytes, signer, tag);
      if (!signed) return undefined;
      await writeFile(to, signed.rpm);
      const signature = armoredSignaturePacket(signed.signature);
      return { sha256: createHash('sha256').update(signed.rpm).digest('hex'), size: signed.rpm.length, signature };
    },
    { concurrency: CONCURRENCY },
  );
  const left = items.filter((_, i) => !out[i]);
  for (const { from, to } of left) await copyFile(from, to);
  await rpmsign(signer, left.map((i) => i.to));
  return out;
}

/** What a copy's source must be: the artifact as built and recorded. */
export interface Expected {
  name: string;
  sha256: string;
  /** Absent: a state written before sizes were kept (the sha256 alone is checked). */
  size?: number;
}

export function assertDigest(e: Expected, bytes: Buffer): void {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== e.sha256 || (e.size !== undefined && bytes.length !== e.size)) {
    throw new DigestMismatchError(`${e.name}: expected sha256 ${e.sha256} (${e.size ?? '?'} bytes), the file has ${sha256} (${bytes.length} bytes)`, { artifact: e.name });
  }
}

/** `rpmsign --resign` of many files, in one GnuPG home and one process per BATCH files. */
export async function rpmsign(signer: Signer, files: string[]): Promise<void> {
  if (files.length === 0) return;
  await signer.withGnupgHome(async (home) => {
    for (let i = 0; i < files.length; i += BATCH) {
      await run('rpmsign', rpmsignArgs(signer.fingerprint, files.slice(i, i + BATCH)), {
        env: { ...process.env, GNUPGHOME: home, LC_ALL: 'C' },
        maxBuffer: 16 * 1024 * 1024,
      }).catch((cause: { stderr?: string; message?: string }) => {
        throw new SigningError(`rpmsign failed: ${(cause.stderr || cause.message || '').trim().split('\n').slice(-3).join(' ')}`, {}, { cause });
      });
    }
  });
}

/**
 * A v4 signature packet our signer just made, ASCII-armored exactly as Signature.armor() would
 * (with the CRC24 footer of a non-v6 signature) without parsing it again: a fifth of the cost.
 */
export const armoredSignaturePacket = (packet: Uint8Array): string => openpgp.armor(openpgp.enums.armor.signature, packet, undefined, undefined, undefined, true);

/** An rpm header's signature packet (hex, as rpm prints it), ASCII-armored as OpenPGP tools read it. */
export async function armoredHeaderSignature(hex: string): Promise<string> {
  return (await openpgp.readSignature({ binarySignature: Buffer.from(hex, 'hex') })).armor();
}

/** The key ID rpm shows for a fingerprint (its last 16 hex digits). */
export const keyIdOf = (fingerprint: string) => fingerprint.slice(-16).toUpperCase();
