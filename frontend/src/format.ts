// Formatting of counts, durations and times for reading.

import { locale } from './locale';

const int = new Intl.NumberFormat(locale);
const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });

/** count writes a whole number with grouping: 12,345. */
export function count(n: number | undefined | null): string {
  return int.format(n ?? 0);
}

/** countShort writes a number compactly: 12.3K. */
export function countShort(n: number | undefined | null): string {
  const v = n ?? 0;
  return v < 10000 ? int.format(v) : compact.format(v);
}

/** ms writes a duration in milliseconds: "840 ms", "2.4 s". */
export function ms(n: number | undefined | null): string {
  const v = n ?? 0;
  if (v < 1000) return `${int.format(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(v / 60_000);
  const s = Math.round((v % 60_000) / 1000);
  return `${m} min ${s} s`;
}

/** parseTime returns a Date, or null for a missing or zero time. */
export function parseTime(s: string | undefined | null): Date | null {
  if (!s || s.startsWith('0001-01-01')) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

const timeOnly = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayTime = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const full = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' });
const dateOnly = new Intl.DateTimeFormat(locale, { dateStyle: 'medium' });
const weekdayTime = new Intl.DateTimeFormat(locale, { weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** when writes a time compactly: only the clock for today, the day too otherwise. */
export function when(s: string | undefined | null): string {
  const d = parseTime(s);
  if (!d) return '—';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeOnly.format(d);
  return dayTime.format(d);
}

/** fullTime writes a time with its date, to the second. */
export function fullTime(s: string | undefined | null): string {
  const d = parseTime(s);
  return d ? full.format(d) : '—';
}

/** date writes the date of a time. */
export function date(s: string | undefined | null): string {
  const d = parseTime(s);
  return d ? dateOnly.format(d) : '—';
}

const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });

/** relative writes how far a time is from now: "in 5 hours", "3 minutes ago". */
export function relative(s: string | undefined | null, now = Date.now()): string {
  const d = parseTime(s);
  if (!d) return 'never';
  const diff = d.getTime() - now;
  const a = Math.abs(diff);
  if (a < 45_000) return diff >= 0 ? 'in a moment' : 'just now';
  if (a < 3_600_000) return rtf.format(Math.round(diff / 60_000), 'minute');
  if (a < 86_400_000) return rtf.format(Math.round(diff / 3_600_000), 'hour');
  return rtf.format(Math.round(diff / 86_400_000), 'day');
}

/** resetTime writes when a window starts again: "in 5 hours (Tue 00:00)". */
export function resetTime(s: string | undefined | null): string {
  const d = parseTime(s);
  if (!d) return 'Never resets';
  return `Resets ${relative(s)} (${weekdayTime.format(d)})`;
}

/** plural writes "1 request" or "3 requests". */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}
