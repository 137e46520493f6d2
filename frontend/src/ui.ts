// Small components shared by the pages.

import { h, replace, uid, svg, type Child } from './dom';
import { ApiError } from './api';

// ---- icons (inline SVG, 20×20 stroke icons) ----

const ICONS: Record<string, string> = {
  overview: 'M3 13h4v5H3zM8 8h4v10H8zM13 3h4v15h-4z',
  requests: 'M4 5h12M4 10h12M4 15h8',
  budgets: 'M10 2.5a7.5 7.5 0 1 0 7.5 7.5H10z M12 1.5v6.5h6.5A6.5 6.5 0 0 0 12 1.5z',
  keys: 'M12.5 3a4.5 4.5 0 0 0-4.2 6.1L3 14.4V17h2.6v-1.6h1.6v-1.6h1.6l1.3-1.3A4.5 4.5 0 1 0 12.5 3zm1 3.2a1 1 0 1 1 0 .1z',
  tokens: 'M3 6.5h14v7H3z M6 10h.01 M10 10h.01 M14 10h.01',
  prompts: 'M4 4h12v9H9l-4 3v-3H4z M7 7.5h6 M7 10h4',
  aliases: 'M3 10h5l4-5h5 M8 10l4 5h5 M15 3l2 2-2 2 M15 13l2 2-2 2',
  connect: 'M8 12l4-4 M6.5 9.5 4.8 11.2a3 3 0 0 0 4.2 4.2l1.7-1.7 M13.5 10.5l1.7-1.7a3 3 0 0 0-4.2-4.2L9.3 6.3',
  prices: 'M3 10.6V3h7.6l6.9 6.9-7.6 7.6z M6.5 6.5h.01',
  settings:
    'M10 12.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z M16.2 12.2l1.3 1-1.5 2.6-1.6-.5a6.2 6.2 0 0 1-1.6.9L12.5 18h-3l-.3-1.8a6.2 6.2 0 0 1-1.6-.9l-1.6.5-1.5-2.6 1.3-1a6 6 0 0 1 0-1.9l-1.3-1 1.5-2.6 1.6.5a6.2 6.2 0 0 1 1.6-.9L9.5 2h3l.3 1.8a6.2 6.2 0 0 1 1.6.9l1.6-.5 1.5 2.6-1.3 1a6 6 0 0 1 0 1.9z',
  bell: 'M10 2.5a5 5 0 0 0-5 5v3.2L3.5 14h13L15 10.7V7.5a5 5 0 0 0-5-5z M8 16.5a2 2 0 0 0 4 0',
  copy: 'M7 7h9v10H7z M4 13V3h9',
  check: 'M4 10.5l4 4 8-9',
  x: 'M5 5l10 10M15 5L5 15',
  plus: 'M10 4v12M4 10h12',
  download: 'M10 3v10m-4-4 4 4 4-4M4 16h12',
  upload: 'M10 14V4m-4 4 4-4 4 4M4 16h12',
  alert: 'M10 3 2 17h16zM10 8v4M10 14.5v.01',
  info: 'M10 18a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM10 9v5M10 6v.01',
  edit: 'M13.5 3.5l3 3L7 16H4v-3z',
  trash: 'M4 6h12M8 6V4h4v2M6 6l1 11h6l1-11',
  arrowRight: 'M4 10h12m-4-4 4 4-4 4',
  arrowLeft: 'M16 10H4m4-4-4 4 4 4',
  pause: 'M7 4.5v11M13 4.5v11',
  play: 'M6.5 4.5v11l9-5.5z',
};

/** icon returns a decorative SVG icon. */
export function icon(name: keyof typeof ICONS | string, size = 18): SVGElement {
  return svg(
    'svg',
    {
      width: size,
      height: size,
      viewBox: '0 0 20 20',
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': 1.6,
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
      'aria-hidden': 'true',
      class: 'icon',
    },
    svg('path', { d: ICONS[name] ?? '' }),
  );
}

// ---- buttons and fields ----

