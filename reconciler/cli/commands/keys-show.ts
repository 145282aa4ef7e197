// kiln keys show FILE: what an armored OpenPGP key is, as openpgp.js reads it
// (the same reader the signer uses), without decrypting anything.
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { NotFoundError, UsageError } from '../../../schema/errors.ts';
import type { Command } from '../command.ts';

interface KeyPart {
  keyId: string;
  fingerprint: string;
  algorithm: string;
  created: string;
}

export interface KeyInfo extends KeyPart {
  file: string;
  kind: 'public' | 'private';
  /** Private keys only: is the secret material passphrase-protected? */
  protected?: boolean;
  /** OpenPGP key version (4 is what gpg 2.2 reads). */
  version: number;
  userIds: string[];
  /** ISO time, or null when the key never expires. */
  expires: string | null;
  subkeys: KeyPart[];
}

function algorithm(info: openpgp.AlgorithmInfo): string {
  return [info.algorithm, info.curve, info.bits ? `${info.bits} bits` : undefined].filter(Boolean).join(' ');
}

function part(k: { getKeyID(): openpgp.KeyID; getFingerprint(): string; getAlgorithmInfo(): openpgp.AlgorithmInfo; getCreationTime(): Date }): KeyPart {
  return {
    keyId: k.getKeyID().toHex().toUpperCase(),
    fingerprint: k.getFingerprint().toUpperCase(),
    algorithm: algorithm(k.getAlgorithmInfo()),
    created: k.getCreationTime().toISOString(),
  };
}

export async function describeKey(file: string, armored: string): Promise<KeyInfo> {
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch (e) {
    throw new UsageError(`${file}: not an armored OpenPGP key (${(e as Error).message})`, { file });
  }
  const exp = await key.getExpirationTime().catch(() => null);
  return {
    file,
    kind: key.isPrivate() ? 'private' : 'public',
    ...(key.isPrivate() ? { protected: !key.isDecrypted() } : {}),
    version: key.keyPacket.version,
    userIds: key.getUserIDs(),
    ...part(key),
    expires: exp instanceof Date ? exp.toISOString() : null,
    subkeys: key.getSubkeys().map(part),
  };
}

function human(k: KeyInfo): string {
  const lines = [
    `${k.kind} key, OpenPGP v${k.version}${k.protected ? ', passphrase-protected' : ''}`,
    `  fingerprint  ${k.fingerprint}`,
    ...k.userIds.map((u) => `  user id      ${u}`),
    `  algorithm    ${k.algorithm}`,
    `  created      ${k.created}`,
    `  expires      ${k.expires ?? 'never'}`,
    ...k.subkeys.map((s) => `  subkey       ${s.fingerprint} (${s.algorithm}, created ${s.created})`),
  ];
  return lines.join('\n');
}

const command: Command = {
  path: ['keys', 'show'],
  summary: 'Show an armored OpenPGP key: fingerprint, user ids, algorithm, dates, public or private.',
  options: {},
  positionals: [{ name: 'FILE', description: 'An armored public or private key (.asc).', required: true }],
  examples: ['kiln keys show keys/kiln-reconciler.pub.asc', 'kiln keys show --json keys/kiln-reconciler.key.asc'],
  async run(args) {
    const file = args.positionals[0];
    let armored: string;
    try {
      armored = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${file}: no such file`, { file });
      throw new UsageError(`${file}: ${(e as Error).message}`, { file });
    }
    const info = await describeKey(file, armored);
    return { data: info, human: human(info) };
  },
};
export default command;
