// Tasks: every task the master knows, filtered by state, framework,
// agent and free text, sorted by any column; updated live.

import { store, firstTime, lastTime } from '../store.js';
import { html, esc, id, scalars, badge, Table, matches, fmtRes, fmtAgo, TERMINAL } from '../util.js';

export const title = () => 'Tasks';

const taskHref = (t) => `#/task/${encodeURIComponent(id(t.framework_id))}/${encodeURIComponent(id(t.task_id))}`;

/** taskTable is the task table the tasks, agent and framework pages share. */
export function taskTable({ hide = [] } = {}) {
  const columns = [
    { key: 'id', label: 'Task', value: (t) => t.name || id(t.task_id),
      cell: (t) => html`<a href="${taskHref(t)}"><b>${t.name || id(t.task_id)}</b></a>${t.name && t.name !== id(t.task_id) ? html`<div class="sub mono">${id(t.task_id)}</div>` : ''}` },
    { key: 'state', label: 'State', value: (t) => t.state, cell: (t) => badge(t.state) },
    { key: 'framework', label: 'Framework', value: (t) => store.frameworkName(id(t.framework_id)),
      cell: (t) => html`<a href="#/frameworks/${encodeURIComponent(id(t.framework_id))}">${store.frameworkName(id(t.framework_id))}</a>` },
    { key: 'agent', label: 'Agent', value: (t) => store.agentHost(id(t.agent_id)),
      cell: (t) => html`<a href="#/agents/${encodeURIComponent(id(t.agent_id))}">${store.agentHost(id(t.agent_id))}</a>` },
    { key: 'cpus', label: 'CPUs', num: true, value: (t) => scalars(t.resources).cpus },
    { key: 'mem', label: 'Memory', num: true, value: (t) => scalars(t.resources).mem, cell: (t) => fmtRes('mem', scalars(t.resources).mem) },
    { key: 'started', label: 'Started', value: firstTime, cell: (t) => fmtAgo(firstTime(t)) },
    { key: 'updated', label: 'Updated', value: lastTime, cell: (t) => fmtAgo(lastTime(t)) },
  ].filter((c) => !hide.includes(c.key));
  const table = new Table({
    columns,
    sortKey: 'started',
    desc: true,
    empty: 'No tasks match.',
    rowAttrs: (t) => `data-task-id="${esc(id(t.task_id))}" data-state="${esc(t.state)}"`,
  });
  return { table };
}

const GROUPS = [
  ['active', 'Active', (t) => !TERMINAL.has(t.state)],
  ['completed', 'Completed', (t) => TERMINAL.has(t.state)],
  ['all', 'All', () => true],
];

export function mount(el, _segs, query) {
  let group = query.get('state') || 'all';
  const fw = query.get('framework') || '';
  const agent = query.get('agent') || '';
  el.innerHTML = html`
    <div class="page-head"><h1>Tasks</h1><span class="muted" id="task-count"></span></div>
    <div class="toolbar">
      <div class="segmented" id="task-groups"></div>
      <input id="task-search" type="search" placeholder="Search tasks by name, id, framework or agent…" autocomplete="off" value="${query.get('q') || ''}">
      ${fw ? html`<span class="chip">framework ${store.frameworkName(fw)} <a href="#/tasks" title="clear">×</a></span>` : ''}
      ${agent ? html`<span class="chip">agent ${store.agentHost(agent)} <a href="#/tasks" title="clear">×</a></span>` : ''}
    </div>
    <section class="card flush" id="task-table"></section>`.toString();
  const box = el.querySelector('#task-table');
  const input = el.querySelector('#task-search');
  const groupsEl = el.querySelector('#task-groups');
  const { table } = taskTable();
  const draw = () => {
    const all = [...store.tasks.values()].filter((t) => (!fw || id(t.framework_id) === fw) && (!agent || id(t.agent_id) === agent));
    const groups = [...GROUPS];
    if (!groups.some(([k]) => k === group)) groups.push([group, group.replace(/^TASK_/, '').toLowerCase(), (t) => t.state === group]);
    groupsEl.innerHTML = groups.map(([k, label, f]) =>
      html`<button type="button" data-group="${k}" class="${k === group ? 'on' : ''}">${label} <span class="n">${all.filter(f).length}</span></button>`.toString()).join('');
    const pick = groups.find(([k]) => k === group)[2];
    const q = input.value.trim();
    const rows = all.filter((t) => pick(t) && matches(q, t.name, id(t.task_id), t.state, store.frameworkName(id(t.framework_id)),
      id(t.framework_id), store.agentHost(id(t.agent_id)), id(t.agent_id)));
    box.innerHTML = table.html(rows).toString();
    el.querySelector('#task-count').textContent = `${rows.length} shown of ${all.length}`;
  };
  groupsEl.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-group]');
    if (!b) return;
    group = b.dataset.group;
    draw();
  });
  table.bind(box, draw);
  input.addEventListener('input', draw);
  draw();
  // Redrawn on ticks too: the started and updated columns are relative.
  return { update: draw };
}
