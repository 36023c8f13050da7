// Frameworks: the active and completed frameworks with what they use, and
// one framework's page with its tasks.

import { store } from '../store.js';
import { html, esc, id, scalars, badge, Table, matches, fmtRes, fmtTime, secs, TERMINAL } from '../util.js';
import { taskTable } from './tasks.js';

export const title = (segs) => (segs[0] ? `Framework ${segs[0]}` : 'Frameworks');

const roles = (f) => {
  const i = f.framework_info || {};
  return i.roles?.length ? i.roles : [i.role || '*'];
};
const fstate = (f, done) => (done ? 'completed' : !f.active ? 'inactive' : f.connected === false ? 'disconnected' : 'active');

function tasksOf(fid) {
  return [...store.tasks.values()].filter((t) => id(t.framework_id) === fid);
}

export function mount(el, segs) {
  return segs[0] ? mountFramework(el, segs[0]) : mountList(el);
}

function mountList(el) {
  el.innerHTML = html`
    <div class="page-head"><h1>Frameworks</h1><span class="muted" id="fw-count"></span></div>
    <div class="toolbar"><input id="fw-filter" type="search" placeholder="Filter by name, id, user or role…" autocomplete="off"></div>
    <section class="card flush"><div class="card-head pad"><h3>Active</h3></div><div id="fw-active"></div></section>
    <section class="card flush"><div class="card-head pad"><h3>Completed</h3></div><div id="fw-done"></div></section>`.toString();
  const input = el.querySelector('#fw-filter');
  const used = (f) => store.used((t) => id(t.framework_id) === id(f.framework_info?.id));
  const mk = (done) => new Table({
    sortKey: 'name',
    empty: done ? 'No completed frameworks.' : 'No frameworks registered.',
    rowAttrs: (f) => `data-framework-id="${esc(id(f.framework_info?.id))}"`,
    columns: [
      { key: 'name', label: 'Framework', value: (f) => f.framework_info?.name,
        cell: (f) => html`<a href="#/frameworks/${encodeURIComponent(id(f.framework_info?.id))}"><b>${f.framework_info?.name}</b></a><div class="sub mono">${id(f.framework_info?.id)}</div>` },
      { key: 'state', label: 'State', value: (f) => fstate(f, done), cell: (f) => badge(fstate(f, done)) },
      { key: 'user', label: 'User', value: (f) => f.framework_info?.user },
      { key: 'roles', label: 'Roles', value: (f) => roles(f).join(','), cell: (f) => roles(f).map((r) => html`<span class="chip">${r}</span>`) },
      { key: 'tasks', label: 'Active tasks', num: true, value: (f) => tasksOf(id(f.framework_info?.id)).filter((t) => !TERMINAL.has(t.state)).length },
      { key: 'cpus', label: 'CPUs', num: true, value: (f) => used(f).cpus },
      { key: 'mem', label: 'Memory', num: true, value: (f) => used(f).mem, cell: (f) => fmtRes('mem', used(f).mem) },
      { key: 'reg', label: 'Registered', value: (f) => secs(f.registered_time) || 0, cell: (f) => fmtTime(secs(f.registered_time)) },
    ],
  });
  const active = mk(false);
  const done = mk(true);
  const boxA = el.querySelector('#fw-active');
  const boxD = el.querySelector('#fw-done');
  const draw = () => {
    const q = input.value.trim();
    const f = (x) => matches(q, x.framework_info?.name, id(x.framework_info?.id), x.framework_info?.user, ...roles(x));
    const a = [...store.frameworks.values()].filter(f);
    const d = [...store.completedFrameworks.values()].filter(f);
    boxA.innerHTML = active.html(a).toString();
    boxD.innerHTML = done.html(d).toString();
    el.querySelector('#fw-count').textContent = `${store.frameworks.size} active, ${store.completedFrameworks.size} completed`;
  };
  active.bind(boxA, draw);
  done.bind(boxD, draw);
  input.addEventListener('input', draw);
  draw();
  return { update: (why) => why === 'change' && draw() };
}

function mountFramework(el, fid) {
  const tt = taskTable({ hide: ['framework'] });
  const draw = () => {
    const f = store.framework(fid);
    const doneF = !store.frameworks.has(fid);
    if (!f) {
      el.innerHTML = html`<div class="page-head"><h1>Framework</h1></div><section class="card"><p class="muted">The leading master does not know framework <span class="mono">${fid}</span>.</p><a href="#/frameworks">← all frameworks</a></section>`.toString();
      return;
    }
    const i = f.framework_info || {};
    const u = store.used((t) => id(t.framework_id) === fid);
    const o = scalars(f.offered_resources);
    el.innerHTML = html`
      <div class="page-head"><div><a href="#/frameworks" class="crumb">Frameworks</a><h1>${i.name} ${badge(fstate(f, doneF))}</h1></div></div>
      <div class="grid2">
        <section class="card"><div class="card-head"><h3>Framework</h3></div><dl class="kv">
          <dt>ID</dt><dd class="mono">${fid}</dd>
          <dt>User</dt><dd>${i.user}</dd>
          <dt>Principal</dt><dd>${i.principal || '–'}</dd>
          <dt>Roles</dt><dd>${roles(f).map((r) => html`<span class="chip">${r}</span>`)}</dd>
          <dt>Hostname</dt><dd>${i.hostname || '–'}</dd>
          <dt>Failover timeout</dt><dd>${i.failover_timeout ?? 0} s</dd>
          <dt>Checkpoint</dt><dd>${i.checkpoint ? 'yes' : 'no'}</dd>
          <dt>Registered</dt><dd>${fmtTime(secs(f.registered_time))}</dd>
          ${/^https?:\/\//i.test(i.webui_url || '') ? html`<dt>Web UI</dt><dd><a href="${i.webui_url}" rel="noopener noreferrer">${i.webui_url}</a></dd>` : ''}
          <dt>Capabilities</dt><dd>${(i.capabilities || []).map((c) => html`<span class="chip light">${c.type}</span>`)}</dd>
        </dl></section>
        <section class="card"><div class="card-head"><h3>Resources</h3></div><dl class="kv">
          ${['cpus', 'mem', 'disk', 'gpus'].map((k) => html`<dt>${k}</dt><dd>${fmtRes(k, u[k])} used by tasks · ${fmtRes(k, o[k])} offered</dd>`)}
        </dl></section>
      </div>
      <section class="card flush"><div class="card-head pad"><h3>Tasks</h3><a href="#/tasks?framework=${encodeURIComponent(fid)}">search these tasks →</a></div><div id="fw-tasks"></div></section>`.toString();
    const box = el.querySelector('#fw-tasks');
    box.innerHTML = tt.table.html(tasksOf(fid)).toString();
    tt.table.bind(box, draw);
  };
  draw();
  return { update: (why) => why === 'change' && draw() };
}
