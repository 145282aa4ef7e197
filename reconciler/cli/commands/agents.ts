// kiln agents: the build agents that are alive now (from their heartbeats).
import { formatAgents, listAgents } from '../../pipeline/agent-registry.ts';
import { bucketKeys, openBucket, withNats } from '../../pipeline/nats-kv.ts';
import { BUCKETS } from '../../../schema/nats.ts';
import { str, type Command } from '../command.ts';

const command: Command = {
  path: ['agents'],
  summary: 'List live build agents: pool, arch, running builds, last heartbeat, draining.',
  description:
    'Reads the agent registry (NATS KV bucket kiln-agents). An agent that stops sending heartbeats\n' +
    'disappears after the bucket TTL. `kiln agents drain ID` asks one to finish its builds and stop pulling.',
  options: {
    nats: { type: 'string', valueName: 'URL', description: 'NATS server (default: $KILN_NATS_URL).' },
  },
  examples: ['kiln agents --nats nats://127.0.0.1:4222', 'kiln agents --json'],
  async run(args, ctx) {
    const rows = await withNats(str(args, 'nats') ?? ctx.env.natsUrl, ctx.log, async (nc) =>
      listAgents(await openBucket(nc, BUCKETS.agents), await openBucket(nc, BUCKETS.control), await bucketKeys(nc, BUCKETS.agents), new Date()),
    ctx.env.natsCredentials);
    return { data: { agents: rows }, human: formatAgents(rows) };
  },
};
export default command;
