// `--registry-auth FILE` of `kiln agent` and `kiln reconcile`: the registry
// credentials file, read and checked before anything connects.
import { parseRegistryAuth, type RegistryAuth } from '../../oci/registry-auth.ts';
import { readCredentialsFile } from '../keys/read-credentials-file.ts';

export function readRegistryAuth(file: string): Promise<RegistryAuth> {
  return readCredentialsFile(file, { what: 'registry credentials', prefix: '--registry-auth: ', maxBytes: 256 * 1024, parse: parseRegistryAuth });
}
