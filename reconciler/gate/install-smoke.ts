// The install-smoke promotion gate: in a clean container of the base image,
// with no network and only the source distribution's published repository
// (bind-mounted read-only, used as a signed `file:` apt source), install the
// exact version and run its smoke command. The verdict is a GateRecord.
import type Docker from 'dockerode';
import { basename, join } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { GateInfraError } from '../../schema/errors.ts';
import type { GateRecord } from '../../schema/status.ts';
import type { AptDistribution } from '../model.ts';
import { INSTALL_SMOKE_SCRIPT, interpretGateRun, sourceLine, type GateRun } from './gate-script.ts';
import { APT_AS_ROOT_CAPABILITIES } from '../../containers/capabilities.ts';
import { runGateScript } from './gate-container.ts';

export interface InstallSmokeGate {
  docker: Docker;
  /** Base image, e.g. kiln/bookworm-buildd. */
  image: string;
  /** Root of the published repositories: the source repo is repoRoot/<fromDist.name>. */
  repoRoot: string;
  fromDist: AptDistribution;
  /** The source repository's public key (.asc armored or .gpg binary). */
  keyPath: string;
  package: string;
  version: string;
  /** The version the binaries carry when it is not `version` (a binNMU rebuild). */
  installVersion?: string;
  /** Shell command run after install; default: only check dpkg says installed. */
  smoke?: string;
  timeoutSeconds: number;
  log: Logger;
  /** The distribution being promoted into (default: fromDist.name; the caller may overwrite). */
  distribution?: string;
  now?: () => Date;
}

export async function runInstallSmokeGate(g: InstallSmokeGate): Promise<GateRecord> {
  const log = g.log.child({ component: 'gate', gate: 'install-smoke', from: g.fromDist.name, package: g.package, version: g.version });
  const repoDir = join(g.repoRoot, g.fromDist.name);
  const base = {
    distribution: g.distribution ?? g.fromDist.name,
    from: g.fromDist.name,
    package: g.package,
    version: g.version,
    gate: 'install-smoke',
  };
  const missing = await firstMissing([repoDir, g.keyPath]);
  if (missing) {
    const at = (g.now ?? (() => new Date()))().toISOString();
    return { ...base, verdict: 'failed', reason: `${missing} does not exist: is '${g.fromDist.name}' published?`, at };
  }
  const keyInContainer = `/kiln/${basename(g.keyPath)}`;
  const started = Date.now();
  // Docker trouble says nothing about the package: throw (retry later), record no verdict.
  const run = await runGateContainer(g, {
    KILN_SOURCE: sourceLine(keyInContainer, g.fromDist.suite, g.fromDist.components),
    KILN_PACKAGE: g.package,
    KILN_VERSION: g.installVersion ?? g.version,
    KILN_SMOKE: g.smoke ?? '',
  }, [`${repoDir}:/repo:ro`, `${g.keyPath}:${keyInContainer}:ro`]).catch((cause: unknown) => {
    throw new GateInfraError(`the install-smoke gate could not run in ${g.image}: ${(cause as Error).message}`, { image: g.image, from: g.fromDist.name }, { cause });
  });
  const outcome = interpretGateRun(run, { package: g.package, version: g.version, smoke: g.smoke, timeoutSeconds: g.timeoutSeconds });
  log.info({ verdict: outcome.verdict, durationMs: Date.now() - started, exitCode: run.exitCode }, `gate ${outcome.verdict}: ${outcome.reason}`);
  return { ...base, verdict: outcome.verdict, reason: outcome.reason, logTail: outcome.logTail, at: (g.now ?? (() => new Date()))().toISOString() };
}

/** apt installs as root with only the capabilities it needs (containers/capabilities.ts). */
function runGateContainer(g: InstallSmokeGate, env: Record<string, string>, binds: string[]): Promise<GateRun> {
  return runGateScript(g.docker, {
    image: g.image,
    script: INSTALL_SMOKE_SCRIPT,
    env,
    binds,
    capAdd: APT_AS_ROOT_CAPABILITIES,
    labels: { 'kiln.gate.from': g.fromDist.name, 'kiln.gate.package': g.package },
    timeoutSeconds: g.timeoutSeconds,
  });
}

async function firstMissing(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    try {
      await stat(p);
    } catch {
      return p;
    }
  }
  return undefined;
}
