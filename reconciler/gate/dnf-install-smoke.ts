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
import { keyFileName } from '../publish/dnf/layout.ts';
import { DNF_SMOKE_SCRIPT, interpretDnfGateRun } from './dnf-gate-script.ts';
import type { GateRun } from './gate-script.ts';
import { runGateScript } from './gate-container.ts';

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

/** rpm sets owners and modes in the installroot and chroots into it: those capabilities only. */
function runGate(g: DnfGate, repoDir: string, key: string): Promise<GateRun> {
  return runGateScript(g.docker, {
    image: g.image,
    script: DNF_SMOKE_SCRIPT,
    env: { KILN_KEY: `/repo/${key}`, KILN_PACKAGE: g.package, KILN_VERSION: g.version, KILN_SMOKE: g.smoke ?? '' },
    binds: [`${repoDir}:/repo:ro`],
    capAdd: DNF_INSTALLROOT_CAPABILITIES,
    labels: { 'kiln.gate.from': g.from, 'kiln.gate.package': g.package },
    timeoutSeconds: g.timeoutSeconds,
  });
}