type ButtonOpts = {
  kind?: 'primary' | 'secondary' | 'ghost' | 'danger';
  size?: 'sm' | 'md';
  icon?: string;
  label?: string; // aria-label when the text is not enough
  type?: 'button' | 'submit';
  disabled?: boolean;
  onClick?: (e: MouseEvent) => void;
  title?: string;
  pressed?: boolean;
};

/** button makes a button; text is its visible label. */
export function button(text: string, opts: ButtonOpts = {}): HTMLButtonElement {
  const b = h(
    'button',
    {
      type: opts.type ?? 'button',
      class: `btn btn-${opts.kind ?? 'secondary'} btn-${opts.size ?? 'md'}${text ? '' : ' btn-icon'}`,
      'aria-label': opts.label,
      title: opts.title,
      disabled: opts.disabled ?? false,
      'aria-pressed': opts.pressed === undefined ? undefined : String(opts.pressed),
      onclick: opts.onClick,
    },
    opts.icon ? icon(opts.icon, 16) : null,
    text ? h('span', null, text) : null,
  );
  return b;
}

/** busy disables a button while work runs, then restores it. */
export async function busy<T>(b: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  b.disabled = true;
  b.classList.add('is-busy');
  try {
    return await work();
  } finally {
    b.disabled = false;
    b.classList.remove('is-busy');
  }
}

type FieldOpts = {
  hint?: Child;
  wide?: boolean;
  class?: string;
};

/** field wraps a control with its visible label and an optional hint. */
export function field(label: string, control: HTMLElement, opts: FieldOpts = {}): HTMLElement {
  const id = control.id || uid('f');
  control.id = id;
  let hintEl: HTMLElement | null = null;
  if (opts.hint) {
    hintEl = h('div', { class: 'field-hint', id: id + '-hint' }, opts.hint);
    control.setAttribute('aria-describedby', id + '-hint');
  }
  return h(
    'div',
    { class: `field${opts.wide ? ' field-wide' : ''}${opts.class ? ' ' + opts.class : ''}` },
    h('label', { for: id }, label),
    control,
    hintEl,
  );
}

/** fieldWithButton lays out a labelled input with its button on one line, wrapping on narrow screens. */
export function fieldWithButton(label: string, control: HTMLInputElement, btn: HTMLButtonElement, hint?: Child): HTMLElement {
  const id = control.id || uid('f');
  control.id = id;
  let hintEl: HTMLElement | null = null;
  if (hint) {
    hintEl = h('div', { class: 'field-hint', id: id + '-hint' }, hint);
    control.setAttribute('aria-describedby', id + '-hint');
  }
  return h('div', { class: 'field field-button' }, h('label', { for: id }, label), h('div', { class: 'input-row' }, control, btn), hintEl);
}

