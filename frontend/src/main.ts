// The shell: navigation, the gateway's state, notices, and the live
// polling that keeps the page in step with Sluice.

import './style.css';
import { api, onUnauthorized, signedInHere, signOut, takeTabSecret, ApiError, type Notice, type Status } from './api';
import type { App, Page, PageHandle } from './app';
import { h, replace } from './dom';
import { icon, toast, errorBox, loading, button } from './ui';
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

const PAGES: Page[] = [overviewPage, requestsPage, budgetsPage, keysPage, tokensPage, promptsPage, connectPage, pricesPage, settingsPage];
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
    h('div', { class: 'topbar-end' }, h('div', { class: 'bell-wrap' }, bell, noticePanel)),
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
          h('div', null, h('p', { class: 'notice-title' }, n.title), h('p', { class: 'notice-msg' }, n.message), h('p', { class: 'notice-time' }, when(n.time))),
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
