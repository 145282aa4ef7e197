// The check of collected copies hard-linked into a repository (place-rpms.ts): createrepo_c
// reads every package it has not described before in full, to write its sha256 (pkgid) and
// size into primary.xml, so the bytes of a linked copy are compared with what collect recorded
// from that reading rather than read a second time by Kiln. The guarantee stays "verified
// before published": the comparison happens before repomd.xml is switched in, and until then
// no repodata names the new path (paths never change content and are never reused while
// named: served.ts), so no client fetches it; a copy that differs is unlinked and signed
// again from the built rpm, whose digest is checked. createrepo_c --update reuses an old
// description only for a file of the same name, size and mtime as one it described (and
// whose checksum this check or sign-rpms.ts then proved): a cache entry replaced by other
// bytes is a new inode with a new mtime.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { PublishError } from '../../../schema/errors.ts';

const gunzipAsync = promisify(gunzip);

const unescapeXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);

/** Pure: each package's location href in a primary.xml, with the sha256 and size createrepo_c read (a checksum of another type is left out). */
export function primaryDigests(xml: string): Map<string, { sha256: string; size: number }> {
  const out = new Map<string, { sha256: string; size: number }>();
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

/** The served paths in `expected` whose bytes, as createrepo_c read them into the staged repodata, are not the expected ones. */
export async function mismatchedCopies(staged: string, expected: Map<string, { sha256: string; size: number }>): Promise<string[]> {
  if (expected.size === 0) return [];
  const at = primaryLocation(await readFile(join(staged, 'repomd.xml'), 'utf8'));
  if (!at?.endsWith('.gz')) throw new PublishError(`createrepo_c wrote no gzip primary metadata in ${staged}`, { staged });
  const read = primaryDigests((await gunzipAsync(await readFile(join(staged, at.slice('repodata/'.length))))).toString('utf8'));
  return [...expected].filter(([rel, e]) => read.get(rel)?.sha256 !== e.sha256 || read.get(rel)?.size !== e.size).map(([rel]) => rel);
}
