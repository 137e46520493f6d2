// Charts, drawn with uPlot: spend per day stacked by a key, and requests
// per minute. Colours come from the page's CSS custom properties, so a
// chart is rebuilt when the colour scheme changes.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, replace } from './dom';
import { formatMoney, formatMoneyAxis } from './money';
import { count } from './format';
import { locale } from './locale';

export const PALETTE = ['#3b82f6', '#8b5cf6', '#14b8a6', '#f59e0b', '#ec4899', '#84cc16', '#06b6d4', '#f97316'];
export const OTHER_COLOR = '#94a3b8';

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A Chart owns a uPlot instance and the observer that keeps it sized. */
export interface Chart {
  destroy(): void;
}

function axisStyle(): Partial<uPlot.Axis> {
  const muted = cssVar('--text-muted') || '#6b7280';
  const grid = cssVar('--grid') || 'rgba(0,0,0,0.06)';
  return {
    stroke: muted,
    font: '11px ' + (cssVar('--font') || 'system-ui, sans-serif'),
    grid: { stroke: grid, width: 1 },
    ticks: { show: false },
  };
}

function sized(wrap: HTMLElement, height: number, make: (width: number) => uPlot): Chart {
  let u: uPlot | null = null;
  const build = () => {
    const w = Math.max(200, Math.floor(wrap.clientWidth));
    if (u) {
      if (u.width !== w) u.setSize({ width: w, height });
      return;
    }
    u = make(w);
  };
  wrap.style.minHeight = `${height}px`;
  const ro = new ResizeObserver(() => build());
  ro.observe(wrap);
  // Build at once when the wrapper is already laid out, so the chart does
  // not flash empty; otherwise the observer builds it once it has a size.
  if (wrap.isConnected && wrap.clientWidth > 0) build();
  return {
    destroy() {
      ro.disconnect();
      u?.destroy();
      u = null;
    },
  };
}

export interface StackGroup {
  label: string;
  color: string;
  values: number[]; // dollars per x
}

/** moneyTicks labels a money axis with as many decimals as its step needs. */
function moneyTicks(_u: uPlot, vals: number[], _axis: number, _space: number, incr: number): string[] {
  let decimals = incr >= 1 ? 0 : 2;
  while (decimals < 8 && Math.abs(incr * 10 ** decimals - Math.round(incr * 10 ** decimals)) > 1e-6) decimals++;
  const f = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return vals.map((v) => (v === 0 ? '$0' : Math.abs(v) >= 10000 ? formatMoneyAxis(v) : f.format(v)));
}

/**
 * stackedBars draws bars stacked from the groups, the first group at the
 * bottom, one bar per label. The legend below the chart shows each
 * group's total, or its value on the bar under the pointer.
 */
