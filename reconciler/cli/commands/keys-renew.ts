// kiln keys renew: extend the reconciler key's expiry (same fingerprint) and
// re-sign every published repository it signs, so apt clients never see an
// expired Release signature.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../../schema/errors.ts';
import { renewAndResign, type RenewReport } from '../../keys/renew-and-resign.ts';
import { num, str, type Command } from '../command.ts';
import { SIGNING_KEY_OPTION } from '../options.ts';

function human(r: RenewReport): string {
  const lines = [`Renewed ${r.fingerprint}: expires ${r.expires}`, `  private key: ${r.keyFile}`];
  if (r.publicKeyFile) lines.push(`  public key:  ${r.publicKeyFile} (commit it, signed, to the metadata repo)`);
  for (const x of r.resigned) lines.push(`  re-signed:   ${x.distribution} (${x.suites.join(', ')})`);
  for (const x of r.skipped) lines.push(`  skipped:     ${x.distribution}: ${x.reason}`);
  return lines.join('\n');
}

const command: Command = {
  path: ['keys', 'renew'],
  summary: "Extend the signing key's expiry (same fingerprint) and re-sign every repository it signs.",
  description:
    'Re-issues the self-signatures of the key in FILE with a new expiry N days from now, keeping the\n' +
    'old ones so earlier signatures still verify; the fingerprint does not change. FILE is replaced\n' +
    'atomically (mode 0600). With --repos, every ROOT/<dist> whose InRelease is signed by the key gets\n' +
    'its Release re-dated and re-signed, and its published key file updated. With --repo, the public\n' +
    "key named by kiln.yaml's signing.publicKey is updated in the work tree (commit it yourself).\n" +
    'The passphrase comes from KILN_SIGNING_PASSPHRASE or --passphrase-file.',
  options: {
    'signing-key': { ...SIGNING_KEY_OPTION, description: 'The armored private signing key to renew (default: $KILN_SIGNING_KEY_FILE); rewritten in place.' },
    days: { type: 'string', valueName: 'N', description: 'New expiry, in days from now.' },
    repos: { type: 'string', valueName: 'DIR', description: 'Published repositories root to re-sign.' },
    repo: { type: 'string', valueName: 'DIR', description: 'Metadata repo whose public key file to update.' },
    'passphrase-file': { type: 'string', valueName: 'FILE', description: 'File holding the key passphrase.' },
  },
  examples: ['kiln keys renew --signing-key /etc/kiln/signing.key.asc --days 365 --repos /srv/kiln/repos --repo ./metadata'],
  async run(args, ctx) {
    const keyFile = str(args, 'signing-key') ?? ctx.env.signingKeyFile;
    if (!keyFile) throw new UsageError('kiln keys renew needs --signing-key FILE (or KILN_SIGNING_KEY_FILE)');
    const days = num(args, 'days');
    if (days === undefined || !Number.isInteger(days) || days < 1) throw new UsageError('--days takes a positive whole number of days');
    const pf = str(args, 'passphrase-file');
    const passphrase = pf ? (await readFile(pf, 'utf8').catch(() => { throw new UsageError(`--passphrase-file ${pf}: cannot read it`); })).replace(/\r?\n$/, '') : ctx.env.signingPassphrase;
    const report = await renewAndResign({
      keyFile,
      passphrase,
      days,
      reposDir: str(args, 'repos'),
      metadataRepo: str(args, 'repo'),
      now: new Date(),
      log: ctx.log,
    });
    return { data: report, human: human(report) };
  },
};
export default command;
