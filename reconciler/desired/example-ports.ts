// The example's registry distributions name loopback addresses (127.0.0.1:PORT)
// that `kiln up` serves. `kiln init --example` gives each its own free port, so
// two example repos (or a test beside the demo) do not fight over one; the
// ports are then part of the desired state, kept by every later start.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import { freeLoopbackPort } from '../net/free-port.ts';

const LOOPBACK_URL = /^127\.0\.0\.1:\d{1,5}$/;

/** Replace each loopback registry address of the example (in distributions and packages) with one on a free port. */
export async function assignRegistryPorts(dir: string): Promise<Record<string, string>> {
  const files: string[] = [];
  for (const d of [METADATA_LAYOUT.distributionsDir, METADATA_LAYOUT.packagesDir]) {
    for (const f of await readdir(join(dir, d)).catch(() => [] as string[])) if (f.endsWith('.yaml')) files.push(join(dir, d, f));
  }
  const texts = new Map(await Promise.all(files.map(async (f) => [f, await readFile(f, 'utf8')] as const)));
  const moved: Record<string, string> = {};
  for (const text of texts.values()) {
    const doc = parseDocument(text);
    const url = doc.get('url');
    if (doc.get('format') === 'registry' && typeof url === 'string' && LOOPBACK_URL.test(url) && !moved[url]) moved[url] = `127.0.0.1:${await freeLoopbackPort()}`;
  }
  for (const [file, text] of texts) {
    let next = text;
    // An address is followed by '/' (an image reference), a space, a quote or the line end; never by another digit.
    for (const [from, to] of Object.entries(moved)) next = next.replace(new RegExp(`${from.replace(/\./g, '\\.')}(?!\\d)`, 'g'), to);
    if (next !== text) await writeFile(file, next);
  }
  return moved;
}
