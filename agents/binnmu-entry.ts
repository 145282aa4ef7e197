// The build command of a binNMU rebuild (schema/binnmu.ts): like
// `sbuild --make-binNMU`, a changelog entry is added to the build tree before
// dpkg-buildpackage runs, so every binary carries `<version>+kilnN`. It runs
// inside the build container (no network, non-root, only the work dir
// mounted): the untrusted tree is never written from the host. Pure.
import { binaryVersion, binNMUReason } from '../schema/binnmu.ts';
import type { BuildJob } from '../schema/messages.ts';

/** Source name and distribution come from the tree's own changelog (dpkg-parsechangelog); every value is passed in the environment. */
export const BINNMU_SCRIPT = [
  'set -e',
  'src=$(dpkg-parsechangelog -S Source)',
  'dist=$(dpkg-parsechangelog -S Distribution)',
  `{ printf '%s (%s) %s; urgency=low, binary-only=yes\\n\\n  * %s\\n\\n -- %s  %s\\n\\n' "$src" "$KILN_BINNMU_VERSION" "$dist" "$KILN_BINNMU_REASON" "$KILN_BINNMU_MAINTAINER" "$KILN_BINNMU_DATE"; cat debian/changelog; } > debian/changelog.kiln`,
  'mv debian/changelog.kiln debian/changelog',
  'echo "kiln: binNMU: debian/changelog now starts with $src ($KILN_BINNMU_VERSION)"',
  'exec "$@"',
].join('\n');

/** RFC 2822 date, as debian/changelog wants it. */
const changelogDate = (iso: string) => new Date(iso).toUTCString().replace(/GMT$/, '+0000');

/**
 * The command and environment that run `build` after adding the binNMU entry; `build` alone when
 * the job is no binNMU. `before` (fixed words, no shell syntax) runs first, on the unchanged tree.
 */
export function withBinNMU(job: BuildJob, build: string[], before: string[] = []): { cmd: string[]; env: string[] } {
  if (!job.inputs.binNMU) return { cmd: build, env: [] };
  const script = before.length ? BINNMU_SCRIPT.replace('set -e\n', `set -e\n${before.join(' ')}\n`) : BINNMU_SCRIPT;
  return {
    cmd: ['sh', '-c', script, 'kiln-binnmu', ...build],
    env: [
      `KILN_BINNMU_VERSION=${binaryVersion(job.inputs)}`,
      `KILN_BINNMU_REASON=${binNMUReason(job.inputs)}`,
      'KILN_BINNMU_MAINTAINER=Kiln <kiln@localhost>',
      `KILN_BINNMU_DATE=${changelogDate(job.dispatchedAt)}`,
    ],
  };
}
