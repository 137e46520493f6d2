// Settings: upstream base URLs, the unpriced-model policy, time zone,
// request-body logging and retention, loop detection, allowed browser
// origins, start at login, what closing the window does; and, read-only,
// the address, data directory and version.

import { api, type Settings, type SettingsDefaults } from '../api';
import type { Page } from '../app';
import { h, replace } from '../dom';
import { exactMoney, normalizeMoney } from '../money';
import { busy, button, callout, card, codeBlock, errorMessage, fetchInto, field, input, loading, pageHead, toast } from '../ui';
import { locale } from '../locale';
import { keyDestinations } from '../destinations';

export const settingsPage: Page = {
  id: 'settings',
  title: 'Settings',
  icon: 'settings',
  mount(el, app) {
    let alive = true;
    const host = h('div', null, loading());
    el.append(pageHead('Settings', 'How Sluice routes, prices and keeps requests.'), host);

    async function load(): Promise<void> {
      const got = await fetchInto(host, () => alive, () => Promise.all([api.settings(), api.keys().catch(() => null)]));
      if (!got) return;
      const [s, keys] = got;
      replace(host, form(s, (keys?.keys ?? []).map((k) => k.provider)));
    }

    function form(s: Settings, providers: string[]): HTMLElement {
      const st = app.status;
      // What a value left at 0 stands for comes with the settings, from
      // the gateway: the page copies none of its defaults.
      const d: SettingsDefaults = s.defaults!;
      // Upstreams: one row per provider with a key slot, plus any saved
      // override, plus a blank row to add another (an OpenAI-compatible
      // server of your own, or Ollama elsewhere).
      const upstreams = { ...(s.upstreams ?? {}) };
      const names = [...new Set([...providers, ...Object.keys(upstreams)])].sort();
      const upRows = h('div', { class: 'upstreams' });
      const upInputs = new Map<string, HTMLInputElement>();
      const inForce = st?.upstreams ?? {};
      for (const n of names) {
        const now = inForce[n];
        const placeholder = now && now.from === 'default' ? now.base_url : 'Provider default';
        const i = input({ type: 'url', name: `upstream-${n}`, value: upstreams[n] ?? '', placeholder });
        upInputs.set(n, i);
        const hint = now && now.from === 'command line' ? `This run uses ${now.base_url}, from --upstream on the command line.` : undefined;
        upRows.append(field(n, i, { class: 'field-row', hint }));
      }
      const newName = input({ name: 'upstream-new-name', placeholder: 'e.g. ollama or my-server' });
      const newURL = input({ type: 'url', name: 'upstream-new-url', placeholder: 'http://127.0.0.1:11434/v1' });
      const addRow = h('div', { class: 'field-pair' }, field('New upstream name', newName), field('Its base URL', newURL));

      const refuse = h('input', { type: 'radio', name: 'unpriced', value: 'refuse', id: 'unpriced-refuse', checked: s.unpriced_policy !== 'estimate' });
      const estimate = h('input', { type: 'radio', name: 'unpriced', value: 'estimate', id: 'unpriced-estimate', checked: s.unpriced_policy === 'estimate' });
      const hold = input({ name: 'unpriced-hold', inputmode: 'decimal', value: s.unpriced_hold_usd ?? '', placeholder: exactMoney(d.unpriced_hold_usd).slice(1), class: 'input input-narrow' });

      const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
      const zoneList = h('datalist', { id: 'zones' }, zones.map((z) => h('option', { value: z })));
      const zone = input({ name: 'time-zone', value: s.time_zone ?? '', list: 'zones', placeholder: `System (${Intl.DateTimeFormat(locale).resolvedOptions().timeZone})` });

      const bodies = h('input', { type: 'checkbox', name: 'log-bodies', id: 'log-bodies', checked: s.log_bodies });
      const compat = h('input', { type: 'checkbox', name: 'compat-endpoints', id: 'compat-endpoints', checked: !!s.compat_endpoints });
      const retention = input({ type: 'number', name: 'retention', min: '0', step: '1', value: String(s.retention_days ?? 0), class: 'input input-narrow', inputmode: 'numeric' });

      const sessionHours = input({ type: 'number', name: 'session-hours', min: '1', step: '1', value: String(s.session_hours || d.session_hours), class: 'input input-narrow', inputmode: 'numeric' });

      const origins = h('textarea', { class: 'input', name: 'origins', rows: '3', spellcheck: 'false', placeholder: 'http://localhost:3000' });
      origins.value = (s.allowed_origins ?? []).join('\n');

      const loopOn = h('input', { type: 'checkbox', name: 'loop-on', id: 'loop-on', checked: !s.loop_off });
      const minutes = (secs: number) => Math.round((secs / 60) * 100) / 100;
      const loopLimit = input({ type: 'number', name: 'loop-limit', min: '1', max: String(d.loop_limit_max), step: '1', value: String(s.loop_limit || d.loop_limit), class: 'input input-narrow', inputmode: 'numeric' });
      const loopWindow = input({ type: 'number', name: 'loop-window', min: '1', max: String(minutes(d.loop_window_max_s)), step: '1', value: String(minutes(s.loop_window_s || d.loop_window_s)), class: 'input input-narrow', inputmode: 'decimal' });

      const fallbackAfter = input({ type: 'number', name: 'fallback-after', min: '0', step: '1', value: (s.fallback_after_s ?? 0) < 0 ? '0' : String(s.fallback_after_s || d.fallback_after_s), class: 'input input-narrow', inputmode: 'numeric' });

      const closeHide = h('input', { type: 'radio', name: 'close', value: 'hide', id: 'close-hide', checked: (s.close_action || st.close_action) !== 'quit' });
      const closeQuit = h('input', { type: 'radio', name: 'close', value: 'quit', id: 'close-quit', checked: (s.close_action || st.close_action) === 'quit' });

      const atLogin = h('input', { type: 'checkbox', name: 'start-at-login', id: 'start-at-login', checked: !!s.start_at_login });

      const radio = (el: HTMLInputElement, label: string, hint: string) =>
        h('div', { class: 'choice' }, el, h('label', { for: el.id }, h('span', { class: 'choice-label' }, label), h('span', { class: 'choice-hint' }, hint)));

      const save = button('Save settings', { kind: 'primary', type: 'submit' });
      const errorHost = h('div', { role: 'alert' });
      const f = h(
        'form',
        { class: 'settings', 'aria-label': 'Settings', novalidate: true },
        card(
          'This gateway',
          h(
            'dl',
            { class: 'kvs kvs-wide' },
            h('div', { class: 'kv' }, h('dt', null, 'Address'), h('dd', null, h('code', null, `http://${st.addr}`))),
            h('div', { class: 'kv' }, h('dt', null, 'Port'), h('dd', null, String(s.port ?? portOf(st.addr)))),
            h('div', { class: 'kv' }, h('dt', null, 'Data directory'), h('dd', null, h('code', { class: 'wrap' }, st.data_dir))),
            h('div', { class: 'kv' }, h('dt', null, 'Version'), h('dd', { class: 'about' }, st.about ?? st.version)),
            h('div', { class: 'kv' }, h('dt', null, 'Keyring'), h('dd', null, st.keyring?.backend || st.keyring?.problem || 'none')),
          ),
          { class: 'card-plain' },
        ),
        card(
          'Upstreams',
          [
            h('p', { class: 'muted' }, 'Where Sluice sends each provider’s requests. Leave empty for the provider’s own API. A name Sluice does not know becomes an OpenAI-compatible provider under /NAME/v1. A provider’s key goes only to its official address, or to one confirmed with sluice settings set upstream.NAME URL --allow-key-to HOST.'),
            keyDestinations(st),
            upRows,
            addRow,
          ],
        ),
        card('Models without a price', [
          h(
            'fieldset',
            { class: 'choices' },
            h('legend', { class: 'visually-hidden' }, 'When a request names a model with no known price'),
            radio(refuse, 'Refuse them', 'Requests a budget covers get 402 until the model has a price.'),
            radio(estimate, 'Hold an estimate', 'Hold the amount below against the budgets and mark the record estimated.'),
          ),
          field('Amount held for an unpriced request', hold, { hint: `In dollars. Empty holds ${exactMoney(d.unpriced_hold_usd)}.` }),
        ]),
        card('Time zone', [field('Time zone for days and budget periods', zone, { hint: 'An IANA name such as Europe/Berlin. Empty uses the system’s.' }), zoneList]),
        card('Request log', [
          h('div', { class: 'choice' }, bodies, h('label', { for: 'log-bodies' }, h('span', { class: 'choice-label' }, 'Keep request and response bodies'), h('span', { class: 'choice-hint' }, 'Off by default. Secrets are redacted before anything is written.'))),
          field('Keep log records for (days)', retention, { hint: '0 keeps them all. Spend totals are kept either way.' }),
        ]),
        card('Other providers’ models', [
          h('p', { class: 'muted' }, 'A request in one provider’s format (an OpenAI, Anthropic or Gemini SDK) may name any provider’s model: Sluice translates it for that provider’s own API, and the answer back. It is metered and charged as the provider that served it.'),
          h('div', { class: 'choice' }, compat, h('label', { for: 'compat-endpoints' }, h('span', { class: 'choice-label' }, 'Send OpenAI-format requests to the OpenAI-compatible endpoints'), h('span', { class: 'choice-hint' }, 'Off by default. Anthropic’s and Gemini’s compatible endpoints take OpenAI requests as they are, but Anthropic’s has no prompt caching or thinking control and its errors are approximate.'))),
        ]),
        card('Loop detection', [
          h('div', { class: 'choice' }, loopOn, h('label', { for: 'loop-on' }, h('span', { class: 'choice-label' }, 'Refuse requests that repeat'), h('span', { class: 'choice-hint' }, 'The same request from the same token, past the count below within the window, gets 429 instead of reaching the provider.'))),
          field('Identical requests allowed', loopLimit, { hint: `The next one within the window is refused. ${d.loop_limit} by default, at most ${d.loop_limit_max}.` }),
          field('Within (minutes)', loopWindow, { hint: `${minutes(d.loop_window_s)} by default, at most ${minutes(d.loop_window_max_s)}.` }),
        ]),
        card('Fallbacks', [
          field('Try an alias’s fallback after (seconds without a first byte)', fallbackAfter, { hint: `While a fallback is left, a target that has sent nothing by then (for a stream, no first event) is given up for the next. ${d.fallback_after_s} by default; 0 waits as long as any request.` }),
        ]),
        card('Browser sessions', [field('Sign a browser out after (hours without use)', sessionHours, { hint: `Each tab signs in with its own link. Default ${d.session_hours}.` })]),
        card('Browser origins', [field('Origins allowed to call provider routes', origins, { hint: 'One per line, such as http://localhost:3000, for web apps that call Sluice from the browser.' })]),
        card('Start at login', [
          h(
            'div',
            { class: 'choice' },
            atLogin,
            h(
              'label',
              { for: 'start-at-login' },
              h('span', { class: 'choice-label' }, 'Start Sluice when I log in'),
              h('span', { class: 'choice-hint' }, 'The gateway runs from the start of your session, its window hidden until you open Sluice. Turning this off removes the entry from your system’s startup list.'),
            ),
          ),
        ]),
        st.desktop
          ? card('Closing the window', [
              h(
                'fieldset',
                { class: 'choices' },
                h('legend', { class: 'visually-hidden' }, 'When you close the window'),
                radio(closeHide, 'Hide to the background', 'The gateway keeps running; open Sluice again to bring the window back.'),
                radio(closeQuit, 'Quit Sluice', 'The gateway stops and tools get connection errors until you start it again.'),
              ),
            ])
          : null,
        errorHost,
        h('div', { class: 'form-actions' }, save),
      );

      f.addEventListener('submit', (e) => {
        e.preventDefault();
        errorHost.replaceChildren();
        void busy(save, async () => {
          try {
            const next: Settings = { ...s };
            delete next.defaults;
            const ups: Record<string, string> = {};
            for (const [n, i] of upInputs) if (i.value.trim()) ups[n] = i.value.trim();
            const nn = newName.value.trim().toLowerCase();
            if (nn || newURL.value.trim()) {
              if (!nn || !newURL.value.trim()) throw new Error('A new upstream needs both a name and a base URL.');
              ups[nn] = newURL.value.trim();
            }
            next.upstreams = ups;
            next.unpriced_policy = estimate.checked ? 'estimate' : 'refuse';
            const h0 = normalizeMoney(hold.value || '0');
            if (h0 === null || h0.startsWith('-')) throw new Error(`“${hold.value}” is not an amount of dollars.`);
            next.unpriced_hold_usd = h0;
            next.time_zone = zone.value.trim();
            next.log_bodies = bodies.checked;
            next.compat_endpoints = compat.checked;
            const days = parseInt(retention.value || '0', 10);
            if (!(days >= 0)) throw new Error('Keep log records for a whole number of days, or 0 for all of them.');
            next.retention_days = days;
            // A value equal to the default is saved as 0, "the default",
            // so that it follows the gateway's default if that changes.
            // Ranges are the API's to check: its refusal says them.
            const numberIn = (el: HTMLInputElement, def: number, what: string, whole = true): number => {
              const n = el.value.trim() === '' ? def : Number(el.value);
              if (!(whole ? Number.isInteger(n) : Number.isFinite(n))) throw new Error(`${what}: “${el.value}” is not a ${whole ? 'whole ' : ''}number.`);
              return n;
            };
            const hours = numberIn(sessionHours, d.session_hours, 'Sign a browser out after');
            next.session_hours = hours === d.session_hours ? 0 : hours;
            next.allowed_origins = origins.value
              .split(/\s+/)
              .map((o) => o.trim())
              .filter(Boolean);
            next.loop_off = !loopOn.checked;
            const ll = numberIn(loopLimit, d.loop_limit, 'Identical requests allowed');
            next.loop_limit = ll === d.loop_limit ? 0 : ll;
            const lw = Math.round(numberIn(loopWindow, minutes(d.loop_window_s), 'Within (minutes)', false) * 60);
            next.loop_window_s = lw === d.loop_window_s ? 0 : lw;
            const fa = numberIn(fallbackAfter, d.fallback_after_s, 'Try an alias’s fallback after');
            next.fallback_after_s = fa === d.fallback_after_s ? 0 : fa === 0 ? -1 : fa;
            if (st.desktop) next.close_action = closeQuit.checked ? 'quit' : 'hide';
            next.start_at_login = atLogin.checked;
            const saved = await api.putSettings(next);
            toast(`Saved. Unpriced models: ${saved.unpriced_policy === 'estimate' ? `hold ${exactMoney(saved.unpriced_hold_usd)}` : 'refused'}.`, 'ok', { title: 'Settings saved' });
            await app.reloadStatus().catch(() => {});
            await load();
          } catch (err) {
            errorHost.replaceChildren(callout('danger', errorMessage(err), { title: 'Not saved' }));
          }
        });
      });
      return h('div', null, f, st.desktop ? null : card('Signing in from another browser', [h('p', { class: 'muted' }, 'Each sign-in link works once. For a new one, while ', h('code', null, 'sluice serve'), ' runs:'), codeBlock('sluice login', 'sign-in command')], { class: 'card-plain' }));
    }

    void load();
    return {
      unmount() {
        alive = false;
      },
    };
  },
};

function portOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  return i >= 0 ? addr.slice(i + 1) : addr;
}
