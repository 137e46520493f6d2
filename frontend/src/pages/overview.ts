// Overview: spend today and this month, each budget against its limit,
// spend per day for 30 days, top models and tokens, requests per minute.

import { api, type BudgetStatus, type SpendRow, type Summary } from '../api';
import type { App, Page } from '../app';
import { h, replace } from '../dom';
import { dollars, exactMoney, formatMoney } from '../money';
import { count, countShort, parseTime, plural, relative, resetTime } from '../format';
import { stackedBars, rpmBars, PALETTE, OTHER_COLOR, type Chart, type StackGroup } from '../chart';
import { card, pageHead, ring, meterTone, pctText, segmented, errorBox, loading, icon, button } from '../ui';
import { locale } from '../locale';

type StackBy = 'provider' | 'model' | 'token';
const STACK_KEY = 'sluice.stackBy';
const DAYS = 30;
const MAX_GROUPS = 6;

export const overviewPage: Page = {
  id: 'overview',
  title: 'Overview',
  icon: 'overview',
  mount(el, app) {
    let by: StackBy = (localStorage.getItem(STACK_KEY) as StackBy) || 'provider';
    let charts: Chart[] = [];
    let dayChart: Chart | null = null;
    let alive = true;
    const body = h('div', { class: 'stack' }, loading());
    el.append(pageHead('Overview', 'Where your money goes, as it goes.'), body);

    const dayChartHost = h('div', { class: 'chart-host' });

    function drawDays(rows: SpendRow[]): void {
      dayChart?.destroy();
      const [days, groups] = daySeries(rows);
      dayChart = stackedBars(
        dayChartHost,
        days.map((d) => dayLabel.format(d)),
        groups,
        { label: `Spend per day for the last ${DAYS} days, stacked by ${by}`, longLabels: days.map((d) => dayLong.format(d)) },
      );
    }

    const fetchDays = () => api.spend({ by: 'day', then: by, since: daysAgo(DAYS - 1).toISOString() });

    async function load(): Promise<void> {
      const since = daysAgo(DAYS - 1).toISOString();
      const [sum, days, models, tokens, keys, tokenList] = await Promise.all([
        api.summary(),
        fetchDays(),
        api.spend({ by: 'model', since }),
        api.spend({ by: 'token', since }),
        api.keys().catch(() => null),
        api.tokens().catch(() => null),
      ]);
      if (!alive) return;
      for (const c of charts) c.destroy();
      charts = [];
      const anyRecords = (sum.records ?? sum.month.requests) > 0 || (models ?? []).length > 0;
      const hasKey = (keys?.keys ?? []).some((k) => k.masked !== '');
      const hasToken = (tokenList ?? []).length > 0;
      const parts: (HTMLElement | null)[] = [];
      if (!anyRecords) parts.push(firstRun(app, hasKey, hasToken));
      if (anyRecords) parts.push(stats(sum));
      parts.push(budgetsSection(sum.budgets ?? [], app, anyRecords));
      if (anyRecords) {
        const toggle = segmented(
          'Stack spend by',
          [
            ['provider', 'Provider'],
            ['model', 'Model'],
            ['token', 'Token'],
          ],
          by,
          (v) => {
            by = v as StackBy;
            localStorage.setItem(STACK_KEY, by);
            fetchDays()
              .then((rows) => alive && drawDays(rows ?? []))
              .catch((e) => replace(dayChartHost, errorBox(e)));
          },
        );
        parts.push(card(`Spend per day, last ${DAYS} days`, dayChartHost, { actions: toggle, class: 'card-chart' }));
        const rpmHost = h('div', { class: 'chart-host' });
        parts.push(
          h(
            'div',
            { class: 'grid-3' },
            card('Top models', topTable(models ?? [], 'Model', (k) => k || '(unknown)'), { class: 'card-table' }),
            card('Top tokens', topTable(tokens ?? [], 'Token', tokenLabel), { class: 'card-table' }),
            card('Requests per minute', rpmHost, { class: 'card-rpm' }),
          ),
        );
        replace(body, ...parts);
        charts.push(rpmBars(rpmHost, sum.rpm ?? [], new Date(sum.time)));
        drawDays(days ?? []);
      } else {
        replace(body, ...parts);
      }
    }

    const reload = async () => {
      try {
        await load();
      } catch (e) {
        if (alive) replace(body, errorBox(e));
      }
    };
    void reload();
    return {
      refresh: reload,
      unmount() {
        alive = false;
        for (const c of charts) c.destroy();
        dayChart?.destroy();
      },
    };
  },
};

const dayLabel = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric' });
const dayLong = new Intl.DateTimeFormat(locale, { weekday: 'short', month: 'short', day: 'numeric' });

function daysAgo(n: number): Date {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() - n);
  return d;
}

