// Where provider keys go: a warning for every provider whose requests go
// somewhere other than its official address. Shown on the Keys and
// Settings pages; only the command line can confirm such an address.

import type { Status } from './api';
import { h } from './dom';
import { callout } from './ui';

/** keyDestinations warns of keys that go, or are withheld from, an address other than the provider's own; null when there is none. */
export function keyDestinations(st: Status | null): HTMLElement | null {
  const ups = Object.entries(st?.upstreams ?? {})
    .filter(([, u]) => !u.keyless && !u.official)
    .sort(([a], [b]) => a.localeCompare(b));
  if (ups.length === 0) return null;
  const hostOf = (u: string) => {
    try {
      return new URL(u).host;
    } catch {
      return u;
    }
  };
  return callout(
    'warn',
    [
      h(
        'ul',
        { class: 'destinations' },
        ups.map(([name, u]) =>
          h(
            'li',
            null,
            u.withheld
              ? [
                  h('strong', null, name),
                  ' requests go to ',
                  h('code', null, u.base_url),
                  '. Sluice sends no key there: that address was not confirmed from the command line. If the server is yours: ',
                  h('code', null, `sluice settings set upstream.${name} ${u.base_url} --allow-key-to ${hostOf(u.base_url)}`),
                ]
              : [h('strong', null, name), ' requests, with your ', name, ' key, go to ', h('code', null, u.base_url), u.from === 'command line' ? ' (from --upstream on the command line).' : ' (confirmed from the command line).'],
          ),
        ),
      ),
      h('p', { class: 'muted' }, 'Only the command line can send a key somewhere other than its provider’s official address; this page cannot.'),
    ],
    { title: 'Keys and addresses other than the providers’ own', role: 'note' },
  );
}
