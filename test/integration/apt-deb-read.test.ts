// readDebControl on .debs made by the real dpkg-deb (xz and gzip control
// archives), and dpkg-deb accepting what test/helpers/deb.ts builds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { readDebControl } from '../../reconciler/publish/deb/read-deb.ts';
import { writeDeb } from '../helpers/deb.ts';

const run = promisify(execFile);
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-deb-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function dpkgDeb(compression: 'xz' | 'gzip'): Promise<string> {
  const tree = join(dir, `tree-${compression}`);
  await mkdir(join(tree, 'DEBIAN'), { recursive: true });
  await mkdir(join(tree, 'usr/bin'), { recursive: true });
  await writeFile(
    join(tree, 'DEBIAN/control'),
    'Package: real-thing\nVersion: 3:2.1-4\nArchitecture: amd64\nMaintainer: Someone <s@example.org>\nDepends: libc6 (>= 2.36)\nDescription: a real package\n made by dpkg-deb.\n .\n Second paragraph.\n',
  );
  await writeFile(join(tree, 'usr/bin/real-thing'), '#!/bin/sh\necho real\n');
  await chmod(join(tree, 'usr/bin/real-thing'), 0o755);
  // dpkg-deb checks these modes; a strict umask would have narrowed them.
  for (const d of ['', 'DEBIAN', 'usr', 'usr/bin']) await chmod(join(tree, d), 0o755);
  await chmod(join(tree, 'DEBIAN/control'), 0o644);
  const out = join(dir, `real-thing-${compression}.deb`);
  await run('dpkg-deb', [`-Z${compression}`, '--root-owner-group', '--build', tree, out]);
  return out;
}

for (const compression of ['xz', 'gzip'] as const) {
  test(`deb read - control fields of a dpkg-deb -Z${compression} package`, async () => {
    const path = await dpkgDeb(compression);
    const { stdout: members } = await run('ar', ['t', path]);
    assert.match(members, compression === 'xz' ? /control\.tar\.xz/ : /control\.tar\.gz/);
    const f = await readDebControl(await readFile(path), path);
    assert.equal(f.get('Package'), 'real-thing');
    assert.equal(f.get('Version'), '3:2.1-4');
    assert.equal(f.get('Depends'), 'libc6 (>= 2.36)');
    assert.equal(f.get('Description'), 'a real package\n made by dpkg-deb.\n .\n Second paragraph.');
    const { stdout } = await run('dpkg-deb', ['-f', path, 'Package', 'Version']);
    assert.equal(stdout, `Package: ${f.get('Package')}\nVersion: ${f.get('Version')}\n`);
  });
}

test('deb helper - dpkg-deb accepts the generated .deb and lists its script', async () => {
  const d = await writeDeb(dir, { name: 'gen', version: '1.0-1', script: 'echo gen', depends: 'dash' });
  const { stdout: info } = await run('dpkg-deb', ['-f', d.path, 'Package', 'Version', 'Architecture', 'Depends']);
  assert.equal(info, 'Package: gen\nVersion: 1.0-1\nArchitecture: all\nDepends: dash\n');
  const { stdout: contents } = await run('dpkg-deb', ['-c', d.path]);
  assert.match(contents, /^-rwxr-xr-x root\/root +\d+ .* \.\/usr\/bin\/gen$/m);
});
