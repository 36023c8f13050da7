// Agents: the list with their resources and state, and one agent's page
// with its resources, attributes and tasks.

import { store } from '../store.js';
import { html, esc, id, scalars, meter, badge, Table, matches, attrText, secs, fmtTime, fmtRes, otherResources, SCALARS, TERMINAL } from '../util.js';
import { taskTable } from './tasks.js';

export const title = (segs) => (segs[0] ? `Agent ${segs[0]}` : 'Agents');

/** agentState names an agent's state for its badge. */
export function agentState(a) {
  if (a.drain_info) return a.drain_info.state === 'DRAINED' ? 'drained' : 'draining';
  if (a.deactivated) return 'deactivated';
  return a.active ? 'active' : 'inactive';
}

function tasksOn(aid) {
  return [...store.tasks.values()].filter((t) => id(t.agent_id) === aid);
}

export function mount(el, segs) {
  return segs[0] ? mountAgent(el, segs[0]) : mountList(el);
}

function mountList(el) {
  el.innerHTML = html`
    <div class="page-head"><h1>Agents</h1><span class="muted" id="agent-count"></span></div>
    <div class="toolbar"><input id="agent-filter" type="search" placeholder="Filter by hostname, id or attribute…" autocomplete="off"></div>
    <section class="card flush" id="agent-table"></section>`.toString();
  const box = el.querySelector('#agent-table');
  const input = el.querySelector('#agent-filter');
  const used = (a) => scalars(a.allocated_resources);
  const total = (a) => scalars(a.total_resources || a.agent_info?.resources);
  const running = (aid) => tasksOn(aid).filter((t) => !TERMINAL.has(t.state)).length;
  const table = new Table({
    sortKey: 'host',
    rowAttrs: (a) => `data-agent-id="${esc(id(a.agent_info?.id))}"`,
    empty: 'No agents registered.',
    columns: [
      { key: 'host', label: 'Agent', value: (a) => a.agent_info?.hostname,
        cell: (a) => html`<a href="#/agents/${encodeURIComponent(id(a.agent_info?.id))}"><b>${a.agent_info?.hostname}</b></a><span class="sub mono"> ${(a.pid || '').replace(/^.*@/, '')}</span><div class="sub mono">${id(a.agent_info?.id)}</div>` },
      { key: 'state', label: 'State', value: agentState, cell: (a) => badge(agentState(a)) },
      ...['cpus', 'mem', 'disk'].map((k) => ({ key: k, label: { cpus: 'CPUs', mem: 'Memory', disk: 'Disk' }[k], value: (a) => used(a)[k] / (total(a)[k] || 1),
        cell: (a) => meter(k, used(a)[k], total(a)[k]) })),
      { key: 'tasks', label: 'Tasks', num: true, value: (a) => running(id(a.agent_info?.id)) },
      { key: 'attrs', label: 'Attributes', value: (a) => (a.agent_info?.attributes || []).map(attrText).join(' '),
        cell: (a) => (a.agent_info?.attributes || []).map((x) => html`<span class="chip">${attrText(x)}</span>`) },
      { key: 'reg', label: 'Registered', value: (a) => secs(a.registered_time) || 0, cell: (a) => fmtTime(secs(a.registered_time)) },
    ],
  });
  const draw = () => {
    const q = input.value.trim();
    const rows = [...store.agents.values()].filter((a) =>
      matches(q, a.agent_info?.hostname, id(a.agent_info?.id), a.pid, ...(a.agent_info?.attributes || []).map(attrText)));
    box.innerHTML = table.html(rows).toString();
    el.querySelector('#agent-count').textContent = `${rows.length} of ${store.agents.size}`;
  };
  table.bind(box, draw);
  input.addEventListener('input', draw);
  draw();
  return { update: (why) => why === 'change' && draw() };
}

function mountAgent(el, aid) {
  const tt = taskTable({ hide: ['agent'] });
  const draw = () => {
    const a = store.agents.get(aid);
    if (!a) {
      el.innerHTML = html`<div class="page-head"><h1>Agent</h1></div><section class="card"><p class="muted">Agent <span class="mono">${aid}</span> is not registered with the leading master.</p><a href="#/agents">← all agents</a></section>`.toString();
      return;
    }
    const info = a.agent_info || {};
    const total = scalars(a.total_resources || info.resources);
    const alloc = scalars(a.allocated_resources);
    const offered = scalars(a.offered_resources);
    const names = [...new Set([...SCALARS, ...Object.keys(total)])].filter((k) => total[k] || SCALARS.includes(k));
    el.innerHTML = html`
      <div class="page-head"><div><a href="#/agents" class="crumb">Agents</a><h1>${info.hostname} ${badge(agentState(a))}</h1></div></div>
      <div class="grid2">
        <section class="card">
          <div class="card-head"><h3>Agent</h3></div>
          <dl class="kv">
            <dt>ID</dt><dd class="mono">${aid}</dd>
            <dt>PID</dt><dd class="mono">${a.pid}</dd>
            <dt>Version</dt><dd>${a.version || '–'}</dd>
            <dt>Registered</dt><dd>${fmtTime(secs(a.registered_time))}</dd>
            ${a.reregistered_time ? html`<dt>Re-registered</dt><dd>${fmtTime(secs(a.reregistered_time))}</dd>` : ''}
            ${a.drain_info ? html`<dt>Draining</dt><dd>${a.drain_info.state}${a.drain_info.config?.mark_gone ? ' (mark gone)' : ''}</dd>` : ''}
            <dt>Attributes</dt><dd>${(info.attributes || []).length ? info.attributes.map((x) => html`<span class="chip">${attrText(x)}</span>`) : '–'}</dd>
            <dt>Capabilities</dt><dd>${(a.capabilities || []).map((c) => html`<span class="chip light">${c.type}</span>`)}</dd>
          </dl>
        </section>
        <section class="card flush">
          <div class="card-head pad"><h3>Resources</h3></div>
          <table class="grid"><thead><tr><th>Resource</th><th class="num">Total</th><th class="num">Allocated</th><th class="num">Offered</th><th>Use</th></tr></thead><tbody>
          ${names.map((k) => html`<tr><td>${k}</td><td class="num">${fmtRes(k, total[k] || 0)}</td><td class="num">${fmtRes(k, alloc[k] || 0)}</td><td class="num">${fmtRes(k, offered[k] || 0)}</td><td>${meter(k, alloc[k] || 0, total[k] || 0)}</td></tr>`)}
          ${otherResources(a.total_resources || info.resources).map((r) => html`<tr><td colspan="5" class="mono">${r}</td></tr>`)}
          </tbody></table>
        </section>
      </div>
      <section class="card flush"><div class="card-head pad"><h3>Tasks on this agent</h3></div><div id="agent-tasks"></div></section>`.toString();
    const box = el.querySelector('#agent-tasks');
    box.innerHTML = tt.table.html(tasksOn(aid)).toString();
    tt.table.bind(box, draw);
  };
  draw();
  return { update: (why) => why === 'change' && draw() };
}
