// The human view of a plan, in the manner of `terraform plan`: each action
// with its reason, then what waits and why, then one summary line.
import type { Action, Plan } from '../model.ts';

const SIGN: Record<Action['kind'], string> = { build: '+', gate: '?', publish: '~', prune: '-', republish: '~', refuse: '!' };

function subject(a: Action): string {
  switch (a.kind) {
    case 'build':
      return `build   ${a.package} ${a.version} ${a.arch} (attempt ${a.attempt}) key ${a.key.slice(0, 12)}`;
    case 'publish':
      return `publish ${a.package} ${a.version} to ${a.distribution}`;
    case 'prune':
      return `prune   ${a.package} ${a.version} from ${a.distribution}`;
    case 'republish':
      return `publish ${a.distribution} again`;
    case 'gate':
      return `gate    ${a.package} ${a.version}: ${a.from} -> ${a.distribution}`;
    case 'refuse':
      return `refuse  commit ${a.commit.slice(0, 12)}`;
  }
}

export function countActions(plan: Plan): Record<Action['kind'], number> {
  const c = { build: 0, gate: 0, publish: 0, prune: 0, republish: 0, refuse: 0 };
  for (const a of plan.actions) c[a.kind]++;
  return c;
}

export function formatPlan(plan: Plan, header: string): string {
  const lines = [header, ''];
  if (plan.actions.length === 0) lines.push('No changes. The published state matches the desired state.');
  for (const a of plan.actions) lines.push(`  ${SIGN[a.kind]} ${subject(a)}`, `      ${a.reason}: ${a.message}`);
  if (plan.waiting.length) {
    lines.push('', 'Waiting:');
    for (const w of plan.waiting) lines.push(`  … ${w.subject}`, `      ${w.reason}: ${w.message}`);
  }
  const c = countActions(plan);
  lines.push('', `Plan: ${c.build} to build, ${c.gate} to gate, ${c.publish + c.republish} to publish, ${c.prune} to prune${c.refuse ? ', desired commit refused' : ''}.`);
  return lines.join('\n');
}
