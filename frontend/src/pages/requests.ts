// Requests: the live log with filters, paging, export, and the detail of
// one request: its tokens, the arithmetic of its cost, its timing, and for
// a refusal which budget said no and why.

import { api, download, exportURL, type LogQuery, type CostLine, type RecordDetail, type RecordRow } from '../api';
import type { Page } from '../app';
import { h, replace, uid } from '../dom';
import { exactMoney, formatMoney, parsePico, picoString } from '../money';
import { count, fullTime, ms, when } from '../format';
import { badge, busy, button, callout, card, copyButton, dataTable, empty, errorBox, errorMessage, field, icon, input, loading, outcomeBadge, pageHead, select, toast } from '../ui';

const PAGE_SIZE = 50;

interface Filters {
  provider: string;
  model: string;
  token: string;
  status: string;
  outcome: string;
  estimated: boolean;
  reason: string;
  budget: string;
}

/** REASONS are why Sluice refuses or blocks a request, for the Refused-by filter. */
const REASONS: [string, string][] = [
  ['', 'Any'],
  ['budget', 'Budget'],
  ['loop', 'Loop detection'],
  ['rpm', 'Requests-per-minute cap'],
  ['pause', 'Pause'],
  ['unpriced', 'No price'],
  ['auth', 'Key or token (blocked)'],
  ['guard', 'Host or browser (blocked)'],
  ['route', 'Route (blocked)'],
  ['request', 'Unreadable request (blocked)'],
];

