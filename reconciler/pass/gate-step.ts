// Promotion gates: run each planned gate against the published source
// distribution, through its release target's gate() (apt: install-smoke),
// and return the verdicts to record.
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DigestMismatchError, GateInfraError } from '../../schema/errors.ts';
import type { GateRecord } from '../../schema/status.ts';
import type { DesiredDistribution, GateAction, Plan } from '../model.ts';
import { releaseTarget } from '../release-targets/index.ts';

export interface GateContext {
  docker: Docker;
  image: string;
  reposDir: string;
  timeoutSeconds: number;
  log: Logger;
  /** The reconciler's registry credentials (registry gates pull with them). */
  registryAuth?: RegistryAuth;
}

/**
 * Run the plan's gates one by one. Verdicts are pushed into `records` as each is reached, so a
 * later gate's failure keeps the earlier verdicts for the pass to record.
 */
export async function runGates(plan: Plan, distributions: Map<string, DesiredDistribution>, ctx: GateContext, records: GateRecord[] = []): Promise<GateRecord[]> {
  const gates = plan.actions.filter((a): a is GateAction => a.kind === 'gate');
  for (const g of gates) {
    const fromDist = distributions.get(g.from);
    if (!fromDist) continue; // the plan only gates from existing distributions
    let record: GateRecord;
    try {
      record = await releaseTarget(fromDist).gate({
        docker: ctx.docker,
        image: ctx.image,
        root: ctx.reposDir,
        from: fromDist,
        distribution: g.distribution,
        package: g.package,
        version: g.version,
        ...(g.installVersion ? { installVersion: g.installVersion } : {}),
        ...(g.smoke ? { smoke: g.smoke } : {}),
        timeoutSeconds: ctx.timeoutSeconds,
        log: ctx.log,
        ...(ctx.registryAuth ? { registryAuth: ctx.registryAuth } : {}),
      });
    } catch (e) {
      // Bytes that do not match their digest are an integrity failure: a failed verdict, so nothing
      // is promoted while the other gates and publishes of the pass go on.
      if (e instanceof DigestMismatchError) {
        records.push(integrityFailure(g, e));
        ctx.log.warn({ distribution: g.distribution, package: g.package, version: g.version, err: e.message }, 'gate failed: integrity');
        continue;
      }
      // Docker trouble is not a verdict on the package: record nothing, so a later pass runs the gate again.
      if (!(e instanceof GateInfraError)) throw e;
      ctx.log.warn({ distribution: g.distribution, package: g.package, version: g.version, err: e.message }, 'gate could not run; will retry');
      continue;
    }
    records.push({ ...record, distribution: g.distribution, from: g.from, builds: g.builds });
    ctx.log.info({ distribution: g.distribution, package: g.package, version: g.version, verdict: record.verdict }, `gate ${record.verdict}`);
  }
  return records;
}

function integrityFailure(g: GateAction, e: DigestMismatchError): GateRecord {
  const { expected, actual } = e.data;
  const digests = expected && actual ? ` (expected ${String(expected)}, served ${String(actual)})` : '';
  return {
    distribution: g.distribution,
    from: g.from,
    package: g.package,
    version: g.version,
    builds: g.builds,
    verdict: 'failed',
    reason: `integrity failure: ${e.message}${digests}`,
    at: new Date().toISOString(),
  };
}
