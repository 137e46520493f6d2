// The shell: navigation, the gateway's state, notices, and the live
// polling that keeps the page in step with Sluice.

import './style.css';
import { api, onUnauthorized, signedInHere, signOut, takeTabSecret, ApiError, type Notice, type Pause, type Status } from './api';
import type { App, Page, PageHandle } from './app';
import { h, replace } from './dom';
import { icon, toast, errorBox, errorMessage, loading, button, busy, field, formDialog, input, select } from './ui';
import { when } from './format';
import { overviewPage } from './pages/overview';
import { requestsPage } from './pages/requests';
import { budgetsPage } from './pages/budgets';
import { keysPage } from './pages/keys';
import { tokensPage } from './pages/tokens';
import { connectPage } from './pages/connect';
import { pricesPage } from './pages/prices';
import { settingsPage } from './pages/settings';
import { promptsPage } from './pages/prompts';
import { aliasesPage } from './pages/aliases';

const PAGES: Page[] = [overviewPage, requestsPage, budgetsPage, keysPage, tokensPage, promptsPage, aliasesPage, connectPage, pricesPage, settingsPage];
const POLL_MS = 500;
const POLL_HIDDEN_MS = 3000;
const SEEN_KEY = 'sluice.noticesSeen';

const root = document.getElementById('app')!;

let status: Status | null = null;
let current: { page: Page; handle: PageHandle; route: string } | null = null;
let signedOut = false;

// ---- the shell's parts ----

const gwDot = h('span', { class: 'dot', 'aria-hidden': 'true' });
const gwText = h('span', { class: 'gw-text' });
const gwStatus = h('div', { class: 'gw-status', role: 'status', 'aria-live': 'polite' }, gwDot, gwText);

const bellCount = h('span', { class: 'bell-count', hidden: true });
const bell = h('button', { type: 'button', class: 'btn btn-ghost btn-md bell', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }, icon('bell', 18), bellCount);
const noticeList = h('div', { class: 'notice-list' });

const pauseBtn = button('Pause', { kind: 'secondary', icon: 'pause', label: 'Pause Sluice: refuse requests for a while' });
const pausedBox = h('div', { class: 'paused', role: 'status', 'aria-live': 'polite', hidden: true });
const noticePanel = h(
  'div',
  { class: 'notice-panel', role: 'dialog', 'aria-label': 'Notices', hidden: true },
  h('div', { class: 'notice-head' }, h('h2', null, 'Notices'), button('Close', { kind: 'ghost', size: 'sm', onClick: () => toggleNotices(false) })),
  noticeList,
);

const navLinks = new Map<string, HTMLAnchorElement>();
const nav = h(
  'nav',
  { class: 'sidenav', 'aria-label': 'Sections' },
  h(
    'div',
    { class: 'sidenav-inner' },
    h(
    'ul',
    null,
    PAGES.map((p) => {
      const a = h('a', { href: `#/${p.id}`, class: 'nav-link' }, icon(p.icon, 18), h('span', null, p.title));
      navLinks.set(p.id, a);
      return h('li', null, a);
    }),
  ),
  h('div', { class: 'nav-foot', id: 'nav-foot' }),
  ),
);

const main = h('main', { class: 'content', id: 'main', tabindex: '-1' });

const shell = h(
  'div',
  { class: 'shell' },
  h('a', { class: 'skip', href: '#main', onclick: (e: Event) => (e.preventDefault(), main.focus()) }, 'Skip to content'),
  h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '#/overview', 'aria-label': 'Sluice, overview' }, logo(), h('span', null, 'Sluice')),
    gwStatus,
    h('div', { class: 'topbar-end' }, pausedBox, pauseBtn, h('div', { class: 'bell-wrap' }, bell, noticePanel)),
  ),
  nav,
  main,
);

function logo(): HTMLElement {
  const el = h('span', { class: 'logo', 'aria-hidden': 'true' });
  el.innerHTML =
    '<svg viewBox="0 0 32 32" width="26" height="26"><rect width="32" height="32" rx="8" fill="currentColor"/><path d="M8 11h16M8 16h16M8 21h10" stroke="white" stroke-width="3" stroke-linecap="round"/></svg>';
  return el;
}

