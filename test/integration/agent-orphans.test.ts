// Build containers of a killed agent do not live for ever: any agent starting
// on the host removes Kiln build containers past their deadline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { DockerRunner } from '../../agents/docker-runner.ts';
import { DEADLINE_LABEL } from '../../containers/labels.ts';
import { BASE_IMAGE, docker, dockerUnavailable } from '../helpers/docker.ts';

const skip = await dockerUnavailable(BASE_IMAGE);

async function buildContainer(deadline: number): Promise<string> {
  const c = await docker.createContainer({
    Image: BASE_IMAGE,
    Cmd: ['sleep', '300'],
    Labels: { 'kiln.role': 'build', 'kiln.agent': 'killed-agent-123', [DEADLINE_LABEL]: String(deadline), 'kiln.test': 'orphans' },
    HostConfig: { NetworkMode: 'none', AutoRemove: false },
  });
  await c.start();
  return c.id;
}

const exists = (id: string) => docker.getContainer(id).inspect().then(() => true, () => false);

test('agent orphans - a build container past its deadline is removed when an agent starts; a live one is kept', { skip }, async (t) => {
  const expired = await buildContainer(Date.now() - 1000);
  const live = await buildContainer(Date.now() + 600_000);
  t.after(() => docker.getContainer(live).remove({ force: true }).catch(() => undefined));
  t.after(() => docker.getContainer(expired).remove({ force: true }).catch(() => undefined));
  await new DockerRunner({ log: pino({ level: 'silent' }), labels: { 'kiln.agent': 'new-agent-456' } }).prepare();
  assert.equal(await exists(expired), false);
  assert.equal(await exists(live), true);
});
