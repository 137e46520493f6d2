// Prices: the table Sluice prices requests with, where each row comes
// from, import from a LiteLLM or genai-prices file, and one row edited as
// an override.

import { api, type Price, type PriceList, type PriceUpdate } from '../api';
import type { Page } from '../app';
import { h, replace } from '../dom';
import { exactMoney, fromPerMillion, perMillion } from '../money';
import { count, countShort } from '../format';
import { badge, busy, button, card, dataTable, errorMessage, fetchInto, field, formDialog, icon, input, loading, pageHead, toast } from '../ui';

const SHOW = 200;

export const pricesPage: Page = {
  id: 'prices',
  title: 'Prices',
  icon: 'prices',
  mount(el) {
    let alive = true;
    let list: PriceList | null = null;
    const summary = h('div', { class: 'price-summary' });
    const tableHost = h('div', null, loading());
    const filter = input({ type: 'search', name: 'filter', placeholder: 'Provider or model, e.g. claude or openai/gpt-4o' });
    filter.addEventListener('input', () => render());

    const file = h('input', { type: 'file', accept: '.json,application/json', class: 'visually-hidden', id: 'price-file' });
    const importBtn = h('label', { class: 'btn btn-secondary btn-md', for: 'price-file' }, icon('upload', 16), h('span', null, 'Import prices file'));
    file.setAttribute('aria-label', 'Import prices file (LiteLLM or genai-prices JSON)');
    file.addEventListener('change', async () => {
      const f = file.files?.[0];
      if (!f) return;
      try {
        const data = await f.text();
        const r = await api.importPrices(data);
        toast(`Took ${count(r.rows)} price rows from the ${r.format} file.`, 'ok', { title: 'Prices imported' });
        await load();
      } catch (e) {
        toast(errorMessage(e), 'danger', { title: 'Could not import that file' });
      } finally {
        file.value = '';
      }
    });

    function changes(r: PriceUpdate): string {
      const parts = [`${count(r.added?.length ?? 0)} newly priced`, `${count(r.changed?.length ?? 0)} changed`];
      if (r.removed?.length) parts.push(`${count(r.removed.length)} no longer priced`);
      return `${parts.join(', ')}. Table of ${r.date} in force.`;
    }
    const updateBtn = button('Update prices', {
      icon: 'download',
      title: 'Take the current genai-prices table over the built-in one (sluice prices update)',
      onClick: () =>
        void busy(updateBtn, async () => {
          try {
            const r = await api.updatePrices();
            toast(`Took ${count(r.rows)} rows from ${r.source}: ${changes(r)}`, 'ok', { title: 'Prices updated' });
            await load();
          } catch (e) {
            toast(errorMessage(e), 'danger', { title: 'Could not update the prices' });
          }
        }),
    });
    const rollbackBtn = button('Roll back', {
      kind: 'ghost',
      icon: 'arrowLeft',
      title: 'Go back to the table in force before the last update (sluice prices rollback)',
      onClick: () =>
        void busy(rollbackBtn, async () => {
          try {
            const r = await api.rollbackPrices();
            toast(`Back to ${r.source}: ${changes(r)}`, 'ok', { title: 'Prices rolled back' });
            await load();
          } catch (e) {
            toast(errorMessage(e), 'danger', { title: 'Could not roll back' });
          }
        }),
    });

    el.append(
      pageHead('Prices', 'Dollars per million tokens, as Sluice charges them. Updates take the current table over the built-in one; imported files and your own edits override both.', [updateBtn, rollbackBtn, file, importBtn]),
      summary,
      card(null, [h('div', { class: 'table-toolbar' }, field('Filter prices', filter)), tableHost], { class: 'card-table', label: 'Price table' }),
    );

    async function load(): Promise<void> {
      const l = await fetchInto(tableHost, () => alive, () => api.prices());
      if (!l) return;
      list = l;
      rollbackBtn.hidden = !list.can_rollback;
      const rows = list.prices ?? [];
      const sources = new Set(rows.map((p) => p.source));
      replace(
        summary,
        h(
          'dl',
          { class: 'stats stats-small' },
          statItem('Rows', count(rows.length)),
          statItem('Overrides', count(list.overrides)),
          statItem('Table of', list.date || list.version || '—'),
          statItem('From', list.table ? list.table.source : 'built in'),
          statItem('Sources', count(sources.size)),
        ),
        list.sources?.length
          ? h(
              'div',
              { class: 'price-sources' },
              h('p', { class: 'muted small' }, 'The built-in table is built from:'),
              h('ul', { class: 'muted small' }, list.sources.map((src) => h('li', null, src))),
            )
          : null,
      );
      render();
    }

    function render(): void {
      if (!list) return;
      const terms = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      const all = list.prices ?? [];
      const rows = all.filter((p) => {
        const hay = `${p.provider}/${p.model} ${(p.match ?? []).join(' ')} ${p.source}`.toLowerCase();
        return terms.every((t) => hay.includes(t));
      });
      const shown = rows.slice(0, SHOW);
      replace(
        tableHost,
        dataTable(
          'Prices per million tokens',
          ['Model', ['Input', 'num'], ['Output', 'num'], ['Cached input', 'num hide-sm'], ['Cache write', 'num hide-md'], ['Context', 'num hide-md'], ['Source', 'hide-sm']],
          shown.map((p) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, h('span', { class: 'muted prov' }, p.provider + '/'), h('span', { class: 'mono model' }, p.model), extras(p)),
              h('td', { class: 'num mono' }, rate(p.input)),
              h('td', { class: 'num mono' }, rate(p.output)),
              h('td', { class: 'num mono hide-sm' }, p.cached_input ? rate(p.cached_input) : h('span', { class: 'muted' }, '—')),
              h('td', { class: 'num mono hide-md' }, p.cache_write ? rate(p.cache_write) : h('span', { class: 'muted' }, '—')),
              h('td', { class: 'num hide-md muted' }, p.context_window ? countShort(p.context_window) : '—'),
              h('td', { class: 'hide-sm source-cell' }, p.source === 'override' ? badge('override', 'info') : h('div', { class: 'muted small source', title: p.source }, p.source), h('div', { class: 'muted small' }, p.updated)),
              h('td', { class: 'actions' }, button('', { size: 'sm', kind: 'ghost', icon: 'edit', label: `Edit price of ${p.provider}/${p.model}`, title: 'Edit as an override', onClick: () => edit(p) })),
            ),
          ),
          { class: 'table-prices', actions: true },
        ),
        h('p', { class: 'muted small pad' }, rows.length > SHOW ? `Showing ${SHOW} of ${count(rows.length)} rows. Type in the filter to narrow them.` : `${count(rows.length)} of ${count(all.length)} rows.`),
      );
    }

    function edit(p: Price): void {
      const fields: [keyof Price, string, string][] = [
        ['input', 'Input', 'Every input token not cached'],
        ['output', 'Output', 'Output tokens, reasoning included'],
        ['cached_input', 'Cached input', 'Empty: charged as input'],
        ['cache_write', 'Cache write', 'Empty: no rate known, cache writes are left unpriced'],
        ['cache_write_1h', 'Cache write (1 h)', 'Anthropic one-hour cache; empty: no rate known, left unpriced'],
      ];
      const inputs = new Map<keyof Price, HTMLInputElement>();
      const els = fields.map(([k, label, hint]) => {
        const v = p[k] as string | undefined;
        const i = input({ name: k, inputmode: 'decimal', value: v ? perMillion(v) : '', placeholder: '0' });
        inputs.set(k, i);
        return field(`${label}, $ per 1M tokens`, i, { hint });
      });
      formDialog(
        `Price of ${p.provider}/${p.model}`,
        els,
        'Save override',
        async () => {
          const np: Price = { ...p, source: 'override', updated: '' };
          for (const [k, label] of fields) {
            const raw = inputs.get(k)!.value.trim();
            if (raw === '') {
              if (k === 'input' || k === 'output') throw new Error(`${label} needs a price (0 for free).`);
              delete np[k];
              continue;
            }
            const per = fromPerMillion(raw.replace(/^\$/, ''));
            if (per === null || per.startsWith('-')) throw new Error(`${label}: “${raw}” is not a price Sluice can keep exactly.`);
            (np as unknown as Record<string, string>)[k] = per;
          }
          await api.putPrice(np);
          toast(`${p.provider}/${p.model} now uses your prices.`, 'ok', { title: 'Override saved' });
          await load();
        },
        'Your prices win over the built-in table and imports for this model. Rates are exact: no rounding.',
      );
    }

    void load();
    return {
      unmount() {
        alive = false;
      },
    };
  },
};

