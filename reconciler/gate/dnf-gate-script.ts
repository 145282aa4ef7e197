// The install-smoke gate for dnf repositories as a shell script run in a clean
// container of the rpm image, and the reading of its outcome. Pure: no Docker
// here. dnf installs into an empty --installroot (the image's own rpm database
// is Debian's, empty and in the way), from the published repository mounted at
// /repo, checking both the package signatures and repomd.xml's (gpgcheck=1,
// repo_gpgcheck=1). Inputs reach the script as environment variables.
import { GATE_EXIT, logTail, MARK, type GateOutcome, type GateRun } from './gate-script.ts';

export interface DnfGateEnv {
  /** The key file inside the container, e.g. /repo/RPM-GPG-KEY-testing. */
  KILN_KEY: string;
  KILN_PACKAGE: string;
  /** `[E:]V-R`. */
  KILN_VERSION: string;
  KILN_SMOKE: string;
}

export const DNF_SMOKE_SCRIPT = [
  'exec 2>&1',
  'set -u',
  'mkdir -p /tmp/kiln-repos',
  `printf '[kiln]\\nname=kiln\\nbaseurl=file:///repo\\ngpgcheck=1\\nrepo_gpgcheck=1\\ngpgkey=file://%s\\n' "$KILN_KEY" > /tmp/kiln-repos/kiln.repo`,
  `echo "${MARK} step=install"`,
  `dnf -y --setopt=reposdir=/tmp/kiln-repos --setopt=cachedir=/tmp/kiln-cache --installroot=/tmp/root --releasever=1 install "$KILN_PACKAGE-$KILN_VERSION" || exit ${GATE_EXIT.install}`,
  `echo "${MARK} step=verify"`,
  `status=$(rpm --root /tmp/root -q --qf '%{NAME} %{EVR}' "$KILN_PACKAGE" 2>&1)`,
  'echo "rpm -q: $status"',
  `[ "$status" = "$KILN_PACKAGE $KILN_VERSION" ] || exit ${GATE_EXIT.notInstalled}`,
  // The installroot has no shell of its own: the smoke command runs here with its binaries first on PATH.
  `if [ -n "$KILN_SMOKE" ]; then echo "${MARK} step=smoke"; PATH=/tmp/root/usr/bin:/tmp/root/usr/sbin:$PATH bash -e -c "$KILN_SMOKE" || exit ${GATE_EXIT.smoke}; fi`,
  `echo "${MARK} passed"`,
].join('\n');

/** dnf's own reason: its "Error:" line and what follows, or a signature complaint. */
function dnfSaid(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const i = lines.map((l) => l.startsWith('Error:')).lastIndexOf(true);
  const err = i >= 0 ? [lines[i], lines[i + 1]].filter(Boolean).join(' ') : undefined;
  // The signature complaint often comes before the last error (a repository skipped, then "no match").
  const sig = lines.filter((l, j) => j !== i && /bad GPG signature|GPG check FAILED|is not signed|signature.*(BAD|NOKEY)/i.test(l)).at(-1);
  return [sig, err].filter(Boolean).join('; ') || undefined;
}

export function interpretDnfGateRun(run: GateRun, what: { package: string; version: string; smoke?: string; timeoutSeconds: number }): GateOutcome {
  const tail = logTail(run.output);
  const fail = (reason: string): GateOutcome => ({ verdict: 'failed', reason, logTail: tail });
  if (run.timedOut) return fail(`the gate did not finish within ${what.timeoutSeconds} s`);
  if (run.oomKilled) return fail('the gate container ran out of memory');
  if (run.exitCode === 0 && run.output.includes(`${MARK} passed`)) {
    return { verdict: 'passed', reason: `${what.package}-${what.version} installed by dnf${what.smoke ? ' and its smoke command passed' : ''}`, logTail: tail };
  }
  const dnf = dnfSaid(run.output);
  switch (run.exitCode) {
    case GATE_EXIT.install:
      return fail(`dnf install ${what.package}-${what.version} failed${dnf ? `: ${dnf}` : ''}`);
    case GATE_EXIT.notInstalled:
      return fail(`${what.package} ${what.version} is not installed after dnf install (${/rpm -q: (.*)/.exec(run.output)?.[1] ?? 'no status'})`);
    case GATE_EXIT.smoke:
      return fail(`the smoke command failed: ${what.smoke}`);
    default:
      return fail(`the gate script exited with ${run.exitCode}`);
  }
}
