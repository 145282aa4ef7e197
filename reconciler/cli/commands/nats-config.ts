// kiln nats-config: a nats-server configuration with one broker user per role
// (the reconciler; one per agent pool) and their credentials files. Re-running
// keeps existing credentials (their seeds are read back), so adding a pool
// does not lock out agents already deployed.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BROKER_USERS, type BrokerCredentials } from '../../../schema/broker.ts';
import { UsageError } from '../../../schema/errors.ts';
import { newUserNkey, publicKeyOf, readCredentials, renderCredentials } from '../../broker/credentials.ts';
import { agentPermissions, RECONCILER_PERMISSIONS, type Permissions } from '../../broker/permissions.ts';
import { parsePoolSpecs } from '../../broker/pool-spec.ts';
import { renderServerConfig, type BrokerUser } from '../../broker/server-config.ts';
import { writeFileAtomic } from '../../keys/write-key-file.ts';
import { str, type Command, type ParsedArgs } from '../command.ts';

interface Role {
  user: string;
  pool?: string;
  comment: string;
  permissions: (identity: string) => Permissions;
}

export interface NatsConfigData {
  config: string;
  tls: boolean;
  users: { user: string; file: string; publicKey: string; reused: boolean; pool?: string; architectures?: string[] }[];
}

async function readPem(flag: string, file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!/-----BEGIN [A-Z ]+-----/.test(text)) throw new UsageError(`${flag} ${file}: not a PEM file (no -----BEGIN line)`);
  return text;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

function tlsFiles(args: ParsedArgs): { cert?: string; key?: string } {
  const cert = str(args, 'tls-cert');
  const key = str(args, 'tls-key');
  if (Boolean(cert) !== Boolean(key)) throw new UsageError('--tls-cert and --tls-key go together');
  if (str(args, 'tls-ca') && !cert) throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
  return { cert: cert && resolve(cert), key: key && resolve(key) };
}

