// One soak agent, as its own process so the soak can SIGKILL it: the real Agent
// on a cluster connection (connectNats), building with the StubDebRunner. Every
// result the stream stored (a PubAck that is not a duplicate) is appended to the
// journal, so the soak can check that each one reached the status branch.
//   node --import tsx scripts/soak-parts/agent-main.ts '{"natsUrl":…,"id":…,…}'
import { appendFileSync } from 'node:fs';
import type { Msg, NatsConnection, Payload, RequestOptions } from '@nats-io/transport-node';
import { pino } from 'pino';
import { Agent } from '../../agents/agent.ts';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { withRequest } from '../../reconciler/nats/election-retry.ts';
import { StubDebRunner } from './stub-deb-runner.ts';

export interface AgentSettings {
  natsUrl: string;
  id: string;
  workDir: string;
  journal: string;
  seed: number;
  concurrency: number;
  minMs: number;
  maxMs: number;
}

/** The connection, with every stored result written to the journal. */
function journaled(nc: NatsConnection, journal: string, agent: string): NatsConnection {
  const request = async (subject: string, payload?: Payload, opts?: RequestOptions): Promise<Msg> => {
    const answer = await nc.request(subject, payload, opts);
    if (subject.startsWith('kiln.result.') && payload) {
      const ack = JSON.parse(Buffer.from(answer.data).toString('utf8')) as { seq?: number; duplicate?: boolean; error?: unknown };
      const r = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) as { key: string; attempt: number; outcome: string };
      if (!ack.error) appendFileSync(journal, JSON.stringify({ kind: 'result', agent, key: r.key, attempt: r.attempt, outcome: r.outcome, seq: ack.seq, duplicate: ack.duplicate === true, at: Date.now() }) + '\n');
    }
    return answer;
  };
  return withRequest(nc, request);
}

const s = JSON.parse(process.argv[2]) as AgentSettings;
const log = pino({ level: 'info' }, pino.destination(2));
const nc = journaled(await connectNats(s.natsUrl, { name: `soak-agent ${s.id}`, log, reconnectTimeWaitMs: 250 }), s.journal, s.id);
const runner = new StubDebRunner({ seed: s.seed, minMs: s.minMs, maxMs: s.maxMs, agent: s.id, journal: s.journal });
const agent = new Agent({ nc, pool: 'deb', arch: 'amd64', workDir: s.workDir, log, id: s.id, concurrency: s.concurrency, heartbeatMs: 1000, runner, pullExpiresMs: 2000 });
process.once('SIGTERM', () => agent.drain('SIGTERM'));
await agent.start();
await agent.done();
await agent.close();
await nc.drain().catch(() => nc.close());
