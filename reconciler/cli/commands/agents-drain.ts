// kiln agents drain ID: ask one agent to finish its builds and take no new one.
import { hostname, userInfo } from 'node:os';
import { listAgents, requestDrain } from '../../pipeline/agent-registry.ts';
import { bucketKeys, openBucket, withNats } from '../../pipeline/nats-kv.ts';
import { NotFoundError } from '../../../schema/errors.ts';
import { BUCKETS } from '../../../schema/nats.ts';
import { flag, str, type Command } from '../command.ts';

const command: Command = {
  path: ['agents', 'drain'],
  summary: 'Ask an agent to drain: finish the builds it runs, pull no new job, then exit.',
  description:
    'Writes a drain request for the agent (NATS KV bucket kiln-control, key drain.<ID>). The agent sees it\n' +
    'within a moment, stops pulling, finishes what it runs and exits; its queued jobs go to the other\n' +
    'agents of its pool. Refuses an unknown agent id unless --force.',
  options: {
    nats: { type: 'string', valueName: 'URL', description: 'NATS server (default: $KILN_NATS_URL).' },
    force: { type: 'boolean', description: 'Write the request even if no live agent has this id (e.g. it is restarting).' },
  },
  positionals: [{ name: 'ID', description: 'Agent id, as shown by `kiln agents`.', required: true }],
  examples: ['kiln agents drain build-host-1'],
  async run(args, ctx) {
    const id = args.positionals[0];
    const by = `${userInfo().username}@${hostname()} at ${new Date().toISOString()}`;
    await withNats(str(args, 'nats') ?? ctx.env.natsUrl, ctx.log, async (nc) => {
      const agents = await openBucket(nc, BUCKETS.agents);
      const control = await openBucket(nc, BUCKETS.control);
      const known = (await listAgents(agents, control, await bucketKeys(nc, BUCKETS.agents), new Date())).some((a) => a.id === id);
      if (!known && !flag(args, 'force')) throw new NotFoundError(`no live agent '${id}' (see \`kiln agents\`; --force to request anyway)`, { id });
      await requestDrain(control, id, by);
    }, ctx.env.natsCredentials);
    return { data: { agent: id, drainRequested: true, by }, human: `drain requested for ${id}; it finishes its running builds, then exits` };
  },
};
export default command;