/** input makes a text-like input. */
export function input(attrs: Record<string, unknown> = {}): HTMLInputElement {
  return h('input', { class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

/** select makes a select from value/label pairs. */
export function select(options: [string, string][], value = '', attrs: Record<string, unknown> = {}): HTMLSelectElement {
  const s = h(
    'select',
    { class: 'input', ...attrs },
    options.map(([v, l]) => h('option', { value: v }, l)),
  );
  s.value = value;
  return s;
}

/** segmented makes a group of toggle buttons, one of which is on. */
export function segmented(
  label: string,
  options: [string, string][],
  value: string,
  onChange: (v: string) => void,
): HTMLElement {
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': label });
  const buttons = options.map(([v, l]) => {
    const b = h('button', { type: 'button', class: 'seg', 'aria-pressed': String(v === value) }, l);
    b.addEventListener('click', () => {
      for (const o of buttons) o.setAttribute('aria-pressed', String(o === b));
      onChange(v);
    });
    return b;
  });
  group.append(...buttons);
  return group;
}

// ---- layout pieces ----

/** card makes a bordered panel with an optional heading and actions. */
export function card(title: string | null, body: Child, opts: { actions?: Child; class?: string; label?: string } = {}): HTMLElement {
  const headingId = title ? uid('card') : undefined;
  return h(
    'section',
    { class: `card${opts.class ? ' ' + opts.class : ''}`, 'aria-labelledby': headingId, 'aria-label': title ? undefined : opts.label },
    title || opts.actions
      ? h('div', { class: 'card-head' }, title ? h('h2', { id: headingId }, title) : h('span'), opts.actions ? h('div', { class: 'card-actions' }, opts.actions) : null)
      : null,
    body,
  );
}

/** pageHead makes a page's heading, intro line and actions. */
export function pageHead(title: string, intro: Child, actions?: Child): HTMLElement {
  return h(
    'div',
    { class: 'page-head' },
    h('div', null, h('h1', null, title), intro ? h('p', { class: 'lead' }, intro) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

/** empty makes an empty state. */
export function empty(title: string, body: Child, action?: Child): HTMLElement {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), h('p', { class: 'muted' }, body), action ? h('div', { class: 'empty-action' }, action) : null);
}

/** callout makes a highlighted message. */
export function callout(kind: 'info' | 'warn' | 'danger' | 'ok', body: Child, opts: { title?: string; role?: string } = {}): HTMLElement {
  const ic = kind === 'info' ? 'info' : kind === 'ok' ? 'check' : 'alert';
  return h(
    'div',
    { class: `callout callout-${kind}`, role: opts.role },
    icon(ic, 18),
    h('div', null, opts.title ? h('p', { class: 'callout-title' }, opts.title) : null, h('div', null, body)),
  );
}

/** errorBox shows a failed call. */
export function errorBox(e: unknown): HTMLElement {
  return callout('danger', errorMessage(e), { title: 'Something went wrong', role: 'alert' });
}

/** errorMessage is the text of an error to show a user. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * fetchInto runs a page's fetch for host, which shows the error when it
 * fails. It returns what fetch gave, or undefined when it failed or the
 * page was left (alive() false) before the answer came.
 */
export async function fetchInto<T>(host: Element, alive: () => boolean, fetch: () => Promise<T>): Promise<T | undefined> {
  let v: T;
  try {
    v = await fetch();
  } catch (e) {
    if (alive()) replace(host, errorBox(e));
    return undefined;
  }
  return alive() ? v : undefined;
}

/** A table column: its heading, or its heading and the heading's class (num, hide-sm…). */
export type Column = string | [title: string, cls: string];

/**
 * dataTable is a table labelled label in a box that scrolls sideways: a
 * heading row of columns (with actions, one more, named for screen
 * readers only, over the rows' buttons) and body, a tbody or its rows.
 */
export function dataTable(label: string, columns: Column[], body: Child, opts: { class?: string; actions?: boolean } = {}): HTMLElement {
  const th = (c: Column) => (typeof c === 'string' ? h('th', { scope: 'col' }, c) : h('th', { scope: 'col', class: c[1] }, c[0]));
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: opts.class ? `table ${opts.class}` : 'table', 'aria-label': label },
      h('thead', null, h('tr', null, columns.map(th), opts.actions ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null)),
      body instanceof HTMLTableSectionElement ? body : h('tbody', null, body),
    ),
  );
}

/** loading is a placeholder while a page fetches. */
export function loading(): HTMLElement {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading…');
}

/** badge makes a small coloured label. */
export function badge(text: string, tone: 'ok' | 'warn' | 'danger' | 'neutral' | 'info' = 'neutral', title?: string): HTMLElement {
  return h('span', { class: `badge badge-${tone}`, title }, text);
}

/** outcomeBadge shows a request's outcome. */
export function outcomeBadge(outcome: string, status?: number): HTMLElement {
  const tone: Record<string, 'ok' | 'warn' | 'danger' | 'neutral' | 'info'> = {
    ok: 'ok',
    refused: 'danger',
    blocked: 'danger',
    billing: 'danger',
    error: 'warn',
    cut: 'warn',
    canceled: 'neutral',
    crashed: 'warn',
    expired: 'warn',
  };
  const label = outcome === 'ok' ? (status ? String(status) : 'ok') : status && outcome !== 'refused' && outcome !== 'blocked' ? `${outcome} ${status}` : outcome;
  return badge(label, tone[outcome] ?? 'neutral');
}

// ---- gauge ----

/** pctText writes a fraction as a percentage that fits a gauge. */
export function pctText(fraction: number): string {
  const p = Math.round(fraction * 100);
  return p > 999 ? '>999%' : `${p}%`;
}

/** meterTone says how full a budget is: ok, warn past the soft threshold, danger at the limit. */
export function meterTone(spent: number, limit: number, softPct: number, softReached?: boolean, remainingZero?: boolean): 'ok' | 'warn' | 'danger' {
  if (remainingZero || (limit > 0 && spent >= limit) || (limit === 0 && spent > 0)) return 'danger';
  if (softReached || (limit > 0 && spent >= (limit * softPct) / 100)) return 'warn';
  return 'ok';
}

/** ring is a circular gauge of a fraction, labelled for assistive technology. */
export function ring(fraction: number, tone: 'ok' | 'warn' | 'danger', label: string, center: Child): HTMLElement {
  const r = 42;
  const c = 2 * Math.PI * r;
  const f = Math.max(0, Math.min(1, fraction));
  return h(
    'div',
    {
      class: `ring ring-${tone}`,
      role: 'meter',
      'aria-label': label,
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-valuenow': String(Math.round(fraction * 100)),
    },
    svg(
      'svg',
      { viewBox: '0 0 100 100', 'aria-hidden': 'true' },
      svg('circle', { cx: 50, cy: 50, r, class: 'ring-track' }),
      svg('circle', {
        cx: 50,
        cy: 50,
        r,
        class: 'ring-fill',
        visibility: f > 0 ? 'visible' : 'hidden',
        'stroke-dasharray': `${(c * f).toFixed(2)} ${c.toFixed(2)}`,
        transform: 'rotate(-90 50 50)',
      }),
    ),
    h('div', { class: 'ring-center' }, center),
  );
}

/** bar is a horizontal gauge of a fraction. */
export function bar(fraction: number, tone: 'ok' | 'warn' | 'danger', label: string, softPct?: number): HTMLElement {
  const f = Math.max(0, Math.min(1, fraction));
  return h(
    'div',
    {
      class: `bar bar-${tone}`,
      role: 'meter',
      'aria-label': label,
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-valuenow': String(Math.round(fraction * 100)),
    },
    h('div', { class: 'bar-fill', style: { width: `${(f * 100).toFixed(2)}%` } }),
    softPct ? h('div', { class: 'bar-soft', style: { left: `${softPct}%` }, title: `Warning at ${softPct}%` }) : null,
  );
}

// ---- dialogs ----

/** confirm asks a yes/no question in a modal dialog. */
export function confirm(title: string, body: Child, yes: string, opts: { danger?: boolean } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const d = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
    const done = (v: boolean) => {
      d.close();
      d.remove();
      resolve(v);
    };
    d.append(
      h('h2', { id: titleId }, title),
      h('div', { class: 'dialog-body' }, body),
      h(
        'div',
        { class: 'dialog-actions' },
        button('Cancel', { onClick: () => done(false) }),
        button(yes, { kind: opts.danger ? 'danger' : 'primary', onClick: () => done(true) }),
      ),
    );
    d.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(d);
    d.showModal();
  });
}

