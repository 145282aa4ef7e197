// `--registry-auth FILE` of `kiln agent` and `kiln reconcile`: the registry
// credentials file, read and checked before anything connects.
import { parseRegistryAuth, type RegistryAuth } from '../../oci/registry-auth.ts';
import { readCredentialsFile } from '../keys/read-credentials-file.ts';

/** `--registry-auth FILE` of the commands that only read registries (base images named by tag). */
export const READ_REGISTRY_AUTH_OPTION = {
  type: 'string',
  valueName: 'FILE',
  description: 'Registry credentials, a containers-auth.json as `skopeo login --authfile FILE HOST` writes it, for resolving base images named by tag. Default: anonymous',
} as const;

export function readRegistryAuth(file: string): Promise<RegistryAuth> {
  return readCredentialsFile(file, { what: 'registry credentials', prefix: '--registry-auth: ', maxBytes: 256 * 1024, parse: parseRegistryAuth });
}