export const requestsPage: Page = {
  id: 'requests',
  title: 'Requests',
  icon: 'requests',
  mount(el, app, params) {
    let alive = true;
    const f: Filters = {
      provider: params.get('provider') ?? '',
      model: params.get('model') ?? '',
      token: params.get('token') ?? '',
      status: params.get('status') ?? '',
      outcome: params.get('outcome') ?? '',
      estimated: params.get('estimated') === '1',
      reason: params.get('reason') ?? '',
      budget: params.get('budget') ?? '',
    };
    // cursors[i] is the Before of page i; page 0 is the newest and is live.
    let cursors: (string | undefined)[] = [undefined];
    let pageIndex = 0;
    let nextCursor: string | undefined;
    let rows: RecordRow[] = [];
    let seen = new Set<string>();
    let selected: string | null = params.get('id');
    let providers: string[] = [];
    let tokens: string[] = [];

    const tableHost = h('div', { class: 'table-host' }, loading());
    const pager = h('div', { class: 'pager' });
    const detailHost = h('aside', { class: 'detail', 'aria-label': 'Request details', hidden: true });
    const split = h('div', { class: 'split' }, h('div', { class: 'split-main' }, card(null, [tableHost, pager], { class: 'card-table card-log', label: 'Request log' })), detailHost);

    // ---- filters ----

    const providerSel = select([['', 'All providers']], f.provider, { name: 'provider' });
    const modelIn = input({ name: 'model', placeholder: 'e.g. gpt-4o* ', value: f.model, type: 'search' });
    const tokenSel = select([['', 'All tokens']], f.token, { name: 'token' });
    const reasonSel = select(REASONS, f.reason, { name: 'reason' });
    reasonSel.addEventListener('change', () => {
      f.reason = reasonSel.value;
      f.budget = '';
      restart();
    });
    const statusIn = input({ name: 'status', inputmode: 'numeric', placeholder: 'e.g. 429', value: f.status, class: 'input input-narrow' });
    const quick = h('div', { class: 'segmented quick', role: 'group', 'aria-label': 'Quick filters' });
    const quickButtons: HTMLButtonElement[] = [];
    const quickDefs: [string, string][] = [
      ['refused', 'Refused'],
      ['blocked', 'Blocked'],
      ['cut', 'Cut'],
      ['estimated', 'Estimated'],
      ['billing', 'Billing'],
    ];
    for (const [key, label] of quickDefs) {
      const b = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'false' }, label);
      b.dataset.key = key;
      b.addEventListener('click', () => {
        if (key === 'estimated') f.estimated = !f.estimated;
        else f.outcome = f.outcome === key ? '' : key;
        syncQuick();
        restart();
      });
      quickButtons.push(b);
      quick.append(b);
    }
    const syncQuick = () => {
      for (const b of quickButtons) {
        const k = b.dataset.key!;
        b.setAttribute('aria-pressed', String(k === 'estimated' ? f.estimated : f.outcome === k));
      }
    };
    syncQuick();

    const csv = h('a', { class: 'btn btn-secondary btn-sm', download: 'sluice-requests.csv' }, icon('download', 16), h('span', null, 'Export CSV'));
    const jsonl = h('a', { class: 'btn btn-secondary btn-sm', download: 'sluice-requests.jsonl' }, icon('download', 16), h('span', null, 'Export JSONL'));
    // The export needs this tab's secret, which a plain link cannot send:
    // fetch it, then save it.
    for (const [a, name] of [
      [csv, 'sluice-requests.csv'],
      [jsonl, 'sluice-requests.jsonl'],
    ] as const) {
      a.addEventListener('click', (e) => {
        e.preventDefault();
        download(a.href, name).catch((err) => toast(errorMessage(err), 'danger', { title: 'Export failed' }));
      });
    }
    const syncExport = () => {
      const q = query();
      csv.href = exportURL('csv', q);
      jsonl.href = exportURL('jsonl', q);
    };

    let modelTimer = 0;
    modelIn.addEventListener('input', () => {
      clearTimeout(modelTimer);
      modelTimer = window.setTimeout(() => {
        f.model = modelIn.value.trim();
        restart();
      }, 300);
    });
    statusIn.addEventListener('change', () => {
      f.status = statusIn.value.trim();
      restart();
    });
    providerSel.addEventListener('change', () => {
      f.provider = providerSel.value;
      restart();
    });
    tokenSel.addEventListener('change', () => {
      f.token = tokenSel.value;
      restart();
    });
    const clear = button('Clear filters', {
      kind: 'ghost',
      size: 'sm',
      onClick: () => {
        Object.assign(f, { provider: '', model: '', token: '', status: '', outcome: '', estimated: false, reason: '', budget: '' });
        providerSel.value = '';
        reasonSel.value = '';
        tokenSel.value = '';
        modelIn.value = '';
        statusIn.value = '';
        syncQuick();
        restart();
      },
    });

    const filters = h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': 'Filter requests', onsubmit: (e: Event) => e.preventDefault() },
      field('Provider', providerSel),
      field('Model', modelIn),
      field('Token', tokenSel),
      field('Status', statusIn, { class: 'field-narrow' }),
      field('Refused by', reasonSel),
      h('div', { class: 'field field-quick' }, h('span', { class: 'label-like', 'aria-hidden': 'true' }, 'Show only'), quick),
      h('div', { class: 'filters-end' }, clear),
    );

    el.append(pageHead('Requests', 'Every call through Sluice, newest first. It updates as requests finish.', [csv, jsonl]), filters, split);

    function query(): LogQuery {
      const q: LogQuery = {};
      if (f.provider) q.provider = f.provider;
      if (f.model) q.model = f.model;
      if (f.token) q.token = f.token;
      if (f.outcome) q.outcome = f.outcome;
      const st = parseInt(f.status, 10);
      if (st > 0) q.status = st;
      if (f.estimated) q.estimated = true;
      if (f.reason) q.reason = f.reason;
      if (f.budget) q.budget = f.budget;
      return q;
    }

    function restart(): void {
      cursors = [undefined];
      pageIndex = 0;
      syncExport();
      void load(false);
    }

    // Each load is numbered: an answer to an older one (filters changed
    // meanwhile) is dropped.
    let loads = 0;

    async function load(live: boolean): Promise<void> {
      const my = ++loads;
      const q = query();
      q.before = cursors[pageIndex];
      q.limit = PAGE_SIZE;
      let got: RecordRow[];
      try {
        got = (await api.records(q)) ?? [];
      } catch (e) {
        if (alive && my === loads) replace(tableHost, errorBox(e));
        return;
      }
      if (!alive || my !== loads) return;
      nextCursor = got.length === q.limit ? got[got.length - 1].id : undefined;
      const fresh = live ? new Set(got.filter((r) => !seen.has(r.id)).map((r) => r.id)) : new Set<string>();
      rows = got;
      seen = new Set(got.map((r) => r.id));
      for (const r of got) {
        if (r.provider && !providers.includes(r.provider)) providers.push(r.provider);
        if (!tokens.includes(r.token)) tokens.push(r.token);
      }
      syncOptions();
      renderTable(fresh);
      renderPager();
    }

    function syncOptions(): void {
      const setOpts = (sel: HTMLSelectElement, all: string, values: string[], labelOf: (v: string) => string) => {
        const cur = sel.value;
        const want = [...new Set(values)].sort();
        const have = [...sel.options].slice(1).map((o) => o.value);
        if (want.join('\n') === have.join('\n')) return;
        sel.replaceChildren(h('option', { value: '' }, all), ...want.map((v) => h('option', { value: v }, labelOf(v))));
        sel.value = cur;
      };
      setOpts(providerSel, 'All providers', providers.filter(Boolean).concat(f.provider ? [f.provider] : []), (v) => v);
      setOpts(tokenSel, 'All tokens', tokens.filter(Boolean).concat(f.token ? [f.token] : []), (v) => v);
    }

    function renderTable(fresh: Set<string>): void {
      // A live refresh redraws the rows; keep the keyboard where it was.
      const focused = (document.activeElement as HTMLElement | null)?.closest?.('tr[data-id]') as HTMLTableRowElement | null;
      const focusID = focused && tableHost.contains(focused) ? focused.dataset.id : undefined;
      draw(fresh);
      if (focusID) tableHost.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(focusID)}"]`)?.focus();
    }

    function draw(fresh: Set<string>): void {
      if (rows.length === 0) {
        const filtered = Object.values(query()).some((v) => v !== undefined && v !== '') || f.estimated;
        replace(
          tableHost,
          filtered
            ? empty('No requests match', 'Try fewer filters.', button('Clear filters', { onClick: () => clear.click() }))
            : empty('No requests yet', `Point a tool at http://${app.status.addr} and its requests show up here as they finish.`, button('Connect a tool', { kind: 'primary', onClick: () => app.navigate('connect') })),
        );
        return;
      }
      const body = h(
        'tbody',
        null,
        rows.map((r) => {
          const tr = h(
            'tr',
            {
              class: `row-link${fresh.has(r.id) ? ' is-new' : ''}${r.id === selected ? ' is-selected' : ''}`,
              tabindex: '0',
              'aria-selected': String(r.id === selected),
              dataset: { id: r.id },
            },
            h('td', { class: 'nowrap muted' }, h('time', { datetime: r.time, title: fullTime(r.time) }, when(r.time))),
            h('td', { class: 'hide-sm hide-detail' }, r.provider || '—'),
            h('td', { class: 'model-cell' }, h('span', { class: 'mono' }, r.model || '—'), r.stream ? h('span', { class: 'tag', title: 'Streamed' }, 'stream') : null, r.prompt ? h('span', { class: 'tag tag-prompt', title: `Prompt endpoint POST /p/${r.prompt}` }, `p/${r.prompt}`) : null, r.alias ? h('span', { class: 'tag', title: r.route_note || `Asked for ${r.alias}` }, r.routed && r.routed !== 'target' ? `${r.alias} · ${r.routed}` : r.alias) : null),
            h('td', { class: 'hide-sm' }, r.token || h('span', { class: 'muted' }, '—')),
            h('td', null, outcomeBadge(r.outcome, r.status), r.estimated ? badge('est.', 'info', 'Cost estimated: the provider did not report every token') : null),
            h('td', { class: 'num hide-sm' }, !r.forwarded ? h('span', { class: 'muted' }, '—') : `${count(r.input_tokens)} → ${count(r.output_tokens)}`),
            h('td', { class: 'num' }, !r.forwarded ? h('span', { title: 'Not forwarded: costs nothing' }, formatMoney('0')) : r.priced || r.estimated ? formatMoney(r.cost_usd) : h('span', { class: 'muted', title: 'No price known for this model' }, 'unpriced')),
            h('td', { class: 'num hide-md hide-detail muted' }, !r.forwarded ? '—' : ms(r.latency_ms)),
          );
          tr.addEventListener('click', () => open(r.id));
          tr.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              open(r.id);
            }
          });
          return tr;
        }),
      );
      replace(
        tableHost,
        dataTable(
          'Requests',
          ['Time', ['Provider', 'hide-sm hide-detail'], 'Model', ['Token', 'hide-sm'], 'Result', ['Tokens in → out', 'num hide-sm'], ['Cost', 'num'], ['Latency', 'num hide-md hide-detail']],
          body,
          { class: 'table-log' },
        ),
      );
    }

    function renderPager(): void {
      const newer = button('Newer', { size: 'sm', icon: 'arrowLeft', disabled: pageIndex === 0, onClick: () => go(pageIndex - 1) });
      const older = button('Older', { size: 'sm', disabled: !nextCursor, onClick: () => go(pageIndex + 1) });
      older.append(icon('arrowRight', 16));
      const label = pageIndex === 0 ? (rows.length ? 'Newest · live' : '') : `Page ${pageIndex + 1}`;
      replace(pager, h('span', { class: 'muted small' }, label), h('div', { class: 'pager-buttons' }, newer, older));
    }

    function go(i: number): void {
      if (i > pageIndex) cursors[i] = nextCursor;
      pageIndex = i;
      void load(false);
      tableHost.scrollIntoView({ block: 'nearest' });
    }

    // ---- detail ----

    async function open(id: string): Promise<void> {
      selected = id;
      for (const tr of tableHost.querySelectorAll<HTMLTableRowElement>('tr[data-id]')) {
        const on = tr.dataset.id === id;
        tr.classList.toggle('is-selected', on);
        tr.setAttribute('aria-selected', String(on));
      }
      detailHost.hidden = false;
      split.classList.add('has-detail');
      replace(detailHost, loading());
      try {
        const d = await api.record(id);
        if (!alive || selected !== id) return;
        replace(detailHost, detail(d, close));
        detailHost.querySelector<HTMLElement>('h2')?.focus();
      } catch (e) {
        if (alive && selected === id) replace(detailHost, h('div', { class: 'detail-inner' }, closeButton(close), errorBox(e)));
      }
    }

    function close(): void {
      const id = selected;
      selected = null;
      detailHost.hidden = true;
      split.classList.remove('has-detail');
      for (const tr of tableHost.querySelectorAll<HTMLTableRowElement>('tr.is-selected')) {
        tr.classList.remove('is-selected');
        tr.setAttribute('aria-selected', 'false');
      }
      tableHost.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(id ?? '')}"]`)?.focus();
    }

    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && selected && !document.querySelector('dialog[open]')) close();
    };
    document.addEventListener('keydown', onKey);

    // Fill the provider and token filters before the first page arrives.
    Promise.all([api.keys().catch(() => null), api.tokens().catch(() => null)]).then(([k, t]) => {
      if (!alive) return;
      for (const key of k?.keys ?? []) if (!providers.includes(key.provider)) providers.push(key.provider);
      for (const tok of t ?? []) if (!tokens.includes(tok.name)) tokens.push(tok.name);
      syncOptions();
    });

    syncExport();
    void load(false).then(() => {
      if (selected) void open(selected);
    });

    return {
      refresh: () => (pageIndex === 0 ? load(true) : undefined),
      unmount() {
        alive = false;
        document.removeEventListener('keydown', onKey);
      },
    };
  },
};