/** A removal a user confirms first. */
export interface Removal {
  /** The confirm dialog's question, what it explains, and its (danger) button. */
  title: string;
  body: Child;
  yes: string;
  remove: () => Promise<unknown>;
  /** The toast once removed. */
  done: string;
  /** The title of the toast that says why it could not be. */
  failed: string;
  /** Runs after the removal's toast: a reload. */
  then?: () => unknown;
}

/** confirmRemoval asks, and on yes removes, says so and runs then; a failure is a toast. */
export async function confirmRemoval(r: Removal): Promise<void> {
  if (!(await confirm(r.title, r.body, r.yes, { danger: true }))) return;
  try {
    await r.remove();
    toast(r.done, 'ok');
    await r.then?.();
  } catch (e) {
    toast(errorMessage(e), 'danger', { title: r.failed });
  }
}

/**
 * formDialog shows a form in a modal dialog. submit runs on save; when it
 * throws, the error shows in the dialog and it stays open.
 */
export function formDialog(title: string, fields: Child, saveLabel: string, submit: (form: HTMLFormElement) => Promise<void>, intro?: Child): void {
  const titleId = uid('dlg');
  const errorEl = h('div', { class: 'form-error', role: 'alert' });
  const save = button(saveLabel, { kind: 'primary', type: 'submit' });
  const form = h(
    'form',
    { class: 'dialog-form', novalidate: true },
    h('h2', { id: titleId }, title),
    intro ? h('p', { class: 'muted' }, intro) : null,
    h('div', { class: 'form-grid' }, fields),
    errorEl,
    h('div', { class: 'dialog-actions' }, button('Cancel', { onClick: () => close() }), save),
  );
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  const close = () => {
    d.close();
    d.remove();
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errorEl.replaceChildren();
    try {
      await busy(save, () => submit(form));
      close();
    } catch (err) {
      errorEl.append(callout('danger', errorMessage(err)));
    }
  });
  d.addEventListener('cancel', (e) => {
    e.preventDefault();
    close();
  });
  document.body.append(d);
  d.showModal();
  const first = form.querySelector<HTMLElement>('input:not([type=hidden]):not([readonly]), select, textarea');
  first?.focus();
}

