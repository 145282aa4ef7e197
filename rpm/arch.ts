// Kiln names architectures the Debian way (schema/metadata.ts ARCHITECTURES);
// rpm names them its own way. This is the one place the two meet: agents pass
// `rpmbuild --target`, the reconciler checks an rpm header's arch and places it
// in a repository, both through these two functions.
import type { Architecture } from '../schema/metadata.ts';
import type { RpmHeaderArch } from '../schema/status.ts';

const TO_RPM = {
  amd64: 'x86_64',
  arm64: 'aarch64',
  armhf: 'armv7hl',
  i386: 'i686',
  ppc64el: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  all: 'noarch',
} as const satisfies Partial<Record<Architecture, RpmHeaderArch>>;

export type RpmArch = (typeof TO_RPM)[keyof typeof TO_RPM];

/** rpm's name for a Kiln architecture; undefined when rpm has none Kiln builds for (armel, mips64el). */
export function rpmArch(arch: string): RpmArch | undefined {
  return Object.hasOwn(TO_RPM, arch) ? TO_RPM[arch as keyof typeof TO_RPM] : undefined;
}

/** Kiln's name for an rpm architecture (a header's ARCH); i386..i686 all map to i386. */
export function kilnArch(rpm: string): Architecture | undefined {
  if (/^i[3-6]86$/.test(rpm)) return 'i386';
  const hit = (Object.entries(TO_RPM) as [Architecture, string][]).find(([, r]) => r === rpm);
  return hit?.[0];
}
