// The agent registry as seen by the reconciler: heartbeats in KV BUCKETS.agents
// (the bucket's TTL drops silent agents), drain requests in BUCKETS.control.
import type { KV } from '@nats-io/kv';
import type { AgentInfo } from '../../schema/messages.ts';
import { validators } from '../../schema/validate.ts';
import { drainKey } from '../../schema/nats.ts';

export interface AgentRow extends AgentInfo {
  /** A drain was asked for (the agent may not have seen it yet). */
  drainRequested: boolean;
  /** Seconds since its last heartbeat. */
  ageSeconds: number;
}

/** The registered agents; `keys` are the agents bucket's keys (see bucketKeys). */
export async function listAgents(agents: KV, control: KV, keys: string[], now: Date): Promise<AgentRow[]> {
  const rows: AgentRow[] = [];
  for (const id of keys) {
    const e = await agents.get(id);
    if (!e || e.operation !== 'PUT') continue;
    let info: unknown;
    try {
      info = e.json();
    } catch {
      continue;
    }
    if (!validators.agentInfo(info)) continue;
    const drain = await control.get(drainKey(info.id));
    rows.push({
      ...info,
      drainRequested: drain?.operation === 'PUT',
      ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(info.lastSeen)) / 1000)),
    });
  }
  return rows.sort((a, b) => a.pool.localeCompare(b.pool) || a.arch.localeCompare(b.arch) || a.id.localeCompare(b.id));
}

/** Pure: the human table. */
export function formatAgents(rows: AgentRow[]): string {
  if (rows.length === 0) return 'no agents connected';
  const lines = rows.map((a) => {
    const state = a.draining ? 'draining' : a.drainRequested ? 'drain requested' : 'ready';
    const running = a.running.length ? `running ${a.running.map((k) => k.slice(0, 12)).join(', ')}` : 'idle';
    return `${a.id}  pool ${a.pool}/${a.arch}  ${state}  ${running} (${a.running.length}/${a.concurrency})  last seen ${a.ageSeconds}s ago${a.host ? `  on ${a.host}` : ''}`;
  });
  return lines.join('\n');
}

/** Ask an agent to drain: it finishes its builds and takes no new one. */
export async function requestDrain(control: KV, agentId: string, by: string): Promise<void> {
  await control.put(drainKey(agentId), by);
}
