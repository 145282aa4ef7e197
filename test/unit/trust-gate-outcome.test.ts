// Reading the install-smoke gate's outcome from its exit code and output. Pure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATE_EXIT, interpretGateRun, logTail, MARK, sourceLine } from '../../reconciler/gate/gate-script.ts';

const what = { package: 'hello', version: '1.0-1', smoke: 'hello --version', timeoutSeconds: 60 };

test('gate - outcome: passed only with exit 0 and the passed marker', () => {
  assert.equal(interpretGateRun({ exitCode: 0, output: `${MARK} passed\n`, timedOut: false }, what).verdict, 'passed');
  assert.equal(interpretGateRun({ exitCode: 0, output: 'killed early\n', timedOut: false }, what).verdict, 'failed');
});

test('gate - outcome: each failing step gives its own reason', () => {
  const cases: Array<[number, string, RegExp]> = [
    [GATE_EXIT.update, 'E: The repository does not have a Release file.\n', /apt-get update failed.*Release file/],
    [GATE_EXIT.install, "E: Version '1.0-1' for 'hello' was not found\n", /apt-get install hello=1\.0-1 failed: E: Version/],
    [GATE_EXIT.notInstalled, 'dpkg-query: deinstall ok config-files 1.0-1\n', /not installed.*deinstall ok config-files/],
    [GATE_EXIT.smoke, 'boom\n', /smoke command failed: hello --version/],
    [137, '', /exited with 137/],
  ];
  for (const [exitCode, output, reason] of cases) {
    const o = interpretGateRun({ exitCode, output, timedOut: false }, what);
    assert.equal(o.verdict, 'failed');
    assert.match(o.reason, reason);
  }
  assert.match(interpretGateRun({ exitCode: 137, output: '', timedOut: true }, what).reason, /within 60 s/);
  assert.match(interpretGateRun({ exitCode: 137, output: '', timedOut: false, oomKilled: true }, what).reason, /out of memory/);
});

test('gate - outcome: the log tail is bounded and the source line names the key', () => {
  assert.equal(logTail('x'.repeat(10_000)).length, 4001);
  assert.equal(sourceLine('/kiln/k.asc', 'testing', []), 'deb [signed-by=/kiln/k.asc] file:/repo testing main');
});
