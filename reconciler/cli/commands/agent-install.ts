// kiln agent install: make this Debian host run a build agent under systemd
// (template unit kiln-agent@<pool>-<arch>.service, user `kiln` in group docker).
import { readFile, realpath, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { identityProblem } from '../../../schema/nats.ts';
import { parseListen } from '../../../agents/metrics-listen.ts';
import { UsageError } from '../../../schema/errors.ts';
import { readCredentials } from '../../broker/credentials.ts';
import { instanceName, unitName } from '../../hosts/agent-unit.ts';
import { applySteps } from '../../hosts/apply-steps.ts';
import { gatherFacts, missingPrerequisites } from '../../hosts/host-check.ts';
import { describeSteps, installSteps, type Step } from '../../hosts/install-plan.ts';
import { flag, num, str, type Command, type ParsedArgs } from '../command.ts';

/** The pool's build time limit when none is given (BUILTIN_DEFAULTS.limits.timeoutSeconds) plus time to upload and report. */
export const DEFAULT_STOP_TIMEOUT = 3600 + 120;
const THIS_KILN = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

/** nats:// or tls:// URLs, comma-separated; no spaces or quotes (they end up in a systemd environment file). */
export function natsUrlProblem(url: string): string | undefined {
  const bad = url.split(',').find((u) => !/^(nats|tls):\/\/[^\s"'\\,]+$/.test(u));
  return bad === undefined ? undefined : `--nats '${url}': expected nats://HOST:PORT or tls://HOST:PORT (comma-separated for several)`;
}

function wholeNumber(args: ParsedArgs, name: string, fallback: number): number {
  let n: number;
  try {
    n = num(args, name) ?? fallback;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} takes a whole number >= 1, got ${n}`);
  return n;
}

/** A root to install into must be an existing directory. */
export async function resolveRoot(root: string | undefined): Promise<string | undefined> {
  if (root === undefined) return undefined;
  if (!(await stat(root).catch(() => undefined))?.isDirectory()) throw new UsageError(`--root ${root}: not a directory`);
  return realpath(root);
}

export function stepsData(steps: Step[]) {
  return steps.map((s) => (s.kind === 'write' && (s.mode & 0o077) === 0 ? { ...s, content: '(secret, not shown)' } : s));
}

const command: Command = {
  path: ['agent', 'install'],
  summary: 'Install a build agent as a systemd service on this host (Debian, as root).',
  description:
    'Writes the template unit kiln-agent@.service, the instance\'s environment file\n' +
    '/etc/kiln/agent-<pool>-<arch>.env and drop-in, copies --nats-credentials to /etc/kiln (0600; systemd\n' +
    'hands the agent a private copy), creates the system user `kiln` in group docker (systemd-sysusers),\n' +
    'then enables and (re)starts kiln-agent@<pool>-<arch>.service. The unit runs\n' +
    '`NODE CODE-DIR/bin/kiln.js agent` hardened (NoNewPrivileges, ProtectSystem=strict, ProtectHome,\n' +
    'PrivateTmp; the work dir is /var/lib/kiln-agent/<pool>-<arch>) and still reaches /run/docker.sock.\n' +
    'On stop it sends SIGTERM and waits --stop-timeout seconds for running builds to drain.\n' +
    'Nothing is changed when Docker, systemd or root is missing (exit 2). --dry-run prints every file\n' +
    'and command instead. --root DIR installs into a tree (an image being prepared, or a test).',
  options: {
    nats: { type: 'string', valueName: 'URL', description: 'NATS server URL the agent connects to (default: $KILN_NATS_URL)' },
    pool: { type: 'string', valueName: 'POOL', description: 'Agent pool to serve', default: 'deb' },
    arch: { type: 'string', valueName: 'ARCH', description: 'Architecture to build for', default: 'amd64' },
    'nats-credentials': { type: 'string', valueName: 'FILE', description: 'Broker credentials from `kiln nats-config` (agent-<pool>.creds)' },
    concurrency: { type: 'string', valueName: 'N', description: 'Builds run at the same time', default: '1' },
    'metrics-listen': { type: 'string', valueName: 'ADDR', description: 'Have the agent serve Prometheus metrics at ADDR (HOST:PORT)' },
    'stop-timeout': { type: 'string', valueName: 'S', description: `Seconds to let running builds finish on stop: the pool's time limit + upload time (default: ${DEFAULT_STOP_TIMEOUT})` },
    'code-dir': { type: 'string', valueName: 'DIR', description: 'Where the Kiln code is installed (default: this Kiln, e.g. /opt/kiln)' },
    node: { type: 'string', valueName: 'PATH', description: 'The node binary the unit runs (default: the one running this command)' },
    root: { type: 'string', valueName: 'DIR', description: 'Install into the tree at DIR instead of the running system (like systemctl --root)' },
    'dry-run': { type: 'boolean', description: 'Print every file it would write and command it would run; change nothing.' },
  },
  examples: [
    'sudo /opt/kiln/bin/kiln.js agent install --nats tls://broker.example.org:4222 --pool deb --arch amd64 --nats-credentials agent-deb.creds --concurrency 2',
    'kiln agent install --nats nats://broker:4222 --pool deb --arch arm64 --dry-run',
  ],
  async run(args, ctx) {
    const nats = str(args, 'nats') ?? ctx.env.natsUrl;
    if (!nats) throw new UsageError('no NATS server: pass --nats URL or set KILN_NATS_URL');
    const urlProblem = natsUrlProblem(nats);
    if (urlProblem) throw new UsageError(urlProblem);
    const pool = str(args, 'pool') ?? 'deb';
    const arch = str(args, 'arch') ?? 'amd64';
    const idProblem = identityProblem(pool, arch);
    if (idProblem) throw new UsageError(idProblem);
    const concurrency = wholeNumber(args, 'concurrency', 1);
    const stopTimeoutSeconds = wholeNumber(args, 'stop-timeout', DEFAULT_STOP_TIMEOUT);
    const metricsListen = str(args, 'metrics-listen');
    const listenProblem = metricsListen === undefined ? undefined : parseListen(metricsListen);
    if (typeof listenProblem === 'string') throw new UsageError(`--metrics-listen ${listenProblem}`);
    const credsFile = str(args, 'nats-credentials');
    // Checked now, so a broken file never reaches the host; the file is copied as it is.
    if (credsFile) await readCredentials(credsFile);
    const credentialsText = credsFile ? await readFile(credsFile, 'utf8') : undefined;
    const root = await resolveRoot(str(args, 'root'));
    const codeDir = await realpath(str(args, 'code-dir') ?? THIS_KILN).catch(() => str(args, 'code-dir') ?? THIS_KILN);
    const node = str(args, 'node') ?? process.execPath;
    const dryRun = flag(args, 'dry-run');

    const missing = missingPrerequisites(await gatherFacts({ root, codeDir, node }));
    if (missing.length) {
      throw new UsageError(`cannot install the agent${dryRun ? ' (--dry-run: nothing would be installed)' : ''}; nothing was changed:\n${missing.map((m) => `  - ${m}`).join('\n')}`, { missing });
    }
    const steps = installSteps({ node, codeDir }, { nats, pool, arch, concurrency, stopTimeoutSeconds, credentials: credentialsText !== undefined, metricsListen }, credentialsText, root);
    const instance = instanceName(pool, arch);
    const data = { unit: unitName(instance), instance, root: root ?? '/', dryRun, steps: stepsData(steps) };
    if (dryRun) return { data, human: `would install ${data.unit}${root ? ` into ${root}` : ''}:\n${describeSteps(steps, root)}` };
    await applySteps(steps, root, ctx.log);
    const next = root ? `enabled in ${root}` : `running: systemctl status ${data.unit}; journalctl -u ${data.unit}`;
    return { data, human: `installed ${data.unit} (${next})` };
  },
};
export default command;