// ---- gateway state ----

function showGateway(answering: boolean): void {
  // The dashboard's API answering means the gateway's process is up; in
  // the desktop window the status also says whether the listener runs.
  const running = answering && status?.running !== false;
  gwStatus.classList.toggle('is-down', !running);
  const label = running ? 'Gateway running' : answering ? 'Gateway stopped' : 'Gateway not answering';
  gwText.replaceChildren(h('span', { class: 'gw-label' }, label), h('span', { class: 'gw-addr' }, status ? `http://${status.addr}` : ''));
}

// ---- pause ----

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
let pauseTimer = 0;

/** activePauses are the pauses in force now. */
function activePauses(): Pause[] {
  const now = Date.now();
  return (status?.pauses ?? []).filter((p) => !p.until || Date.parse(p.until) > now);
}

/** renderPauses shows what is paused in the header, and looks again when a pause is due to end. */
function renderPauses(): void {
  const ps = activePauses();
  clearTimeout(pauseTimer);
  const next = Math.min(...ps.filter((p) => p.until).map((p) => Date.parse(p.until!)));
  if (Number.isFinite(next)) {
    pauseTimer = window.setTimeout(() => void app.reloadStatus().catch(() => renderPauses()), Math.max(0, next - Date.now()) + 300);
  }
  pausedBox.hidden = ps.length === 0;
  if (ps.length === 0) {
    pausedBox.replaceChildren();
    return;
  }
  const what = (p: Pause) => `${p.token ? `token ${p.token}` : 'all requests'}${p.until ? ` until ${clock.format(new Date(p.until))}` : ''}`;
  const resume = button('Resume', { kind: 'primary', size: 'sm', icon: 'play', label: 'Resume: end every pause' });
  resume.addEventListener('click', () =>
    busy(resume, async () => {
      try {
        await api.resume();
        await app.reloadStatus();
        toast('Requests go through again.', 'ok', { title: 'Sluice resumed' });
      } catch (e) {
        toast(errorMessage(e), 'danger', { title: 'Could not resume' });
      }
    }),
  );
  pausedBox.replaceChildren(h('span', { class: 'paused-text' }, h('strong', null, 'Paused: '), ps.map(what).join(', ')), resume);
}

