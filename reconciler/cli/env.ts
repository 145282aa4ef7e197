// The only module that reads process.env: every setting a command may take
// from the environment, resolved once and frozen.

export interface Env {
  readonly natsUrl?: string;
  /** Broker credentials file (KILN_NATS_CREDENTIALS), as --nats-credentials. */
  readonly natsCredentials?: string;
  readonly repo?: string;
  /** Armored private key, or a path to one (KILN_SIGNING_KEY / KILN_SIGNING_KEY_FILE). */
  readonly signingKey?: string;
  readonly signingKeyFile?: string;
  readonly signingPassphrase?: string;
  /** Token for a remote metadata repo over HTTPS (KILN_GIT_TOKEN). */
  readonly gitToken?: string;
  /** $XDG_STATE_HOME, or ~/.local/state: where mirrors of remote metadata repos live. */
  readonly stateHome?: string;
  /** Token for the forge's commit-status API (KILN_FORGE_TOKEN). */
  readonly forgeToken?: string;
  readonly logLevel: string;
  readonly isTTY: boolean;
  readonly noColor: boolean;
}

export function readEnv(source: NodeJS.ProcessEnv = process.env, isTTY = Boolean(process.stdout.isTTY)): Env {
  return Object.freeze({
    natsUrl: source.KILN_NATS_URL || undefined,
    natsCredentials: source.KILN_NATS_CREDENTIALS || undefined,
    repo: source.KILN_REPO || undefined,
    signingKey: source.KILN_SIGNING_KEY || undefined,
    signingKeyFile: source.KILN_SIGNING_KEY_FILE || undefined,
    signingPassphrase: source.KILN_SIGNING_PASSPHRASE || undefined,
    gitToken: source.KILN_GIT_TOKEN || undefined,
    stateHome: source.XDG_STATE_HOME || (source.HOME ? `${source.HOME}/.local/state` : undefined),
    forgeToken: source.KILN_FORGE_TOKEN || undefined,
    logLevel: source.KILN_LOG_LEVEL || 'info',
    isTTY,
    noColor: Boolean(source.NO_COLOR),
  });
}
