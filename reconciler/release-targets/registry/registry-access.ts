// How the registry target reaches registries for one distribution: TLS per host
// (kiln.yaml `registries`, the distribution's `insecure`) and the reconciler's
// credentials, which come from its settings, not from git: the pass puts them on
// each registry distribution of the desired state it read (withRegistryAuth).
import type { RegistryAuth } from '../../../oci/registry-auth.ts';
import { RegistryClient } from '../../../oci/registry-client.ts';
import type { DesiredState, RegistryDistribution } from '../../model.ts';

/** TLS for every host but the plain-http ones: the distribution's url when `insecure`, and kiln.yaml's insecure registries (the candidate a promotion copies from). */
export const clientFor = (dist: Pick<RegistryDistribution, 'url' | 'insecure' | 'plainHttp' | 'auth'>) =>
  new RegistryClient({ tlsVerify: (host) => (host === dist.url ? !dist.insecure : !(dist.plainHttp ?? []).includes(host)), auth: dist.auth });

/** Pure: the desired state with `auth` on each registry distribution (unchanged without credentials). */
export function withRegistryAuth(state: DesiredState, auth: RegistryAuth | undefined): DesiredState {
  if (!auth) return state;
  const distributions = new Map([...state.distributions].map(([name, d]) => [name, d.format === 'registry' ? { ...d, auth } : d]));
  return { ...state, distributions };
}
