// The web UI's entry point: hash routing between the views, the header
// (leading master, stream state), and the operator event stream that
// keeps the store current.

import { subscribe, leaderURL, call, reachable } from './api.js';
import { store } from './store.js';
import * as overview from './views/overview.js';
import * as agents from './views/agents.js';
import * as frameworks from './views/frameworks.js';
import * as tasks from './views/tasks.js';
import * as task from './views/task.js';
import * as roles from './views/roles.js';
import * as maintenance from './views/maintenance.js';

/** routes maps the first hash segment to a view and its nav entry. */
const routes = {
  '': { view: overview, nav: 'overview' },
  agents: { view: agents, nav: 'agents' },
  frameworks: { view: frameworks, nav: 'frameworks' },
  tasks: { view: tasks, nav: 'tasks' },
  task: { view: task, nav: 'tasks' },
  roles: { view: roles, nav: 'roles' },
  maintenance: { view: maintenance, nav: 'maintenance' },
};

let current = null;

/** parseHash splits #/a/b?x=1 into segments and query parameters. */
export function parseHash(hash) {
  const h = hash.replace(/^#\/?/, '');
  const [path, query = ''] = h.split('?');
  const segs = path.split('/').filter(Boolean).map((x) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x; // a malformed escape is taken as written
    }
  });
  return { segs, query: new URLSearchParams(query) };
}

function route() {
  const { segs, query } = parseHash(location.hash);
  const r = routes[segs[0] || ''];
  const el = document.getElementById('view');
  current?.destroy?.();
  current = null;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', !!r && a.dataset.route === r.nav);
  if (!r) {
    el.innerHTML = '<section class="card"><h2>Not found</h2><p class="muted">No page here. <a href="#/">Back to the overview</a>.</p></section>';
    document.title = 'Not found · Gomesos';
    return;
  }
  el.innerHTML = '';
  el.dataset.view = r.nav;
  current = r.view.mount(el, segs.slice(1), query);
  document.title = `${r.view.title(segs.slice(1))} · Gomesos`;
  window.scrollTo(0, 0);
}

function header() {
  const dot = document.getElementById('conn-dot');
  const text = document.getElementById('leader-text');
  dot.className = `dot ${store.status}`;
  const info = store.master?.get_master?.master_info;
  const where = info ? `${info.hostname || info.address?.hostname || ''}:${info.port}` : location.host;
  const label = { live: 'leading master', connecting: 'connecting to', retrying: 'reconnecting to', follower: 'following' }[store.status] || store.status;
  text.textContent = `${label} ${where}`;
  document.getElementById('leader').title = info?.pid ? `Leading master ${info.pid}, id ${info.id}` : 'The leading master';
}

let followWait = 500;

/**
 * followLeader takes the UI to the leading master's, as Mesos's UI does on
 * a follower; while no leader is known it subscribes here again later.
 */
async function followLeader() {
  const banner = document.getElementById('banner');
  banner.hidden = false;
  banner.textContent = 'This master is not the leader; looking for the leading master…';
  try {
    const url = await leaderURL();
    if (url) {
      banner.textContent = `This master is not the leader; going to the leading master at ${new URL(url).host}…`;
      location.replace(url);
      return;
    }
    banner.textContent = 'This master is not the leader, and no leader is elected yet; retrying…';
  } catch (err) {
    banner.textContent = `This master is not the leader, and its state could not be read (${err.message}); retrying…`;
  }
  setTimeout(start, followWait);
  followWait = Math.min(followWait * 2, 5000);
}

// masters is every master of the cluster, from the leader's --masters
// flag: when this one stops answering, the UI goes to another that does,
// which hands it to the new leader.
// The list is kept in sessionStorage too, so a page that hopped to
// another master knows the cluster before that master first answers.
let masters = (() => {
  try {
    return JSON.parse(sessionStorage.getItem('gomesos.masters') || '[]');
  } catch {
    return [];
  }
})();
let hopping = false;

async function loadMasters() {
  try {
    const r = await call('GET_FLAGS');
    const f = (r?.get_flags?.flags || []).find((x) => x.name === 'masters');
    const list = (f?.value || '').split(',').map((m) => m.trim().replace(/^https?:\/\//, '').replace(/\/.*$/, '')).filter(Boolean);
    if (list.length) {
      masters = list;
      sessionStorage.setItem('gomesos.masters', JSON.stringify(list));
    }
  } catch (err) {
    console.warn('GET_FLAGS', err);
  }
}

async function tryOtherMasters() {
  if (hopping) return;
  const i = masters.indexOf(location.host);
  const others = [...masters.slice(i + 1), ...masters.slice(0, Math.max(i, 0))].filter((m) => m !== location.host);
  if (!others.length) return;
  hopping = true;
  try {
    for (const m of others) {
      if (await reachable(m)) {
        const banner = document.getElementById('banner');
        banner.hidden = false;
        banner.textContent = `This master does not answer; going to ${m}…`;
        location.replace(`${location.protocol}//${m}/${location.hash}`);
        return;
      }
    }
  } finally {
    hopping = false;
  }
}

let stop = null;
async function start() {
  stop?.();
  // The masters are read before the stream goes live, so a leader that
  // dies the moment the UI is live still leaves it somewhere to go.
  if (!masters.length) await loadMasters();
  stop = subscribe({
    onEvent: (ev) => {
      if (ev.type === 'SUBSCRIBED') {
        document.getElementById('banner').hidden = true;
        store.loadMaster();
        store.refreshAgentsSoon();
        loadMasters();
      }
      store.apply(ev);
    },
    onStatus: (s) => {
      store.setStatus(s);
      if (s === 'follower') followLeader();
    },
    onError: (err, failures) => {
      const banner = document.getElementById('banner');
      banner.hidden = false;
      banner.textContent = `Lost the event stream (${err.message}); reconnecting…`;
      // fetch rejects with a TypeError when nothing answers at all.
      if (failures >= 3 && err instanceof TypeError) tryOtherMasters();
    },
  });
}

store.onChange((why) => {
  header();
  current?.update?.(why);
});
// Loaded: a later failure to load may reload once again (index.html).
sessionStorage.removeItem('gomesos-reloaded');
window.addEventListener('hashchange', route);
header();
route();
start();
