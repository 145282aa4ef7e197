// The OCI registries `kiln up` runs: one Debian `docker-registry` per loopback
// address (127.0.0.1:PORT, localhost:PORT) that a `format: registry`
// distribution names, with its storage under DIR/registries/<port>/ (kept, like
// the rest of the state, so a second start resumes) and its log under DIR/logs/.
// The candidate registry — where the local agents push builds — is the address
// of the distribution the registry promotion chain starts from. Base images
// named by tag in one of them (`from: 127.0.0.1:PORT/REPO:TAG`) that the
// registry lacks are seeded from this host's Docker engine (the local image
// REPO:TAG): debootstrap images differ per machine, so the example names the
// tag and each pass pins the digest it resolves to (pass/observe-image-tags.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseRef } from '../../oci/image-ref.ts';
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { sharedRegistry } from '../desired/rules.ts';
import type { DesiredState } from '../model.ts';
import { UsageError } from '../../schema/errors.ts';
import { startChild, type Child } from './child-process.ts';

export interface LocalRegistryPlan {
  /** host:port of each registry to run, sorted. */
  hosts: string[];
  /** The one agents push to (absent: no registry distribution on loopback). */
  candidate?: string;
  /** Base images to copy from this host's Docker engine when the registry lacks the tag. */
  seeds: Array<{ ref: string; local: string }>;
}

const LOOPBACK = /^(127\.0\.0\.1|localhost):(\d{1,5})$/;

/** What to run for a desired state. Pure. */
export function localRegistryPlan(desired: DesiredState): LocalRegistryPlan {
  const dists = [...desired.distributions.values()].filter((d) => d.format === 'registry').sort((a, b) => a.name.localeCompare(b.name));
  const hosts = [...new Set(dists.flatMap((d) => (d.format === 'registry' && LOOPBACK.test(d.url) ? [d.url] : [])))].sort();
  for (const d of dists) {
    const from = d.promoteFrom === undefined ? undefined : desired.distributions.get(d.promoteFrom);
    // The agents' credentials open the candidate registry, every repository of it (htpasswd has no per-repository rights).
    if (sharedRegistry(d, from)) {
      throw new UsageError(`${d.file}: url: ${d.format === 'registry' ? d.url : ''} is also the registry of ${d.promoteFrom}, which it promotes from; kiln up gives agents write access to that whole registry, so it refuses a promoted distribution there: give ${d.name} a registry of its own`);
    }
  }
  const roots = dists.filter((d) => d.promoteFrom === undefined || !desired.distributions.has(d.promoteFrom));
  const candidate = roots.map((d) => (d.format === 'registry' ? d.url : '')).find((u) => hosts.includes(u));
  const seeds: LocalRegistryPlan['seeds'] = [];
  for (const p of desired.packages.values()) {
    if (p.format !== 'oci' || !p.from || !('tag' in p.from)) continue;
    const tag = p.from.tag;
    const ref = parseRef(tag);
    if (hosts.includes(ref.registry) && !seeds.some((s) => s.ref === tag)) seeds.push({ ref: tag, local: `${ref.repository}:${ref.tag}` });
  }
  return { hosts, ...(candidate ? { candidate } : {}), seeds };
}

export interface RunningRegistry {
  host: string;
  child: Child;
}

/** A registry answers /v2/ with 200, or 401 when it wants credentials. */
async function answers(host: string): Promise<boolean> {
  try {
    return [200, 401].includes((await fetch(`http://${host}/v2/`)).status);
  } catch {
    return false;
  }
}

/** Start one docker-registry on `host` (a loopback host:port) with storage under `stateDir`, admitting the users of `htpasswd`. */
export async function startRegistry(host: string, stateDir: string, logsDir: string, htpasswd: string): Promise<RunningRegistry> {
  const port = LOOPBACK.exec(host)![2];
  const dir = join(stateDir, port);
  await mkdir(join(dir, 'storage'), { recursive: true });
  if (await answers(host)) throw new Error(`${host} already answers as a registry (another kiln up?): stop it, or change the url of the registry distributions`);
  const cfg = join(dir, 'config.yml');
  // JSON is YAML. Basic auth from htpasswd (docker-registry 2.8 accepts it over plain http; see
  // README "OCI credentials"); delete enabled so pruned manifests go.
  const auth = { htpasswd: { realm: `kiln ${host}`, path: htpasswd } };
  await writeFile(cfg, JSON.stringify({ version: 0.1, log: { level: 'warn', accesslog: { disabled: true } }, storage: { filesystem: { rootdirectory: join(dir, 'storage') }, delete: { enabled: true } }, http: { addr: host }, auth }));
  const child = startChild('docker-registry', ['serve', cfg], join(logsDir, `registry-${port}.log`));
  const end = Date.now() + 15_000;
  while (!(await answers(host))) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`docker-registry on ${host} exited (port in use?):\n${child.output().slice(-1000)}`);
    if (Date.now() > end) {
      await child.stop(5_000);
      throw new Error(`docker-registry on ${host} did not answer within 15 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, child };
}

/** Copy each seed's local Docker image into its registry unless the tag is there already. Failures are logged: the images wait, the rest runs. */
export async function seedBaseImages(seeds: LocalRegistryPlan['seeds'], auth: RegistryAuth, log: Logger): Promise<void> {
  const client = new RegistryClient({ tlsVerify: false, auth });
  for (const s of seeds) {
    const ref = parseRef(s.ref);
    try {
      if (await client.resolveTag(ref)) continue;
      const started = Date.now();
      log.info({ image: s.local, to: s.ref }, 'seeding a base image from the local Docker engine');
      const digest = await client.pushFromDaemon(s.local, ref);
      log.info({ ref: s.ref, digest, seconds: Math.round((Date.now() - started) / 1000) }, 'seeded');
    } catch (e) {
      log.warn({ image: s.local, to: s.ref, err: (e as Error).message.split('\n')[0] }, 'could not seed a base image: images FROM it wait until the tag exists');
    }
  }
}
