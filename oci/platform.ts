// Kiln (Debian) architecture names → OCI platforms: the one mapping the agent's
// build (--platform), the image index's entries and the image-test gate use.
// `all` has none (an image is always of one machine); an architecture without
// an entry is refused when the metadata is read (reconciler/desired/rules.ts).

export interface OciPlatform {
  os: 'linux';
  architecture: string;
  /** The ARM variant, where the OCI image spec names one. */
  variant?: string;
}

/** The machines whose binaries a host runs natively, by Node's process.arch (others need qemu). */
const NATIVE: Readonly<Record<string, readonly string[]>> = { x64: ['amd64', 'i386'], arm64: ['arm64'], ia32: ['i386'], s390x: ['s390x'], ppc64: ['ppc64el'], riscv64: ['riscv64'] };

/** The binfmt_misc entry (Debian qemu-user-static) that runs an architecture's binaries elsewhere. */
const QEMU: Readonly<Record<string, string>> = {
  amd64: 'qemu-x86_64', arm64: 'qemu-aarch64', armhf: 'qemu-arm', armel: 'qemu-arm', i386: 'qemu-i386',
  ppc64el: 'qemu-ppc64le', s390x: 'qemu-s390x', riscv64: 'qemu-riscv64', mips64el: 'qemu-mips64el',
};

/** The binfmt_misc entry `arch` needs on a host of `hostArch` (process.arch), or undefined when it runs natively. */
export function emulatorFor(arch: string, hostArch: string): string | undefined {
  return NATIVE[hostArch]?.includes(arch) ? undefined : QEMU[arch];
}

const PLATFORMS: Readonly<Record<string, OciPlatform>> = {
  amd64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64' },
  armhf: { os: 'linux', architecture: 'arm', variant: 'v7' },
  armel: { os: 'linux', architecture: 'arm', variant: 'v5' },
  i386: { os: 'linux', architecture: '386' },
  ppc64el: { os: 'linux', architecture: 'ppc64le' },
  s390x: { os: 'linux', architecture: 's390x' },
  riscv64: { os: 'linux', architecture: 'riscv64' },
  mips64el: { os: 'linux', architecture: 'mips64le' },
};

/** The OCI platform of a Kiln architecture; undefined when it has none (`all`, an unknown name). */
export function ociPlatform(arch: string): OciPlatform | undefined {
  return Object.hasOwn(PLATFORMS, arch) ? PLATFORMS[arch] : undefined;
}

/** Every Kiln architecture an image can be built for. */
export const ociArchitectures = (): string[] => Object.keys(PLATFORMS);

/** Docker's `--platform` form: os/architecture[/variant]. */
export function platformString(p: OciPlatform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/** Docker's `--platform` form of what an image config (or an index entry) says (linux, unknown when it says nothing). */
export function configPlatformString(config: { os?: string; architecture?: string; variant?: string } | undefined): string {
  return [config?.os ?? 'linux', config?.architecture ?? 'unknown', ...(config?.variant ? [config.variant] : [])].join('/');
}

/** Whether an image config's os/architecture/variant is this platform's (a config without a variant matches any). */
export function configMatches(p: OciPlatform, config: { os?: string; architecture?: string; variant?: string }): boolean {
  return config.os === p.os && config.architecture === p.architecture && (!p.variant || !config.variant || config.variant === p.variant);
}

/** Pure: why an image config is not of `arch`'s platform, naming both as os/architecture[/variant] (undefined: it is). */
export function platformProblem(arch: string, config: { os?: string; architecture?: string; variant?: string }): string | undefined {
  const p = ociPlatform(arch);
  if (p && configMatches(p, config)) return undefined;
  const got = [config.os ?? '?', config.architecture ?? '?', ...(config.variant ? [config.variant] : [])].join('/');
  return `the ${arch} build's image is ${got}, not ${p ? platformString(p) : 'of any OCI platform'}`;
}
