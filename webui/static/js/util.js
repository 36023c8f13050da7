// Small helpers shared by the views: HTML escaping, Mesos resource
// arithmetic over protobuf-JSON Resource arrays, formatting, badges and
// a sortable, filterable table.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** esc escapes text for HTML. */
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

/** html is a tagged template that escapes interpolations unless raw(). */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return raw(out);
}
function render(v) {
  if (v instanceof Raw) return v.s;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}
class Raw {
  constructor(s) {
    this.s = s;
  }
  toString() {
    return this.s;
  }
}
/** raw marks trusted HTML. */
export const raw = (s) => new Raw(s);

/** id reads a protobuf-JSON id, {"value": "..."}. */
export const id = (v) => (v && typeof v === 'object' ? v.value : v) ?? '';

/** SCALARS are the resources the overview charts. */
export const SCALARS = ['cpus', 'mem', 'disk', 'gpus'];

/** scalars sums the scalar resources of a Resource array by name. */
export function scalars(resources) {
  const out = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const r of resources || []) {
    if (r.type === 'SCALAR' || r.scalar) out[r.name] = (out[r.name] || 0) + (r.scalar?.value || 0);
  }
  return out;
}

/** addInto adds scalar totals b into a. */
export function addInto(a, b) {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] || 0) + v;
  return a;
}

/** roleOf is the role a resource is allocated to or reserved for. */
export function roleOf(r) {
  if (r.allocation_info?.role) return r.allocation_info.role;
  const rs = r.reservations;
  if (rs?.length) return rs[rs.length - 1].role;
  return r.role || '*';
}

/** ranges renders the RANGES and SET resources, e.g. ports [31000-32000]. */
export function otherResources(resources) {
  const out = [];
  for (const r of resources || []) {
    if (r.ranges) out.push(`${r.name} ${r.ranges.range.map((x) => (x.begin === x.end ? x.begin : `${x.begin}-${x.end}`)).join(', ')}`);
    else if (r.set) out.push(`${r.name} {${r.set.item.join(', ')}}`);
  }
  return out;
}

/** fmtRes formats an amount of a resource in its unit (mem and disk in MB). */
export function fmtRes(name, v) {
  if (name === 'mem' || name === 'disk') return fmtMB(v);
  return fmtNum(v);
}
export function fmtMB(mb) {
  if (mb >= 1024 * 1024) return `${fmtNum(mb / 1024 / 1024)} TB`;
  if (mb >= 1024) return `${fmtNum(mb / 1024)} GB`;
  return `${fmtNum(mb)} MB`;
}
export function fmtNum(v) {
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : String(Math.round(v * 100) / 100);
}
export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const u = ['KB', 'MB', 'GB', 'TB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < u.length - 1);
  return `${fmtNum(n)} ${u[i]}`;
}

/** secs reads a time: TimeInfo {nanoseconds}, or seconds as a number. */
export function secs(t) {
  if (t === undefined || t === null) return null;
  if (typeof t === 'number') return t;
  if (t.nanoseconds !== undefined) return Number(t.nanoseconds) / 1e9;
  return null;
}
export function fmtTime(s) {
  if (!s) return '–';
  return new Date(s * 1000).toLocaleString(undefined, { hour12: false });
}
export function fmtAgo(s) {
  if (!s) return '–';
  const d = Math.max(0, Date.now() / 1000 - s);
  if (d < 60) return `${Math.floor(d)}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)}m ago`;
  if (d < 86400) return `${Math.floor(d / 3600)}h ago`;
  return `${Math.floor(d / 86400)}d ago`;
}

export const TERMINAL = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
]);

