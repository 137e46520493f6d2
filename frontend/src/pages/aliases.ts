// Aliases: model names that stand for other models. A request for an
// alias goes to its target, then to each fallback in turn when the one
// before fails before its first byte; once a budget is past its soft
// threshold, the over-soft target serves instead.

import { api, ApiError, type Alias } from '../api';
import type { Page } from '../app';
import { h, replace, uid } from '../dom';
import { date, fullTime } from '../format';
import { button, card, confirmRemoval, dataTable, empty, fetchInto, field, formDialog, input, loading, pageHead, toast } from '../ui';

/** splitTargets reads a list of targets separated by commas or spaces. */
export function splitTargets(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

export const aliasesPage: Page = {
  id: 'aliases',
  title: 'Aliases',
  icon: 'aliases',
  mount(el) {
    let alive = true;
    const listHost = h('div', null, loading());
    // Suggestions for targets: every priced model as provider/model.
    const modelsId = uid('models');
    const models = h('datalist', { id: modelsId });
    void api
      .prices()
      .then((l) => {
        const seen = new Set<string>();
        for (const p of l.prices ?? []) {
          const v = `${p.provider}/${p.model}`;
          if (p.model !== '*' && !seen.has(v)) {
            seen.add(v);
            models.append(h('option', { value: v }));
          }
        }
      })
      .catch(() => undefined);

    el.append(
      pageHead(
        'Aliases',
        [
          'A model name your tools send that Sluice routes elsewhere: to its target, to fallbacks in order when a provider answers 429 or 5xx or cannot be reached before the first byte, and to a cheaper model once a budget passes its warning threshold. An alias may have a real model’s name, such as the one Claude Code uses for its background calls. The ',
          h('a', { href: '#/connect' }, 'Connect'),
          ' page sets one up to run Claude Code on another provider’s model.',
        ],
        button('New alias', { kind: 'primary', icon: 'plus', onClick: () => edit(null) }),
      ),
      card('Aliases', listHost, { class: 'card-table' }),
      models,
    );

    async function load(): Promise<void> {
      const aliases = await fetchInto(listHost, () => alive, async () => (await api.aliases()) ?? []);
      if (!aliases) return;
      if (aliases.length === 0) {
        replace(
          listHost,
          empty(
            'No aliases yet',
            'For example: “fast” → openai/gpt-5-mini, falling back to anthropic/claude-haiku-4-5. Requests for “fast” then go there, metered and budgeted at the model that served them.',
            button('Create an alias', { kind: 'primary', icon: 'plus', onClick: () => edit(null) }),
          ),
        );
        return;
      }
      replace(
        listHost,
        dataTable(
          'Aliases',
          ['Name', 'Target', 'Fallbacks, in order', 'Past a soft threshold', 'Set'],
          aliases.map((a) =>
            h(
              'tr',
              { 'data-alias': a.name },
              h('th', { scope: 'row' }, h('code', null, a.name), a.warnings?.length ? h('div', { class: 'alias-warnings tone-warn', role: 'note' }, a.warnings.map((w) => h('p', null, w))) : null),
              h('td', null, h('code', null, a.target)),
              h('td', null, a.fallbacks?.length ? a.fallbacks.map((f, i) => [i > 0 ? ' → ' : null, h('code', null, f)]) : h('span', { class: 'muted' }, 'None')),
              h('td', null, a.over_soft ? h('code', null, a.over_soft) : h('span', { class: 'muted' }, 'Same target')),
              h('td', { class: 'muted', title: a.updated ? fullTime(a.updated) : undefined }, a.updated ? date(a.updated) : ''),
              h(
                'td',
                { class: 'actions' },
                button('Edit', { size: 'sm', kind: 'ghost', icon: 'edit', label: `Edit ${a.name}`, onClick: () => edit(a) }),
                button('Remove', {
                  size: 'sm',
                  kind: 'ghost',
                  icon: 'trash',
                  label: `Remove ${a.name}`,
                  onClick: () =>
                    confirmRemoval({
                      title: `Remove alias “${a.name}”?`,
                      body: 'Requests for this name then go to the model of that name, if there is one.',
                      yes: 'Remove alias',
                      remove: () => api.deleteAlias(a.name),
                      done: `Alias “${a.name}” removed.`,
                      failed: 'Could not remove the alias',
                      then: load,
                    }),
                }),
              ),
            ),
          ),
          { actions: true },
        ),
      );
    }

    function edit(a: Alias | null): void {
      const name = input({ name: 'name', value: a?.name ?? '', required: true, placeholder: 'e.g. fast, or claude-haiku-4-5' });
      if (a) name.readOnly = true;
      const target = input({ name: 'target', value: a?.target ?? '', required: true, list: modelsId, placeholder: 'e.g. openai/gpt-5-mini' });
      const fallbacks = input({ name: 'fallbacks', value: (a?.fallbacks ?? []).join(', '), list: modelsId, placeholder: 'e.g. anthropic/claude-haiku-4-5, deepseek/deepseek-chat' });
      const overSoft = input({ name: 'over_soft', value: a?.over_soft ?? '', list: modelsId, placeholder: 'e.g. openai/gpt-5-nano' });
      formDialog(
        a ? `Edit alias “${a.name}”` : 'New alias',
        [
          field('Name', name, { hint: 'The model name your tools send. It may be a real model’s name: the alias then stands in for it.' }),
          field('Target', target, { hint: 'provider/model, a model the price table knows, or another alias.' }),
          field('Fallbacks', fallbacks, { hint: 'Tried in order, separated by commas, when the one before fails before its first byte (429, 5xx, no connection, a timeout). Never after the answer has begun, never on a request the provider refused as wrong (400), never on a Sluice budget refusal.' }),
          field('Past a soft threshold', overSoft, { hint: 'Optional: the model used instead of the target once a budget that applies to the request is past its warning threshold, so spend slows down before it stops.' }),
        ],
        a ? 'Save alias' : 'Create alias',
        async () => {
          const n = name.value.trim();
          if (!n) throw new Error('Give the alias a name.');
          if (!target.value.trim()) throw new Error('Give the alias a target, such as openai/gpt-5-mini.');
          const saved = await api.putAlias({ name: n, target: target.value.trim(), fallbacks: splitTargets(fallbacks.value), over_soft: overSoft.value.trim() }).catch((e) => {
            if (e instanceof ApiError && e.code === 'alias_case') throw new Error(`${e.message}. Edit “${e.existing}” in the list, or use its Remove button.`);
            throw e;
          });
          toast(`Requests for “${saved.name}” now go to ${saved.target}.`, 'ok', { title: a ? 'Alias saved' : 'Alias created' });
          for (const w of saved.warnings ?? []) toast(w, 'warn', { title: `Alias ${saved.name}` });
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
