// Keys: the providers' API keys, masked; add, test and remove; and which
// keyring keeps them.

import { api, type KeyInfo, type KeyList } from '../api';
import type { Page } from '../app';
import { h, replace } from '../dom';
import { keyDestinations } from '../destinations';
import { badge, busy, button, callout, card, confirmRemoval, dataTable, errorMessage, fetchInto, field, formDialog, input, loading, pageHead, toast } from '../ui';

export const keysPage: Page = {
  id: 'keys',
  title: 'Keys',
  icon: 'keys',
  mount(el, app) {
    let alive = true;
    const backendHost = h('div');
    const destinations = keyDestinations(app.status);
    if (destinations) el.append(destinations);
    const listHost = h('div', null, loading());
    el.prepend(pageHead('Provider keys', 'Sluice adds your real provider key to each request. Your tools only ever see a local token.'));
    el.append(backendHost, card(null, listHost, { class: 'card-table', label: 'Providers' }));

    async function load(): Promise<void> {
      const kl = await fetchInto(listHost, () => alive, () => api.keys());
      if (!kl) return;
      replace(
        backendHost,
        kl.backend
          ? callout('ok', ['Keys are kept in ', h('strong', null, kl.backend), '. They are read once into memory and never written to a file or a log.'])
          : callout(
              'warn',
              [
                h('p', null, kl.problem || 'No OS keyring is available on this machine.'),
                h('p', null, 'Sluice never writes keys to a file instead. Set them in the environment of the process that runs Sluice (for example ', h('code', null, 'OPENAI_API_KEY'), ') and they are used for that run.'),
              ],
              { title: 'No keyring' },
            ),
      );
      const keys = kl.keys ?? [];
      replace(
        listHost,
        dataTable(
          'Provider keys',
          ['Provider', 'Key', ['From', 'hide-sm']],
          keys.map((k) => row(k, kl)),
          { class: 'table-keys', actions: true },
        ),
      );
    }

    function row(k: KeyInfo, kl: KeyList): HTMLElement {
      const result = h('div', { class: 'key-result', role: 'status' });
      const has = k.masked !== '';
      const fromEnv = k.source === 'environment';
      const actions: HTMLElement[] = [];
      if (kl.backend) {
        actions.push(button(has ? 'Replace' : 'Add key', { size: 'sm', kind: 'secondary', icon: has ? undefined : 'plus', label: `${has ? 'Replace' : 'Add'} ${k.provider} key`, onClick: () => add(k, kl) }));
      }
      if (has) {
        const test = button('Test', { size: 'sm', label: `Test ${k.provider} key` });
        test.addEventListener('click', () =>
          busy(test, async () => {
            replace(result, h('span', { class: 'muted small' }, 'Asking the provider…'));
            try {
              const c = await api.testKey(k.provider);
              replace(result, c.valid ? badge('Valid', 'ok', c.message) : badge('Not valid', 'danger', c.message), h('span', { class: 'muted small' }, c.message));
            } catch (e) {
              replace(result, badge('Could not check', 'warn'), h('span', { class: 'muted small' }, errorMessage(e)));
            }
          }),
        );
        actions.push(test);
        if (!fromEnv) {
          actions.push(
            button('Remove', {
              size: 'sm',
              kind: 'ghost',
              icon: 'trash',
              label: `Remove ${k.provider} key`,
              onClick: () =>
                confirmRemoval({
                  title: `Remove the ${k.provider} key?`,
                  body: `Sluice deletes it from ${kl.backend || 'the keyring'}. Requests to ${k.provider} fail until you add a key again.`,
                  yes: 'Remove key',
                  remove: () => api.deleteKey(k.provider),
                  done: `The ${k.provider} key was removed.`,
                  failed: 'Could not remove the key',
                  then: load,
                }),
            }),
          );
        }
      }
      return h(
        'tr',
        { 'aria-label': k.provider },
        h('th', { scope: 'row', class: 'provider-cell' }, k.provider),
        h('td', null, has ? h('code', { class: 'masked' }, k.masked) : h('span', { class: 'muted' }, 'No key'), result),
        h('td', { class: 'hide-sm muted' }, has ? (fromEnv ? ['environment ', h('code', null, k.env_var ?? '')] : 'keyring') : k.env_var ? ['or set ', h('code', null, k.env_var)] : '—'),
        h('td', { class: 'actions' }, h('div', { class: 'row-actions' }, actions)),
      );
    }

    function add(k: KeyInfo, kl: KeyList): void {
      const key = input({ type: 'password', name: 'key', autocomplete: 'new-password', placeholder: 'Paste the key', required: true });
      formDialog(
        `${k.masked ? 'Replace' : 'Add'} the ${k.provider} key`,
        [field(`${k.provider} API key`, key, { hint: `Stored in ${kl.backend || 'the OS keyring'}. You will not see it in full again.` })],
        'Save key',
        async () => {
          const v = key.value.trim();
          if (!v) throw new Error('Paste the key first.');
          await api.setKey(k.provider, v);
          key.value = '';
          toast(`The ${k.provider} key is saved.`, 'ok');
          await load();
        },
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
