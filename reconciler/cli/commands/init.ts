// kiln init [--example] DIR: a new metadata repo, ready for `kiln validate`
// and `kiln plan --repo DIR`.
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { UsageError } from '../../../schema/errors.ts';
import { scaffold, sourcesDirFor } from '../../desired/scaffold.ts';
import { validateDesired } from '../../desired/validate-desired.ts';
import { loadReconcilerSigner } from '../../keys/load-signer.ts';
import { acceptTrustRoot } from '../../trust/index.ts';
import { flag, str, type Command } from '../command.ts';

function parseAuthor(s: string): { name: string; email: string } {
  const m = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(s);
  if (!m) throw new UsageError(`--author takes "Name <email>", got '${s}'`);
  return { name: m[1], email: m[2] };
}

const slugOf = (userId: string, fallback: string) =>
  (userId.replace(/<.*>/, '').trim().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || fallback).slice(0, 40);

/** The public part of an armored key file (public or private). */
async function readReleaseKey(file: string | undefined): Promise<{ slug: string; publicKeyArmored: string } | undefined> {
  if (!file) return undefined;
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: await readFile(file, 'utf8') });
  } catch (e) {
    throw new UsageError(`--release-key ${file}: not an armored OpenPGP key (${(e as Error).message})`);
  }
  return { slug: slugOf(key.getUserIDs()[0] ?? '', 'kiln-release'), publicKeyArmored: key.toPublic().armor() };
}

const command: Command = {
  path: ['init'],
  summary: 'Create a new metadata repo (git, branch main) with a commented kiln.yaml.',
  description:
    'Creates DIR as a git repository with kiln.yaml, packages/, distributions/ and keys/, and commits it.\n' +
    'With --example it holds the hello-kiln package released to testing and stable (promoted through an\n' +
    'install smoke gate), and the package source becomes its own git repo in DIR-sources/hello-kiln.\n' +
    'Refuses a DIR that exists and is not empty.\n' +
    'With --committer-key (a private key from `kiln keys generate`), kiln.yaml trusts only that key and\n' +
    'requires signed commits, the first commit is signed with it, and that commit is accepted as the\n' +
    'trust root (as `kiln verify --accept-root` would). Without it, signatures are not required.',
  options: {
    example: { type: 'boolean', description: 'Include the hello-kiln example package, its source repo and two distributions.' },
    author: { type: 'string', valueName: '"NAME <EMAIL>"', description: 'Author of the first commit.', default: 'Kiln <kiln@localhost>' },
    'committer-key': { type: 'string', valueName: 'FILE', description: "Armored private key that signs the first commit and becomes the only trusted committer." },
    'release-key': { type: 'string', valueName: 'FILE', description: "The reconciler's armored public key: kept in keys/ and declared as kiln.yaml signing.publicKey." },
  },
  positionals: [{ name: 'DIR', description: 'Directory of the new metadata repo (must not exist or be empty).', required: true }],
  examples: ['kiln init --example ./meta && kiln validate --repo ./meta && kiln plan --repo ./meta'],
  async run(args, ctx) {
    const dir = args.positionals[0];
    const example = flag(args, 'example');
    const keyFile = str(args, 'committer-key');
    const signer = keyFile ? await loadReconcilerSigner({ keyFile, passphrase: ctx.env.signingPassphrase }) : undefined;
    const committer = signer && {
      slug: slugOf(signer.userId, 'committer'),
      fingerprint: signer.fingerprint,
      publicKeyArmored: signer.publicKeyArmored,
      signDetached: (payload: string) => signer.signDetached(payload),
    };
    const releaseKey = await readReleaseKey(str(args, 'release-key'));
    if (releaseKey && committer && releaseKey.slug === committer.slug) releaseKey.slug += '-release';
    const result = await scaffold({
      dir,
      example,
      author: parseAuthor(str(args, 'author') ?? 'Kiln <kiln@localhost>'),
      ...(committer ? { committer } : {}),
      ...(releaseKey ? { releaseKey } : {}),
    });
    if (committer) {
      const verdict = await acceptTrustRoot({ dir: result.metadataRepo, cache: {}, commit: result.commit });
      if (!verdict.trusted) throw new Error(`the first commit was not accepted as trust root: ${verdict.reason}`);
    }
    // The new repo must pass its own validation; anything else is a bug in the template.
    const report = await validateDesired({ dir: result.metadataRepo, rev: 'HEAD', log: ctx.log });
    if (!report.ok) throw new Error(`the new metadata repo does not validate:\n${report.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n')}`);
    const lines = [`created metadata repo ${result.metadataRepo} (main at ${result.commit.slice(0, 12)})`];
    for (const s of result.sources) lines.push(`created source repo   ${s.path} (main at ${s.commit.slice(0, 12)})`);
    lines.push(`  ${report.packages} package${report.packages === 1 ? '' : 's'}, ${report.distributions} distribution${report.distributions === 1 ? '' : 's'}`);
    lines.push('', 'next:', `  kiln validate --repo ${result.metadataRepo}`, `  kiln plan --repo ${result.metadataRepo}`);
    if (example) lines.push(`  (sources live in ${sourcesDirFor(result.metadataRepo)})`);
    if (result.committer) {
      lines.push(
        '',
        `trust: only commits signed by ${result.committer.fingerprint} (${result.committer.keyFile}) are acted on;`,
        '  the first commit is signed and accepted as the trust root. Sign later commits with that key,',
        `  e.g. gpg --import <key file>; git -C ${result.metadataRepo} commit -S --gpg-sign=${result.committer.fingerprint}`,
      );
    }
    return { data: { metadataRepo: result.metadataRepo, commit: result.commit, sources: result.sources, committer: result.committer ?? null }, human: lines.join('\n') };
  },
};
export default command;
