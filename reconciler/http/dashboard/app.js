// The dashboard: a hash router over the pages in views.js; list pages refresh
// every few seconds, a build page follows its log live.
import { agentsPage, auditPage, buildPage, buildsPage, distributionsPage } from './views.js';
import { empty, h } from './dom.js';

const REFRESH_MS = 3000;
let cleanup = () => {};
let timer;

async function render() {
  cleanup();
  cleanup = () => {};
  clearTimeout(timer);
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  const params = new URLSearchParams(query);
  const page = parts[0] ?? 'builds';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === page);
  const main = document.getElementById('main');
  let refresh = true;
  try {
    let el;
    if (page === 'builds' && parts[1]) {
      const r = await buildPage(parts[1]);
      el = r.el;
      cleanup = r.close;
      refresh = false;
    } else if (page === 'builds') el = await buildsPage(params);
    else if (page === 'agents') el = await agentsPage();
    else if (page === 'distributions') el = await distributionsPage();
    else if (page === 'audit') {
      el = await auditPage(parts[1]);
      refresh = !parts[1];
    } else el = empty(`no page '${page}'`);
    main.replaceChildren(el);
    main.dataset.page = page;
  } catch (e) {
    main.replaceChildren(h('section', {}, h('h1', {}, 'Error'), empty(e.message)));
  }
  if (refresh) timer = setTimeout(render, REFRESH_MS);
}

window.addEventListener('hashchange', render);
render();