function closeButton(close: () => void): HTMLElement {
  return button('', { kind: 'ghost', size: 'sm', icon: 'x', label: 'Close details', onClick: close });
}

/** refusedTitle says who refused or blocked a request. */
function refusedTitle(r: RecordRow): string {
  if (r.budget) return `Refused by budget “${r.budget}”`;
  switch (r.reason) {
    case 'auth':
      return 'Blocked: no key, or a key or token Sluice does not accept here';
    case 'guard':
      return 'Blocked: a host Sluice does not answer for, or a browser page';
    case 'route':
      return 'Blocked: a path, method or mode Sluice does not forward';
    case 'request':
      return 'Blocked: Sluice could not take or read the request';
    case 'loop':
      return 'Refused: the same request repeated (loop detection)';
    case 'rpm':
      return `Refused: token ${r.token} is over its requests-per-minute cap`;
    case 'pause':
      return 'Refused: Sluice was paused';
    case 'unpriced':
      return 'Refused: no price for this model';
  }
  return r.outcome === 'blocked' ? 'Blocked' : 'Refused';
}

/** allowLoopButton lets a token repeat requests for an hour. */
function allowLoopButton(token: string): HTMLElement {
  const b = button(`Allow repeats from “${token}” for 1 hour`, { size: 'sm', icon: 'check' });
  b.addEventListener('click', () =>
    busy(b, async () => {
      try {
        await api.allowLoop(token, '1h');
        toast(`Token “${token}” may repeat requests for the next hour.`, 'ok', { title: 'Repeats allowed' });
      } catch (e) {
        toast(errorMessage(e), 'danger', { title: 'Could not allow the repeats' });
      }
    }),
  );
  return b;
}

