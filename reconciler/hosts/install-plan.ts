// Pure: the steps of installing or removing one agent instance, as data, so
// --dry-run prints exactly what a real run does. Paths are host paths; apply
// puts them under --root. With a root (an offline tree, like `systemctl
// --root`), systemd is told through the tree, never through the running system.
import { instanceName, PATHS, renderDropIn, renderEnvFile, renderSysusers, renderTemplateUnit, unitName, type InstanceSettings, type UnitSettings } from './agent-unit.ts';

export type Step =
  | { kind: 'write'; path: string; mode: number; content: string }
  | { kind: 'mkdir'; path: string; mode: number }
  | { kind: 'remove'; path: string }
  | { kind: 'run'; argv: string[]; why: string };

/** `--root` for systemd tools when installing into a tree, nothing on the live system. */
const rootArg = (root: string | undefined) => (root ? [`--root=${root}`] : []);

export function installSteps(unit: UnitSettings, s: InstanceSettings, credentialsText: string | undefined, root: string | undefined): Step[] {
  const i = instanceName(s.pool, s.arch);
  const steps: Step[] = [
    { kind: 'write', path: PATHS.sysusers, mode: 0o644, content: renderSysusers() },
    { kind: 'run', argv: ['systemd-sysusers', ...rootArg(root), 'kiln-agent.conf'], why: 'create the kiln system user and add it to the docker group' },
    { kind: 'mkdir', path: PATHS.configDir, mode: 0o755 },
    { kind: 'write', path: PATHS.env(i), mode: 0o644, content: renderEnvFile(s) },
  ];
  if (credentialsText !== undefined) steps.push({ kind: 'write', path: PATHS.credentials(i), mode: 0o600, content: credentialsText });
  else steps.push({ kind: 'remove', path: PATHS.credentials(i) });
  steps.push(
    { kind: 'write', path: PATHS.template, mode: 0o644, content: renderTemplateUnit(unit) },
    { kind: 'mkdir', path: PATHS.dropInDir(i), mode: 0o755 },
    { kind: 'write', path: PATHS.dropIn(i), mode: 0o644, content: renderDropIn(i, s) },
  );
  if (root) {
    steps.push({ kind: 'run', argv: ['systemctl', ...rootArg(root), 'enable', unitName(i)], why: 'start it at boot' });
  } else {
    steps.push(
      { kind: 'run', argv: ['systemctl', 'daemon-reload'], why: 'load the unit files' },
      { kind: 'run', argv: ['systemctl', 'enable', unitName(i)], why: 'start it at boot' },
      // restart, not start: a reinstall with new settings takes effect (running builds drain first).
      { kind: 'run', argv: ['systemctl', 'restart', unitName(i)], why: 'start it now' },
    );
  }
  return steps;
}

/**
 * Remove one instance; the template and the sysusers entry go with the last
 * instance. The `kiln` user stays (like a removed Debian package's user): files
 * it owned elsewhere keep a name.
 */
export function uninstallSteps(pool: string, arch: string, otherInstances: string[], root: string | undefined): Step[] {
  const i = instanceName(pool, arch);
  const steps: Step[] = [
    { kind: 'run', argv: ['systemctl', ...rootArg(root), 'disable', ...(root ? [] : ['--now']), unitName(i)], why: root ? 'no longer start it at boot' : 'stop it (running builds drain) and no longer start it at boot' },
    { kind: 'remove', path: PATHS.dropInDir(i) },
    { kind: 'remove', path: PATHS.env(i) },
    { kind: 'remove', path: PATHS.credentials(i) },
    { kind: 'remove', path: PATHS.stateDir(i) },
  ];
  if (otherInstances.length === 0) steps.push({ kind: 'remove', path: PATHS.template }, { kind: 'remove', path: PATHS.sysusers });
  if (!root) steps.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], why: 'forget the removed unit files' });
  return steps;
}

/** Pure: a human listing of the steps (what --dry-run prints). */
export function describeSteps(steps: Step[], root: string | undefined): string {
  const at = (p: string) => (root ? `${root.replace(/\/$/, '')}${p}` : p);
  return steps
    .map((s) => {
      switch (s.kind) {
        case 'write': {
          const head = `write ${at(s.path)} (mode ${s.mode.toString(8).padStart(4, '0')})`;
          // A file only its owner may read holds a secret: say so, do not print it.
          return (s.mode & 0o077) === 0 ? `${head}: ${Buffer.byteLength(s.content)} bytes, secret, not shown` : `${head}:\n${s.content.replace(/^/gm, '    ')}`;
        }
        case 'mkdir':
          return `mkdir -p ${at(s.path)}`;
        case 'remove':
          return `rm -rf ${at(s.path)}`;
        case 'run':
          return `run: ${s.argv.join(' ')}    # ${s.why}`;
      }
    })
    .join('\n');
}
