// The cluster as the UI knows it: built from the SUBSCRIBED snapshot and
// kept current by the operator event stream, plus the time series the
// overview charts, sampled in the browser.

import { call } from './api.js';
import { id, scalars, addInto, roleOf, TERMINAL, SCALARS } from './util.js';

const MAX_POINTS = 900; // 30 minutes at one point every 2 s
const MAX_COMPLETED = 2000; // terminal tasks kept for the tasks page

export const taskKey = (t) => `${id(t.framework_id)}/${id(t.task_id)}`;

class Store {
  constructor() {
    this.tasks = new Map(); // fw/task -> Task
    this.agents = new Map(); // agent id -> GetAgents.Agent
    this.frameworks = new Map(); // fw id -> GetFrameworks.Framework
    this.completedFrameworks = new Map(); // fw id -> {framework_info}
    this.executors = []; // GetExecutors.Executor
    this.master = null; // GET_MASTER response
    this.status = 'connecting';
    this.subscribed = false;
    this.series = [];
    this.listeners = new Set();
    this.pending = null;
    this.pendingReason = null;
    this.agentRefresh = null;
    this.agentsRefreshed = 0;
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * changed tells the listeners, at most once per 50 ms, why: 'change'
   * when the cluster changed, 'tick' when only a new sample was taken.
   */
  changed(reason = 'change') {
    if (this.pendingReason !== 'change') this.pendingReason = reason;
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      const why = this.pendingReason;
      this.pendingReason = null;
      for (const fn of [...this.listeners]) {
        try {
          fn(why);
        } catch (err) {
          console.error(err);
        }
      }
    }, 50);
  }

  setStatus(s) {
    this.status = s;
    this.changed();
  }

  /** apply folds one operator event into the store. */
  apply(ev) {
    switch (ev.type) {
      case 'SUBSCRIBED':
        this.load(ev.subscribed?.get_state || {});
        this.subscribed = true;
        this.sample();
        break;
      case 'TASK_ADDED': {
        const t = ev.task_added.task;
        this.tasks.set(taskKey(t), t);
        this.trim();
        this.refreshAgentsSoon();
        break;
      }
      case 'TASK_UPDATED': {
        const u = ev.task_updated;
        const key = `${id(u.framework_id)}/${id(u.status?.task_id)}`;
        const t = this.tasks.get(key) || {
          task_id: u.status?.task_id, framework_id: u.framework_id, agent_id: u.status?.agent_id, name: id(u.status?.task_id), statuses: [],
        };
        t.state = u.state;
        t.statuses = [...(t.statuses || []), u.status];
        if (u.status?.executor_id && !t.executor_id) t.executor_id = u.status.executor_id;
        this.tasks.set(key, t);
        this.refreshAgentsSoon();
        break;
      }
      case 'AGENT_ADDED': {
        const a = ev.agent_added.agent;
        this.agents.set(id(a.agent_info?.id), a);
        this.refreshAgentsSoon();
        break;
      }
      case 'AGENT_REMOVED':
        this.agents.delete(id(ev.agent_removed.agent_id));
        break;
      case 'FRAMEWORK_ADDED':
      case 'FRAMEWORK_UPDATED': {
        const f = (ev.framework_added || ev.framework_updated).framework;
        this.frameworks.set(id(f.framework_info?.id), f);
        break;
      }
      case 'FRAMEWORK_REMOVED': {
        const info = ev.framework_removed.framework_info;
        const fid = id(info?.id);
        const f = this.frameworks.get(fid) || { framework_info: info };
        this.frameworks.delete(fid);
        this.completedFrameworks.set(fid, { ...f, active: false, connected: false });
        break;
      }
      case 'HEARTBEAT':
        return;
      default:
        return;
    }
    this.sample();
    this.changed();
  }

  load(state) {
    this.tasks.clear();
    const tasks = state.get_tasks || {};
    for (const group of ['completed_tasks', 'unreachable_tasks', 'tasks', 'pending_tasks']) {
      for (const t of tasks[group] || []) this.tasks.set(taskKey(t), t);
    }
    this.agents.clear();
    for (const a of state.get_agents?.agents || []) this.agents.set(id(a.agent_info?.id), a);
    this.frameworks.clear();
    this.completedFrameworks.clear();
    const fws = state.get_frameworks || {};
    for (const f of fws.frameworks || []) this.frameworks.set(id(f.framework_info?.id), f);
    for (const f of fws.completed_frameworks || []) this.completedFrameworks.set(id(f.framework_info?.id), f);
    this.executors = state.get_executors?.executors || [];
    this.trim();
  }

  /** trim drops the oldest terminal tasks beyond MAX_COMPLETED. */
  trim() {
    if (this.tasks.size <= MAX_COMPLETED) return;
    const done = [...this.tasks.entries()].filter(([, t]) => TERMINAL.has(t.state));
    if (done.length <= MAX_COMPLETED) return;
    done.sort((a, b) => lastTime(a[1]) - lastTime(b[1]));
    for (const [k] of done.slice(0, done.length - MAX_COMPLETED)) this.tasks.delete(k);
  }

  /**
   * refreshAgentsSoon reads GET_AGENTS shortly after a burst of events:
   * the stream says what changed, not what each agent has offered and
   * allocated since.
   */
  refreshAgentsSoon() {
    if (this.agentRefresh) return;
    // 400 ms after the first event of a burst, and at most every 2 s
    // while events keep coming.
    const since = Date.now() - this.agentsRefreshed;
    this.agentRefresh = setTimeout(() => {
      this.agentRefresh = null;
      this.refreshAgents();
    }, Math.max(400, 2000 - since));
  }

  /**
   * refreshAgents reads GET_AGENTS and GET_FRAMEWORKS: what each agent and
   * framework has offered and allocated changes with no event of its own.
   */
  async refreshAgents() {
    this.agentsRefreshed = Date.now();
    try {
      const [a, f] = await Promise.all([call('GET_AGENTS'), call('GET_FRAMEWORKS')]);
      this.agents = new Map((a?.get_agents?.agents || []).map((x) => [id(x.agent_info?.id), x]));
      const fws = f?.get_frameworks || {};
      this.frameworks = new Map((fws.frameworks || []).map((x) => [id(x.framework_info?.id), x]));
      for (const x of fws.completed_frameworks || []) this.completedFrameworks.set(id(x.framework_info?.id), x);
      this.sample();
      this.changed();
    } catch (err) {
      console.warn('GET_AGENTS', err);
    }
  }

  /** used sums the scalar resources of the tasks that match and still run. */
  used(match) {
    const out = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
    for (const t of this.tasks.values()) {
      if (!TERMINAL.has(t.state) && match(t)) addInto(out, scalars(t.resources));
    }
    return out;
  }

  async loadMaster() {
    try {
      this.master = await call('GET_MASTER');
      this.changed();
    } catch (err) {
      console.warn('GET_MASTER', err);
    }
  }

  framework(fid) {
    return this.frameworks.get(fid) || this.completedFrameworks.get(fid);
  }

  frameworkName(fid) {
    return this.framework(fid)?.framework_info?.name || fid;
  }

  agentHost(aid) {
    return this.agents.get(aid)?.agent_info?.hostname || aid;
  }

  /** totals are the cluster's scalar resources now: total, used, offered, idle, by role. */
  totals() {
    const total = {};
    const offered = {};
    const offeredRoles = {};
    for (const a of this.agents.values()) {
      addInto(total, scalars(a.total_resources || a.agent_info?.resources));
      addInto(offered, scalars(a.offered_resources));
      for (const r of a.offered_resources || []) {
        if (!r.scalar) continue;
        const role = roleOf(r);
        offeredRoles[role] ??= {};
        offeredRoles[role][r.name] = (offeredRoles[role][r.name] || 0) + r.scalar.value;
      }
    }
    const used = {};
    const roles = {};
    for (const t of this.tasks.values()) {
      if (TERMINAL.has(t.state)) continue;
      for (const r of t.resources || []) {
        if (!r.scalar) continue;
        used[r.name] = (used[r.name] || 0) + r.scalar.value;
        let role = roleOf(r);
        if (role === '*' && !r.allocation_info) {
          const info = this.framework(id(t.framework_id))?.framework_info;
          role = info?.roles?.[0] || info?.role || '*';
        }
        roles[role] ??= {};
        roles[role][r.name] = (roles[role][r.name] || 0) + r.scalar.value;
      }
    }
    const idle = {};
    for (const k of SCALARS) {
      total[k] ||= 0;
      used[k] ||= 0;
      offered[k] ||= 0;
      idle[k] = Math.max(0, total[k] - used[k] - offered[k]);
    }
    return { total, used, offered, idle, roles, offeredRoles };
  }

  /** sample appends the totals now to the series. */
  sample() {
    if (!this.subscribed) return;
    const p = { t: Date.now(), ...this.totals() };
    const last = this.series[this.series.length - 1];
    if (last && p.t - last.t < 250) this.series[this.series.length - 1] = p;
    else this.series.push(p);
    if (this.series.length > MAX_POINTS) this.series.splice(0, this.series.length - MAX_POINTS);
  }

  counts() {
    const out = {};
    for (const t of this.tasks.values()) out[t.state] = (out[t.state] || 0) + 1;
    return out;
  }
}

/** lastTime is the time of a task's latest status, in seconds. */
export function lastTime(t) {
  const s = t.statuses;
  return s?.length ? s[s.length - 1].timestamp || 0 : 0;
}

/** firstTime is the time of a task's first status, in seconds. */
export function firstTime(t) {
  return t.statuses?.[0]?.timestamp || 0;
}

export const store = new Store();

// The overview's charts need points while nothing happens too: sample
// every 2 s, from the store (no request).
setInterval(() => {
  if (store.subscribed && store.status === 'live') {
    store.sample();
    store.changed('tick');
  }
}, 2000);
