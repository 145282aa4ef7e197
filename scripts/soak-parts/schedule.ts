// Pure: what a soak run does and when, from its seed alone, so `--seed S` replays
// the same run: waves of new packages (each one build) spread over the chaos
// window, and SIGKILLs of agents, the reconciler or one nats-server node, each
// followed by a restart. Only one nats-server node is down at a time (a
// 3-node cluster keeps its quorum with two).
import { prng } from '../../test/helpers/seeded.ts';

export type NatsTarget = 'stream-leader' | 'meta-leader' | 'any-node';

export type SoakEvent =
  | { at: number; kind: 'add-builds'; packages: string[] }
  | { at: number; kind: 'kill-agent'; agent: number; restartAfterMs: number }
  | { at: number; kind: 'kill-reconciler'; restartAfterMs: number }
  | { at: number; kind: 'kill-nats'; target: NatsTarget; node: number; restartAfterMs: number };

export interface SoakShape {
  seed: number;
  durationMs: number;
  builds: number;
  agents: number;
  nodes: number;
}

/** The part of the run with faults: all of it (converging comes after, bounded apart). */
export const chaosWindowMs = (durationMs: number) => durationMs;

export const packageName = (i: number) => `soak-${String(i).padStart(4, '0')}`;

export function soakSchedule(s: SoakShape): SoakEvent[] {
  const random = prng(s.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const window = chaosWindowMs(s.durationMs);
  const events: SoakEvent[] = [];

  const waves = Math.max(1, Math.min(s.builds, Math.round(window / 30_000)));
  for (let w = 0; w < waves; w++) {
    const from = Math.floor((s.builds * w) / waves);
    const to = Math.floor((s.builds * (w + 1)) / waves);
    events.push({ at: Math.floor((window * w) / waves), kind: 'add-builds', packages: Array.from({ length: to - from }, (_, i) => packageName(from + i)) });
  }

  // Faults: one every 5–25 s (scaled down for short runs), from the first build on.
  const gapMin = Math.max(1000, Math.min(5000, window / 20));
  const gapMax = Math.max(gapMin, Math.min(25_000, window / 5));
  let natsBackAt = 0;
  for (let at = int(gapMin, gapMax); at < window; at += int(gapMin, gapMax)) {
    const roll = int(1, 100);
    if (roll <= 30 && at >= natsBackAt) {
      const target: NatsTarget = (['stream-leader', 'meta-leader', 'any-node'] as const)[int(0, 2)];
      const restartAfterMs = int(2000, 15_000);
      events.push({ at, kind: 'kill-nats', target, node: int(0, s.nodes - 1), restartAfterMs });
      // The next node goes down only after this one is back and has caught up.
      natsBackAt = at + restartAfterMs + 5000;
    } else if (roll <= 55) {
      events.push({ at, kind: 'kill-reconciler', restartAfterMs: int(500, 5000) });
    } else {
      events.push({ at, kind: 'kill-agent', agent: int(0, s.agents - 1), restartAfterMs: int(500, 8000) });
    }
  }
  return events.sort((a, b) => a.at - b.at);
}
