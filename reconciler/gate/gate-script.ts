// The install-smoke gate as a shell script run in a clean container, and the
// reading of its outcome. Pure: no Docker here. The package, version and smoke
// command reach the script as environment variables, never spliced into it.

/** Marker lines the script prints; the outcome is read back from them and the exit code. */
export const MARK = '@@kiln-gate';

/** Exit codes of the script, one per step that can fail. */
export const GATE_EXIT = { update: 10, install: 11, notInstalled: 12, smoke: 13 } as const;

export interface GateEnv {
  /** One `deb [signed-by=…] file:/repo SUITE COMPONENTS` line. */
  KILN_SOURCE: string;
  KILN_PACKAGE: string;
  KILN_VERSION: string;
  KILN_SMOKE: string;
}

export function sourceLine(keyInContainer: string, suite: string, components: string[]): string {
  return `deb [signed-by=${keyInContainer}] file:/repo ${suite} ${(components.length ? components : ['main']).join(' ')}`;
}

export const INSTALL_SMOKE_SCRIPT = [
  // One ordered stream: the engine keeps stdout and stderr apart, so apt's 'E:' line (stderr) could
  // otherwise land inside a progress line of stdout, and the verdict would lose its reason.
  'exec 2>&1',
  'set -u',
  // Only the repository under test: no Debian mirror (and no network anyway).
  'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*',
  'rm -rf /var/lib/apt/lists/*',
  `printf '%s\\n' "$KILN_SOURCE" > /etc/apt/sources.list.d/kiln.list`,
  `echo "${MARK} step=update"`,
  `apt-get update --error-on=any || exit ${GATE_EXIT.update}`,
  `echo "${MARK} step=install"`,
  `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$KILN_PACKAGE=$KILN_VERSION" || exit ${GATE_EXIT.install}`,
  `echo "${MARK} step=verify"`,
  `status=$(dpkg-query -W -f='\${Status} \${Version}' "$KILN_PACKAGE" 2>&1)`,
  `echo "dpkg-query: $status"`,
  `[ "$status" = "install ok installed $KILN_VERSION" ] || exit ${GATE_EXIT.notInstalled}`,
  `if [ -n "$KILN_SMOKE" ]; then echo "${MARK} step=smoke"; bash -e -c "$KILN_SMOKE" || exit ${GATE_EXIT.smoke}; fi`,
  `echo "${MARK} passed"`,
].join('\n');

export interface GateRun {
  exitCode: number;
  output: string;
  timedOut: boolean;
  oomKilled?: boolean;
}

export interface GateOutcome {
  verdict: 'passed' | 'failed';
  reason: string;
  logTail: string;
}

const TAIL_CHARS = 4000;

export function logTail(output: string, max = TAIL_CHARS): string {
  return output.length <= max ? output : '…' + output.slice(output.length - max);
}

/** apt's last error line ("E: …"), the most useful single line of a failed apt run. */
function lastAptError(output: string): string | undefined {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(E|Err):?\s/.test(l))
    .at(-1);
}

export function interpretGateRun(run: GateRun, what: { package: string; version: string; smoke?: string; timeoutSeconds: number }): GateOutcome {
  const tail = logTail(run.output);
  const fail = (reason: string): GateOutcome => ({ verdict: 'failed', reason, logTail: tail });
  const apt = lastAptError(run.output);
  if (run.timedOut) return fail(`the gate did not finish within ${what.timeoutSeconds} s`);
  if (run.oomKilled) return fail('the gate container ran out of memory');
  if (run.exitCode === 0 && run.output.includes(`${MARK} passed`)) {
    return { verdict: 'passed', reason: `${what.package}=${what.version} installed${what.smoke ? ' and its smoke command passed' : ''}`, logTail: tail };
  }
  switch (run.exitCode) {
    case GATE_EXIT.update:
      return fail(`apt-get update failed on the source repository${apt ? `: ${apt}` : ''}`);
    case GATE_EXIT.install:
      return fail(`apt-get install ${what.package}=${what.version} failed${apt ? `: ${apt}` : ''}`);
    case GATE_EXIT.notInstalled:
      return fail(`${what.package} ${what.version} is not installed after apt-get install (${/dpkg-query: (.*)/.exec(run.output)?.[1] ?? 'no status'})`);
    case GATE_EXIT.smoke:
      return fail(`the smoke command failed: ${what.smoke}`);
    default:
      return fail(`the gate script exited with ${run.exitCode}`);
  }
}
