// Pure: the files `kiln agent install` writes on a build host. One systemd
// template unit serves every pool/arch (instance name `<pool>-<arch>`); what
// differs per instance lives in its environment file and its drop-in.
//
// Layout on the host:
//   <codeDir>/bin/kiln.js                         the Kiln code (default /opt/kiln, `npm ci --omit=dev`)
//   /etc/systemd/system/kiln-agent@.service       the template (hardening, user, ExecStart)
//   /etc/systemd/system/kiln-agent@<i>.service.d/install.conf   stop timeout, credentials
//   /etc/kiln/agent-<i>.env                       NATS URL, pool, arch, extra agent flags
//   /etc/kiln/agent-<i>.creds                     broker credentials (0600 root; handed over by LoadCredential=)
//   /etc/sysusers.d/kiln-agent.conf               the `kiln` system user, member of `docker`
//   /var/lib/kiln-agent/<i>/                      job work dirs and the source cache (StateDirectory=)

export const UNIT_TEMPLATE = 'kiln-agent@.service';
export const USER = 'kiln';

export const instanceName = (pool: string, arch: string) => `${pool}-${arch}`;
export const unitName = (instance: string) => `kiln-agent@${instance}.service`;

export const PATHS = {
  template: `/etc/systemd/system/${UNIT_TEMPLATE}`,
  dropIn: (i: string) => `/etc/systemd/system/${unitName(i)}.d/install.conf`,
  dropInDir: (i: string) => `/etc/systemd/system/${unitName(i)}.d`,
  env: (i: string) => `/etc/kiln/agent-${i}.env`,
  credentials: (i: string) => `/etc/kiln/agent-${i}.creds`,
  sysusers: '/etc/sysusers.d/kiln-agent.conf',
  stateDir: (i: string) => `/var/lib/kiln-agent/${i}`,
  configDir: '/etc/kiln',
} as const;

export interface UnitSettings {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of the Kiln code (holds bin/kiln.js and node_modules). */
  codeDir: string;
}

export interface InstanceSettings {
  nats: string;
  pool: string;
  arch: string;
  concurrency: number;
  /** Seconds systemd waits after SIGTERM for running builds to finish before SIGKILL. */
  stopTimeoutSeconds: number;
  /** Broker credentials copied to PATHS.credentials(instance). */
  credentials: boolean;
  metricsListen?: string;
}

const HEADER = '# Written by `kiln agent install`; removed by `kiln agent uninstall`. Edits are overwritten on reinstall.';

/** The template unit. Hardened, but the docker group reaches /run/docker.sock (a socket is writable on a read-only mount). */
export function renderTemplateUnit(s: UnitSettings): string {
  return `${HEADER}
# A Kiln build agent for one pool and architecture: kiln-agent@<pool>-<arch>.service.
[Unit]
Description=Kiln build agent %i
Wants=network-online.target docker.service
After=network-online.target docker.service

[Service]
Type=exec
User=${USER}
Group=${USER}
SupplementaryGroups=docker
EnvironmentFile=${PATHS.env('%i')}
# The work dir is the state directory, not /tmp: dockerd (outside this unit's
# private /tmp) bind-mounts job dirs into build containers by host path.
ExecStart=${s.node} ${s.codeDir}/bin/kiln.js agent --pool \${KILN_POOL} --arch \${KILN_ARCH} --id %l-%i --work-dir ${PATHS.stateDir('%i')} $KILN_AGENT_ARGS
StateDirectory=kiln-agent/%i
# SIGTERM drains: no new jobs, running builds finish and report (TimeoutStopSec in the drop-in).
KillSignal=SIGTERM
KillMode=mixed
Restart=on-failure
RestartSec=5s
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
CapabilityBoundingSet=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6

[Install]
WantedBy=multi-user.target
`;
}

/** Per-instance settings systemd must know: the stop timeout and the credentials handed to the agent. */
export function renderDropIn(i: string, s: InstanceSettings): string {
  const lines = [HEADER, '[Service]', `TimeoutStopSec=${s.stopTimeoutSeconds}`];
  if (s.credentials) {
    // systemd reads the root-only file and gives the service a private copy at %d/nats.
    lines.push(`LoadCredential=nats:${PATHS.credentials(i)}`, 'Environment=KILN_NATS_CREDENTIALS=%d/nats');
  }
  return lines.join('\n') + '\n';
}

/** Pure: a value for a systemd environment file (double-quoted, escaped). */
const envValue = (v: string) => `"${v.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;

export function renderEnvFile(s: InstanceSettings): string {
  const extra = [`--concurrency ${s.concurrency}`, ...(s.metricsListen ? [`--metrics-listen ${s.metricsListen}`] : [])].join(' ');
  return [
    HEADER,
    `KILN_NATS_URL=${envValue(s.nats)}`,
    `KILN_POOL=${envValue(s.pool)}`,
    `KILN_ARCH=${envValue(s.arch)}`,
    `KILN_AGENT_ARGS=${envValue(extra)}`,
  ].join('\n') + '\n';
}

/** systemd-sysusers: the `kiln` system user, and the docker group (made if Docker has not made it yet). */
export function renderSysusers(): string {
  return `${HEADER}\ng docker -\nu ${USER} - "Kiln build agent" /var/lib/kiln-agent /usr/sbin/nologin\nm ${USER} docker\n`;
}
