// The apt release target: a signed apt repository per distribution at
// ROOT/<dist> (publish/apt does the work: atomic switch, pool, by-hash,
// InRelease), install-smoke as its promotion gate (gate/install-smoke.ts).
import { join } from 'node:path';
import { reposSignedBy } from './repos-signed-by.ts';
import { runInstallSmokeGate } from '../../gate/install-smoke.ts';
import type { AptDistribution } from '../../model.ts';
import { keyFileName, suiteDir } from '../../publish/apt/layout.ts';
import { observeRepository } from '../../publish/apt/observe.ts';
import { publishApt, releaseDueForRefresh } from '../../publish/apt/publish.ts';
import { resignRepository } from '../../publish/apt/resign.ts';
import type { ReleaseTarget } from '../target.ts';

export const aptTarget: ReleaseTarget<AptDistribution> = {
  name: 'apt',
  packageFormats: ['deb'],
  async apply(req) {
    const packages = req.units.map((u) => ({ name: u.name, version: u.version, ...(u.binaryVersion ? { binaryVersion: u.binaryVersion } : {}), arch: u.arch, files: u.files }));
    const report = await publishApt({
      root: req.root,
      distribution: req.distribution,
      packages,
      signer: req.signer,
      now: req.now,
      ...(req.log ? { log: req.log } : {}),
      ...(req.inputs ? { inputs: req.inputs } : {}),
      ...(req.fresh ? { fresh: true } : {}),
    });
    return { releaseSha256: report.releaseSha256, changed: report.changed };
  },
  observe: (root, dist, record, cursor) => observeRepository(root, dist, record, cursor),
  changeMarker: (root, dist) => join(root, dist.name, suiteDir(dist.suite), 'InRelease'),
  // Only a Release with Valid-Until expires (no I/O without it).
  dueForResign: async (root, dist, now) => Boolean(dist.validForDays) && (await releaseDueForRefresh(root, dist, now)),
  async resign(root, name, signer, now) {
    const r = await resignRepository(root, name, signer, now);
    return { parts: Object.keys(r.releases) };
  },
  findSigned: (root, publicKeyArmored) => reposSignedBy(root, publicKeyArmored),
  gate: (req) =>
    runInstallSmokeGate({
      docker: req.docker,
      image: req.image,
      repoRoot: req.root,
      fromDist: req.from,
      keyPath: join(req.root, req.from.name, keyFileName(req.from.name)),
      package: req.package,
      version: req.version,
      ...(req.installVersion ? { installVersion: req.installVersion } : {}),
      ...(req.smoke ? { smoke: req.smoke } : {}),
      timeoutSeconds: req.timeoutSeconds,
      log: req.log,
      distribution: req.distribution,
    }),
  contentType(rel) {
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    if (base.endsWith('.deb')) return 'application/vnd.debian.binary-package';
    return /^(In)?Release$|^Packages$|^Sources$|\.dsc$/.test(base) ? 'text/plain; charset=utf-8' : undefined;
  },
  // Pool files and by-hash indexes never change under their name.
  immutable: (rel) => /(^|\/)pool\/|\/by-hash\//.test(rel),
};
