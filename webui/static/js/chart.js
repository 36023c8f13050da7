// SVG charts for the overview: stacked areas over time and a horizontal
// stacked bar. They return SVG markup; the numbers come from the store's
// series, kept in the browser.

import { esc, fmtRes } from './util.js';

const W = 560;
const H = 170;
const PAD = { l: 52, r: 12, t: 10, b: 22 };
// The time axis spans the samples kept (the time since the page opened, up
// to the store's limit), and at least this much.
const MIN_SPAN = 10000;

/**
 * niceMax rounds a maximum up to 1, 2, 2.5 or 5 times a power of ten, in
 * the unit the axis shows (GB for mem and disk past 1 GB).
 */
function niceMax(v, name) {
  if ((name === 'mem' || name === 'disk') && v > 1024) return niceMax(v / 1024) * 1024;
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtAge(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.round(s / 60)}m`;
}

/**
 * stacked draws layers (bottom first) stacked over time.
 * layers: [{label, color, get(point) -> number}]; name is the resource
 * (for units).
 */
export function stacked(points, layers, name) {
  if (points.length === 0) return empty();
  const now = points[points.length - 1].t;
  const t0 = Math.min(points[0].t, now - MIN_SPAN);
  const tops = points.map((p) => layers.reduce((s, l) => s + (l.get(p) || 0), 0));
  const max = niceMax(Math.max(...tops), name);
  const x = (t) => PAD.l + ((t - t0) / Math.max(1, now - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  let base = points.map(() => 0);
  const paths = [];
  for (const l of layers) {
    const top = points.map((p, i) => base[i] + (l.get(p) || 0));
    const pts = points.length === 1 ? [points[0], { ...points[0], t: now + 1 }] : points;
    const tp = pts.length === points.length ? top : [top[0], top[0]];
    const bp = pts.length === points.length ? base : [base[0], base[0]];
    // Steps: a value holds until the next sample.
    let d = `M${x(pts[0].t).toFixed(1)},${y(tp[0]).toFixed(1)}`;
    for (let i = 1; i < pts.length; i++) d += `H${x(pts[i].t).toFixed(1)}V${y(tp[i]).toFixed(1)}`;
    for (let i = pts.length - 1; i > 0; i--) d += `V${y(bp[i]).toFixed(1)}H${x(pts[i - 1].t).toFixed(1)}`;
    d += `V${y(bp[0]).toFixed(1)}Z`;
    paths.push(`<path d="${d}" fill="${l.color}" fill-opacity="0.85" stroke="none"><title>${esc(l.label)}</title></path>`);
    base = top;
  }
  const grid = [0, 0.5, 1]
    .map((f) => `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(max * f)}" y2="${y(max * f)}" class="gridline"/>` +
      `<text x="${PAD.l - 6}" y="${y(max * f) + 4}" text-anchor="end" class="axis">${esc(fmtRes(name, max * f))}</text>`)
    .join('');
  const xl = `<text x="${PAD.l}" y="${H - 6}" class="axis">-${fmtAge(now - t0)}</text>` +
    `<text x="${W - PAD.r}" y="${H - 6}" text-anchor="end" class="axis">now</text>`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img">${grid}${paths.join('')}${xl}</svg>`;
}

/** lines draws one line per series: [{label, color, values: [{t, v}]}]. */
export function lines(points, series, name) {
  if (points.length === 0 || series.length === 0) return empty('No tasks running in any role yet.');
  const now = points[points.length - 1].t;
  const t0 = Math.min(points[0].t, now - MIN_SPAN);
  const max = niceMax(Math.max(...series.flatMap((s) => points.map((p) => s.get(p) || 0))), name);
  const x = (t) => PAD.l + ((t - t0) / Math.max(1, now - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const paths = series.map((s) => {
    let d = '';
    points.forEach((p, i) => {
      const v = s.get(p) || 0;
      d += i === 0 ? `M${x(p.t).toFixed(1)},${y(v).toFixed(1)}` : `H${x(p.t).toFixed(1)}V${y(v).toFixed(1)}`;
    });
    d += `H${x(now).toFixed(1)}`;
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"><title>${esc(s.label)}</title></path>`;
  });
  const grid = [0, 0.5, 1]
    .map((f) => `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(max * f)}" y2="${y(max * f)}" class="gridline"/>` +
      `<text x="${PAD.l - 6}" y="${y(max * f) + 4}" text-anchor="end" class="axis">${esc(fmtRes(name, max * f))}</text>`)
    .join('');
  const xl = `<text x="${PAD.l}" y="${H - 6}" class="axis">-${fmtAge(now - t0)}</text>` +
    `<text x="${W - PAD.r}" y="${H - 6}" text-anchor="end" class="axis">now</text>`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img">${grid}${paths.join('')}${xl}</svg>`;
}

/** bar is a horizontal bar split into parts: [{label, color, value}] of total. */
export function bar(parts, total) {
  const segs = parts
    .filter((p) => p.value > 0 && total > 0)
    .map((p) => `<div class="seg" style="width:${((p.value / total) * 100).toFixed(2)}%;background:${p.color}" title="${esc(p.label)}"></div>`)
    .join('');
  return `<div class="stackbar">${segs}</div>`;
}

function empty(msg = 'Waiting for data…') {
  return `<div class="chart-empty">${esc(msg)}</div>`;
}

/** PALETTE colors roles in a stable order. */
export const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#db2777', '#65a30d'];
export const COLORS = { used: '#2563eb', offered: '#f59e0b', idle: '#cbd5e1' };
