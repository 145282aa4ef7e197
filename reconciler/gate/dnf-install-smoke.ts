// The install-smoke gate for a dnf distribution: in a clean container of the
// rpm image, with no network and only the source distribution's published
// repository (read-only at /repo), dnf installs the exact version with both
// signature checks on and the smoke command runs. The verdict is a GateRecord.
import type Docker from 'dockerode';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { GateInfraError } from '../../schema/errors.ts';
import type { GateRecord } from '../../schema/status.ts';
import { DNF_INSTALLROOT_CAPABILITIES } from '../../containers/capabilities.ts';
import { runContainer } from '../../containers/run-container.ts';
import { keyFileName } from '../publish/dnf/layout.ts';
import { DNF_SMOKE_SCRIPT, interpretDnfGateRun } from './dnf-gate-script.ts';
import type { GateRun } from './gate-script.ts';

export interface DnfGate {
  docker: Docker;
  /** The rpm image (dnf in it), e.g. kiln/bookworm-rpm. */
  image: string;
  root: string;
  /** The published distribution the version is taken from (ROOT/<from>). */
  from: string;
  /** The distribution being promoted into. */
  distribution: string;
  package: string;
  /** `[E:]V-R`. */
  version: string;
  smoke?: string;
  timeoutSeconds: number;
  log: Logger;
  now?: () => Date;
}

const MAX_OUTPUT_CHARS = 256 * 1024;

export async function runDnfInstallSmokeGate(g: DnfGate): Promise<GateRecord> {
  const at = () => (g.now ?? (() => new Date()))().toISOString();
  const base = { distribution: g.distribution, from: g.from, package: g.package, version: g.version, gate: 'install-smoke' };
  const repoDir = join(g.root, g.from);
  const key = keyFileName(g.from);
  const published = await stat(join(repoDir, 'repodata', 'repomd.xml')).then(() => true, () => false);
  if (!published) return { ...base, verdict: 'failed', reason: `${repoDir}/repodata/repomd.xml does not exist: is '${g.from}' published?`, at: at() };
  const started = Date.now();
  const run = await runGate(g, repoDir, key).catch((cause: unknown) => {
    throw new GateInfraError(`the dnf install-smoke gate could not run in ${g.image}: ${(cause as Error).message}`, { image: g.image, from: g.from }, { cause });
  });
  const outcome = interpretDnfGateRun(run, { package: g.package, version: g.version, smoke: g.smoke, timeoutSeconds: g.timeoutSeconds });
  g.log.child({ component: 'gate', gate: 'install-smoke', format: 'dnf', from: g.from, package: g.package })
    .info({ verdict: outcome.verdict, durationMs: Date.now() - started, exitCode: run.exitCode }, `gate ${outcome.verdict}: ${outcome.reason}`);
  return { ...base, verdict: outcome.verdict, reason: outcome.reason, logTail: outcome.logTail, at: at() };
}

/** As root (rpm sets owners and modes in the installroot), with only the capabilities that needs. */
async function runGate(g: DnfGate, repoDir: string, key: string): Promise<GateRun> {
  let output = '';
  const env = { KILN_KEY: `/repo/${key}`, KILN_PACKAGE: g.package, KILN_VERSION: g.version, KILN_SMOKE: g.smoke ?? '' };
  const exit = await runContainer(
    g.docker,
    {
      image: g.image,
      cmd: ['bash', '-c', DNF_SMOKE_SCRIPT],
      role: 'gate',
      user: 'root',
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      network: 'none',
      capAdd: DNF_INSTALLROOT_CAPABILITIES,
      memoryBytes: 1024 * 1024 * 1024,
      pidsLimit: 512,
      binds: [`${repoDir}:/repo:ro`],
      labels: { 'kiln.gate.from': g.from, 'kiln.gate.package': g.package },
      timeoutMs: g.timeoutSeconds * 1000,
    },
    {
      onLog: (b) => {
        output += b.toString('utf8');
        if (output.length > MAX_OUTPUT_CHARS * 2) output = output.slice(-MAX_OUTPUT_CHARS);
      },
    },
  );
  return { exitCode: exit.exitCode, output: output.slice(-MAX_OUTPUT_CHARS), timedOut: exit.timedOut, oomKilled: exit.oomKilled };
}
