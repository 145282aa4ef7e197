// The OCI loop of a test on real parts: a reconciler (signing key generated, a
// plain-http candidate registry, no quiet skips) and an agent of the `oci` pool
// with the oci runner pushing to that candidate registry.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Agent } from '../../agents/agent.ts';
import { OciRunner } from '../../agents/oci-runner.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import type { PassPolicy } from '../../reconciler/pass/deps.ts';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { quietLog } from './kiln-service.ts';

export interface OciLoop {
  rec: Reconciler;
  agent: Agent;
  /** The reconciler's public key (what signatures verify against). */
  publicKey: string;
}

export async function startOciLoop(o: { dir: string; repoDir: string; natsUrl: string; nc: NatsConnection; candidate: string; label: string; policy?: Partial<PassPolicy>; candidateInsecure?: boolean }): Promise<OciLoop> {
  const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
  await writeFile(join(o.dir, 'signing.key'), key.privateKeyArmored, { mode: 0o600 });
  const rec = await openReconciler({
    repoDir: o.repoDir,
    natsUrl: o.natsUrl,
    signingKey: { keyFile: join(o.dir, 'signing.key') },
    reposDir: join(o.dir, 'repos'),
    artifactsDir: join(o.dir, 'artifacts'),
    // false: the test declares its plain-http candidate in kiln.yaml `registries:`.
    candidateInsecure: o.candidateInsecure ?? true,
    candidateRegistry: o.candidate,
    policy: { quietMaxMs: 0, resultWaitMs: 500, ...o.policy },
    log: quietLog,
  });
  const runner = new OciRunner({ log: quietLog, candidate: o.candidate, insecure: true, labels: { 'kiln.test': o.label } });
  const agent = new Agent({ nc: o.nc, pool: 'oci', arch: 'amd64', workDir: join(o.dir, 'agent'), log: quietLog, id: `${o.label}-agent`, heartbeatMs: 300, runner, pullExpiresMs: 1000 });
  await agent.start();
  return { rec, agent, publicKey: key.publicKeyArmored };
}
