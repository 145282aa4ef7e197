// The apt release target against the release-target conformance suite: real
// .debs, real signatures checked by gpgv, the published Packages index read as apt reads it.
import { execFile } from 'node:child_process';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { aptTarget } from '../../reconciler/release-targets/apt/apt-target.ts';
import { releaseTargetConformance } from '../conformance/release-target.ts';
import { writeDeb } from '../helpers/deb.ts';
import { aptDistribution } from '../helpers/distribution.ts';

const run = promisify(execFile);

releaseTargetConformance('apt', async () => ({
  target: aptTarget,
  distribution: (name) => aptDistribution(name, { suite: 'stable', codename: `kiln-${name}` }),
  async unit(dir, name, version) {
    const debs = join(dir, 'debs');
    await mkdir(debs, { recursive: true });
    const d = await writeDeb(debs, { name, version });
    return { name, version, arch: 'amd64', files: [{ name: d.name, sha256: d.sha256, size: d.size, path: d.path }] };
  },
  async verifySigned(root, dist, publicKey) {
    const keyFile = join(root, '..', `verify-${dist.name}.asc`);
    const ring = join(root, '..', `verify-${dist.name}.gpg`);
    await writeFile(keyFile, publicKey);
    await run('sh', ['-c', 'gpg --dearmor < "$1" > "$2"', 'sh', keyFile, ring]);
    await run('gpgv', ['--keyring', ring, join(root, dist.name, 'dists', dist.suite, 'InRelease')]);
  },
  async listed(root, dist) {
    const text = await readFile(join(root, dist.name, 'dists', dist.suite, 'main', 'binary-amd64', 'Packages'), 'utf8');
    return text
      .split(/\n\n+/)
      .filter((s) => s.trim())
      .map((s) => `${/^Package: (.+)$/m.exec(s)?.[1]} ${/^Version: (.+)$/m.exec(s)?.[1]}`)
      .sort();
  },
  tamper: (root, dist) => appendFile(join(root, dist.name, 'dists', dist.suite, 'main', 'binary-amd64', 'Packages'), '\nPackage: intruder\n'),
}));