async function openPauseDialog(): Promise<void> {
  const tokens = (await api.tokens().catch(() => null)) ?? [];
  const scope = select([['', 'Every request'], ...tokens.map((t) => [t.name, `Only token ${t.name}`] as [string, string])], '', { name: 'scope' });
  const dur = select(
    [
      ['', 'Until I resume'],
      ['10m', '10 minutes'],
      ['30m', '30 minutes'],
      ['1h', '1 hour'],
      ['custom', 'Another length…'],
    ],
    '',
    { name: 'for' },
  );
  const custom = input({ name: 'custom', placeholder: 'e.g. 90s, 15m, 2h' });
  const customField = field('Length', custom, { hint: 'A length such as 90s, 15m or 2h; the pause ends by itself then.' });
  const syncDur = () => (customField.hidden = dur.value !== 'custom');
  dur.addEventListener('change', syncDur);
  syncDur();
  const streams = select(
    [
      ['finish', 'Let them finish'],
      ['cut', 'Cut them now'],
    ],
    'finish',
    { name: 'streams' },
  );
  formDialog(
    'Pause Sluice',
    [field('What to pause', scope), field('For', dur), customField, field('Requests being answered now', streams, { hint: 'Cut streams are charged for what was relayed.' })],
    'Pause',
    async () => {
      let d = dur.value;
      if (d === 'custom') {
        d = custom.value.trim().replace(/\s+/g, '');
        if (!/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(d)) throw new Error('Give the length as 90s, 15m or 2h.');
      }
      const p = await api.pause(scope.value, d, streams.value === 'cut');
      await app.reloadStatus();
      toast(`${p.token ? `Token ${p.token}'s requests are` : 'Every request is'} refused with 402 ${p.until ? `until ${clock.format(new Date(p.until))}` : 'until you resume'}.`, 'warn', { title: 'Sluice paused' });
    },
    'While paused, Sluice answers requests with 402 naming the pause. Nothing reaches a provider.',
  );
}

pauseBtn.addEventListener('click', () => void openPauseDialog());

// ---- notices ----

let noticeSeq = 0;
let notices: Notice[] = [];

function seenSeq(): number {
  return Number(localStorage.getItem(SEEN_KEY) ?? '0') || 0;
}

function renderBell(): void {
  const seen = seenSeq();
  const unread = notices.filter((n) => n.seq > seen).length;
  bellCount.hidden = unread === 0;
  bellCount.textContent = unread > 99 ? '99+' : String(unread);
  bell.setAttribute('aria-label', unread ? `Notices, ${unread} new` : 'Notices');
}

/** renderNotices draws the bell and the list; notices after seen are marked new. */
function renderNotices(seen = seenSeq()): void {
  renderBell();
  if (notices.length === 0) {
    replace(noticeList, h('p', { class: 'muted notice-empty' }, 'Nothing to report. Budget warnings, limits reached and provider billing problems show up here.'));
    return;
  }
  replace(
    noticeList,
    h(
      'ul',
      null,
      [...notices].reverse().map((n) =>
        h(
          'li',
          { class: `notice notice-${n.kind}${n.seq > seen ? ' is-new' : ''}` },
          h('span', { class: 'notice-icon' }, icon('alert', 16)),
          h(
            'div',
            null,
            h('p', { class: 'notice-title' }, n.title),
            h('p', { class: 'notice-msg' }, n.message),
            h(
              'p',
              { class: 'notice-time' },
              when(n.time),
              n.link ? [' · ', h('a', { href: `#/${n.link}`, class: 'notice-link', onclick: () => toggleNotices(false) }, 'Show the requests')] : null,
            ),
          ),
        ),
      ),
    ),
  );
}

function toggleNotices(open?: boolean): void {
  const show = open ?? noticePanel.hidden;
  noticePanel.hidden = !show;
  bell.setAttribute('aria-expanded', String(show));
  if (show) {
    // Marked new while the panel is open; counted as seen from now on.
    const seen = seenSeq();
    const top = notices.length ? notices[notices.length - 1].seq : 0;
    if (top > seen) localStorage.setItem(SEEN_KEY, String(top));
    renderNotices(seen);
  } else {
    renderNotices();
  }
}

bell.addEventListener('click', (e) => {
  e.stopPropagation();
  toggleNotices();
});
document.addEventListener('click', (e) => {
  if (!noticePanel.hidden && !noticePanel.contains(e.target as Node)) toggleNotices(false);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !noticePanel.hidden) {
    toggleNotices(false);
    bell.focus();
  }
});

async function fetchNotices(announce: boolean): Promise<void> {
  const fresh = (await api.notices(noticeSeq)) ?? [];
  if (fresh.length === 0) return;
  notices = [...notices, ...fresh].slice(-200);
  noticeSeq = Math.max(noticeSeq, ...fresh.map((n) => n.seq));
  if (announce) {
    for (const n of fresh) toast(n.message, n.kind === 'soft' ? 'warn' : 'danger', { title: n.title, timeout: 10000 });
  }
  renderNotices();
}

// ---- routing ----

const app: App = {
  get status() {
    return status!;
  },
  navigate(route: string) {
    location.hash = `#/${route}`;
  },
  async reloadStatus() {
    status = await api.status();
    showGateway(true);
    renderPauses();
  },
};

function parseHash(): { id: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const id = PAGES.some((p) => p.id === path) ? path : 'overview';
  return { id, params: new URLSearchParams(query) };
}

