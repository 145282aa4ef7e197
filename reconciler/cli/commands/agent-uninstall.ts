// kiln agent uninstall: stop and remove one agent instance installed by
// `kiln agent install`; the shared template goes with the last instance.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { identityProblem } from '../../../schema/nats.ts';
import { UsageError } from '../../../schema/errors.ts';
import { instanceName, PATHS, unitName } from '../../hosts/agent-unit.ts';
import { applySteps } from '../../hosts/apply-steps.ts';
import { gatherFacts, missingForUninstall } from '../../hosts/host-check.ts';
import { describeSteps, uninstallSteps } from '../../hosts/install-plan.ts';
import { flag, str, type Command } from '../command.ts';
import { resolveRoot, stepsData } from './agent-install.ts';

/** Instances installed besides `instance`, from their environment files. */
async function otherInstances(root: string | undefined, instance: string): Promise<string[]> {
  const names = await readdir(join(root ?? '/', PATHS.configDir)).catch(() => [] as string[]);
  return names.map((n) => /^agent-(.+)\.env$/.exec(n)?.[1]).filter((i): i is string => Boolean(i) && i !== instance).sort();
}

const command: Command = {
  path: ['agent', 'uninstall'],
  summary: 'Stop and remove a build agent installed with `kiln agent install`.',
  description:
    'Disables and stops kiln-agent@<pool>-<arch>.service (running builds drain first), removes its\n' +
    'environment file, credentials, drop-in and work dir; with the last instance also the template unit\n' +
    'and the sysusers entry. The `kiln` user is kept. --dry-run prints the steps; --root DIR works on a tree.',
  options: {
    pool: { type: 'string', valueName: 'POOL', description: 'Agent pool of the instance', default: 'deb' },
    arch: { type: 'string', valueName: 'ARCH', description: 'Architecture of the instance', default: 'amd64' },
    root: { type: 'string', valueName: 'DIR', description: 'Remove from the tree at DIR instead of the running system' },
    'dry-run': { type: 'boolean', description: 'Print what it would remove and run; change nothing.' },
  },
  examples: ['sudo kiln agent uninstall --pool deb --arch amd64'],
  async run(args, ctx) {
    const pool = str(args, 'pool') ?? 'deb';
    const arch = str(args, 'arch') ?? 'amd64';
    const problem = identityProblem(pool, arch);
    if (problem) throw new UsageError(problem);
    const root = await resolveRoot(str(args, 'root'));
    const instance = instanceName(pool, arch);
    const at = (p: string) => join(root ?? '/', p);
    const installed = (await stat(at(PATHS.env(instance))).catch(() => undefined)) || (await stat(at(PATHS.dropInDir(instance))).catch(() => undefined));
    if (!installed) throw new UsageError(`${unitName(instance)} is not installed${root ? ` in ${root}` : ''} (no ${at(PATHS.env(instance))})`);
    const missing = missingForUninstall(await gatherFacts({ root, codeDir: '/', node: '/' }));
    if (missing.length) throw new UsageError(`cannot uninstall the agent; nothing was changed:\n${missing.map((m) => `  - ${m}`).join('\n')}`, { missing });
    const others = await otherInstances(root, instance);
    const steps = uninstallSteps(pool, arch, others, root);
    const data = { unit: unitName(instance), instance, root: root ?? '/', dryRun: flag(args, 'dry-run'), otherInstances: others, steps: stepsData(steps) };
    if (data.dryRun) return { data, human: `would uninstall ${data.unit}:\n${describeSteps(steps, root)}` };
    await applySteps(steps, root, ctx.log);
    return { data, human: `removed ${data.unit}${others.length ? ` (still installed: ${others.map(unitName).join(', ')})` : ''}` };
  },
};
export default command;
