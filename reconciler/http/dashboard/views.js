// The dashboard's pages. Each returns an element (and optionally a cleanup).
import { followLog, get } from './api.js';
import { ago, badge, commitLink, duration, empty, h, short, table } from './dom.js';

const STATES = ['queued', 'running', 'succeeded', 'failed'];

export async function buildsPage(params) {
  const state = params.get('state') ?? '';
  const q = new URLSearchParams({ limit: '100' });
  if (state) q.set('state', state);
  if (params.get('cursor')) q.set('cursor', params.get('cursor'));
  const data = await get(`/builds?${q}`);
  const filters = h('p', { class: 'filters' }, [['', 'all'], ...STATES.map((s) => [s, s])].map(([v, label]) => h('a', { href: v ? `#/builds?state=${v}` : '#/builds', class: v === state ? 'active' : '' }, label)));
  const head = h('p', { class: 'muted' }, `${data.total} build(s) on kiln/status at `, commitLink(data.statusCommit));
  if (data.builds.length === 0) {
    const text = state ? `no ${state} builds` : 'no builds yet: commit a package to the metadata repo';
    return h('section', {}, h('h1', {}, 'Builds'), filters, empty(text));
  }
  const rows = data.builds.map((b) =>
    h('tr', { 'data-key': b.key },
      h('td', {}, h('a', { href: `#/builds/${b.key}`, class: 'key' }, short(b.key))),
      h('td', {}, b.package), h('td', {}, b.version), h('td', {}, `${b.pool}/${b.arch}`),
      h('td', {}, badge(b.state), b.failure ? h('div', { class: 'muted' }, `${b.failure.class}: ${b.failure.reason}`) : null),
      h('td', {}, String(b.attempt)), h('td', {}, b.agent ?? ''), h('td', {}, duration(b.durationSeconds)), h('td', {}, ago(b.finishedAt ?? b.dispatchedAt))),
  );
  const more = data.nextCursor ? h('p', {}, h('a', { href: `#/builds?${new URLSearchParams({ ...(state ? { state } : {}), cursor: data.nextCursor })}` }, 'older builds →')) : null;
  return h('section', {}, h('h1', {}, 'Builds'), filters, head, table(['key', 'package', 'version', 'pool/arch', 'state', 'attempt', 'agent', 'duration', 'when'], rows), more);
}

export async function buildPage(key) {
  const { build: b, record, artifacts } = await get(`/builds/${encodeURIComponent(key)}`);
  const log = h('pre', { class: 'log', id: 'log' });
  const logState = h('p', { class: 'muted', id: 'log-state' });
  let close = () => {};
  if (b.state === 'queued' || b.state === 'running') {
    logState.textContent = 'following the live log…';
    close = followLog(b.key, (line) => {
      log.append(line + '\n');
      log.scrollTop = log.scrollHeight;
    }, (name, data) => {
      if (name === 'attempt') log.append(`--- attempt ${data}\n`);
      if (name === 'end') logState.textContent = `attempt ended: ${data}`;
      if (name === 'error') logState.textContent = `live log unavailable: ${data}`;
    });
  } else {
    const res = await fetch(`/api/v1/builds/${b.key}/log`);
    if (res.ok) log.textContent = await res.text();
    else logState.textContent = (await res.json().catch(() => ({}))).error?.message ?? 'no stored log';
  }
  const dl = h('dl', { class: 'fields' });
  for (const [k, v] of [
    ['key', h('span', { class: 'key' }, b.key)], ['package', `${b.package} ${b.version}`], ['pool/arch', `${b.pool}/${b.arch}`],
    ['state', badge(b.state)], ['attempt', String(b.attempt)], ['agent', b.agent ?? '—'], ['duration', duration(b.durationSeconds) || '—'],
    ['source', `${record.inputs.source.url} @ ${short(record.inputs.source.commit)}`], ['image', record.inputs.image],
    ['desired commit', commitLink(b.desiredCommit)],
    ...(b.failure ? [['failure', `${b.failure.class}: ${b.failure.reason}${b.retryAt ? ` (retry at ${b.retryAt})` : ''}`]] : []),
  ]) dl.append(h('dt', {}, k), h('dd', {}, v));
  const arts = artifacts.length
    ? table(['artifact', 'sha256', 'size', 'signed'], artifacts.map((a) => h('tr', {}, h('td', {}, a.name), h('td', { class: 'key' }, short(a.sha256)), h('td', {}, `${a.size} B`), h('td', {}, a.signed ? 'yes' : 'no'))))
    : empty('no artifacts yet');
  const attempts = table(['attempt', 'agent', 'dispatched', 'finished', 'outcome'], record.attempts.map((a) =>
    h('tr', {}, h('td', {}, String(a.n)), h('td', {}, a.agent ?? ''), h('td', {}, ago(a.dispatchedAt)), h('td', {}, ago(a.finishedAt)), h('td', {}, a.outcome ? badge(a.outcome) : ''))));
  const el = h('section', {}, h('h1', {}, `Build ${b.package} ${b.version} (${b.arch})`), dl, h('h2', {}, 'Attempts'), attempts, h('h2', {}, 'Artifacts'), arts, h('h2', {}, 'Log'), logState, log);
  return { el, close };
}

