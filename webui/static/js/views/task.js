// One task: its details and status history, its sandbox browsed through
// the agent's /files/browse, and a live tail of a file (stdout by
// default) read from the agent's /files/read with a growing offset.

import { store } from '../store.js';
import { agentBase, agentGet } from '../api.js';
import { html, raw, id, scalars, badge, fmtRes, fmtTime, fmtBytes, otherResources, secs, TERMINAL } from '../util.js';

export const title = (segs) => `Task ${segs[1] || ''}`;

const TAIL_MS = 500; // how often the tail reads the file, as Mesos's UI pager
const CHUNK = 64 * 1024; // the most the agent returns per read
const MAX_KEPT = 1 << 20; // characters kept in the viewer

const ICON_DIR = '<svg class="icon" viewBox="0 0 16 16"><path d="M1.5 3.5h5l1.5 1.5h6.5v8h-13z" fill="#93c5fd" stroke="#3b82f6"/></svg>';
const ICON_FILE = '<svg class="icon" viewBox="0 0 16 16"><path d="M3.5 1.5h6l3 3v10h-9z" fill="#f8fafc" stroke="#94a3b8"/><path d="M5.5 8h5M5.5 10.5h5" stroke="#94a3b8"/></svg>';

/** sandboxOf finds a task's executor directory in the agent's /state. */
async function sandboxOf(base, fid, tid, eid) {
  const state = await agentGet(base, '/state');
  for (const fw of [...(state.frameworks || []), ...(state.completed_frameworks || [])]) {
    if (fw.id !== fid) continue;
    for (const ex of [...(fw.executors || []), ...(fw.completed_executors || [])]) {
      const has = [ex.tasks, ex.queued_tasks, ex.completed_tasks].some((l) => (l || []).some((t) => t.id === tid));
      if (ex.id === (eid || tid) || has) return ex.directory;
    }
  }
  return null;
}

