// The image-test promotion gate: the package's `test:` command, run inside the
// candidate image by digest, in a network-less container through the one
// container runner (containers/run-container.ts). The verdict is a GateRecord,
// recorded on the status branch like install-smoke's.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { GateInfraError } from '../../schema/errors.ts';
import { pullImage } from '../../oci/docker-pull.ts';
import { platformEmulationProblem } from '../../oci/emulation.ts';
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import type { GateRecord } from '../../schema/status.ts';
import { runContainer } from '../../containers/run-container.ts';
import { logTail } from './gate-script.ts';

export interface ImageTestGate {
  docker: Docker;
  /** The candidate image by digest: host/repo@sha256:… */
  image: string;
  /** The package's `test:` command, run with /bin/sh -c. */
  test: string;
  /** The distribution being promoted into, and the one the image comes from. */
  distribution: string;
  from: string;
  package: string;
  version: string;
  timeoutSeconds: number;
  log: Logger;
  /** arch -> build key the verdict is about. */
  builds?: Record<string, string>;
  now?: () => Date;
  /** Credentials for the registry the image is pulled from (the reconciler's --registry-auth). */
  auth?: RegistryAuth;
  /** os/arch[/variant] of the image, as its config or index entry says (a foreign one runs under qemu: checked first). */
  platform?: string;
  /** This host's process.arch and binfmt_misc directory (tests inject them). */
  host?: { arch?: string; binfmtDir?: string };
}

const MAX_OUTPUT_CHARS = 256 * 1024;

export async function runImageTestGate(g: ImageTestGate): Promise<GateRecord> {
  const base = { distribution: g.distribution, from: g.from, package: g.package, version: g.version, gate: 'image-test', ...(g.builds ? { builds: g.builds } : {}) };
  const at = () => (g.now ?? (() => new Date()))().toISOString();
  if (!/@sha256:[0-9a-f]{64}$/.test(g.image)) throw new GateInfraError(`the image-test gate runs images by digest only, not ${g.image}`, { image: g.image });
  // A foreign image on a host without its emulator fails with "exec format error": no verdict.
  const emulation = g.platform ? await platformEmulationProblem(g.platform, g.host?.arch, g.host?.binfmtDir) : undefined;
  if (emulation) throw new GateInfraError(`the image-test gate cannot run ${g.image} (${g.platform}) here: ${emulation}`, { image: g.image, platform: g.platform });
  // Docker trouble says nothing about the image: throw (retry later), record no verdict.
  let output = '';
  const log = g.log.child({ component: 'gate', gate: 'image-test', package: g.package, version: g.version });
  const exit = await (async () => {
    log.debug({ image: g.image }, 'pulling the image to test');
    await pullImage(g.docker, g.image, { auth: g.auth, platform: g.platform });
    log.debug({ image: g.image, test: g.test }, 'running the test command');
    return runContainer(
      g.docker,
      {
        image: g.image,
        cmd: ['/bin/sh', '-c', g.test],
        role: 'gate',
        network: 'none',
        memoryBytes: 1024 * 1024 * 1024,
        pidsLimit: 512,
        labels: { 'kiln.gate.from': g.from, 'kiln.gate.package': g.package },
        timeoutMs: g.timeoutSeconds * 1000,
        // The image is the package's, not Kiln's: it need not have `timeout`. The runner's own
        // kill and the start-up sweep (deadline label) still bound the container's life.
        deadlineInside: false,
      },
      {
        onLog: (b) => {
          output += b.toString('utf8');
          if (output.length > MAX_OUTPUT_CHARS * 2) output = output.slice(-MAX_OUTPUT_CHARS);
        },
      },
    );
  })().catch((cause: unknown) => {
    throw new GateInfraError(`the image-test gate could not run ${g.image}: ${(cause as Error).message}`, { image: g.image }, { cause });
  });
  const tail = logTail(output.slice(-MAX_OUTPUT_CHARS));
  const verdict = (passed: boolean, reason: string): GateRecord => ({ ...base, verdict: passed ? 'passed' : 'failed', reason, logTail: tail, at: at() });
  let record: GateRecord;
  if (exit.timedOut) record = verdict(false, `the test command did not finish within ${g.timeoutSeconds} s: ${g.test}`);
  else if (exit.oomKilled) record = verdict(false, `the test command ran out of memory: ${g.test}`);
  else if (exit.exitCode !== 0) record = verdict(false, `the test command exited with ${exit.exitCode}: ${g.test}`);
  else record = verdict(true, `the test command passed in ${g.image.slice(g.image.indexOf('@') + 1, g.image.indexOf('@') + 20)}…: ${g.test}`);
  log.info({ verdict: record.verdict, exitCode: exit.exitCode }, `gate ${record.verdict}: ${record.reason}`);
  return record;
}

/**
 * A multi-arch image: the test in each architecture's image (by its digest in the index), in
 * order; the verdict is the first failure (its reason names the platform), else a pass naming them all.
 */
export async function runImageTestGateEach(g: Omit<ImageTestGate, 'image' | 'platform'>, images: Array<{ image: string; platform: string }>): Promise<GateRecord> {
  const passed: string[] = [];
  let last: GateRecord | undefined;
  for (const i of images) {
    last = await runImageTestGate({ ...g, image: i.image, platform: i.platform });
    if (last.verdict === 'failed') return { ...last, reason: `${i.platform}: ${last.reason}` };
    passed.push(i.platform);
  }
  if (!last) throw new GateInfraError(`${g.package} ${g.version}: an image index with no images`, { package: g.package });
  return { ...last, reason: `the test command passed on ${passed.join(', ')}: ${g.test}` };
}
