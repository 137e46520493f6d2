// Tokens: the local tokens tools use instead of provider keys. A new
// token's secret is shown once; the list shows when each was last used.

import { api } from '../api';
import type { Page } from '../app';
import { h, replace } from '../dom';
import { date, fullTime, relative } from '../format';
import { busy, button, callout, card, codeBlock, confirmRemoval, dataTable, empty, errorMessage, fetchInto, fieldWithButton, input, loading, pageHead, toast } from '../ui';

/** secretCallout shows a token's secret with its copy button and the warning that it will not be shown again. */
export function secretCallout(name: string, secret: string): HTMLElement {
  return h(
    'section',
    { class: 'secret', 'aria-label': `New token ${name}` },
    callout('warn', ['Copy it now: Sluice keeps only a hash of it and ', h('strong', null, 'will not show it again'), '.'], { title: `Token “${name}” created`, role: 'alert' }),
    codeBlock(secret, `token ${name}`),
  );
}

export const tokensPage: Page = {
  id: 'tokens',
  title: 'Tokens',
  icon: 'tokens',
  mount(el) {
    let alive = true;
    const listHost = h('div', null, loading());
    const secretHost = h('div');
    const name = input({ name: 'name', placeholder: 'e.g. my-project or claude-code', required: true });
    const create = button('Create token', { kind: 'primary', type: 'submit', icon: 'plus' });
    const form = h('form', { class: 'inline-form', 'aria-label': 'New token' }, fieldWithButton('Token name', name, create, 'Name it after the project or tool that will use it: spend is counted per token.'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const n = name.value.trim();
      if (!n) {
        name.focus();
        toast('Give the token a name.', 'warn');
        return;
      }
      void busy(create, async () => {
        try {
          const secret = await api.newToken(n);
          name.value = '';
          replace(secretHost, secretCallout(n, secret));
          await load();
        } catch (e) {
          toast(errorMessage(e), 'danger', { title: 'Could not create the token' });
        }
      });
    });

    el.append(
      pageHead('Local tokens', ['Your code and tools authenticate to Sluice with a local token (', h('code', { class: 'nowrap' }, 'sk-sluice-…'), '). Each has its own spend and can have its own budget.']),
      card('New token', [form, secretHost]),
      card('Tokens', listHost, { class: 'card-table' }),
    );

    async function load(): Promise<void> {
      const tokens = await fetchInto(listHost, () => alive, async () => (await api.tokens()) ?? []);
      if (!tokens) return;
      if (tokens.length === 0) {
        replace(listHost, empty('No tokens yet', 'Create one above, or on the Connect page together with the lines that use it.'));
        return;
      }
      replace(
        listHost,
        dataTable(
          'Local tokens',
          ['Name', 'Created', 'Last used'],
          tokens.map((t) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, t.name),
              h('td', { class: 'muted', title: fullTime(t.created) }, date(t.created)),
              h('td', { class: 'muted', title: t.last_used ? fullTime(t.last_used) : undefined }, t.last_used && !t.last_used.startsWith('0001') ? relative(t.last_used) : 'Never'),
              h(
                'td',
                { class: 'actions' },
                button('Revoke', {
                  size: 'sm',
                  kind: 'ghost',
                  icon: 'trash',
                  label: `Revoke ${t.name}`,
                  onClick: () =>
                    confirmRemoval({
                      title: `Revoke token “${t.name}”?`,
                      body: 'Anything still using it gets 401 from Sluice at once. Its past spend stays in the log.',
                      yes: 'Revoke token',
                      remove: () => api.deleteToken(t.name),
                      done: `Token “${t.name}” revoked.`,
                      failed: 'Could not revoke the token',
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

    void load();
    return {
      refresh: load,
      unmount() {
        alive = false;
      },
    };
  },
};
