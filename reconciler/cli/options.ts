// Options that mean the same thing in every command: one name, one description,
// one way to fall back to the environment (flags > environment > default).
import type { SigningKeySource } from '../keys/load-signer.ts';
import { str, type OptionSpec, type ParsedArgs } from './command.ts';
import type { Env } from './env.ts';

/** --repo: never given a parser default, or $KILN_REPO could not apply. */
export function repoOption(what = 'The metadata repo'): OptionSpec {
  return { type: 'string', valueName: 'DIR', description: `${what} (default: $KILN_REPO or .).` };
}

export function repoDir(args: ParsedArgs, env: Env): string {
  return str(args, 'repo') ?? env.repo ?? '.';
}

/** --signing-key (formerly --key in publish and keys renew). */
export const SIGNING_KEY_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'FILE',
  description: 'Armored private signing key (default: $KILN_SIGNING_KEY_FILE or $KILN_SIGNING_KEY).',
  deprecatedNames: ['key'],
};

export function signingKeySource(args: ParsedArgs, env: Env): SigningKeySource {
  const flagged = str(args, 'signing-key');
  return { keyFile: flagged ?? env.signingKeyFile, keyArmored: flagged ? undefined : env.signingKey, passphrase: env.signingPassphrase };
}
