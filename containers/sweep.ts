// Remove Kiln containers that a killed agent or reconciler left behind: those
// past their deadline label whoever started them, plus (optionally) those
// carrying labels of an earlier run of the caller itself.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DEADLINE_LABEL, ROLE_LABEL } from './labels.ts';

export interface SweepOptions {
  /** Only these roles (default: every Kiln container). */
  roles?: string[];
  /** Also remove containers with all of these labels, whatever their deadline (an earlier run of the caller). */
  ownLabels?: Record<string, string>;
  now?: number;
}

export async function sweepOrphanContainers(docker: Docker, log: Logger, opts: SweepOptions = {}): Promise<number> {
  const now = opts.now ?? Date.now();
  const own = Object.entries(opts.ownLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const mine = own.length ? await docker.listContainers({ all: true, filters: { label: own } }) : [];
  const kiln = await docker.listContainers({ all: true, filters: { label: [ROLE_LABEL] } });
  const expired = kiln.filter((c) => (!opts.roles || opts.roles.includes(c.Labels[ROLE_LABEL])) && Number(c.Labels[DEADLINE_LABEL] ?? Infinity) < now);
  const doomed = new Map([...mine, ...expired].map((c) => [c.Id, c]));
  for (const c of doomed.values()) {
    log.warn({ container: c.Id.slice(0, 12), labels: c.Labels }, 'removing a Kiln container left by a killed process');
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  return doomed.size;
}
