// `skopeo copy` as an image consumer runs it: a policy.json (e.g. signedBy Kiln's key)
// and a registries.d pointing the registry's lookaside at where kiln serve serves the
// signatures, copying into a dir: layout. The independent judge of Kiln's signatures.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registriesDConfig } from '../../oci/consumer-policy.ts';

const run = promisify(execFile);

/** `arch`: which image of a multi-arch index to copy (skopeo --override-arch). */
export async function consumerCopy(o: { workRoot: string; registry: string; lookasideUrl: string; policy: object; ref: string; arch?: string }): Promise<{ ok: boolean; stderr: string }> {
  const work = await mkdtemp(join(o.workRoot, 'consumer-'));
  await writeFile(join(work, 'policy.json'), JSON.stringify(o.policy));
  await mkdir(join(work, 'registries.d'));
  await writeFile(join(work, 'registries.d', 'kiln.yaml'), registriesDConfig(o.registry, o.lookasideUrl));
  try {
    await run('skopeo', ['--policy', join(work, 'policy.json'), '--registries.d', join(work, 'registries.d'), ...(o.arch ? ['--override-arch', o.arch] : []), 'copy', '--src-tls-verify=false', `docker://${o.ref}`, `dir:${join(work, 'out')}`]);
    return { ok: true, stderr: '' };
  } catch (e) {
    return { ok: false, stderr: String((e as { stderr?: string }).stderr) };
  }
}