function dayKey(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function tokenLabel(k: string): string {
  return k === '' ? '(no token)' : k;
}

/** daySeries lays rows of {key: day, sub} out as the last 30 days, stacked by sub. */
function daySeries(rows: SpendRow[]): [Date[], StackGroup[]] {
  const keys = new Set<string>();
  for (let i = DAYS - 1; i >= 0; i--) keys.add(dayKey(daysAgo(i)));
  for (const r of rows) keys.add(r.key);
  const days = [...keys].sort().slice(-DAYS);
  const index = new Map(days.map((d, i) => [d, i]));
  const totals = new Map<string, number>();
  for (const r of rows) {
    if (!index.has(r.key)) continue;
    const s = r.sub ?? '';
    totals.set(s, (totals.get(s) ?? 0) + dollars(r.cost_usd));
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const shown = ranked.slice(0, ranked.length > MAX_GROUPS ? MAX_GROUPS - 1 : MAX_GROUPS);
  const other = ranked.length > shown.length;
  const groups: StackGroup[] = shown.map((s, i) => ({ label: s === '' ? (rows.some((r) => r.sub !== undefined) ? '(none)' : 'All') : s, color: PALETTE[i % PALETTE.length], values: new Array(days.length).fill(0) }));
  if (other) groups.push({ label: 'Other', color: OTHER_COLOR, values: new Array(days.length).fill(0) });
  if (groups.length === 0) groups.push({ label: 'Spend', color: PALETTE[0], values: new Array(days.length).fill(0) });
  for (const r of rows) {
    const i = index.get(r.key);
    if (i === undefined) continue;
    let g = shown.indexOf(r.sub ?? '');
    if (g < 0) g = groups.length - 1;
    groups[g].values[i] += dollars(r.cost_usd);
  }
  const dates = days.map((d) => {
    const [y, m, dd] = d.split('-').map(Number);
    return new Date(y, m - 1, dd, 12);
  });
  return [dates, groups];
}

function stats(sum: Summary): HTMLElement {
  const lastHour = (sum.rpm ?? []).reduce((a, b) => a + b, 0);
  const stat = (label: string, value: string, sub: string, tone = '') =>
    h('div', { class: `stat${tone ? ' stat-' + tone : ''}` }, h('p', { class: 'stat-label' }, label), h('p', { class: 'stat-value' }, value), h('p', { class: 'stat-sub' }, sub));
  const t = sum.today;
  return h(
    'section',
    { class: 'stats', 'aria-label': 'Spend' },
    stat('Spent today', formatMoney(t.cost_usd), `${plural(t.requests, 'request')}${t.refused ? ` · ${count(t.refused)} refused` : ''}`),
    stat('Spent this month', formatMoney(sum.month.cost_usd), `${plural(sum.month.requests, 'request')}${sum.month.unpriced ? ` · ${count(sum.month.unpriced)} unpriced` : ''}`),
    stat('Tokens today', countShort(t.input_tokens + t.output_tokens), `${countShort(t.input_tokens)} in · ${countShort(t.output_tokens)} out`),
    stat('Last hour', plural(lastHour, 'request'), `peak ${count(Math.max(0, ...(sum.rpm ?? [0])))} per minute`),
  );
}

export function scopeText(b: { provider?: string; model?: string; token?: string; prompt?: string }): string {
  if (b.provider) return `provider ${b.provider}`;
  if (b.model) return `model ${b.model}`;
  if (b.token) return `token ${b.token}`;
  if (b.prompt) return `prompt ${b.prompt}`;
  return 'all requests';
}

export function periodText(p: string): string {
  return { day: 'per day', week: 'per week', month: 'per month', total: 'in total' }[p] ?? `in any ${rollingText(p)}`;
}

/** rollingText writes a rolling period such as "10m" in words: "10 minutes". */
export function rollingText(p: string): string {
  const units: Record<string, [string, string]> = { m: ['minute', 'minutes'], h: ['hour', 'hours'], d: ['day', 'days'] };
  const parts = [...p.matchAll(/(\d+)([mhd])/g)].map(([, n, u]) => `${n} ${Number(n) === 1 ? units[u][0] : units[u][1]}`);
  return parts.length ? parts.join(' ') : p;
}

/** rateText says how fast a rolling budget is spending now. */
export function rateText(b: BudgetStatus): string {
  return `${formatMoney(b.rate_usd_per_min ?? '0')}/min over the last 5 min`;
}

/** windowText says when a budget's spend comes back: its reset, or for a rolling one when its oldest spend ages out. */
export function windowText(b: BudgetStatus): string {
  if (!b.rolling) return resetTime(b.resets);
  const d = parseTime(b.ages_out);
  return d ? `Rolling window: the oldest spend ages out ${relative(b.ages_out)}` : 'Rolling window: nothing to age out';
}

function budgetsSection(budgets: BudgetStatus[], app: App, anyRecords: boolean): HTMLElement | null {
  if (budgets.length === 0) {
    if (!anyRecords) return null;
    return h(
      'section',
      { class: 'card card-nudge', 'aria-label': 'Budgets' },
      h('div', null, h('h2', null, 'No budgets yet'), h('p', { class: 'muted' }, 'A budget makes Sluice answer 402 before a request could spend past your limit, however many run at once.')),
      button('Create a budget', { kind: 'primary', icon: 'plus', onClick: () => app.navigate('budgets') }),
    );
  }
  return h(
    'section',
    { class: 'budget-gauges', 'aria-label': 'Budgets' },
    budgets.map((b) => {
      const spent = dollars(b.spent_usd);
      const limit = dollars(b.limit_now_usd);
      const frac = limit > 0 ? spent / limit : spent > 0 ? 1 : 0;
      const tone = meterTone(spent, limit, b.soft_now_pct, b.soft_reached, dollars(b.remaining_usd) === 0 && limit > 0 && spent + dollars(b.held_usd) >= limit);
      return h(
        'article',
        { class: `gauge-card tone-${tone}` },
        ring(frac, tone, `${b.name}: ${formatMoney(b.spent_usd)} spent of ${formatMoney(b.limit_now_usd)}`, [h('span', { class: 'ring-pct' }, pctText(frac))]),
        h(
          'div',
          { class: 'gauge-text' },
          h('h3', null, b.name),
          h('p', { class: 'gauge-amount' }, h('strong', null, formatMoney(b.spent_usd)), ' of ', exactMoney(b.limit_now_usd), ' ', h('span', { class: 'muted' }, periodText(b.period))),
          h('p', { class: 'muted' }, `${formatMoney(b.remaining_usd)} left · ${scopeText(b)}`),
          b.rolling ? h('p', { class: 'gauge-rate', 'aria-label': `${b.name} spend rate` }, h('strong', null, rateText(b))) : null,
          h('p', { class: 'muted small' }, windowText(b)),
        ),
      );
    }),
  );
}

function topTable(rows: SpendRow[], what: string, label: (k: string) => string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted pad' }, 'Nothing in the last 30 days.');
  const top = rows.slice(0, 6);
  const max = Math.max(...top.map((r) => dollars(r.cost_usd)), 1e-12);
  return h(
    'table',
    { class: 'table table-compact' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, what), h('th', { scope: 'col', class: 'num' }, 'Requests'), h('th', { scope: 'col', class: 'num' }, 'Cost'))),
    h(
      'tbody',
      null,
      top.map((r) =>
        h(
          'tr',
          null,
          h('td', null, h('div', { class: 'share' }, h('span', { class: 'share-label', title: label(r.key) }, label(r.key)), h('span', { class: 'share-bar', style: { width: `${Math.max(2, (dollars(r.cost_usd) / max) * 100)}%` }, 'aria-hidden': 'true' }))),
          h('td', { class: 'num' }, count(r.requests)),
          h('td', { class: 'num' }, formatMoney(r.cost_usd)),
        ),
      ),
    ),
  );
}

