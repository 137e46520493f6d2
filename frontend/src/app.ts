// What every page gets from the shell.

import type { Status } from './api';

/** App is the shell's side of a page: shared state and navigation. */
export interface App {
  /** status is the gateway's last known status. */
  readonly status: Status;
  /** navigate goes to a route such as "budgets". */
  navigate(route: string): void;
  /** reloadStatus fetches the status again (after settings change it). */
  reloadStatus(): Promise<void>;
}

/** A Page builds itself into an element. */
export interface Page {
  id: string;
  title: string;
  icon: string;
  mount(el: HTMLElement, app: App, params: URLSearchParams): PageHandle;
}

/** PageHandle is a mounted page. */
export interface PageHandle {
  /**
   * refresh fetches what the page shows again; the shell calls it when
   * Sluice reports a change (a request settled, a notice was raised).
   */
  refresh?(): Promise<void> | void;
  /** unmount releases what the page holds: timers, charts. */
  unmount?(): void;
}
