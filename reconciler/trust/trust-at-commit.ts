// The trust set as of one commit: kiln.yaml's trust section plus the key files
// it lists, read from that commit's tree (never the work tree). Parsed keys
// are memoised by blob id, so walking a chain re-reads nothing that did not change.
// Anything unusable there (not a regular file, too large) is a problem of that
// trust set, never an exception: the policy then trusts nothing it cannot read.
import { fileAt, listFiles, readBlobWithin, type GitCache } from '../git/tree.ts';
import { METADATA_LAYOUT, METADATA_LIMITS } from '../../schema/metadata.ts';
import type { TrustSet } from './policy.ts';
import { parsePublicKeyFile, type ParsedKeyFile, type TrustedKey } from './public-keys.ts';
import { parseTrustConfig } from './trust-config.ts';

export interface TrustAtCommit {
  set: TrustSet;
  /** The parsed trusted keys, for signature checks. */
  keys: TrustedKey[];
}

/** An armored public key with a few subkeys and signatures is a few KiB. */
const MAX_KEY_BYTES = 256 * 1024;

export class TrustReader {
  private readonly keyCache = new Map<string, Promise<ParsedKeyFile>>();
  private readonly setCache = new Map<string, Promise<TrustAtCommit>>();

  constructor(
    private readonly dir: string,
    private readonly cache: GitCache,
  ) {}

  at(commit: string): Promise<TrustAtCommit> {
    let p = this.setCache.get(commit);
    if (!p) {
      p = this.read(commit);
      this.setCache.set(commit, p);
    }
    return p;
  }

  private async read(commit: string): Promise<TrustAtCommit> {
    const files = await listFiles(this.dir, commit, this.cache, { prefixes: [METADATA_LAYOUT.config, METADATA_LAYOUT.keysDir] });
    const cfg = await this.readText(fileAt(files, METADATA_LAYOUT.config));
    const config = 'problem' in cfg ? { ...parseTrustConfig(undefined), problems: [`${cfg.problem}: no key is trusted`] } : parseTrustConfig(cfg.text);
    const problems = [...config.problems];
    const keys: TrustedKey[] = [];
    for (const path of config.keys) {
      const entry = fileAt(files, path);
      if (!entry || 'problem' in entry) {
        problems.push(entry ? `${entry.problem}; it is not trusted` : `${path} is listed in trust.keys but missing`);
        continue;
      }
      const parsed = await this.parseKey(path, entry.oid);
      if (parsed.ok) keys.push({ ...parsed.key, path });
      else problems.push(parsed.problem);
    }
    const set: TrustSet = {
      at: commit,
      requireSignedCommits: config.requireSignedCommits,
      keys: new Map(keys.map((k) => [k.fingerprint, { fingerprint: k.fingerprint, userId: k.userId, path: k.path }])),
      problems,
    };
    return { set, keys };
  }

  /** kiln.yaml's text; undefined text when there is none. */
  private async readText(entry: ReturnType<typeof fileAt>): Promise<{ text?: string } | { problem: string }> {
    if (!entry) return {};
    if ('problem' in entry) return entry;
    const blob = await readBlobWithin(this.dir, entry.oid, this.cache, METADATA_LIMITS.maxFileBytes);
    if (!blob.bytes) return { problem: `${METADATA_LAYOUT.config} is ${blob.size} bytes, over the ${METADATA_LIMITS.maxFileBytes}-byte limit` };
    return { text: Buffer.from(blob.bytes).toString('utf8') };
  }

  private parseKey(path: string, oid: string): Promise<ParsedKeyFile> {
    let p = this.keyCache.get(oid);
    if (!p) {
      p = readBlobWithin(this.dir, oid, this.cache, MAX_KEY_BYTES).then((blob) =>
        blob.bytes ? parsePublicKeyFile(path, Buffer.from(blob.bytes).toString('utf8')) : { ok: false as const, problem: `${path} is ${blob.size} bytes, over the ${MAX_KEY_BYTES}-byte limit for a key file` },
      );
      this.keyCache.set(oid, p);
    }
    return p;
  }
}
