// `kiln init`: a new metadata repo (and, with the example, its source repo),
// each a git repository on branch main with one commit. Written with
// isomorphic-git, so it needs no git binary or user.name configuration; the
// author is passed in.
import fs from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import git from 'isomorphic-git';
import { parseDocument } from 'yaml';
import { UsageError } from '../../schema/errors.ts';
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import { assignRegistryPorts } from './example-ports.ts';

export const EXAMPLES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples');

export interface Author {
  name: string;
  email: string;
}

export interface ScaffoldResult {
  metadataRepo: string;
  commit: string;
  sources: Array<{ name: string; path: string; commit: string }>;
  /** The trusted committer key, when the repo was initialised with one. */
  committer?: { keyFile: string; fingerprint: string };
}

/** A committer who signs the first commit; kiln.yaml then trusts only this key. */
export interface Committer {
  /** Slug for keys/<slug>.asc. */
  slug: string;
  fingerprint: string;
  publicKeyArmored: string;
  signDetached(payload: string): Promise<string>;
}

/** DIR must not exist or be empty. */
async function assertEmpty(dir: string, what: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new UsageError(`${what} ${dir} exists and is not a directory`);
    throw e;
  }
  if (entries.length > 0) throw new UsageError(`${what} ${dir} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}); choose a new directory`);
}

/** git init -b main, add everything, commit (signed when a committer is given); returns the commit id. */
async function commitAll(dir: string, message: string, author: Author, committer?: Committer): Promise<string> {
  await git.init({ fs, dir, defaultBranch: 'main' });
  await git.add({ fs, dir, filepath: '.' });
  if (!committer) return git.commit({ fs, dir, message, author });
  return git.commit({
    fs,
    dir,
    message,
    author,
    signingKey: committer.fingerprint,
    onSign: async ({ payload }) => ({ signature: await committer.signDetached(payload) }),
  });
}

/** Trust exactly the committer's key: keys/<slug>.asc, and signatures required from the first commit on. */
async function trustCommitter(dir: string, committer: Committer): Promise<string> {
  const keyFile = `${METADATA_LAYOUT.keysDir}/${committer.slug}.asc`;
  await mkdir(join(dir, METADATA_LAYOUT.keysDir), { recursive: true });
  await writeFile(join(dir, keyFile), committer.publicKeyArmored);
  const config = join(dir, METADATA_LAYOUT.config);
  const text = (await readFile(config, 'utf8'))
    .replace(/^(\s+keys:[ \t]*)\[\]/m, (_, lead: string) => `${lead}[${keyFile}]`)
    .replace(/^(\s+requireSignedCommits:[ \t]*)false/m, (_, lead: string) => `${lead}true`);
  const doc = parseDocument(text);
  if (doc.getIn(['trust', 'requireSignedCommits']) !== true || !JSON.stringify(doc.getIn(['trust', 'keys'])).includes(keyFile)) {
    throw new Error(`could not set the trust section of ${config}`);
  }
  await writeFile(config, text);
  return keyFile;
}

/**
 * Point the example package's source.git at `target`. A line edit keeps the
 * template's layout and comments byte for byte (yaml's toString reflows them);
 * the result is parsed back to prove the edit landed.
 */
async function rewriteSourceGit(file: string, target: string): Promise<void> {
  const text = (await readFile(file, 'utf8')).replace(/^(\s+git:[ \t]*)\S+/m, (_, lead: string) => lead + JSON.stringify(target));
  if (parseDocument(text).getIn(['source', 'git']) !== target) throw new Error(`could not set source.git in ${file}`);
  await writeFile(file, text);
}

async function writeLayout(dir: string): Promise<void> {
  const src = join(EXAMPLES_DIR, 'metadata');
  await mkdir(dir, { recursive: true });
  await cp(join(src, METADATA_LAYOUT.config), join(dir, METADATA_LAYOUT.config));
  await mkdir(join(dir, METADATA_LAYOUT.keysDir), { recursive: true });
  await cp(join(src, METADATA_LAYOUT.keysDir, 'README.md'), join(dir, METADATA_LAYOUT.keysDir, 'README.md'));
  // git keeps no empty directories: a .gitkeep holds the layout open.
  for (const d of [METADATA_LAYOUT.packagesDir, METADATA_LAYOUT.distributionsDir]) {
    await mkdir(join(dir, d), { recursive: true });
    await writeFile(join(dir, d, '.gitkeep'), '');
  }
}

/** Where the example's source repos go: next to DIR, as DIR-sources/<name>. */
export function sourcesDirFor(metadataDir: string): string {
  return `${resolve(metadataDir)}-sources`;
}

/** Declare the reconciler's release key: keys/<slug>.asc and kiln.yaml signing.publicKey. */
async function declareReleaseKey(dir: string, key: { slug: string; publicKeyArmored: string }): Promise<string> {
  const keyFile = `${METADATA_LAYOUT.keysDir}/${key.slug}.asc`;
  await mkdir(join(dir, METADATA_LAYOUT.keysDir), { recursive: true });
  await writeFile(join(dir, keyFile), key.publicKeyArmored);
  const config = join(dir, METADATA_LAYOUT.config);
  const text = await readFile(config, 'utf8');
  const section = `signing:\n  publicKey: ${keyFile}`;
  const next = /^# signing:\n#\s+publicKey:.*$/m.test(text) ? text.replace(/^# signing:\n#\s+publicKey:.*$/m, section) : `${text.trimEnd()}\n\n${section}\n`;
  if (parseDocument(next).getIn(['signing', 'publicKey']) !== keyFile) throw new Error(`could not set signing.publicKey in ${config}`);
  await writeFile(config, next);
  return keyFile;
}

export async function scaffold(opts: {
  dir: string;
  example: boolean;
  author: Author;
  committer?: Committer;
  releaseKey?: { slug: string; publicKeyArmored: string };
}): Promise<ScaffoldResult> {
  const dir = resolve(opts.dir);
  const sourcesDir = sourcesDirFor(dir);
  await assertEmpty(dir, 'metadata repo directory');
  const exampleSources = opts.example ? (await readdir(join(EXAMPLES_DIR, 'sources'))).sort() : [];
  for (const name of exampleSources) await assertEmpty(join(sourcesDir, name), 'example source directory');

  const sources: ScaffoldResult['sources'] = [];
  if (!opts.example) {
    await writeLayout(dir);
  } else {
    await cp(join(EXAMPLES_DIR, 'metadata'), dir, { recursive: true });
    // One source repo per example package (hello-kiln, the libkilnhello + kilnhello set, the kiln-base and hello-kiln-image images).
    for (const name of exampleSources) {
      const sourceRepo = join(sourcesDir, name);
      await cp(join(EXAMPLES_DIR, 'sources', name), sourceRepo, { recursive: true });
      sources.push({ name, path: sourceRepo, commit: await commitAll(sourceRepo, `${name}: example source`, opts.author) });
      // Relative, so the pair of directories can move together.
      await rewriteSourceGit(join(dir, METADATA_LAYOUT.packagesDir, `${name}.yaml`), relative(dir, sourceRepo) || '.');
    }
    await assignRegistryPorts(dir);
  }
  const keyFile = opts.committer ? await trustCommitter(dir, opts.committer) : undefined;
  if (opts.releaseKey) await declareReleaseKey(dir, opts.releaseKey);
  const commit = await commitAll(dir, opts.example ? `kiln init --example (${basename(dir)})` : 'kiln init', opts.author, opts.committer);
  return { metadataRepo: dir, commit, sources, ...(opts.committer && keyFile ? { committer: { keyFile, fingerprint: opts.committer.fingerprint } } : {}) };
}
