// How the registry target reaches registries for one distribution: TLS per host
// (kiln.yaml `registries`, the distribution's `insecure`) and the reconciler's
// credentials, which come from its settings, not from git: the pass hands them to
// apply, observe and gate with each request (never in the desired state: the model
// holds no secret, and its objects stay the same from pass to pass for the incremental planner).
import type { RegistryAuth } from '../../../oci/registry-auth.ts';
import { RegistryClient } from '../../../oci/registry-client.ts';
import type { RegistryDistribution } from '../../model.ts';

/** TLS for every host but the plain-http ones: the distribution's url when `insecure`, and kiln.yaml's insecure registries (the candidate a promotion copies from). */
export const clientFor = (dist: Pick<RegistryDistribution, 'url' | 'insecure' | 'plainHttp'>, auth: RegistryAuth | undefined) =>
  new RegistryClient({ tlsVerify: (host) => (host === dist.url ? !dist.insecure : !(dist.plainHttp ?? []).includes(host)), auth });
