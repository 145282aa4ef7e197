// Corpus cases that cannot be plain files in this repo: built by code.
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { METADATA_LIMITS } from '../../schema/metadata.ts';
import { git } from '../helpers/git.ts';

export interface Expectation {
  file: string;
  line: number;
  col?: number;
  message: string;
}

export interface GeneratedCase {
  name: string;
  files?: Record<string, string | Buffer>;
  delete?: string[];
  expect: Expectation[];
  /** Runs in the work tree before `git add -A`. */
  beforeAdd?: (dir: string) => Promise<void>;
  /** Runs after `git add -A`, before the commit (index-only entries). */
  afterAdd?: (dir: string) => Promise<void>;
}

export const HUGE_BYTES = 50 * 1024 * 1024;

/** 50 MB that would be a YAML error if anyone parsed it: an unclosed flow list. */
export function hugeYaml(): Buffer {
  const buf = Buffer.alloc(HUGE_BYTES, 'x,');
  buf.write('name: [', 0);
  return buf;
}

export const generatedCases: GeneratedCase[] = [
  {
    // 20,000 items in 140 KB: ajv's uniqueItems is quadratic on them (2 s) unless refused first.
    name: 'huge-list',
    files: { 'distributions/testing.yaml': `name: testing\nformat: apt\nsuite: testing\narchitectures: [${Array(20_000).fill('amd64').join(', ')}]\n` },
    expect: [{ file: 'distributions/testing.yaml', line: 4, col: 16, message: 'architectures: a list of 20000 items; the limit is 1000' }],
  },
  {
    // 100,000 nested lists in 200 KB (under the size limit): crashed the process before the depth bound.
    name: 'deep-nesting',
    files: { 'packages/hello.yaml': 'name: ' + '['.repeat(100_000) + ']'.repeat(100_000) + '\n' },
    expect: [{ file: 'packages/hello.yaml', line: 1, col: 7 + METADATA_LIMITS.maxFlowDepth, message: `brackets nested more than ${METADATA_LIMITS.maxFlowDepth} deep (not parsed)` }],
  },
  {
    name: 'huge-file',
    files: { 'packages/hello.yaml': hugeYaml() },
    expect: [{ file: 'packages/hello.yaml', line: 1, message: `file is ${HUGE_BYTES} bytes; metadata files are limited to ${METADATA_LIMITS.maxFileBytes} bytes (not parsed)` }],
  },
  {
    name: 'symlink',
    delete: ['packages/hello.yaml'],
    beforeAdd: async (dir) => {
      await mkdir(join(dir, 'packages'), { recursive: true });
      await symlink('/etc/passwd', join(dir, 'packages/hello.yaml'));
    },
    expect: [{ file: 'packages/hello.yaml', line: 1, message: 'symbolic links are not allowed' }],
  },
  {
    name: 'submodule',
    afterAdd: (dir) => git(dir, 'update-index', '--add', '--cacheinfo', `160000,${'a'.repeat(40)},packages/vendored`).then(() => undefined),
    expect: [{ file: 'packages/vendored', line: 1, message: 'git submodules are not allowed' }],
  },
  {
    name: 'non-utf8',
    files: {
      'distributions/testing.yaml': Buffer.concat([
        Buffer.from('name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64, arm64]\ndescription: caf'),
        Buffer.from([0xe9]),
        Buffer.from('\n'),
      ]),
    },
    expect: [{ file: 'distributions/testing.yaml', line: 5, col: 17, message: 'invalid UTF-8 at byte' }],
  },
  {
    // Classic Mac line endings: YAML saw one line (here, all of it a comment) and said "file is empty".
    name: 'cr-only-line-endings',
    files: { 'distributions/testing.yaml': '# the testing suite\rname: testing\rformat: apt\rsuite: testing\rarchitectures: [amd64, arm64]\r' },
    expect: [{ file: 'distributions/testing.yaml', line: 1, col: 20, message: 'line endings are CR only' }],
  },
  {
    // A Buffer from !!binary was reported as "found a map".
    name: 'binary-tag',
    files: { 'distributions/testing.yaml': 'name: testing\nformat: apt\nsuite: !!binary dGVzdGluZw==\narchitectures: [amd64, arm64]\n' },
    expect: [{ file: 'distributions/testing.yaml', line: 3, message: "YAML tag '!!binary' is not supported" }],
  },
  {
    // Zero-width and bidi characters in names and refs are escaped in every message, never printed raw.
    name: 'invisible-characters',
    files: {
      'distributions/testing.yaml': 'name: testing\nformat: apt\nsuite: "test\u200Bing"\narchitectures: [amd64, arm64]\n',
      'packages/hello.yaml': 'name: hello\nversion: 1.0-1\nsource:\n  git: "@SOURCE@"\n  ref: "ma\u202Ein"\nformat: deb\narchitectures: [amd64]\nrelease: [testing, stable]\n',
    },
    expect: [
      { file: 'distributions/testing.yaml', line: 3, message: "suite: 'test\\u{200B}ing' is not allowed" },
      { file: 'packages/hello.yaml', line: 5, message: "source.ref: no branch, tag or commit named 'ma\\u{202E}in'" },
    ],
  },
  {
    // A gitlink where kiln.yaml should be: refused with its path, like any wrong entry type.
    name: 'config-gitlink',
    delete: ['kiln.yaml'],
    afterAdd: (dir) => git(dir, 'update-index', '--add', '--cacheinfo', `160000,${'a'.repeat(40)},kiln.yaml`).then(() => undefined),
    expect: [{ file: 'kiln.yaml', line: 1, message: 'git submodules are not allowed' }],
  },
  {
    name: 'packages-is-a-file',
    delete: ['packages/hello.yaml'],
    files: { packages: 'name: hello\n' },
    expect: [{ file: 'packages', line: 1, message: 'packages must be a directory, not a file' }],
  },
];