const command: Command = {
  path: ['nats-config'],
  summary: 'Write a nats-server config with one broker user per role, and their credentials files.',
  description:
    'Writes FILE (a nats-server 2.9 configuration: JetStream, account KILN, nkey users) and, in the\n' +
    'credentials directory, reconciler.creds and agent-<pool>.creds (mode 0600; pass one with\n' +
    '--nats-credentials). The reconciler may do everything. An agent of pool P may only pull from and\n' +
    'ack its pool\'s work queues (one per architecture given with --pools), publish results and live\n' +
    'logs, heartbeat, watch for drain requests and put/get objects; it cannot publish jobs, read other\n' +
    'pools\' jobs, touch the reconciler lease or subscribe outside its own reply inbox.\n' +
    'Existing credentials files are kept (their keys are reused): re-run it to add a pool.\n' +
    'With --tls-cert/--tls-key the server requires TLS; each credentials file then carries the\n' +
    'certificate to trust (--tls-ca, default: the server certificate itself, right for a self-signed one).',
  options: {
    out: { type: 'string', valueName: 'FILE', description: 'The nats-server configuration file to write.' },
    pools: { type: 'string', multiple: true, valueName: 'POOL:ARCH[,ARCH]', description: 'An agent pool and its architectures (repeat for more pools).' },
    'credentials-dir': { type: 'string', valueName: 'DIR', description: 'Where credentials files go (default: credentials/ next to FILE).' },
    listen: { type: 'string', valueName: 'HOST:PORT', description: 'Where the server listens', default: '0.0.0.0:4222' },
    'store-dir': { type: 'string', valueName: 'DIR', description: 'JetStream store directory', default: '/var/lib/kiln/nats' },
    'tls-cert': { type: 'string', valueName: 'FILE', description: 'Server certificate (PEM): clients must use TLS.' },
    'tls-key': { type: 'string', valueName: 'FILE', description: 'Server private key (PEM).' },
    'tls-ca': { type: 'string', valueName: 'FILE', description: 'CA certificate clients trust (default: --tls-cert).' },
  },
  examples: [
    'kiln nats-config --out /etc/nats/kiln.conf --pools deb:amd64,arm64 --pools rpm:amd64',
    'kiln nats-config --out kiln.conf --pools deb:amd64 --tls-cert broker.pem --tls-key broker.key',
  ],
  async run(args, ctx) {
    const out = str(args, 'out');
    if (!out) throw new UsageError('kiln nats-config needs --out FILE');
    const specs = (args.values.pools as string[] | undefined) ?? [];
    if (specs.length === 0) throw new UsageError('kiln nats-config needs at least one --pools POOL:ARCH[,ARCH…]');
    const { pools, problems } = parsePoolSpecs(specs);
    if (problems.length) throw new UsageError(problems.join('\n'));
    const listen = str(args, 'listen') ?? '0.0.0.0:4222';
    if (!/^[^\s:]*:\d{1,5}$/.test(listen)) throw new UsageError(`--listen '${listen}': expected HOST:PORT`);
    const tls = tlsFiles(args);
    await readPem('--tls-cert', tls.cert);
    await readPem('--tls-key', tls.key);
    const ca = tls.cert ? await readPem('--tls-ca', str(args, 'tls-ca') ?? tls.cert) : undefined;

    const credDir = resolve(str(args, 'credentials-dir') ?? join(dirname(resolve(out)), 'credentials'));
    const roles: Role[] = [
      { user: BROKER_USERS.reconciler, comment: 'Kiln broker credentials: the reconciler (all subjects).', permissions: () => RECONCILER_PERMISSIONS },
      ...Object.entries(pools).map(([pool, archs]) => ({
        user: BROKER_USERS.agent(pool),
        pool,
        comment: `Kiln broker credentials: agents of pool '${pool}' (${archs.join(', ')}).`,
        permissions: (id: string) => agentPermissions(pool, archs, id),
      })),
    ];
    // Read every existing file before writing anything: a bad one stops the command with nothing changed.
    const existing = new Map<string, BrokerCredentials>();
    for (const r of roles) {
      const file = join(credDir, `${r.user}.creds`);
      if (!(await exists(file))) continue;
      const c = await readCredentials(file);
      if (!c.nkey) throw new UsageError(`${file} holds a password, not an nkey: it was not written by kiln nats-config; move it away first`);
      existing.set(r.user, c);
    }
    await mkdir(credDir, { recursive: true, mode: 0o700 });
    const users: BrokerUser[] = [];
    const data: NatsConfigData = { config: resolve(out), tls: Boolean(tls.cert), users: [] };
    for (const r of roles) {
      const file = join(credDir, `${r.user}.creds`);
      const old = existing.get(r.user);
      const seed = old?.nkey ?? newUserNkey().seed;
      const publicKey = publicKeyOf(seed);
      await writeFileAtomic(file, renderCredentials({ user: r.user, nkey: seed, ...(ca ? { ca } : {}) }, r.comment), 0o600);
      users.push({ label: r.comment, publicKey, permissions: r.permissions(publicKey) });
      data.users.push({ user: r.user, file, publicKey, reused: Boolean(old), ...(r.pool ? { pool: r.pool, architectures: pools[r.pool] } : {}) });
    }
    const text = renderServerConfig({
      listen,
      storeDir: str(args, 'store-dir') ?? '/var/lib/kiln/nats',
      users,
      ...(tls.cert && tls.key ? { tls: { certFile: tls.cert, keyFile: tls.key } } : {}),
      generatedBy: 'kiln nats-config',
    });
    await mkdir(dirname(resolve(out)), { recursive: true });
    await writeFileAtomic(resolve(out), text, 0o640);
    ctx.log.debug({ out, users: data.users.length }, 'wrote nats-server config');
    const human = [
      `wrote ${data.config}${data.tls ? ' (TLS required)' : ''}`,
      ...data.users.map((u) => `  ${u.user}: ${u.file}${u.reused ? ' (kept)' : ' (new)'}`),
      `start it with: nats-server -c ${data.config}`,
    ].join('\n');
    return { data, human };
  },
};
export default command;
