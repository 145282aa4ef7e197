// `kiln keys renew` as one function: extend the key, write it back, update the
// public key in the metadata repo's work tree, re-sign every repository the
// key signs (each release target finds its own: release-targets/). Order matters for crashes: the renewed private key is written
// first (it still verifies everything the old one signed), so re-running after
// a crash finishes the job.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Logger } from 'pino';
import { SigningError } from '../../schema/errors.ts';
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import { RELEASE_TARGETS } from '../release-targets/index.ts';
import { loadSigner } from '../signing/signer.ts';
import { readArmoredKey } from './load-signer.ts';
import { renewKey } from './renew-key.ts';
import { PRIVATE_KEY_MODE, PUBLIC_KEY_MODE, writeFileAtomic } from './write-key-file.ts';
import * as openpgp from 'openpgp';

export interface RenewRequest {
  keyFile: string;
  passphrase?: string;
  days: number;
  /** Published repositories root: every ROOT/<dist> signed by the key is re-signed. */
  reposDir?: string;
  /** Metadata repo: its signing.publicKey file (work tree) gets the renewed public key. */
  metadataRepo?: string;
  now: Date;
  log: Logger;
}

export interface RenewReport {
  fingerprint: string;
  expires: string;
  keyFile: string;
  /** Written in the metadata repo's work tree; commit it (signed) yourself. */
  publicKeyFile?: string;
  resigned: Array<{ distribution: string; suites: string[] }>;
  skipped: Array<{ distribution: string; reason: string }>;
}

export async function renewAndResign(req: RenewRequest): Promise<RenewReport> {
  const log = req.log.child({ component: 'keys-renew' });
  const armored = await readArmoredKey({ keyFile: req.keyFile });
  const renewed = await renewKey(armored, req.passphrase, { days: req.days, now: req.now });
  // Check the metadata repo before writing anything, so a bad --repo changes nothing.
  const publicKeyFile = req.metadataRepo ? await publicKeyPath(req.metadataRepo, renewed.fingerprint) : undefined;
  await writeFileAtomic(req.keyFile, renewed.privateKeyArmored, PRIVATE_KEY_MODE);
  log.info({ fingerprint: renewed.fingerprint, expires: renewed.expires.toISOString() }, 'key renewed');
  if (publicKeyFile) await writeFileAtomic(publicKeyFile, renewed.publicKeyArmored, PUBLIC_KEY_MODE);

  const report: RenewReport = {
    fingerprint: renewed.fingerprint,
    expires: renewed.expires.toISOString(),
    keyFile: req.keyFile,
    ...(publicKeyFile ? { publicKeyFile } : {}),
    resigned: [],
    skipped: [],
  };
  if (req.reposDir) {
    const signer = await loadSigner(renewed.privateKeyArmored, req.passphrase, { log });
    try {
      for (const target of RELEASE_TARGETS) {
        for (const repo of await target.findSigned(req.reposDir, renewed.publicKeyArmored)) {
          if (!repo.signedByKey) {
            report.skipped.push({ distribution: repo.distribution, reason: repo.note ?? 'not signed by this key' });
            continue;
          }
          const r = await target.resign(req.reposDir, repo.distribution, signer, req.now);
          log.info({ distribution: repo.distribution, target: target.name, suites: r.parts }, 'repository re-signed');
          report.resigned.push({ distribution: repo.distribution, suites: r.parts });
        }
      }
    } finally {
      await signer.dispose();
    }
  }
  return report;
}

/** The metadata repo's published copy of this key (kiln.yaml signing.publicKey), checked to be the same key. */
async function publicKeyPath(repo: string, fingerprint: string): Promise<string> {
  const cfgPath = join(repo, METADATA_LAYOUT.config);
  let cfg: unknown;
  try {
    cfg = parse(await readFile(cfgPath, 'utf8'));
  } catch (e) {
    throw new SigningError(`--repo: cannot read ${cfgPath}: ${(e as Error).message}`, { file: cfgPath });
  }
  const rel = (cfg as { signing?: { publicKey?: unknown } } | null)?.signing?.publicKey;
  if (typeof rel !== 'string' || !new RegExp('^keys/[A-Za-z0-9._-]+\\.asc$').test(rel)) {
    throw new SigningError(`--repo: ${cfgPath} names no signing.publicKey (keys/<name>.asc) to update`, { file: cfgPath, field: 'signing.publicKey' });
  }
  const path = join(repo, rel);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== undefined) {
    const fpr = await openpgp
      .readKey({ armoredKey: existing })
      .then((k) => k.getFingerprint().toUpperCase())
      .catch(() => undefined);
    if (fpr !== fingerprint) {
      throw new SigningError(`--repo: ${rel} holds ${fpr ?? 'no readable key'}, not ${fingerprint}; refusing to overwrite it`, { file: path });
    }
  }
  return path;
}