/** extras are badges for the rates a row has beyond the table's columns. */
function extras(p: Price): HTMLElement[] {
  const out: HTMLElement[] = [];
  const m = (v: string | undefined) => (v ? `${rate(v)}/1M` : '');
  if (p.tiers?.length) out.push(badge('tiers', 'info', p.tiers.map((t) => `above ${count(t.above_input_tokens)} input tokens: ${m(t.input)} in, ${m(t.output)} out`).join('; ')));
  const mods = [
    ['audio in', p.input_audio],
    ['cached audio', p.cached_input_audio],
    ['image in', p.input_image],
    ['video in', p.input_video],
    ['audio out', p.output_audio],
    ['image out', p.output_image],
    ['video out', p.output_video],
    ['reasoning', p.reasoning],
  ].filter(([, v]) => v) as [string, string][];
  if (mods.length) out.push(badge('modalities', 'info', mods.map(([k, v]) => `${k} ${m(v)}`).join('; ')));
  if (p.service_tiers?.length) out.push(badge('service tiers', 'info', p.service_tiers.map((t) => `${t.name}: ${m(t.input)} in, ${m(t.output)} out`).join('; ')));
  if (p.regions?.length) out.push(badge('regions', 'info', p.regions.map((r) => `${r.name} ×${r.multiplier}`).join('; ')));
  if (p.web_search) out.push(badge('web search', 'info', `${exactMoney(p.web_search)} per ${p.web_search_per_request ? 'request that searched' : 'search'}`));
  if (p.earlier?.length) out.push(badge('dated', 'info', p.earlier.map((e) => `before ${e.until}: ${m(e.input)} in, ${m(e.output)} out`).join('; ')));
  if (p.windows?.length) out.push(badge('off-peak', 'info', p.windows.map((w) => `${w.name ?? 'window'} ${w.from}–${w.to} UTC: ${m(w.input)} in, ${m(w.output)} out`).join('; ')));
  return out;
}

function rate(perToken: string | undefined): string {
  return exactMoney(perMillion(perToken ?? '0'));
}

function statItem(label: string, value: string): HTMLElement {
  return h('div', { class: 'stat' }, h('dt', { class: 'stat-label' }, label), h('dd', { class: 'stat-value' }, value));
}
