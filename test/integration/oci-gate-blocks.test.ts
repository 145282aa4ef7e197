// kiln-test: alone (scripts/test runs it after the others, one at a time)
// A failing `test:` blocks promotion, through real passes: nats-server, an agent
// with the oci runner, two Debian docker-registry instances (candidate and
// production `format: registry` distributions, production promoteFrom candidate
// with the image-test gate), the gate's network-less container in real Docker,
// skopeo as the independent client. Two images: `good` (its test passes) is
// promoted, which shows the path works; `bad` (its test fails) is published to
// candidate only: the failed verdict and its reason are on kiln/status, the plan
// waits on GateFailed, and production has no tag of it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import { dockerUnavailable } from '../helpers/docker.ts';
import { OCI_KILN_YAML, startOciStack, statusFile, type OciStack } from '../helpers/oci-loop.ts';
import { makeImageSource } from '../helpers/tiny-image.ts';
import { until, withDeadline } from '../helpers/until.ts';

const run = promisify(execFile);

let stack: OciStack;

const onStatus = (path: string) => statusFile(stack.repoDir, path);

const released = async (dist: string): Promise<string[]> => {
  const text = await onStatus(`releases/${dist}.yaml`);
  return text ? (parse(text) as { packages: Array<{ name: string }> }).packages.map((p) => p.name).sort() : [];
};

const image = (name: string, src: string, testCmd: string) =>
  `name: ${name}\nversion: 1.0-1\nformat: oci\nsource: { git: ${src}, ref: main, subdir: img }\narchitectures: [amd64]\nrelease: [candidate, production]\ntags: ['{version}', latest]\ntest: ${testCmd}\n`;

describe('oci gate', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    stack = await startOciStack({
      label: 'oci-gate',
      candidateInsecure: false,
      files: async ({ dir, cand, prod }) => {
        const src = join(dir, 'images');
        await makeImageSource(src, 'img', 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nRUN echo hello-kiln > /hello.txt\nCMD ["sh"]\n');
        return {
          'kiln.yaml': `${OCI_KILN_YAML}registries:\n  ${cand.host}:\n    insecure: true\n  ${prod.host}:\n    insecure: true\n`,
          'packages/good.yaml': image('good', src, 'grep -q hello-kiln /hello.txt'),
          'packages/bad.yaml': image('bad', src, "grep -q 'goodbye' /hello.txt"),
          'distributions/candidate.yaml': `name: candidate\nformat: registry\nurl: ${cand.host}\nrepository: kiln\narchitectures: [amd64]\n`,
          'distributions/production.yaml': `name: production\nformat: registry\nurl: ${prod.host}\nrepository: kiln\narchitectures: [amd64]\npromoteFrom: candidate\ngate: image-test\n`,
        };
      },
    });
  });
  after(() => stack?.close());

  test('oci gate - an image whose test: fails is not promoted: a failed verdict with its reason on kiln/status, GateFailed in the plan, no tag in production', async () => {
    const { rec, prod } = stack;
    await until(
      async () => {
        // A pass that does not return in time fails naming its last step (this file once hung until the runner's timeout, saying nothing).
        await withDeadline(stack.rec.runPass(), 120_000, () => `a pass (the last step it finished: ${stack.lastStep()})`);
        return (await released('production')).includes('good') && (await onStatus(STATUS_LAYOUT.gate('production', 'bad', '1.0-1'))) !== undefined;
      },
      240_000,
      'good promoted to production and a gate verdict for bad',
    );
    assert.deepEqual(await released('candidate'), ['bad', 'good'], 'both built images are published to the candidate distribution');

    const verdict = parse((await onStatus(STATUS_LAYOUT.gate('production', 'bad', '1.0-1')))!) as { verdict: string; reason: string; gate: string };
    assert.equal(verdict.verdict, 'failed');
    assert.equal(verdict.gate, 'image-test');
    assert.match(verdict.reason, /exit|goodbye|status/i);
    const passed = parse((await onStatus(STATUS_LAYOUT.gate('production', 'good', '1.0-1')))!) as { verdict: string };
    assert.equal(passed.verdict, 'passed');

    // A further pass: bad still waits on its failed gate and is still not promoted.
    const report = await rec.runPass();
    const wait = report.plan?.waiting.find((w) => w.subject.includes('bad') && w.reason === 'GateFailed');
    assert.ok(wait, `the plan says why bad waits: ${JSON.stringify(report.plan?.waiting)}`);
    assert.deepEqual(await released('production'), ['good']);

    // The independent client: production has good's tags and no repository of bad at all.
    const tags = async (repo: string) => JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${prod.host}/${repo}`])).stdout) as { Tags: string[] };
    assert.deepEqual((await tags('kiln/good')).Tags.sort(), ['1.0-1', 'latest']);
    await assert.rejects(tags('kiln/bad'), (e: { stderr?: string }) => /not found|unknown/i.test(String(e.stderr)));
    await assert.rejects(run('skopeo', ['inspect', '--tls-verify=false', `docker://${prod.host}/kiln/bad:1.0-1`]));
  });
});