function route(): void {
  if (signedOut || !status) return;
  const { id, params } = parseHash();
  const routeKey = location.hash;
  if (current && current.route === routeKey) return;
  const page = PAGES.find((p) => p.id === id)!;
  const samePage = current?.page === page;
  current?.handle.unmount?.();
  for (const [pid, a] of navLinks) {
    if (pid === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} · Sluice`;
  main.replaceChildren();
  const el = h('div', { class: `page page-${page.id}` });
  main.append(el);
  current = { page, handle: page.mount(el, app, params), route: routeKey };
  if (!samePage) window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);

// ---- live updates ----

let lastSeq = -1;
let refreshing = false;
let refreshAgain = false;
let up = true;

async function refreshPage(): Promise<void> {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      await current?.handle.refresh?.();
    } while (refreshAgain);
  } catch {
    // The page shows its own errors; the next change tries again.
  } finally {
    refreshing = false;
  }
}

// A pause or resume from the command line shows in the header after the
// next change; status is fetched at most once a second for it.
let statusDue = 0;
let statusTimer = 0;
function reloadStatusSoon(): void {
  if (statusTimer) return;
  const wait = Math.max(0, statusDue - Date.now());
  statusTimer = window.setTimeout(() => {
    statusTimer = 0;
    statusDue = Date.now() + 1000;
    app.reloadStatus().catch(() => {});
  }, wait);
}

async function poll(): Promise<void> {
  if (signedOut) return;
  try {
    const { seq } = await api.changes();
    if (!up) {
      up = true;
      showGateway(true);
    }
    if (lastSeq >= 0 && seq !== lastSeq) {
      lastSeq = seq;
      fetchNotices(true).catch(() => {});
      void refreshPage();
      reloadStatusSoon();
    }
    lastSeq = seq;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'unauthorized') return;
    if (up) {
      up = false;
      showGateway(false);
    }
  }
  setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_MS);
}

// ---- sign-in ----

function showSignIn(): void {
  if (signedOut) return;
  signedOut = true;
  current?.handle.unmount?.();
  current = null;
  replace(
    root,
    h(
      'div',
      { class: 'signin' },
      h(
        'section',
        { class: 'card signin-card', 'aria-labelledby': 'signin-title' },
        h('div', { class: 'signin-brand' }, logo(), h('span', null, 'Sluice')),
        h('h1', { id: 'signin-title' }, 'Sign in to Sluice'),
        h('p', null, 'This dashboard needs the sign-in link that ', h('code', null, 'sluice serve'), ' printed when it started. Open that link in this browser, or run ', h('code', null, 'sluice login'), ' for a new one.'),
        h('p', { class: 'muted' }, 'Each link works once and only on this machine, so nothing else that runs in your browser can reach your keys or budgets.'),
      ),
    ),
  );
}

onUnauthorized(showSignIn);

// ---- start ----

takeTabSecret();

async function start(): Promise<void> {
  replace(root, h('div', { class: 'boot' }, loading()));
  try {
    status = await api.status();
  } catch (e) {
    if (signedOut) return;
    replace(root, h('div', { class: 'boot' }, errorBox(e), button('Try again', { kind: 'primary', onClick: () => void start() })));
    return;
  }
  replace(root, shell);
  const foot = document.getElementById('nav-foot');
  if (foot) {
    const kind = status.build ? (status.build.desktop ? 'desktop' : 'headless') : '';
    replace(foot, h('span', { title: status.about ?? '' }, `Sluice ${status.version}`, kind ? ` · ${kind}` : ''));
  }
  if (signedInHere() && !document.getElementById('signout')) {
    const out = button('Sign out', {
      kind: 'ghost',
      size: 'sm',
      onClick: () => {
        void signOut().finally(() => {
          showSignIn();
          toast('This tab is signed out. Open a new sign-in link (sluice login) to come back.', 'info', { title: 'Signed out' });
        });
      },
    });
    out.id = 'signout';
    document.querySelector('.topbar-end')?.append(out);
  }
  showGateway(true);
  renderPauses();
  renderNotices();
  try {
    await fetchNotices(false);
    // Notices raised while no window was open still count as new.
  } catch {
    // The bell stays empty; polling tries again on the next change.
  }
  route();
  void poll();
}

// Colour scheme changes rebuild the page so charts pick up the new colours.
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  if (current) {
    current.route = '';
    route();
  }
});

void start();
