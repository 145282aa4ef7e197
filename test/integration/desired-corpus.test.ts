// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// The bad-input corpus (test/corpus) as real git repos: every case must be
// refused with its exact file:line and message, and nothing written.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { InvalidMetadataError, type Diagnostic } from '../../schema/errors.ts';
import { STATUS_REF } from '../../schema/status.ts';
import { readDesired } from '../../reconciler/desired/read-desired.ts';
import { generatedCases, HUGE_BYTES, type Expectation, type GeneratedCase } from '../corpus/generated.ts';
import { git, makeRepo, writeFiles, type Files } from '../helpers/git.ts';

const CORPUS = new URL('../corpus/', import.meta.url).pathname;
const KILN = new URL('../../bin/kiln.js', import.meta.url).pathname;

let work: string;
let sourceRepo: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kiln-corpus-'));
  sourceRepo = (await makeRepo({ 'README': 'source' }, { dir: await mkdtemp(join(work, 'src-')) })).dir;
});
after(() => rm(work, { recursive: true, force: true }));

async function readTree(root: string): Promise<Files> {
  const out: Files = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[relative(root, full)] = await readFile(full);
  }
  return out;
}

/** Replace @SOURCE@ with the real source repo in text files. */
function withSource(files: Files): Files {
  const out: Files = {};
  for (const [p, c] of Object.entries(files)) {
    const text = Buffer.isBuffer(c) && c.length < 1_000_000 ? c.toString('utf8') : c;
    out[p] = typeof text === 'string' && text.includes('@SOURCE@') ? text.replaceAll('@SOURCE@', sourceRepo) : c;
  }
  return out;
}

interface Case extends GeneratedCase {}

async function fileCases(): Promise<Case[]> {
  const names = (await readdir(CORPUS, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name !== 'base').map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const spec = JSON.parse(await readFile(join(CORPUS, name, 'case.json'), 'utf8')) as { delete?: string[]; expect: Expectation[] };
      const hasFiles = await stat(join(CORPUS, name, 'files')).then(() => true, () => false);
      return { name, delete: spec.delete, expect: spec.expect, files: hasFiles ? await readTree(join(CORPUS, name, 'files')) : {} };
    }),
  );
}

/** base + case files -> a real git repo on main; returns its dir. */
async function buildRepo(c: Case): Promise<string> {
  const dir = await mkdtemp(join(work, `${c.name}-`));
  const files = { ...(await readTree(join(CORPUS, 'base'))), ...(c.files ?? {}) };
  for (const d of c.delete ?? []) delete files[d];
  await git(dir, 'init', '-q', '-b', 'main');
  await writeFiles(dir, withSource(files));
  await c.beforeAdd?.(dir);
  await git(dir, 'add', '-A');
  await c.afterAdd?.(dir);
  await git(dir, 'commit', '-q', '-m', c.name);
  return dir;
}

