// An agent of the `oci` pool serves one architecture (`kiln agent --pool oci --arch
// arm64`). On a host of another machine, RUN steps of its images run under qemu
// through binfmt_misc (scripts/setup-host enables qemu-aarch64): without the entry
// (and its F flag, which makes it work inside containers) every build would fail
// at its first RUN, so the agent refuses to start and says what is missing.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { emulatorFor } from '../oci/platform.ts';

export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** Why this host cannot build images for `arch` (undefined: it can, natively or under qemu). */
export async function emulationProblem(arch: string, hostArch: string = process.arch, binfmtDir = BINFMT_DIR): Promise<string | undefined> {
  const entry = emulatorFor(arch, hostArch);
  if (!entry) return undefined;
  const text = await readFile(join(binfmtDir, entry), 'utf8').catch(() => undefined);
  const fix = `install qemu-user-static and binfmt-support and run update-binfmts --enable ${entry} (scripts/setup-host does)`;
  if (text === undefined) return `this ${hostArch} host cannot run ${arch} binaries: no ${join(binfmtDir, entry)}; ${fix}`;
  if (!/^enabled/m.test(text)) return `this ${hostArch} host cannot run ${arch} binaries: ${join(binfmtDir, entry)} is disabled; ${fix}`;
  if (!/^flags:.*F/m.test(text)) return `${join(binfmtDir, entry)} lacks flag F: ${arch} RUN steps would fail inside containers; ${fix}`;
  return undefined;
}
