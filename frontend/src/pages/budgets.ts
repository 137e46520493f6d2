// Budgets: create, edit, remove and raise for an hour; each with what it
// has spent, what is left, and when it starts again.

import { api, type Budget, type BudgetStatus, type Period } from '../api';
import type { Page } from '../app';
import { h, replace } from '../dom';
import { dollars, exactMoney, formatMoney, normalizeMoney } from '../money';
import { parseTime } from '../format';
import { bar, busy, button, confirmRemoval, empty, errorMessage, fetchInto, field, formDialog, input, loading, meterTone, pageHead, pctText, select, toast } from '../ui';
import { periodText, rateText, scopeText, windowText } from './overview';
import { locale } from '../locale';

const RAISE_BY = '5';
const RAISE_FOR = '1h';
const hm = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });

export const budgetsPage: Page = {
  id: 'budgets',
  title: 'Budgets',
  icon: 'budgets',
  mount(el) {
    let alive = true;
    const list = h('div', { class: 'budget-list' }, loading());
    el.append(
      pageHead(
        'Budgets',
        'Sluice holds each request’s worst-case cost before it is sent, and answers 402 when a budget cannot cover it.',
        button('New budget', { kind: 'primary', icon: 'plus', onClick: () => edit(null) }),
      ),
      list,
    );

    async function load(): Promise<void> {
      const budgets = await fetchInto(list, () => alive, async () => (await api.budgets()) ?? []);
      if (!budgets) return;
      if (budgets.length === 0) {
        replace(
          list,
          h(
            'section',
            { class: 'card' },
            empty(
              'No budgets yet',
              'Set a limit per day, week, month or in total, for everything or for one provider, model or token. Requests that could spend past it get 402 Payment Required instead.',
              button('Create your first budget', { kind: 'primary', icon: 'plus', onClick: () => edit(null) }),
            ),
          ),
        );
        return;
      }
      replace(list, budgets.map((b) => budgetCard(b)));
    }

    function budgetCard(b: BudgetStatus): HTMLElement {
      const spent = dollars(b.spent_usd);
      const held = dollars(b.held_usd);
      const limit = dollars(b.limit_now_usd);
      const frac = limit > 0 ? (spent + held) / limit : spent + held > 0 ? 1 : 0;
      const tone = meterTone(spent + held, limit, b.soft_now_pct, b.soft_reached);
      const raisedUntil = parseTime(b.raise_until);
      const raised = raisedUntil && raisedUntil.getTime() > Date.now() && dollars(b.raise_usd) > 0;
      const raiseBtn = button(`+$${RAISE_BY} for 1 hour`, { size: 'sm', icon: 'plus', label: `Raise ${b.name} by $${RAISE_BY} for 1 hour` });
      raiseBtn.addEventListener('click', () =>
        busy(raiseBtn, async () => {
          try {
            const nb = await api.raiseBudget(b.name, RAISE_BY, RAISE_FOR);
            const until = parseTime(nb.raise_until);
            toast(`${b.name} can spend $${RAISE_BY} more${until ? ` until ${hm.format(until)}` : ' for an hour'}.`, 'ok', { title: 'Budget raised' });
            await load();
          } catch (e) {
            toast(errorMessage(e), 'danger', { title: 'Could not raise the budget' });
          }
        }),
      );
      const removeBtn = button('Remove', { size: 'sm', kind: 'ghost', icon: 'trash', label: `Remove ${b.name}` });
      removeBtn.addEventListener('click', () =>
        confirmRemoval({
          title: `Remove budget “${b.name}”?`,
          body: 'Requests it covers will no longer be limited by it. Spend already recorded stays in the log.',
          yes: 'Remove budget',
          remove: () => api.deleteBudget(b.name),
          done: `Budget “${b.name}” removed.`,
          failed: 'Could not remove the budget',
          then: load,
        }),
      );
      return h(
        'article',
        { class: `card budget-card tone-${tone}`, 'aria-label': `Budget ${b.name}` },
        h(
          'div',
          { class: 'budget-head' },
          h('div', null, h('h2', null, b.name), h('p', { class: 'muted' }, `${exactMoney(b.limit_usd)} ${periodText(b.period)} · ${scopeText(b)}`)),
          h('div', { class: 'budget-pct', 'aria-hidden': 'true' }, pctText(frac)),
        ),
        bar(frac, tone, `${b.name}: ${formatMoney(b.spent_usd)} spent of ${formatMoney(b.limit_now_usd)}`, b.soft_now_pct),
        h(
          'dl',
          { class: 'budget-nums' },
          h('div', null, h('dt', null, 'Spent'), h('dd', { title: exactMoney(b.spent_usd) }, formatMoney(b.spent_usd))),
          h('div', null, h('dt', null, 'Remaining'), h('dd', { title: exactMoney(b.remaining_usd) }, formatMoney(b.remaining_usd))),
          h('div', null, h('dt', null, 'Limit now'), h('dd', null, exactMoney(b.limit_now_usd))),
          held > 0 ? h('div', null, h('dt', null, 'In flight'), h('dd', { title: exactMoney(b.held_usd) }, formatMoney(b.held_usd))) : null,
        ),
        h(
          'p',
          { class: 'muted small budget-foot' },
          windowText(b),
          b.rolling ? ` · ${rateText(b)}` : null,
          ` · warns at ${b.soft_now_pct}%`,
          raised ? h('span', { class: 'raised' }, ` · includes +${formatMoney(b.raise_usd)} until ${hm.format(raisedUntil!)}`) : null,
        ),
        h('div', { class: 'budget-actions' }, button('Edit', { size: 'sm', icon: 'edit', label: `Edit ${b.name}`, onClick: () => edit(b) }), raiseBtn, removeBtn),
      );
    }

    async function edit(b: BudgetStatus | null): Promise<void> {
      const [keys, tokens, prompts, settings] = await Promise.all([api.keys().catch(() => null), api.tokens().catch(() => null), api.prompts().catch(() => null), api.settings().catch(() => null)]);
      const scope = b?.provider ? 'provider' : b?.model ? 'model' : b?.token ? 'token' : b?.prompt ? 'prompt' : 'all';
      const name = input({ name: 'name', value: b?.name ?? '', required: true, placeholder: 'e.g. daily' });
      const limit = input({ name: 'limit', value: b ? b.limit_usd : '', required: true, inputmode: 'decimal', placeholder: '5.00' });
      const periods: [string, string][] = [
        ['day', 'Per day'],
        ['week', 'Per week'],
        ['month', 'Per month'],
        ['total', 'In total (never resets)'],
        ['10m', 'In any 10 minutes (rolling)'],
        ['1h', 'In any hour (rolling)'],
        ['24h', 'In any 24 hours (rolling)'],
        ['7d', 'In any 7 days (rolling)'],
        ['rolling', 'In any … (rolling window)'],
      ];
      const known = periods.some(([v]) => v === b?.period);
      const period = select(periods, b ? (known ? b.period : 'rolling') : 'day', { name: 'period' });
      const windowIn = input({ name: 'window', value: b && !known ? b.period : '', placeholder: 'e.g. 30m, 2h, 3d' });
      const windowField = field('Rolling window', windowIn, { hint: 'From 1m to 31d. Spend counts for this long after it is made, then ages out minute by minute.' });
      const syncPeriod = () => {
        windowField.hidden = period.value !== 'rolling';
      };
      period.addEventListener('change', syncPeriod);
      syncPeriod();
      const scopeSel = select(
        [
          ['all', 'All requests'],
          ['provider', 'One provider'],
          ['model', 'Models matching a pattern'],
          ['token', 'One token'],
          ['prompt', 'One prompt endpoint'],
        ],
        scope,
        { name: 'scope' },
      );
      const providerNames = (keys?.keys ?? []).map((k) => k.provider);
      if (b?.provider && !providerNames.includes(b.provider)) providerNames.push(b.provider);
      const providerSel = select(providerNames.map((p) => [p, p] as [string, string]), b?.provider ?? providerNames[0] ?? '', { name: 'provider' });
      const modelIn = input({ name: 'model', value: b?.model ?? '', placeholder: 'e.g. gpt-4o* or claude-*' });
      const tokenNames = (tokens ?? []).map((t) => t.name);
      if (b?.token && !tokenNames.includes(b.token)) tokenNames.push(b.token);
      const tokenSel = select(tokenNames.map((t) => [t, t] as [string, string]), b?.token ?? tokenNames[0] ?? '', { name: 'token' });
      const promptNames = (prompts ?? []).map((p) => p.name);
      if (b?.prompt && !promptNames.includes(b.prompt)) promptNames.push(b.prompt);
      const promptSel = select(promptNames.map((p) => [p, p] as [string, string]), b?.prompt ?? promptNames[0] ?? '', { name: 'prompt' });
      // Empty (0) follows the gateway's default threshold, which the
      // settings answer names.
      const defaultSoft = settings?.defaults?.soft_pct;
      const soft = input({ name: 'soft', type: 'number', min: '0', max: '100', step: '1', value: b?.soft_pct ? String(b.soft_pct) : '', placeholder: defaultSoft ? String(defaultSoft) : 'default', inputmode: 'numeric' });

      const providerField = field('Provider', providerSel);
      const modelField = field('Model pattern', modelIn, { hint: 'An exact model id, or a pattern with * such as claude-*' });
      const tokenField = field('Token', tokenSel, { hint: tokenNames.length ? undefined : 'Make a token on the Tokens page first.' });
      const promptField = field('Prompt', promptSel, { hint: promptNames.length ? 'Only the calls of POST /p/NAME count.' : 'Save a prompt on the Prompts page first.' });
      const syncScope = () => {
        promptField.hidden = scopeSel.value !== 'prompt';
        providerField.hidden = scopeSel.value !== 'provider';
        modelField.hidden = scopeSel.value !== 'model';
        tokenField.hidden = scopeSel.value !== 'token';
      };
      scopeSel.addEventListener('change', syncScope);
      syncScope();

      formDialog(
        b ? `Edit budget “${b.name}”` : 'New budget',
        [
          field('Name', name),
          field('Limit in dollars', limit, { hint: 'For example 5 or 0.50. Exact to the picodollar.' }),
          field('Period', period),
          windowField,
          field('Applies to', scopeSel),
          providerField,
          modelField,
          tokenField,
          promptField,
          field('Warn at (% of the limit)', soft, { hint: `The gauge turns amber and you get a notice past this. Empty: the default${defaultSoft ? `, ${defaultSoft}%` : ''}.` }),
        ],
        b ? 'Save budget' : 'Create budget',
        async () => {
          const n = name.value.trim();
          if (!n) throw new Error('Give the budget a name.');
          const lim = normalizeMoney(limit.value);
          if (lim === null || lim.startsWith('-')) throw new Error(`“${limit.value}” is not an amount of dollars.`);
          // The range is the API's to check (Budget.Validate): its refusal says it.
          const softPct = soft.value.trim() === '' ? 0 : Number(soft.value);
          if (!Number.isInteger(softPct)) throw new Error(`“${soft.value}” is not a whole percentage.`);
          let per: Period = period.value;
          if (per === 'rolling') {
            per = windowIn.value.trim().toLowerCase().replace(/\s+/g, '');
            if (!/^(\d+[mhd])+$/.test(per)) throw new Error('Give the rolling window as a length such as 30m, 2h or 3d.');
          }
          const nb: Budget = { name: n, limit_usd: lim, period: per, soft_pct: softPct };
          if (b?.id) nb.id = b.id;
          if (scopeSel.value === 'provider') {
            if (!providerSel.value) throw new Error('Choose a provider.');
            nb.provider = providerSel.value;
          } else if (scopeSel.value === 'model') {
            if (!modelIn.value.trim()) throw new Error('Give a model id or pattern.');
            nb.model = modelIn.value.trim();
          } else if (scopeSel.value === 'token') {
            if (!tokenSel.value) throw new Error('Choose a token.');
            nb.token = tokenSel.value;
          } else if (scopeSel.value === 'prompt') {
            if (!promptSel.value) throw new Error('Choose a prompt.');
            nb.prompt = promptSel.value;
          }
          await api.putBudget(nb);
          toast(b ? `Budget “${n}” saved.` : `Budget “${n}” created: ${exactMoney(lim)} ${periodText(nb.period)}.`, 'ok');
          await load();
        },
      );
    }

    void load();
    return {
      refresh: load,
      unmount() {
        alive = false;
      },
    };
  },
};
