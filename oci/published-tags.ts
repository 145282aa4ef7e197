// ROOT/<distribution>/tags.json (+ tags.json.asc): the tags a registry distribution
// publishes, as Kiln last wrote them. Written atomically (temp file, rename) and
// only when the content changes, so its stat is the quiet pass's change marker.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublishedTags } from '../schema/oci.ts';
import { validators } from '../schema/validate.ts';

export const TAGS_FILE = 'tags.json';

/** Canonical bytes: tags sorted, so the same content always has the same sha256. */
export function serialiseTags(p: PublishedTags): string {
  const order = (a: { repository: string; tag: string }, b: { repository: string; tag: string }) => (a.repository + ':' + a.tag).localeCompare(b.repository + ':' + b.tag);
  const tags = [...p.tags].sort(order);
  const stale = [...(p.stale ?? [])].sort(order);
  return JSON.stringify({ registry: p.registry, tags, ...(stale.length ? { stale } : {}) }, null, 2) + '\n';
}

export async function readPublishedTags(distDir: string): Promise<{ tags: PublishedTags; sha256: string } | undefined> {
  const text = await readFile(join(distDir, TAGS_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!validators.publishedTags(v)) return undefined;
  return { tags: v, sha256: createHash('sha256').update(text).digest('hex') };
}

/** Write (when changed) and sign; returns the sha256 of tags.json and whether it changed. */
export async function writePublishedTags(distDir: string, p: PublishedTags, signDetached: (text: string) => Promise<string>): Promise<{ sha256: string; changed: boolean }> {
  const text = serialiseTags(p);
  const sha256 = createHash('sha256').update(text).digest('hex');
  const old = await readFile(join(distDir, TAGS_FILE), 'utf8').catch(() => undefined);
  if (old === text) return { sha256, changed: false };
  await mkdir(distDir, { recursive: true });
  const sig = await signDetached(text);
  await writeFile(join(distDir, `.${TAGS_FILE}.asc.tmp`), sig);
  await writeFile(join(distDir, `.${TAGS_FILE}.tmp`), text);
  await rename(join(distDir, `.${TAGS_FILE}.asc.tmp`), join(distDir, `${TAGS_FILE}.asc`));
  await rename(join(distDir, `.${TAGS_FILE}.tmp`), join(distDir, TAGS_FILE));
  return { sha256, changed: true };
}

/** Sign tags.json again (another key), content unchanged. */
export async function resignPublishedTags(distDir: string, signDetached: (text: string) => Promise<string>): Promise<void> {
  const text = await readFile(join(distDir, TAGS_FILE), 'utf8');
  await writeFile(join(distDir, `.${TAGS_FILE}.asc.tmp`), await signDetached(text));
  await rename(join(distDir, `.${TAGS_FILE}.asc.tmp`), join(distDir, `${TAGS_FILE}.asc`));
}
