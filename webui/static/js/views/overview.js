// The overview: the cluster's resources used, offered and idle (now and
// over time), per role, and its tasks by state.

import { store, lastTime } from '../store.js';
// raw passes the charts' markup (built from escaped parts) through html``.
import { html, raw as htmlRaw, fmtRes, SCALARS, badge, id, fmtAgo, TERMINAL } from '../util.js';
import { stacked, lines, bar, COLORS, PALETTE } from '../chart.js';

export const title = () => 'Overview';

const LABEL = { cpus: 'CPUs', mem: 'Memory', disk: 'Disk', gpus: 'GPUs' };

export function mount(el) {
  const draw = () => {
    const now = store.totals();
    const counts = store.counts();
    const active = [...store.tasks.values()].filter((t) => !TERMINAL.has(t.state)).length;
    const pts = store.series;
    const roleNames = [...new Set(pts.flatMap((p) => Object.keys(p.roles)))].sort();
    const nowRoles = [...new Set([...Object.keys(now.roles), ...Object.keys(now.offeredRoles)])].sort();
    const recent = [...store.tasks.values()].sort((a, b) => lastTime(b) - lastTime(a)).slice(0, 8);
    el.innerHTML = html`
      <div class="page-head"><h1>Cluster overview</h1><span class="muted">${store.subscribed ? 'live from the master’s event stream' : 'connecting…'}</span></div>
      <div class="stats">
        <a class="stat" href="#/agents"><span class="stat-n">${store.agents.size}</span><span class="stat-l">agents</span></a>
        <a class="stat" href="#/frameworks"><span class="stat-n">${store.frameworks.size}</span><span class="stat-l">active frameworks</span></a>
        <a class="stat" href="#/tasks"><span class="stat-n" id="active-tasks">${active}</span><span class="stat-l">active tasks</span></a>
        <a class="stat" href="#/tasks?state=completed"><span class="stat-n">${store.tasks.size - active}</span><span class="stat-l">completed tasks</span></a>
      </div>
      <div class="grid4">
        ${SCALARS.map((k) => html`
          <section class="card res-card">
            <div class="card-head"><h3>${LABEL[k]}</h3><span class="muted">${fmtRes(k, now.total[k])} total</span></div>
            ${htmlRaw(bar([
              { label: `used ${fmtRes(k, now.used[k])}`, color: COLORS.used, value: now.used[k] },
              { label: `offered ${fmtRes(k, now.offered[k])}`, color: COLORS.offered, value: now.offered[k] },
              { label: `idle ${fmtRes(k, now.idle[k])}`, color: COLORS.idle, value: now.idle[k] },
            ], now.total[k]))}
            <dl class="legend">
              <div><dt><i style="background:${COLORS.used}"></i>used</dt><dd>${fmtRes(k, now.used[k])}</dd></div>
              <div><dt><i style="background:${COLORS.offered}"></i>offered</dt><dd>${fmtRes(k, now.offered[k])}</dd></div>
              <div><dt><i style="background:${COLORS.idle}"></i>idle</dt><dd>${fmtRes(k, now.idle[k])}</dd></div>
            </dl>
          </section>`)}
      </div>
      <div class="grid2">
        ${SCALARS.map((k) => html`
          <section class="card">
            <div class="card-head"><h3>${LABEL[k]} over time</h3><span class="muted">used · offered · idle</span></div>
            ${htmlRaw(stacked(pts, [
              { label: 'used', color: COLORS.used, get: (p) => p.used[k] },
              { label: 'offered', color: COLORS.offered, get: (p) => p.offered[k] },
              { label: 'idle', color: COLORS.idle, get: (p) => p.idle[k] },
            ], k))}
          </section>`)}
      </div>
      <div class="grid2">
        <section class="card">
          <div class="card-head"><h3>CPUs used per role</h3>
            <span class="legend-inline">${roleNames.map((r, i) => html`<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${r}</span>`)}</span></div>
          ${htmlRaw(lines(pts, roleNames.map((r, i) => ({ label: r, color: PALETTE[i % PALETTE.length], get: (p) => p.roles[r]?.cpus })), 'cpus'))}
        </section>
        <section class="card">
          <div class="card-head"><h3>Memory used per role</h3>
            <span class="legend-inline">${roleNames.map((r, i) => html`<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${r}</span>`)}</span></div>
          ${htmlRaw(lines(pts, roleNames.map((r, i) => ({ label: r, color: PALETTE[i % PALETTE.length], get: (p) => p.roles[r]?.mem })), 'mem'))}
        </section>
      </div>
      <section class="card flush">
        <div class="card-head pad"><h3>Per role now</h3><span class="muted">used by running tasks · offered</span></div>
        <table class="grid"><thead><tr><th>Role</th>${SCALARS.map((k) => html`<th class="num">${LABEL[k]} used</th><th class="num">offered</th>`)}</tr></thead>
        <tbody>${nowRoles.length ? nowRoles.map((r) => html`<tr data-role="${r}"><td><b>${r}</b></td>${SCALARS.map((k) => html`
          <td class="num">${fmtRes(k, now.roles[r]?.[k] || 0)}</td><td class="num muted">${fmtRes(k, now.offeredRoles[r]?.[k] || 0)}</td>`)}</tr>`)
          : html`<tr class="empty"><td colspan="9">No role uses or is offered anything.</td></tr>`}</tbody></table>
      </section>
      <div class="grid2">
        <section class="card">
          <div class="card-head"><h3>Tasks by state</h3></div>
          <div class="state-counts">${Object.keys(counts).length ? Object.entries(counts).sort().map(([s, n]) => html`
            <a href="#/tasks?state=${s}" class="state-count">${badge(s)}<b>${n}</b></a>`) : html`<p class="muted">No tasks yet.</p>`}</div>
        </section>
        <section class="card">
          <div class="card-head"><h3>Recent tasks</h3><a href="#/tasks">all tasks →</a></div>
          <ul class="recent">${recent.length ? recent.map((t) => html`
            <li><a href="#/task/${encodeURIComponent(id(t.framework_id))}/${encodeURIComponent(id(t.task_id))}">${t.name || id(t.task_id)}</a>
            ${badge(t.state)}<span class="muted">${store.frameworkName(id(t.framework_id))} · ${fmtAgo(lastTime(t))}</span></li>`) : html`<li class="muted">No tasks yet.</li>`}</ul>
        </section>
      </div>`;
  };
  draw();
  return { update: draw };
}