/** badge renders a state as a colored pill. */
export function badge(state) {
  const s = String(state || 'UNKNOWN');
  const label = s.replace(/^TASK_/, '').replace(/_/g, ' ').toLowerCase();
  const cls = {
    TASK_RUNNING: 'ok', TASK_FINISHED: 'done', TASK_STAGING: 'pending', TASK_STARTING: 'pending', TASK_KILLING: 'warn',
    TASK_FAILED: 'bad', TASK_ERROR: 'bad', TASK_LOST: 'bad', TASK_DROPPED: 'bad', TASK_KILLED: 'muted', TASK_GONE: 'bad',
    TASK_GONE_BY_OPERATOR: 'bad', TASK_UNREACHABLE: 'warn', TASK_UNKNOWN: 'muted',
    active: 'ok', inactive: 'muted', connected: 'ok', disconnected: 'warn', draining: 'warn', drained: 'muted',
    deactivated: 'muted', down: 'bad', completed: 'muted', leading: 'ok',
  }[s] || 'muted';
  return html`<span class="badge ${cls}">${label}</span>`;
}

/** meter is a small used/total bar with its figures. */
export function meter(name, used, total) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return html`<div class="meter" title="${name}: ${fmtRes(name, used)} of ${fmtRes(name, total)}">
    <div class="meter-bar"><div style="width:${pct.toFixed(1)}%"></div></div>
    <span>${fmtRes(name, used)} / ${fmtRes(name, total)}</span></div>`;
}

/**
 * Table renders rows as a sortable table. columns: [{key, label, value(row)
 * for sorting and searching, cell(row) html, num: right-aligned}]. The sort
 * state lives in the object, so it survives re-renders.
 */
export class Table {
  constructor({ columns, sortKey, desc = false, rowAttrs = () => '', empty = 'Nothing here yet.', limit = 500 }) {
    this.limit = limit;
    this.columns = columns;
    this.sortKey = sortKey || columns[0].key;
    this.desc = desc;
    this.rowAttrs = rowAttrs;
    this.empty = empty;
  }

  html(rows) {
    const col = this.columns.find((c) => c.key === this.sortKey) || this.columns[0];
    const sorted = [...rows].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''), undefined, { numeric: true });
      return this.desc ? -c : c;
    });
    const head = this.columns.map((c) => {
      const arrow = c.key === this.sortKey ? (this.desc ? ' ▾' : ' ▴') : '';
      return html`<th class="${c.num ? 'num' : ''} sortable" data-sort="${c.key}">${c.label}${arrow}</th>`;
    });
    const shown = sorted.slice(0, this.limit);
    const more = sorted.length > shown.length
      ? html`<tr class="more"><td colspan="${this.columns.length}">Showing ${shown.length} of ${sorted.length}: filter or search to see the others.</td></tr>`
      : '';
    const body = shown.length
      ? shown.map((r) => html`<tr ${raw(this.rowAttrs(r))}>${this.columns.map((c) => html`<td class="${c.num ? 'num' : ''}">${c.cell ? c.cell(r) : c.value(r)}</td>`)}</tr>`)
      : html`<tr class="empty"><td colspan="${this.columns.length}">${this.empty}</td></tr>`;
    return html`<table class="grid"><thead><tr>${head}</tr></thead><tbody>${body}${more}</tbody></table>`;
  }

  /** bind makes header clicks in el re-sort and call rerender. */
  bind(el, rerender) {
    el.addEventListener('click', (e) => {
      const th = e.target.closest('th[data-sort]');
      if (!th) return;
      if (this.sortKey === th.dataset.sort) this.desc = !this.desc;
      else {
        this.sortKey = th.dataset.sort;
        this.desc = false;
      }
      rerender();
    });
  }
}

/** matches reports whether any of the values contains the search text. */
export function matches(q, ...values) {
  if (!q) return true;
  q = q.toLowerCase();
  return values.some((v) => String(v ?? '').toLowerCase().includes(q));
}

/** attrText renders agent attributes (protobuf Attribute) as name:value. */
export function attrText(a) {
  if (a.scalar) return `${a.name}:${fmtNum(a.scalar.value)}`;
  if (a.text) return `${a.name}:${a.text.value}`;
  if (a.ranges) return `${a.name}:[${a.ranges.range.map((r) => `${r.begin}-${r.end}`).join(',')}]`;
  if (a.set) return `${a.name}:{${a.set.item.join(',')}}`;
  return a.name;
}
