// Pure: the one-word state of an agent, as the dashboard, the API and the
// kiln_agents metric show it.
import type { AgentRow } from './agent-registry.ts';

export type AgentState = 'idle' | 'busy' | 'draining';

export function agentState(a: Pick<AgentRow, 'draining' | 'drainRequested' | 'running'>): AgentState {
  if (a.draining || a.drainRequested) return 'draining';
  return a.running.length > 0 ? 'busy' : 'idle';
}
