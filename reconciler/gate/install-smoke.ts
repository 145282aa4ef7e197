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
import { runContainer } from '../../containers/run-container.ts';

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

/** Output kept for the verdict: the tail, since apt's verdict comes last. */
const MAX_OUTPUT_CHARS = 256 * 1024;

/**
 * The gate script as root (apt must install), with no network, only the capabilities apt needs,
 * memory/pids limits and the same labels and deadline as build containers, so a reconciler killed
 * mid-gate leaves nothing running for long and the next start-up sweep removes it.
 */
async function runGateContainer(g: InstallSmokeGate, env: Record<string, string>, binds: string[]): Promise<GateRun> {
  let output = '';
  const exit = await runContainer(
    g.docker,
    {
      image: g.image,
      cmd: ['bash', '-c', INSTALL_SMOKE_SCRIPT],
      role: 'gate',
      user: 'root',
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      network: 'none',
      capAdd: APT_AS_ROOT_CAPABILITIES,
      memoryBytes: 1024 * 1024 * 1024,
      pidsLimit: 512,
      binds,
      labels: { 'kiln.gate.from': g.fromDist.name, 'kiln.gate.package': g.package },
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