// ---- toasts ----

let toastHost: HTMLElement | null = null;

/** toast shows a short message that goes away by itself. */
export function toast(message: Child, kind: 'info' | 'ok' | 'warn' | 'danger' = 'info', opts: { title?: string; timeout?: number } = {}): void {
  if (!toastHost) {
    toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  const t = h(
    'div',
    { class: `toast toast-${kind}` },
    icon(kind === 'ok' ? 'check' : kind === 'info' ? 'info' : 'alert', 18),
    h('div', { class: 'toast-body' }, opts.title ? h('p', { class: 'toast-title' }, opts.title) : null, h('div', null, message)),
    button('', { kind: 'ghost', size: 'sm', icon: 'x', label: 'Dismiss', onClick: () => t.remove() }),
  );
  toastHost.append(t);
  setTimeout(() => t.remove(), opts.timeout ?? (kind === 'ok' ? 4000 : 7000));
}

// ---- copying ----

/** copyText puts text on the clipboard, falling back to a hidden textarea where the Clipboard API is refused. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the older way
  }
  const ta = h('textarea', { 'aria-hidden': 'true', readonly: true, style: { position: 'fixed', top: '-1000px', opacity: '0' } });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** copyButton copies text() when pressed and says so. */
export function copyButton(text: () => string, label: string, opts: { compact?: boolean } = {}): HTMLButtonElement {
  const b = button(opts.compact ? '' : 'Copy', { kind: 'secondary', size: 'sm', icon: 'copy', label });
  b.addEventListener('click', async () => {
    const ok = await copyText(text());
    const span = b.querySelector('span');
    if (ok) {
      b.classList.add('is-copied');
      if (span) span.textContent = 'Copied';
      setTimeout(() => {
        b.classList.remove('is-copied');
        if (span) span.textContent = 'Copy';
      }, 1600);
    } else {
      toast('Select the text and press Ctrl+C (⌘C on a Mac) to copy it.', 'warn', { title: 'Could not copy' });
    }
  });
  return b;
}

/** codeBlock shows text in a monospace block with a copy button. */
export function codeBlock(text: string, label: string): HTMLElement {
  return h('div', { class: 'code' }, h('pre', { tabindex: '0', 'aria-label': label }, h('code', null, text)), copyButton(() => text, `Copy ${label}`));
}