function firstRun(app: App, hasKey: boolean, hasToken: boolean): HTMLElement {
  const step = (n: number, done: boolean, title: string, text: string, action: HTMLElement | null) =>
    h(
      'li',
      { class: `step${done ? ' is-done' : ''}` },
      h('span', { class: 'step-num', 'aria-hidden': 'true' }, done ? icon('check', 16) : String(n)),
      h('div', { class: 'step-body' }, h('h3', null, title, done ? h('span', { class: 'visually-hidden' }, ' (done)') : null), h('p', { class: 'muted' }, text), action),
    );
  return card(
    null,
    [
      h('div', { class: 'welcome-head' }, h('h2', null, 'Welcome to Sluice'), h('p', { class: 'muted' }, 'Three steps, and every call your code and tools make is metered, priced and kept inside your budgets.')),
      h(
        'ol',
        { class: 'steps' },
        step(1, hasKey, 'Add a provider key', 'Paste your OpenAI, Anthropic, Gemini or other key once. It goes to your OS keyring, never to a file.', button(hasKey ? 'Manage keys' : 'Add a key', { kind: hasKey ? 'secondary' : 'primary', onClick: () => app.navigate('keys') })),
        step(2, hasToken, 'Connect a tool', 'Make a local token and point your SDK, Claude Code, Codex or aider at Sluice with a copyable snippet.', button('Connect a tool', { kind: hasKey && !hasToken ? 'primary' : 'secondary', onClick: () => app.navigate('connect') })),
        step(3, false, 'Make a request', `Run your code as usual. Each request shows up here within a second, with its tokens and cost.`, h('code', { class: 'inline-addr' }, `http://${app.status.addr}/v1`)),
      ),
    ],
    { class: 'welcome', label: 'Getting started' },
  );
}
