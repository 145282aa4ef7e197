// The apt source a build job carries for its package's buildFrom distribution:
// the URL agents reach it at (<repoUrl>/<name>, kiln.yaml `repoUrl`, or the
// service's own address) and the public key its Release files are signed with.
// Pure.
import type { AptSource } from '../../schema/messages.ts';
import type { DesiredDistribution } from '../model.ts';

export function aptSourceFor(dist: DesiredDistribution | undefined, repoUrl: string | undefined, publicKeyArmored: string): AptSource | undefined {
  // Only an apt distribution can be an apt source (buildFrom of a deb package names one).
  if (!dist || dist.format !== 'apt' || !repoUrl) return undefined;
  return {
    distribution: dist.name,
    url: `${repoUrl.replace(/\/+$/, '')}/${dist.name}`,
    suite: dist.suite,
    components: dist.components.length ? dist.components : ['main'],
    key: publicKeyArmored,
  };
}