/** raiseButton raises the budget that refused a request by $5 for an hour. */
function raiseButton(budget: string): HTMLElement {
  const b = button(`Raise “${budget}” by $5 for 1 hour`, { size: 'sm', icon: 'plus' });
  b.addEventListener('click', () =>
    busy(b, async () => {
      try {
        await api.raiseBudget(budget, '5', '1h');
        toast(`“${budget}” can spend $5 more for the next hour.`, 'ok', { title: 'Budget raised' });
      } catch (e) {
        toast(errorMessage(e), 'danger', { title: 'Could not raise the budget' });
      }
    }),
  );
  return h('div', { class: 'detail-actions' }, b);
}

const KIND_LABEL: Record<string, string> = {
  input: 'Input',
  cached_input: 'Cached input',
  cache_write: 'Cache write',
  cache_write_1h: 'Cache write (1 h)',
  output: 'Output',
  reasoning: 'Reasoning',
  web_search: 'Web search',
  web_fetch: 'Web fetch',
  code_execution: 'Code execution',
  service_tier: 'Service tier',
  region: 'Region',
  speed: 'Speed',
  unpriced_estimate: 'Unpriced part (estimate)',
};

/** lineLabel names a cost line by its kind and, when not text, its modality. */
function lineLabel(l: CostLine): string {
  const kind = KIND_LABEL[l.kind] ?? l.kind;
  return l.modality && l.modality !== 'text' ? `${kind}, ${l.modality}` : kind;
}

