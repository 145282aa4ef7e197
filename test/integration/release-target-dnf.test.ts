// The dnf release target against the release-target conformance suite: real
// rpms (the host's rpmbuild), real signatures checked by gpg (repomd.xml.asc)
// and rpm (each header, against the published key), the published repodata read
// back by createrepo_c's own output (primary.xml) as dnf reads it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { dnfTarget } from '../../reconciler/release-targets/dnf/dnf-target.ts';
import type { DnfDistribution } from '../../reconciler/model.ts';
import { releaseTargetConformance } from '../conformance/release-target.ts';
import { liveRpms, writeRpm } from '../helpers/rpm.ts';

const run = promisify(execFile);

const distribution = (name: string): DnfDistribution => ({
  name, file: `distributions/${name}.yaml`, format: 'dnf', architectures: ['amd64'], keep: 2, gate: 'none', gateImage: 'kiln/bookworm-rpm',
});

releaseTargetConformance('dnf', async () => ({
  target: dnfTarget,
  distribution,
  async unit(dir, name, version) {
    const rpms = join(dir, 'rpms');
    await mkdir(rpms, { recursive: true });
    const r = await writeRpm(rpms, { name, version });
    return { name, version, arch: 'amd64', files: [{ name: r.name, sha256: r.sha256, size: r.size, path: r.path }] };
  },
  async verifySigned(root, dist, publicKey) {
    const repo = join(root, dist.name);
    const home = await mkdtemp(join(root, '..', 'gnupg-'));
    const env = { ...process.env, GNUPGHOME: home, LC_ALL: 'C' };
    try {
      await writeFile(join(home, 'key.asc'), publicKey);
      await run('gpg', ['--batch', '--import', join(home, 'key.asc')], { env });
      await run('gpg', ['--batch', '--verify', join(repo, 'repodata/repomd.xml.asc'), join(repo, 'repodata/repomd.xml')], { env });
      // Each rpm header against the key, in an rpm database of its own.
      const db = join(home, 'rpmdb');
      await run('rpmkeys', ['--dbpath', db, '--import', join(home, 'key.asc')], { env });
      for (const { file: f } of liveRpms(repo)) {
        const out = await run('rpmkeys', ['--dbpath', db, '--checksig', '-v', join(repo, f)], { env });
        if (!/Header V4 .* Signature, key ID [0-9a-f]+: OK/.test(out.stdout)) throw new Error(`${f} is not signed by the key:\n${out.stdout}`);
      }
    } finally {
      await run('gpgconf', ['--kill', 'all'], { env }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    }
  },
  async listed(root, dist) {
    const repo = join(root, dist.name);
    const repomd = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
    const primary = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
    const xml = gunzipSync(await readFile(join(repo, primary))).toString('utf8');
    return [...xml.matchAll(/<name>([^<]+)<\/name>[\s\S]*?<version epoch="\d+" ver="([^"]+)" rel="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}-${m[3]}`).sort();
  },
  tamper: async (root, dist) => {
    const p = join(root, dist.name, 'repodata/repomd.xml');
    await writeFile(p, (await readFile(p, 'utf8')).replace('<revision>', '<revision>9'));
  },
}));
