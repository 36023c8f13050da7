// Roles: each role's weight, frameworks, allocated resources and quota,
// from GET_ROLES, GET_WEIGHTS and GET_QUOTA, read again every few seconds
// while the page is open.

import { call } from '../api.js';
import { store } from '../store.js';
import { html, esc, id, scalars, fmtRes, Table } from '../util.js';

export const title = () => 'Roles';

const REFRESH_MS = 5000;

function quotaText(m) {
  const e = Object.entries(m || {});
  return e.length ? e.map(([k, v]) => `${k} ${fmtRes(k, v.value ?? v)}`).join(', ') : '–';
}

export function mount(el) {
  el.innerHTML = html`
    <div class="page-head"><h1>Roles</h1><span class="muted" id="roles-note"></span></div>
    <section class="card flush" id="roles-table"><p class="muted pad">Loading roles…</p></section>
    <section class="card flush"><div class="card-head pad"><h3>Weights</h3><span class="muted">UPDATE_WEIGHTS sets them</span></div><div id="weights-table"></div></section>`.toString();
  let roles = [];
  let weights = [];
  let quotas = new Map();
  let timer = null;
  let stopped = false;
  const table = new Table({
    sortKey: 'name',
    empty: 'No roles.',
    rowAttrs: (r) => `data-role="${esc(r.name)}"`,
    columns: [
      { key: 'name', label: 'Role', value: (r) => r.name, cell: (r) => html`<b>${r.name}</b>` },
      { key: 'weight', label: 'Weight', num: true, value: (r) => r.weight ?? 1 },
      { key: 'fws', label: 'Frameworks', value: (r) => (r.frameworks || []).length,
        cell: (r) => (r.frameworks || []).map((f) => html`<a class="chip" href="#/frameworks/${encodeURIComponent(id(f))}" title="${id(f)}">${store.frameworkName(id(f))}</a>`) },
      ...['cpus', 'mem', 'disk', 'gpus'].map((k) => ({ key: k, label: k === 'mem' ? 'Memory' : k === 'cpus' ? 'CPUs' : k[0].toUpperCase() + k.slice(1),
        num: true, value: (r) => scalars(r.resources)[k], cell: (r) => fmtRes(k, scalars(r.resources)[k]) })),
      { key: 'guar', label: 'Quota guarantees', value: (r) => quotaText(quotas.get(r.name)?.guarantees) },
      { key: 'lim', label: 'Quota limits', value: (r) => quotaText(quotas.get(r.name)?.limits) },
    ],
  });
  const wtable = new Table({
    sortKey: 'role',
    empty: 'No weights set: every role weighs 1.',
    rowAttrs: (w) => `data-weight-role="${esc(w.role)}"`,
    columns: [
      { key: 'role', label: 'Role', value: (w) => w.role },
      { key: 'weight', label: 'Weight', num: true, value: (w) => w.weight },
    ],
  });
  const box = el.querySelector('#roles-table');
  const wbox = el.querySelector('#weights-table');
  const draw = () => {
    box.innerHTML = table.html(roles).toString();
    wbox.innerHTML = wtable.html(weights).toString();
  };
  table.bind(box, draw);
  wtable.bind(wbox, draw);
  const load = async () => {
    try {
      const [r, w, q] = await Promise.all([
        call('GET_ROLES'), call('GET_WEIGHTS'), call('GET_QUOTA').catch(() => null),
      ]);
      if (stopped) return;
      roles = r?.get_roles?.roles || [];
      weights = w?.get_weights?.weight_infos || [];
      quotas = new Map((q?.get_quota?.status?.configs || []).map((c) => [c.role, c]));
      el.querySelector('#roles-note').textContent = `${roles.length} role${roles.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
      draw();
    } catch (err) {
      if (!stopped) box.innerHTML = html`<p class="error pad">Could not read the roles: ${err.message}</p>`.toString();
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  };
  load();
  return {
    destroy: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