/** lineRate is the rate column of a cost line: per million tokens or per call. */
function lineRate(l: CostLine): HTMLElement | string {
  if (l.unpriced) return h('span', { class: 'muted' }, 'no rate');
  if (l.per_call !== undefined) return `× ${exactMoney(l.per_call)} each`;
  if (l.per_million !== undefined) return `× ${exactMoney(l.per_million)} /1M`;
  return '';
}

function detail(d: RecordDetail, close: () => void): HTMLElement {
  const r = d.record;
  const titleId = uid('detail');
  const refused = !r.forwarded;
  const lines = d.lines ?? [];

  const explanation =
    d.explanation || r.error
      ? callout(refused || r.outcome === 'billing' ? 'danger' : 'warn', d.explanation || r.error, {
          title: refused ? refusedTitle(r) : r.outcome === 'billing' ? 'The provider account cannot pay' : r.outcome === 'cut' ? 'Cut short' : r.outcome === 'ok' ? 'Note' : 'What went wrong',
        })
      : null;

  const kv = (k: string, v: HTMLElement | string | null) => (v === null ? null : h('div', { class: 'kv' }, h('dt', null, k), h('dd', null, v)));

  const tokenRows: [string, number | undefined][] = [
    ['Input', r.input_tokens],
    ['of which cached', r.cached_input_tokens],
    ['of which cache write', r.cache_write_tokens],
    ['of which cache write (1 h)', r.cache_write_1h_tokens],
    ['of which audio', r.input_audio_tokens],
    ['of which image', r.input_image_tokens],
    ['of which video', r.input_video_tokens],
    ['of which cached audio', r.cached_audio_tokens],
    ['Output', r.output_tokens],
    ['of which reasoning', r.reasoning_tokens],
    ['of which audio', r.output_audio_tokens],
    ['of which image', r.output_image_tokens],
    ['of which video', r.output_video_tokens],
    ['Web searches', r.web_search_calls],
    ['Web fetches', r.web_fetch_calls],
    ['Code execution runs', r.code_execution_calls],
  ];
  const optional = new Set(['Web searches', 'Web fetches', 'Code execution runs']);

  // The lines are priced by the row in force now; when prices changed
  // since the request, they no longer add up to what it was charged.
  const linesSum = lines.reduce((a, l) => a + (parsePico(l.amount) ?? 0n), 0n);
  const drift = lines.length > 0 && linesSum !== parsePico(r.cost_usd);

  const arithmetic = lines.length
    ? h(
        'table',
        { class: 'table table-compact table-cost', 'aria-label': 'Cost arithmetic' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col', class: 'num' }, 'Tokens or calls'), h('th', { scope: 'col', class: 'num' }, 'Rate'), h('th', { scope: 'col', class: 'num' }, 'Amount'))),
        h(
          'tbody',
          null,
          lines.map((l) =>
            h(
              'tr',
              l.unpriced ? { class: 'line-unpriced' } : null,
              h('td', null, lineLabel(l), l.unpriced ? [' ', badge('unpriced', 'warn')] : null, l.note ? h('div', { class: 'muted small' }, l.note) : null),
              h('td', { class: 'num' }, l.calls ? `${count(l.calls)} ${l.calls === 1 ? 'call' : 'calls'}` : l.tokens ? count(l.tokens) : ''),
              h('td', { class: 'num mono' }, lineRate(l)),
              h('td', { class: 'num mono' }, l.unpriced ? h('span', { class: 'muted' }, '—') : exactMoney(l.amount)),
            ),
          ),
        ),
        h('tfoot', null, h('tr', null, h('th', { scope: 'row', colspan: '3' }, 'Total'), h('td', { class: 'num mono strong' }, exactMoney(r.cost_usd)))),
      )
    : h(
        'p',
        { class: 'muted' },
        r.estimated ? 'No price row was known; the amount held for it stands as an estimate.' : r.priced ? 'Nothing was charged.' : 'No price is known for this model, so its cost is not counted. Add one on the Prices page.',
      );

  return h(
    'div',
    { class: 'detail-inner' },
    h(
      'div',
      { class: 'detail-head' },
      h('div', null, h('h2', { id: titleId, tabindex: '-1' }, r.model || 'Request'), h('p', { class: 'muted' }, `${r.provider || 'unknown provider'} · ${r.route || '—'}${r.stream ? ' · streamed' : ''}`)),
      closeButton(close),
    ),
    h(
      'div',
      { class: 'detail-cost' },
      h(
        'div',
        null,
        h('p', { class: 'stat-label' }, 'Cost'),
        h('p', { class: 'detail-amount', title: 'Exact amount' }, exactMoney(r.cost_usd)),
        h('p', { class: 'muted small' }, refused ? `Nothing charged · it could have cost up to ${exactMoney(r.held_usd)}` : `${formatMoney(r.cost_usd)} · held ${exactMoney(r.held_usd)} before forwarding`),
      ),
      h(
        'div',
        { class: 'detail-badges' },
        outcomeBadge(r.outcome, r.status),
        r.estimated ? badge('estimated', 'info') : null,
        r.unpriced?.length ? badge('partially priced', 'warn', 'Part of this request has no rate in the price table: ' + r.unpriced.join('; ')) : null,
      ),
    ),
    explanation,
    refused && r.budget
      ? [
          h('dl', { class: 'kvs' }, kv('Budget', r.budget), kv('It had left', r.remaining_usd !== undefined ? exactMoney(r.remaining_usd) : null), kv('This request needed up to', exactMoney(r.held_usd))),
          raiseButton(r.budget),
        ]
      : null,
    refused && r.reason === 'loop' && r.token ? allowLoopButton(r.token) : null,
    refused ? null : h('h3', null, 'Tokens'),
    refused ? null : h('dl', { class: 'kvs kvs-tokens' }, tokenRows.filter(([k, v]) => (!k.startsWith('of which') && !optional.has(k)) || (v ?? 0) > 0).map(([k, v]) => kv(k, count(v ?? 0)))),
    !refused && (r.service_tier || r.inference_geo || r.speed)
      ? h('dl', { class: 'kvs' }, r.service_tier ? kv('Service tier', r.service_tier) : null, r.inference_geo ? kv('Region', r.inference_geo) : null, r.speed ? kv('Speed', r.speed) : null)
      : null,
    refused ? null : h('h3', null, 'Cost arithmetic'),
    !refused && (d.price || r.price) ? h('p', { class: 'muted small' }, 'Price row ', h('code', null, r.price || `${d.price!.provider}/${d.price!.model}@${d.price!.updated}`), d.price ? ` · ${d.price.source}` : null) : null,
    refused ? null : arithmetic,
    !refused && drift ? callout('info', `These rates are today’s: at ${exactMoney(picoString(linesSum))} they differ from the ${exactMoney(r.cost_usd)} charged when the request was made, under the prices then.`) : null,
    h('h3', null, 'Timing'),
    h('dl', { class: 'kvs' }, kv('Time', fullTime(r.time)), kv('Latency', refused ? '—' : ms(r.latency_ms)), kv('Time to first byte', refused ? '—' : ms(r.ttfb_ms))),
    h('h3', null, 'Identifiers'),
    h(
      'dl',
      { class: 'kvs' },
      kv('Token', r.token || '—'),
      r.prompt ? kv('Prompt', h('a', { href: `#/prompts?name=${encodeURIComponent(r.prompt)}` }, `POST /p/${r.prompt}`)) : null,
      r.alias ? kv('Alias', h('span', null, h('a', { href: '#/aliases' }, r.alias), r.route_note ? ` · ${r.route_note}` : null, r.attempt && r.attempt > 1 ? ` · attempt ${r.attempt}` : null)) : null,
      r.after ? kv('After the failed attempt', h('span', { class: 'mono' }, r.after)) : null,
      r.caller_route ? kv('Caller spoke', h('span', null, h('code', null, r.caller_route), ', translated to ', h('code', null, r.route))) : null,
      r.caller_route && r.asked_model ? kv('Model asked for', h('code', null, r.asked_model)) : null,
      kv('HTTP status', String(r.status || '—')),
      kv('Sluice id', h('span', { class: 'mono' }, r.id)),
      kv('Upstream request id', r.upstream_request_id ? h('span', { class: 'id-copy' }, h('span', { class: 'mono' }, r.upstream_request_id), copyButton(() => r.upstream_request_id!, 'Copy upstream request id', { compact: true })) : '—'),
    ),
  );
}
