// Whether this host runs binaries of another machine: through qemu via binfmt_misc
// (scripts/setup-host enables qemu-aarch64), with the F flag, which makes it work inside
// containers. An oci agent of another architecture refuses to start without it (every
// build would fail at its first RUN); the image-test gate reports it as its own trouble
// rather than a failed verdict ("exec format error" says nothing about the image).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { emulatorFor, ociArchitectures, ociPlatform, platformString } from './platform.ts';

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

/** The same for an image's platform (os/arch[/variant]); undefined too for a platform of no Kiln architecture. */
export async function platformEmulationProblem(platform: string, hostArch: string = process.arch, binfmtDir = BINFMT_DIR): Promise<string | undefined> {
  const arch = ociArchitectures().find((a) => platformString(ociPlatform(a)!) === platform);
  return arch ? emulationProblem(arch, hostArch, binfmtDir) : undefined;
}
