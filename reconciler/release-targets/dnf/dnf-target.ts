// The dnf release target: a signed dnf repository per distribution at
// ROOT/<dist> (publish/dnf does the work: rpm header signatures, createrepo_c,
// signed repomd.xml, atomic switch, prune), install-smoke with dnf in a clean
// container as its promotion gate (gate/dnf-install-smoke.ts).
import { basename, join } from 'node:path';
import { runDnfInstallSmokeGate } from '../../gate/dnf-install-smoke.ts';
import type { DnfDistribution } from '../../model.ts';
import { HASHED_REPODATA, REPOMD, RESIGNED_RPM } from '../../publish/dnf/layout.ts';
import { observeDnf } from '../../publish/dnf/observe.ts';
import { publishDnf } from '../../publish/dnf/publish.ts';
import { servedBaseUrl } from '../../publish/dnf/repo-file.ts';
import { resignDnf } from '../../publish/dnf/resign.ts';
import { dnfReposSignedBy } from '../../publish/dnf/signed-by.ts';
import type { ReleaseTarget } from '../target.ts';

export const dnfTarget: ReleaseTarget<DnfDistribution> = {
  name: 'dnf',
  packageFormats: ['rpm'],
  async apply(req) {
    const packages = req.units.flatMap((u) => u.files.map((f) => ({ ...f, package: u.name, version: u.version })));
    const baseUrl = servedBaseUrl(req.distribution, req.reposUrl);
    const report = await publishDnf({
      root: req.root,
      distribution: { name: req.distribution.name, ...(baseUrl ? { baseUrl } : {}), ...(req.distribution.title ? { title: req.distribution.title } : {}) },
      packages,
      signer: req.signer,
      now: req.now,
      ...(req.log ? { log: req.log } : {}),
      ...(req.fresh ? { fresh: true } : {}),
    });
    const signed = report.rpms.map((r) => ({ name: basename(r.file), built: r.built, sha256: r.sha256, size: r.size, signingKey: r.keyFingerprint, ...(r.signature ? { signature: r.signature } : {}) }));
    return { releaseSha256: report.repomdSha256, changed: report.changed, signed };
  },
  observe: (root, dist, record, cursor) => observeDnf(root, dist.name, record, cursor),
  changeMarker: (root, dist) => join(root, dist.name, REPOMD),
  // repomd.xml carries no expiry: signatures are refreshed only when the key changes.
  dueForResign: async () => false,
  resign: (root, name, signer, now) => resignDnf(root, name, signer, now),
  findSigned: (root, publicKeyArmored) => dnfReposSignedBy(root, publicKeyArmored),
  gate: (req) =>
    runDnfInstallSmokeGate({
      docker: req.docker,
      image: req.from.gateImage,
      root: req.root,
      from: req.from.name,
      distribution: req.distribution,
      package: req.package,
      version: req.version,
      ...(req.smoke ? { smoke: req.smoke } : {}),
      timeoutSeconds: req.timeoutSeconds,
      log: req.log,
    }),
  contentType(rel) {
    if (rel.endsWith('.rpm')) return 'application/x-rpm';
    if (rel.endsWith('.xml')) return 'application/xml';
    if (rel.endsWith('/repomd.xml.asc')) return 'application/pgp-signature';
    if (/(^|\/)RPM-GPG-KEY-[^/]+$/.test(rel)) return 'application/pgp-keys';
    if (rel.endsWith('.repo')) return 'text/plain; charset=utf-8';
    return undefined;
  },
  // Checksum-named repodata and re-signed rpms (packages/<hex16>/…) never change under their names;
  // packages/<file> may be served again with another signature after it was pruned.
  immutable: (rel) => [rel, rel.replace(/^[^/]+\//, '')].some((r) => HASHED_REPODATA.test(r) || RESIGNED_RPM.test(r)),
};