export function stackedBars(el: HTMLElement, labels: string[], groups: StackGroup[], opts: { height?: number; label: string; longLabels?: string[] }): Chart {
  const height = opts.height ?? 240;
  const wrap = h('div', { class: 'chart-canvas' });
  const legendItems = groups.map((g) => {
    const value = h('span', { class: 'legend-value' });
    return { g, value, el: h('li', null, h('span', { class: 'swatch', style: { background: g.color }, 'aria-hidden': 'true' }), h('span', { class: 'legend-label', title: g.label }, g.label), value) };
  });
  const legendHead = h('span', { class: 'legend-head' });
  const legend = h('div', { class: 'chart-legend' }, legendHead, h('ul', null, legendItems.map((i) => i.el)));
  const totals = groups.map((g) => g.values.reduce((a, b) => a + b, 0));
  const xs = labels.map((_, i) => i);
  const showTotals = () => {
    legendHead.textContent = `${labels.length} days`;
    legendItems.forEach((it, i) => (it.value.textContent = formatMoney(totals[i])));
  };
  const showAt = (idx: number) => {
    legendHead.textContent = (opts.longLabels ?? labels)[idx];
    legendItems.forEach((it) => (it.value.textContent = formatMoney(it.g.values[idx])));
  };
  showTotals();
  replace(el, h('div', { class: 'chart', role: 'img', 'aria-label': opts.label }, wrap), legend);

  // Cumulative sums, drawn tallest first so each lower part paints over it.
  const cum: number[][] = [];
  groups.forEach((g, i) => cum.push(g.values.map((v, j) => v + (i > 0 ? cum[i - 1][j] : 0))));
  const order = groups.map((_, i) => groups.length - 1 - i);
  const data: uPlot.AlignedData = [xs, ...order.map((i) => cum[i])];
  const barWidth = uPlot.paths.bars!({ size: [0.72, 36], radius: 0 });
  const topBar = uPlot.paths.bars!({ size: [0.72, 36], radius: 0.15 });
  const axis = axisStyle();
  return sized(wrap, height, (width) =>
    new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false }, y: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        scales: {
          x: { time: false, range: () => [-0.6, labels.length - 0.4] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [
          {
            ...axis,
            grid: { show: false },
            incrs: [1, 2, 3, 5, 7, 10, 15, 30],
            space: 52,
            size: 30,
            values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? (labels[v] ?? '') : '')),
          },
          { ...axis, values: moneyTicks, size: 70, space: 36 },
        ],
        series: [
          {},
          ...order.map((gi, k) => ({
            label: groups[gi].label,
            fill: groups[gi].color,
            stroke: groups[gi].color,
            width: 0,
            paths: k === 0 ? topBar : barWidth,
            points: { show: false },
          })),
        ],
        hooks: {
          setCursor: [
            (u: uPlot) => {
              const idx = u.cursor.idx;
              if (idx == null) showTotals();
              else showAt(idx);
            },
          ],
        },
      },
      data,
      wrap,
    ),
  );
}

/** rpmBars draws requests per minute for the last hour, oldest first. */
export function rpmBars(el: HTMLElement, rpm: number[], now: Date): Chart {
  const height = 140;
  const wrap = h('div', { class: 'chart-canvas' });
  const readout = h('span', { class: 'legend-value' });
  const total = rpm.reduce((a, b) => a + b, 0);
  const end = Math.floor(now.getTime() / 60000) * 60;
  const xs = rpm.map((_, i) => end - (rpm.length - 1 - i) * 60);
  const hm = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
  const showTotal = () => (readout.textContent = `${count(total)} in the last hour, peak ${count(Math.max(0, ...rpm))}/min`);
  showTotal();
  replace(el, h('div', { class: 'chart', role: 'img', 'aria-label': `Requests per minute, last 60 minutes: ${count(total)} in all` }, wrap), h('div', { class: 'chart-legend' }, readout));
  const color = cssVar('--accent') || '#3b82f6';
  const axis = axisStyle();
  return sized(wrap, height, (width) =>
    new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false }, y: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        scales: {
          x: { time: true, range: (_u, min, max) => [min - 30, max + 30] },
          y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] },
        },
        axes: [
          { ...axis, grid: { show: false }, values: (_u, vals) => vals.map((v) => hm.format(new Date(v * 1000))), space: 64, size: 30 },
          { ...axis, size: 40, space: 28, values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? count(v) : '')) },
        ],
        series: [{}, { label: 'Requests', fill: color, stroke: color, width: 0, paths: uPlot.paths.bars!({ size: [0.8, 14], radius: 0.2 }), points: { show: false } }],
        hooks: {
          setCursor: [
            (u: uPlot) => {
              const idx = u.cursor.idx;
              if (idx == null) showTotal();
              else readout.textContent = `${hm.format(new Date(xs[idx] * 1000))} · ${count(rpm[idx])} request${rpm[idx] === 1 ? '' : 's'}`;
            },
          ],
        },
      },
      [xs, rpm],
      wrap,
    ),
  );
}
