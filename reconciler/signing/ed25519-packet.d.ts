// Types of ed25519-packet.js (plain JavaScript: it runs in the sign threads, which start without tsx).
import type { KeyObject } from 'node:crypto';
import type { AnyKeyPacket } from 'openpgp';

/** An openpgp.js raw notation (what SignaturePacket.rawNotations holds). */
export interface RawNotation {
  name: string;
  value: Uint8Array;
  humanReadable: boolean;
  critical: boolean;
}

/** The code of an error about the key itself (SigningKeyError's). */
export const KEY_ERROR: 'KILN_SIGNING_KEY';

export function nodeEd25519Key(keyPacket: AnyKeyPacket): KeyObject | undefined;

export function signEd25519Packet(keyPacket: AnyKeyPacket, nodeKey: KeyObject, hashAlgorithm: number, data: Uint8Array, date: Date, notations: RawNotation[]): Uint8Array;
