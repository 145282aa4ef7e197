// The trust set as of one commit: kiln.yaml's trust section plus the key files
// it lists, read from that commit's tree (never the work tree). Parsed keys
// are memoised by blob id, so walking a chain re-reads nothing that did not change.
import { listFiles, readBlobText, type GitCache } from '../git/tree.ts';
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import type { TrustSet } from './policy.ts';
import { parsePublicKeyFile, type ParsedKeyFile, type TrustedKey } from './public-keys.ts';
import { parseTrustConfig } from './trust-config.ts';

export interface TrustAtCommit {
  set: TrustSet;
  /** The parsed trusted keys, for signature checks. */
  keys: TrustedKey[];
}

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
    const byPath = new Map(files.map((f) => [f.path, f.oid]));
    const cfgOid = byPath.get(METADATA_LAYOUT.config);
    const config = parseTrustConfig(cfgOid ? await readBlobText(this.dir, cfgOid, this.cache) : undefined);
    const problems = [...config.problems];
    const keys: TrustedKey[] = [];
    for (const path of config.keys) {
      const oid = byPath.get(path);
      if (!oid) {
        problems.push(`${path} is listed in trust.keys but missing`);
        continue;
      }
      const parsed = await this.parseKey(path, oid);
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

  private parseKey(path: string, oid: string): Promise<ParsedKeyFile> {
    let p = this.keyCache.get(oid);
    if (!p) {
      p = readBlobText(this.dir, oid, this.cache).then((text) => parsePublicKeyFile(path, text));
      this.keyCache.set(oid, p);
    }
    return p;
  }
}
