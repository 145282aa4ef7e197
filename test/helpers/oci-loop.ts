// The OCI loop of a test on real parts: a reconciler (signing key generated, a
// plain-http candidate registry, no quiet skips) and an agent of the `oci` pool
// with the oci runner pushing to that candidate registry.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Agent } from '../../agents/agent.ts';
import { renderAuthFile, type RegistryAuth, type RegistryCredential } from '../../oci/registry-auth.ts';
import { OciRunner } from '../../agents/oci-runner.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import type { PassPolicy } from '../../reconciler/pass/deps.ts';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { STATUS_BRANCH } from '../../schema/status.ts';
import { makeRepo, type Files } from './git.ts';
import { logRing } from './log-ring.ts';
import { startNats, type NatsServer } from './nats.ts';
import { startRegistry, type TestRegistry } from './registry.ts';

const run = promisify(execFile);

export interface OciLoop {
  rec: Reconciler;
  /** The agent of the first architecture. */
  agent: Agent;
  /** One agent per architecture of the `oci` pool (an arm64 one builds under qemu on this host). */
  agents: Agent[];
  /** The reconciler's public key (what signatures verify against). */
  publicKey: string;
  /** The step the reconciler's current (or last) pass reached and the last log lines of the reconciler and agents: what a test names when a pass hangs. */
  lastStep(): string;
}

export async function startOciLoop(o: {
  dir: string;
  repoDir: string;
  natsUrl: string;
  nc: NatsConnection;
  candidate: string;
  label: string;
  policy?: Partial<PassPolicy>;
  candidateInsecure?: boolean;
  /** Registry credentials of the reconciler and of the agent (absent: anonymous). */
  auth?: StackAuth;
  /** Architectures the `oci` pool's agents serve, one agent each (default amd64). */
  architectures?: string[];
}): Promise<OciLoop> {
  const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
  await writeFile(join(o.dir, 'signing.key'), key.privateKeyArmored, { mode: 0o600 });
  let step = 'none yet';
  const ring = logRing();
  const rec = await openReconciler({
    onStep: (s) => void (step = s),
    repoDir: o.repoDir,
    natsUrl: o.natsUrl,
    signingKey: { keyFile: join(o.dir, 'signing.key') },
    reposDir: join(o.dir, 'repos'),
    artifactsDir: join(o.dir, 'artifacts'),
    // false: the test declares its plain-http candidate in kiln.yaml `registries:`.
    candidateInsecure: o.candidateInsecure ?? true,
    candidateRegistry: o.candidate,
    registryAuth: o.auth?.reconciler,
    policy: { quietMaxMs: 0, resultWaitMs: 500, ...o.policy },
    log: ring.log.child({ in: 'reconciler' }),
  });
  const agents = (o.architectures ?? ['amd64']).map((arch, i) => {
    const suffix = i === 0 ? '' : `-${arch}`;
    const id = `${o.label}-agent${suffix}`;
    // Each agent's own labels: what it removes at start as a killed run's leftovers must be its own only.
    const runner = new OciRunner({ log: ring.log.child({ in: `runner${suffix}` }), candidate: o.candidate, insecure: true, labels: { 'kiln.test': o.label, 'kiln.agent': id }, auth: o.auth?.agent, arch });
    return new Agent({ nc: o.nc, pool: 'oci', arch, workDir: join(o.dir, `agent${suffix}`), log: ring.log.child({ in: `agent${suffix}` }), id, heartbeatMs: 300, runner, pullExpiresMs: 1000 });
  });
  for (const agent of agents) await agent.start();
  return { rec, agent: agents[0], agents, publicKey: key.publicKeyArmored, lastStep: () => [step, 'the last log lines:', ...ring.lines()].join('\n') };
}

/** kiln.yaml of an OCI loop's metadata repo: one `oci` pool (amd64), no trust keys. */
export const OCI_KILN_YAML = 'trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  oci:\n    architectures: [amd64]\ndefaults:\n  pool: oci\n  image: kiln/bookworm-buildd\n  maxAttempts: 2\n  keep: 3\n';

/** A file of kiln/status in `repoDir`, or undefined while it does not exist. */
export async function statusFile(repoDir: string, path: string): Promise<string | undefined> {
  try {
    return (await run('git', ['-C', repoDir, 'show', `${STATUS_BRANCH}:${path}`])).stdout;
  } catch {
    return undefined;
  }
}

/** Registry credentials files as `kiln up` makes them: the reconciler's open both registries, the agent's the candidate only. */
export interface StackAuth {
  reconciler: RegistryAuth;
  agent: RegistryAuth;
}

/** Users for a candidate and a production registry, and their credentials files under `dir`. */
async function stackUsers(dir: string): Promise<{ users: { candidate: RegistryCredential[]; production: RegistryCredential[] }; write(cand: string, prod: string): Promise<StackAuth> }> {
  const reconciler = { username: 'kiln-reconciler', password: randomBytes(12).toString('hex') };
  const agent = { username: 'kiln-agent', password: randomBytes(12).toString('hex') };
  const file = async (name: string, hosts: Record<string, RegistryCredential>): Promise<RegistryAuth> => {
    await writeFile(join(dir, name), renderAuthFile(hosts), { mode: 0o600 });
    return { file: join(dir, name), hosts: new Map(Object.entries(hosts)) };
  };
  return {
    users: { candidate: [reconciler, agent], production: [reconciler] },
    write: async (cand, prod) => ({ reconciler: await file('reconciler-auth.json', { [cand]: reconciler, [prod]: reconciler }), agent: await file('agent-auth.json', { [cand]: agent }) }),
  };
}

/** Everything an OCI pass test runs: nats-server, a candidate and a production registry, the loop over a metadata repo. */
export interface OciStack extends OciLoop {
  dir: string;
  nats: NatsServer;
  nc: NatsConnection;
  cand: TestRegistry;
  prod: TestRegistry;
  repoDir: string;
  /** With `auth: true`: the credentials files (the registries admit no one else). */
  auth?: StackAuth;
  /** Stop all of it and delete its state. */
  close(): Promise<void>;
}

/** Start the stack; `files` gives the metadata repo's files (it may write image sources under dir). Call close() in after(). */
export async function startOciStack(o: {
  label: string;
  files: (s: { dir: string; cand: TestRegistry; prod: TestRegistry }) => Promise<Files>;
  candidateInsecure?: boolean;
  auth?: boolean;
  architectures?: string[];
}): Promise<OciStack> {
  const dir = await mkdtemp(join(tmpdir(), `kiln-${o.label}-`));
  const people = o.auth ? await stackUsers(dir) : undefined;
  const [nats, cand, prod] = await Promise.all([startNats(), startRegistry('candidate', { users: people?.users.candidate }), startRegistry('production', { users: people?.users.production })]);
  const auth = await people?.write(cand.host, prod.host);
  const nc = await connect({ servers: nats.url, name: 'test-agent' });
  const repoDir = (await makeRepo(await o.files({ dir, cand, prod }))).dir;
  const loop = await startOciLoop({ dir, repoDir, natsUrl: nats.url, nc, candidate: cand.host, label: o.label, candidateInsecure: o.candidateInsecure, auth, architectures: o.architectures });
  return {
    ...loop,
    ...(auth ? { auth } : {}),
    dir,
    nats,
    nc,
    cand,
    prod,
    repoDir,
    async close() {
      for (const agent of loop.agents) await agent.close({ hard: true }).catch(() => undefined);
      await loop.rec.close();
      await nc.close();
      await Promise.all([nats.dispose(), cand.dispose(), prod.dispose()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
