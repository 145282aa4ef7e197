// The check of collected copies hard-linked into a repository (place-rpms.ts): createrepo_c
// reads every package it has not described before in full, to write its sha256 (pkgid) and
// size into primary.xml, so the bytes of a linked copy are compared with what collect recorded
// from that reading rather than read a second time by Kiln. The comparison happens before
// repomd.xml is switched in, and until then no repodata names the new path (paths never change
// content and are never reused while named: served.ts), so no client fetches it; a copy that
// differs is unlinked and signed again from the built rpm, whose digest is checked.
// Where createrepo_c --update reuses an entry of the published repodata instead (same href,
// mtime in whole seconds, size and checksum type), it reads nothing: bytes that changed but
// kept size and mtime would pass. A new path is not named by the published repodata, so that
// happens only for a path reused after its record was lost: such a path is hashed by Kiln
// (reusedPathsDiffering).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { PublishError } from '../../../schema/errors.ts';
import { sha256File } from '../apt/hashes.ts';
import { REPOMD } from './layout.ts';

const gunzipAsync = promisify(gunzip);

const unescapeXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);

type Digest = { sha256: string; size: number };

/** Pure: each package's location href in a primary.xml, with the sha256 and size createrepo_c read (a checksum of another type is left out). */
export function primaryDigests(xml: string): Map<string, Digest> {
  const out = new Map<string, Digest>();
  for (const [pkg] of xml.matchAll(/<package\b[\s\S]*?<\/package>/g)) {
    const sum = /<checksum type="sha256" pkgid="YES">([0-9a-f]{64})<\/checksum>/.exec(pkg);
    const size = /<size package="(\d+)"/.exec(pkg);
    const href = /<location (?:xml:base="[^"]*" )?href="([^"]+)"/.exec(pkg);
    if (sum && size && href) out.set(unescapeXml(href[1]), { sha256: sum[1], size: Number(size[1]) });
  }
  return out;
}

/** Pure: the primary metadata's location in a repomd.xml (repodata/…). */
export function primaryLocation(repomd: string): string | undefined {
  return /<data type="primary">[\s\S]*?<location href="(repodata\/[^"]+)"/.exec(repomd)?.[1];
}

/** The digests in the primary metadata that `repodataDir`/repomd.xml names (gzip, as createrepoArgs asks, or plain xml). */
async function primaryOf(repodataDir: string): Promise<Map<string, Digest>> {
  const at = primaryLocation(await readFile(join(repodataDir, 'repomd.xml'), 'utf8'));
  const file = at && join(repodataDir, at.slice('repodata/'.length));
  if (!file || !(at.endsWith('.gz') || at.endsWith('.xml'))) throw new PublishError(`no gzip or plain primary metadata named by ${join(repodataDir, 'repomd.xml')} (found ${at ?? 'none'})`, { repodata: repodataDir });
  const bytes = await readFile(file);
  return primaryDigests((at.endsWith('.gz') ? await gunzipAsync(bytes) : bytes).toString('utf8'));
}

/** The served paths in `expected` whose bytes, as createrepo_c read them into the staged repodata, are not the expected ones. */
export async function mismatchedCopies(staged: string, expected: Map<string, Digest>): Promise<string[]> {
  if (expected.size === 0) return [];
  const read = await primaryOf(staged);
  return [...expected].filter(([rel, e]) => read.get(rel)?.sha256 !== e.sha256 || read.get(rel)?.size !== e.size).map(([rel]) => rel);
}

/**
 * The paths in `expected` that the published repodata of `repoDir` already names (createrepo_c
 * --update may reuse that entry unread) and whose bytes, hashed here, are not the expected ones.
 */
export async function reusedPathsDiffering(repoDir: string, expected: Map<string, Digest>): Promise<string[]> {
  if (expected.size === 0) return [];
  const published = await primaryOf(join(repoDir, REPOMD, '..')).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return new Map<string, Digest>();
    throw e;
  });
  const named = [...expected].filter(([rel]) => published.has(rel));
  const got = await Promise.all(named.map(([rel]) => sha256File(join(repoDir, rel)).catch(() => undefined)));
  return named.filter(([, e], i) => got[i]?.sha256 !== e.sha256 || got[i]?.size !== e.size).map(([rel]) => rel);
}
