// Real rpm files for tests that need many quickly: the host's rpmbuild (Debian
// `rpm`, installed by scripts/setup-host) builds a spec made by the test, with
// no network and no root needed. The agent path (rpmbuild in the rpm image under
// the build lock-down) is tested in rpm-dnf.test.ts; this is for publishers.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';

const run = promisify(execFile);

export interface WrittenRpm {
  name: string;
  path: string;
  sha256: string;
  size: number;
}

/** A noarch rpm of `name` at `version` ('V-R') in `dir`. */
export async function writeRpm(dir: string, o: { name: string; version: string }): Promise<WrittenRpm> {
  const dash = o.version.lastIndexOf('-');
  const [version, release] = dash > 0 ? [o.version.slice(0, dash), o.version.slice(dash + 1)] : [o.version, '1'];
  const top = await mkdtemp(join(dir, '.rpmbuild-'));
  try {
    const spec = join(top, `${o.name}.spec`);
    await writeFile(spec, rpmSpec({ name: o.name, version, release }));
    await run('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, spec], { env: { ...process.env, HOME: top, LC_ALL: 'C' } });
    const [file] = await readdir(join(top, 'RPMS', 'noarch'));
    const path = join(dir, file);
    await run('mv', [join(top, 'RPMS', 'noarch', file), path]);
    return { name: file, path, ...(await sha256File(path)) };
  } finally {
    await rm(top, { recursive: true, force: true });
  }
}