export function mount(el, segs) {
  const [fid, tid] = segs;
  const key = `${fid}/${tid}`;
  el.innerHTML = html`
    <div class="page-head"><div><a href="#/tasks" class="crumb">Tasks</a><h1 id="task-title">${tid}</h1></div></div>
    <div id="task-summary"></div>
    <section class="card flush sandbox" id="sandbox">
      <div class="card-head pad"><h3>Sandbox</h3><span class="muted mono" id="sandbox-dir"></span></div>
      <div class="sandbox-body">
        <div class="files"><div class="crumbs" id="crumbs"></div><ul id="file-list"><li class="muted">Locating the sandbox…</li></ul></div>
        <div class="viewer">
          <div class="viewer-head"><span class="tabs" id="tabs"></span><span class="muted" id="tail-state"></span>
            <a id="download" class="download" hidden>download</a>
            <label class="follow"><input type="checkbox" id="follow" checked> follow</label></div>
          <pre id="log" class="log"></pre>
        </div>
      </div>
    </section>`.toString();

  let stopped = false;
  let tailTimer = null;
  let base = null;
  let root = null;
  let cwd = null;
  let viewing = null;
  const log = el.querySelector('#log');
  const tailState = el.querySelector('#tail-state');
  const follow = el.querySelector('#follow');

  const drawSummary = () => {
    const t = store.tasks.get(key);
    const box = el.querySelector('#task-summary');
    if (!t) {
      box.innerHTML = html`<section class="card"><p class="muted">The leading master does not know this task (yet).</p></section>`.toString();
      return;
    }
    el.querySelector('#task-title').innerHTML = html`${t.name || tid} ${badge(t.state)}`.toString();
    const r = scalars(t.resources);
    const statuses = [...(t.statuses || [])].reverse();
    box.innerHTML = html`<div class="grid2">
      <section class="card"><div class="card-head"><h3>Task</h3></div><dl class="kv">
        <dt>ID</dt><dd class="mono">${tid}</dd>
        <dt>Framework</dt><dd><a href="#/frameworks/${encodeURIComponent(fid)}">${store.frameworkName(fid)}</a> <span class="sub mono">${fid}</span></dd>
        <dt>Agent</dt><dd><a href="#/agents/${encodeURIComponent(id(t.agent_id))}">${store.agentHost(id(t.agent_id))}</a> <span class="sub mono">${id(t.agent_id)}</span></dd>
        <dt>Executor</dt><dd class="mono">${id(t.executor_id) || 'command executor'}</dd>
        <dt>Resources</dt><dd>${['cpus', 'mem', 'disk', 'gpus'].filter((k) => r[k]).map((k) => html`<span class="chip">${k} ${fmtRes(k, r[k])}</span>`)}
          ${otherResources(t.resources).map((x) => html`<span class="chip">${x}</span>`)}</dd>
        ${t.user ? html`<dt>User</dt><dd>${t.user}</dd>` : ''}
      </dl></section>
      <section class="card"><div class="card-head"><h3>Status updates</h3></div>
        <ol class="timeline">${statuses.length ? statuses.map((s) => html`<li>${badge(s.state)}<span>${fmtTime(secs(s.timestamp))}</span>
          ${s.message ? html`<div class="sub">${s.message}</div>` : ''}${s.reason ? html`<div class="sub mono">${s.reason} · ${s.source || ''}</div>` : ''}</li>`) : html`<li class="muted">No status yet.</li>`}</ol>
      </section></div>`.toString();
  };

  const browse = async (dir) => {
    cwd = dir;
    const list = el.querySelector('#file-list');
    const rel = dir.slice(root.length) || '/';
    el.querySelector('#crumbs').innerHTML = html`<a href="" data-dir="${root}">sandbox</a>${rel.split('/').filter(Boolean).map((p, i, a) =>
      html` / <a href="" data-dir="${root}/${a.slice(0, i + 1).join('/')}">${p}</a>`)}`.toString();
    try {
      const files = await agentGet(base, `/files/browse?path=${encodeURIComponent(dir)}`);
      files.sort((a, b) => (b.mode[0] === 'd') - (a.mode[0] === 'd') || a.path.localeCompare(b.path));
      list.innerHTML = files.length ? files.map((f) => {
        const name = f.path.split('/').pop();
        const isDir = f.mode.startsWith('d');
        return html`<li class="${f.path === viewing ? 'on' : ''}"><a href="" data-${isDir ? 'dir' : 'file'}="${f.path}" class="${isDir ? 'dir' : 'file'}">${raw(isDir ? ICON_DIR : ICON_FILE)} ${name}</a>
          <span class="muted">${isDir ? '' : fmtBytes(f.size)}</span></li>`.toString();
      }).join('') : '<li class="muted">Empty directory.</li>';
    } catch (err) {
      list.innerHTML = html`<li class="error">${err.message}</li>`.toString();
    }
  };

  const tail = async (path) => {
    clearTimeout(tailTimer);
    viewing = path;
    log.textContent = '';
    el.querySelector('#tabs').innerHTML = ['stdout', 'stderr'].map((n) =>
      html`<a href="" data-file="${root}/${n}" class="${path === `${root}/${n}` ? 'on' : ''}">${n}</a>`.toString()).join('') +
      (path.endsWith('/stdout') || path.endsWith('/stderr') ? '' : html`<a class="on" href="" data-file="${path}">${path.split('/').pop()}</a>`.toString());
    for (const li of el.querySelectorAll('#file-list li')) li.classList.toggle('on', li.querySelector('a')?.dataset.file === path);
    const dl = el.querySelector('#download');
    dl.href = `${base}/files/download?path=${encodeURIComponent(path)}`;
    dl.hidden = false;
    let offset = null;
    const step = async () => {
      if (stopped || viewing !== path) return;
      try {
        if (offset === null) {
          const end = await agentGet(base, `/files/read?path=${encodeURIComponent(path)}&offset=-1`);
          offset = Math.max(0, end.offset - CHUNK);
        }
        for (;;) {
          const r = await agentGet(base, `/files/read?path=${encodeURIComponent(path)}&offset=${offset}&length=${CHUNK}`);
          if (stopped || viewing !== path) return;
          if (r.data.length) {
            log.append(r.data);
            if (log.textContent.length > MAX_KEPT) log.textContent = log.textContent.slice(-MAX_KEPT / 2);
            offset = r.offset + new TextEncoder().encode(r.data).length;
            if (follow.checked) log.scrollTop = log.scrollHeight;
          }
          if (r.data.length < CHUNK / 2) break;
        }
        const t = store.tasks.get(key);
        tailState.textContent = `${fmtBytes(offset)} · ${t && TERMINAL.has(t.state) ? 'task ended' : 'live'}`;
        tailState.className = 'muted';
      } catch (err) {
        tailState.textContent = err.message;
        tailState.className = 'error';
      }
      tailTimer = setTimeout(step, TAIL_MS);
    };
    step();
  };

  el.querySelector('#sandbox').addEventListener('click', (e) => {
    const a = e.target.closest('a[data-dir], a[data-file]');
    if (!a) return;
    e.preventDefault();
    if (a.dataset.dir) browse(a.dataset.dir);
    else tail(a.dataset.file);
  });

  const locate = async () => {
    const t = store.tasks.get(key);
    const agent = t && store.agents.get(id(t.agent_id));
    if (!agent) return false;
    base = agentBase(agent.pid);
    try {
      root = await sandboxOf(base, fid, tid, id(t.executor_id));
    } catch (err) {
      el.querySelector('#file-list').innerHTML = html`<li class="error">Could not read the agent's state: ${err.message}</li>`.toString();
      return false;
    }
    if (!root) return false;
    // A task of a task group runs in its own sandbox inside its executor's,
    // tasks/<task id>.
    if (id(t.executor_id) && id(t.executor_id) !== tid) {
      try {
        await agentGet(base, `/files/browse?path=${encodeURIComponent(`${root}/tasks/${tid}`)}`);
        root = `${root}/tasks/${tid}`;
      } catch {
        // Not there: the task runs in the executor's sandbox.
      }
    }
    const dirEl = el.querySelector('#sandbox-dir');
    dirEl.textContent = `${agent.agent_info?.hostname}:${root}`;
    dirEl.title = dirEl.textContent;
    browse(root);
    tail(`${root}/stdout`);
    return true;
  };

  // The sandbox appears in the agent's /state once the agent launches the
  // executor: look again after each change of the task, and every second
  // for a while.
  let located = false;
  let locating = false;
  let retries = 0;
  let retryTimer = null;
  const tryLocate = async () => {
    if (located || locating || stopped) return;
    locating = true;
    located = await locate();
    locating = false;
    clearTimeout(retryTimer);
    if (located || stopped) return;
    if (retries++ < 60) retryTimer = setTimeout(tryLocate, 1000);
    else el.querySelector('#file-list').innerHTML = '<li class="muted">The agent names no sandbox for this task.</li>';
  };
  let lastState = store.tasks.get(key)?.state;

  drawSummary();
  tryLocate();
  return {
    update: (why) => {
      if (why !== 'change') return;
      drawSummary();
      const state = store.tasks.get(key)?.state;
      if (state === lastState) return;
      lastState = state;
      if (!located) tryLocate();
      else if (cwd) browse(cwd);
    },
    destroy: () => {
      stopped = true;
      clearTimeout(tailTimer);
      clearTimeout(retryTimer);
    },
  };
}
