// Maintenance: the schedule's windows, the machines draining or down
// (GET_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS) and the agents being
// drained or deactivated, read again every few seconds while open.

import { call } from '../api.js';
import { store } from '../store.js';
import { html, id, badge, secs, fmtTime, Table } from '../util.js';
import { agentState } from './agents.js';

export const title = () => 'Maintenance';

const REFRESH_MS = 5000;

const machine = (m) => [m?.hostname, m?.ip].filter(Boolean).join(' / ') || '–';
const dur = (d) => {
  const s = d ? Number(d.nanoseconds) / 1e9 : null;
  if (s === null) return 'indefinitely';
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
};

export function mount(el) {
  el.innerHTML = html`
    <div class="page-head"><h1>Maintenance</h1><span class="muted" id="mnt-note"></span></div>
    <div class="grid2">
      <section class="card flush"><div class="card-head pad"><h3>Draining machines</h3></div><div id="mnt-draining"></div></section>
      <section class="card flush"><div class="card-head pad"><h3>Down machines</h3></div><div id="mnt-down"></div></section>
    </div>
    <section class="card flush"><div class="card-head pad"><h3>Schedule</h3><span class="muted">UPDATE_MAINTENANCE_SCHEDULE sets it</span></div><div id="mnt-schedule"></div></section>
    <section class="card flush"><div class="card-head pad"><h3>Agents draining or deactivated</h3><span class="muted">DRAIN_AGENT, DEACTIVATE_AGENT</span></div><div id="mnt-agents"></div></section>`.toString();
  let status = {};
  let windows = [];
  let timer = null;
  let stopped = false;
  const draining = new Table({
    empty: 'No machine is draining.',
    columns: [
      { key: 'm', label: 'Machine', value: (d) => machine(d.id) },
      { key: 'n', label: 'Inverse offers', num: true, value: (d) => (d.statuses || []).length },
    ],
  });
  const down = new Table({ empty: 'No machine is down.', columns: [{ key: 'm', label: 'Machine', value: machine }] });
  const sched = new Table({
    sortKey: 'start',
    empty: 'No maintenance is scheduled.',
    columns: [
      { key: 'm', label: 'Machines', value: (w) => (w.machine_ids || []).map(machine).join(', ') },
      { key: 'start', label: 'Starts', value: (w) => secs(w.unavailability?.start) || 0, cell: (w) => fmtTime(secs(w.unavailability?.start)) },
      { key: 'dur', label: 'For', value: (w) => Number(w.unavailability?.duration?.nanoseconds || 0), cell: (w) => dur(w.unavailability?.duration) },
    ],
  });
  const agents = new Table({
    empty: 'Every agent is active.',
    columns: [
      { key: 'h', label: 'Agent', value: (a) => a.agent_info?.hostname,
        cell: (a) => html`<a href="#/agents/${encodeURIComponent(id(a.agent_info?.id))}">${a.agent_info?.hostname}</a>` },
      { key: 's', label: 'State', value: agentState, cell: (a) => badge(agentState(a)) },
      { key: 'g', label: 'Mark gone', value: (a) => (a.drain_info?.config?.mark_gone ? 'yes' : 'no') },
      { key: 'e', label: 'Drain starts', value: (a) => secs(a.estimated_drain_start_time) || 0, cell: (a) => fmtTime(secs(a.estimated_drain_start_time)) },
    ],
  });
  const boxes = ['draining', 'down', 'schedule', 'agents'].map((n) => el.querySelector(`#mnt-${n}`));
  const draw = () => {
    boxes[0].innerHTML = draining.html(status.draining_machines || []).toString();
    boxes[1].innerHTML = down.html(status.down_machines || []).toString();
    boxes[2].innerHTML = sched.html(windows).toString();
    boxes[3].innerHTML = agents.html([...store.agents.values()].filter((a) => a.drain_info || a.deactivated)).toString();
  };
  [draining, down, sched, agents].forEach((t, i) => t.bind(boxes[i], draw));
  const load = async () => {
    try {
      const [st, sc] = await Promise.all([call('GET_MAINTENANCE_STATUS'), call('GET_MAINTENANCE_SCHEDULE')]);
      if (stopped) return;
      status = st?.get_maintenance_status?.status || {};
      windows = sc?.get_maintenance_schedule?.schedule?.windows || [];
      el.querySelector('#mnt-note').textContent = `updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
    } catch (err) {
      if (!stopped) el.querySelector('#mnt-note').textContent = `Could not read the maintenance status: ${err.message}`;
    }
    if (stopped) return;
    draw();
    timer = setTimeout(load, REFRESH_MS);
  };
  draw();
  load();
  return {
    update: (why) => why === 'change' && draw(),
    destroy: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