function assertExpected(c: Case, diagnostics: Diagnostic[]): void {
  for (const want of c.expect) {
    const hit = diagnostics.find(
      (d) => d.file === want.file && d.line === want.line && (want.col === undefined || d.col === want.col) && d.message.includes(want.message),
    );
    assert.ok(hit, `${c.name}: expected ${want.file}:${want.line}${want.col ? ':' + want.col : ''} "${want.message}", got:\n${diagnostics.map((d) => `  ${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n')}`);
  }
}

/** Refs, HEAD, index and work tree, to compare before and after a read. */
async function repoState(dir: string): Promise<string> {
  return [await git(dir, 'for-each-ref', '--format=%(refname) %(objectname)'), await git(dir, 'rev-parse', 'HEAD'), await git(dir, 'status', '--porcelain')].join('\n');
}

async function assertNothingWritten(dir: string, before: string): Promise<void> {
  const refs = await git(dir, 'for-each-ref', '--format=%(refname)');
  assert.deepEqual(refs.split('\n'), ['refs/heads/main'], `no ${STATUS_REF} or other ref created`);
  assert.equal(await repoState(dir), before, 'refs, index and work tree untouched');
}

const cases = [...(await fileCases()), ...generatedCases];

test('desired corpus - at least 20 hostile or broken repos', () => {
  assert.ok(cases.length >= 20, `${cases.length} cases`);
});

test('desired corpus - the base repo is valid', async () => {
  const dir = await buildRepo({ name: 'base', expect: [] });
  const { state, warnings } = await readDesired({ dir, rev: 'main', cache: {} });
  assert.deepEqual([...state.packages.keys()], ['hello']);
  assert.deepEqual([...state.distributions.keys()].sort(), ['stable', 'testing']);
  assert.deepEqual(warnings, []);
});

for (const c of cases) {
  test(`desired corpus - ${c.name} is refused with file:line and message`, async () => {
    const dir = await buildRepo(c);
    const before = await repoState(dir);
    const err = await readDesired({ dir, rev: 'HEAD', cache: {} }).then(
      () => assert.fail(`${c.name}: readDesired accepted it`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InvalidMetadataError, `${c.name}: ${String(err)}`);
    assert.equal(err.code, 'KILN_INVALID_METADATA');
    assertExpected(c, err.diagnostics);
    await assertNothingWritten(dir, before);
  });
}

test('desired corpus - the 50 MB file is refused by its size, never parsed', async () => {
  const c = generatedCases.find((x) => x.name === 'huge-file')!;
  const dir = await buildRepo(c);
  const err = (await readDesired({ dir, rev: 'HEAD', cache: {} }).catch((e: unknown) => e)) as InvalidMetadataError;
  const forFile = err.diagnostics.filter((d) => d.file === 'packages/hello.yaml');
  // The content is an unclosed YAML list: had it been parsed there would be a YAML error too.
  assert.equal(forFile.length, 1, JSON.stringify(forFile));
  assert.match(forFile[0].message, new RegExp(`${HUGE_BYTES} bytes.*not parsed`));
});

test('desired corpus - the alias bomb is stopped by the alias limit', async () => {
  const c = cases.find((x) => x.name === 'alias-bomb')!;
  const dir = await buildRepo(c);
  const err = (await readDesired({ dir, rev: 'HEAD', cache: {} }).catch((e: unknown) => e)) as InvalidMetadataError;
  assert.deepEqual(
    err.diagnostics.filter((d) => d.file === 'packages/hello.yaml').map((d) => d.message.split(':')[0]),
    ['too many YAML alias expansions (limit 50)'],
  );
});

const run = promisify(execFile);

for (const name of ['unknown-key', 'duplicate-package-names', 'promote-cycle', 'invisible-characters']) {
  test(`desired corpus - kiln validate exits 1 and prints ${name} as file:line:col`, async () => {
    const c = cases.find((x) => x.name === name)!;
    const dir = await buildRepo(c);
    const before = await repoState(dir);
    const res = await run(process.execPath, [KILN, 'validate', '--repo', dir], { env: { ...process.env, KILN_LOG_LEVEL: 'warn' } }).then(
      () => assert.fail('exit 0'),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(res.code, 1);
    for (const want of c.expect) {
      assert.ok(
        res.stdout.split('\n').some((l) => l.startsWith(`${want.file}:${want.line}:${want.col ?? ''}`) && l.includes(want.message)),
        `missing ${want.file}:${want.line} ${want.message} in:\n${res.stdout}`,
      );
    }
    assert.doesNotMatch(res.stdout, /[\u200B\u202E]/, 'invisible characters are escaped, never printed raw');
    const json = await run(process.execPath, [KILN, 'validate', '--repo', dir, '--json'], { env: { ...process.env, KILN_LOG_LEVEL: 'warn' } }).then(
      () => assert.fail('exit 0'),
      (e: { code: number; stdout: string }) => e,
    );
    const data = JSON.parse(json.stdout) as { ok: boolean; commit: string; diagnostics: Diagnostic[] };
    assert.equal(data.ok, false);
    assert.equal(data.commit, await git(dir, 'rev-parse', 'HEAD'));
    assertExpected(c, data.diagnostics);
    await assertNothingWritten(dir, before);
  });
}
