// The credentials of `kiln up`'s registries, made anew at every start (nothing
// to rotate, nothing that outlives the run): the agents' user may use the
// candidate registry only; the reconciler's user may use every registry. Each
// registry gets an htpasswd file (bcrypt, what Debian's docker-registry 2.8
// checks) naming only the users it admits, so the agents' password is refused by
// production (401). Everything is written 0600 under DIR/registries/:
//   <port>/htpasswd       the users a registry admits
//   auth/reconciler.json  containers-auth.json for every registry (kiln reconcile --registry-auth)
//   auth/agent.json       containers-auth.json for the candidate only (kiln agent --registry-auth)
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { renderAuthFile, type RegistryAuth, type RegistryCredential } from '../../oci/registry-auth.ts';
import { writeFileAtomic } from '../keys/write-key-file.ts';
import type { LocalRegistryPlan } from './registries.ts';

export const UP_REGISTRY_USERS = { reconciler: 'kiln-reconciler', agent: 'kiln-agent' } as const;
const SECRET_MODE = 0o600;
// bcrypt's cost, as `htpasswd -B` by default: the registry checks it on every request, and the
// password is 192 random bits (no dictionary to slow down).
const BCRYPT_COST = 5;

export interface UpRegistryCredentials {
  /** host:port -> its htpasswd file. */
  htpasswd: Map<string, string>;
  reconciler: RegistryAuth;
  /** Absent when no registry is the candidate. */
  agent?: RegistryAuth;
}

const newCredential = (username: string): RegistryCredential => ({ username, password: randomBytes(24).toString('base64url') });

/** Pure: one htpasswd line per user. */
export function htpasswdLines(users: RegistryCredential[], cost = BCRYPT_COST): string {
  return users.map((u) => `${u.username}:${bcrypt.hashSync(u.password, cost)}\n`).join('');
}

/** Make this run's users and write every file; `dir` is DIR/registries. */
export async function writeUpRegistryCredentials(dir: string, plan: Pick<LocalRegistryPlan, 'hosts' | 'candidate'>): Promise<UpRegistryCredentials> {
  const reconciler = newCredential(UP_REGISTRY_USERS.reconciler);
  const agent = plan.candidate ? newCredential(UP_REGISTRY_USERS.agent) : undefined;
  const htpasswd = new Map<string, string>();
  for (const host of plan.hosts) {
    const file = join(dir, host.split(':')[1], 'htpasswd');
    await mkdir(join(dir, host.split(':')[1]), { recursive: true });
    await writeFileAtomic(file, htpasswdLines(host === plan.candidate && agent ? [reconciler, agent] : [reconciler]), SECRET_MODE);
    htpasswd.set(host, file);
  }
  await mkdir(join(dir, 'auth'), { recursive: true, mode: 0o700 });
  const write = async (name: string, hosts: Record<string, RegistryCredential>): Promise<RegistryAuth> => {
    const file = join(dir, 'auth', name);
    await writeFileAtomic(file, renderAuthFile(hosts), SECRET_MODE);
    return { file, hosts: new Map(Object.entries(hosts)) };
  };
  return {
    htpasswd,
    reconciler: await write('reconciler.json', Object.fromEntries(plan.hosts.map((h) => [h, reconciler]))),
    ...(plan.candidate && agent ? { agent: await write('agent.json', { [plan.candidate]: agent }) } : {}),
  };
}