export async function agentsPage() {
  const { agents } = await get('/agents');
  if (agents.length === 0) return h('section', {}, h('h1', {}, 'Agents'), empty('no agents connected: start one with `kiln agent --nats URL --pool POOL --arch ARCH`'));
  const rows = agents.map((a) => h('tr', {},
    h('td', {}, a.id), h('td', {}, `${a.pool}/${a.arch}`), h('td', {}, badge(a.state)),
    h('td', {}, a.running.length ? a.running.map((k) => h('a', { href: `#/builds/${k}`, class: 'key' }, short(k) + ' ')) : h('span', { class: 'muted' }, 'idle')),
    h('td', {}, `${a.running.length}/${a.concurrency}`), h('td', {}, `${a.ageSeconds} s ago`), h('td', {}, a.host ?? '')));
  return h('section', {}, h('h1', {}, 'Agents'), table(['id', 'pool/arch', 'state', 'running', 'slots', 'last seen', 'host'], rows));
}

export async function distributionsPage() {
  const { distributions, desiredCommit } = await get('/distributions');
  if (distributions.length === 0) return h('section', {}, h('h1', {}, 'Distributions'), empty('no distributions yet: declare one in distributions/ of the metadata repo (and let a pass reconcile it)'));
  const cards = distributions.map((d) => {
    const pkgs = d.release?.packages ?? [];
    const published = pkgs.length
      ? table(['package', 'version', 'published'], pkgs.map((p) => h('tr', {}, h('td', {}, p.name), h('td', {}, p.version), h('td', {}, ago(p.publishedAt)))))
      : empty('nothing published yet');
    const flow = d.promoteFrom ? h('p', { class: 'flow' }, `${d.promoteFrom} → gate (${d.gate}) → ${d.name}`) : null;
    const promos = d.promoteFrom
      ? (d.promotions.length
        ? table(['package', 'version', 'promotion'], d.promotions.map((p) => h('tr', {}, h('td', {}, p.package), h('td', {}, p.version), h('td', {}, badge(p.state), p.gate?.reason ? h('div', { class: 'muted' }, p.gate.reason) : null))))
        : empty(`nothing published in ${d.promoteFrom} to promote yet`))
      : null;
    return h('div', { class: 'card', 'data-dist': d.name },
      h('h2', {}, d.name, ' ', h('span', { class: 'muted' }, `suite ${d.suite ?? ''}`)), flow,
      h('p', { class: 'muted' }, 'apt: ', h('a', { href: d.url }, d.url), d.release ? [' · from desired commit ', commitLink(d.release.desiredCommit)] : null),
      published, promos ? [h('h2', {}, `Promotion from ${d.promoteFrom}`), promos] : null);
  });
  return h('section', {}, h('h1', {}, 'Distributions'), h('p', { class: 'muted' }, 'as of desired commit ', commitLink(desiredCommit)), cards);
}

export async function auditPage(from) {
  const q = new URLSearchParams({ limit: '50' });
  if (from) q.set('cursor', from);
  const { commits, nextCursor } = await get(`/audit?${q}`);
  if (commits.length === 0) return h('section', {}, h('h1', {}, 'Audit trail'), empty('no status commits yet: the reconciler writes one per pass that changes something'));
  const rows = commits.map((c) => h('tr', { id: `c-${c.commit}`, class: c.commit === from ? 'highlight' : '' },
    h('td', {}, commitLink(c.commit)), h('td', {}, c.subject, h('div', { class: 'trailers' }, Object.entries(c.trailers).map(([k, vs]) => vs.map((v) => h('div', {}, `${k}: ${v}`))))),
    h('td', {}, c.author), h('td', {}, ago(c.date))));
  const more = nextCursor ? h('p', {}, h('a', { href: `#/audit/${nextCursor}` }, 'older commits →')) : null;
  return h('section', {}, h('h1', {}, 'Audit trail'), h('p', { class: 'muted' }, 'kiln/status, newest first: one signed commit per pass.'), table(['commit', 'what', 'by', 'when'], rows), more);
}
