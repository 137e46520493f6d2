// Money arrives as exact decimal strings of dollars. Display rounds; the
// exact string is kept for detail views, and any arithmetic whose result
// is shown as exact (dollars per million tokens) is done on BigInt
// picodollars, never on floats.


const SCALE = 12; // picodollars
const MONEY_RE = /^\s*\$?\s*(-)?(\d*)(?:\.(\d*))?\s*$/;

/** parsePico returns the picodollars in s, or null when s is not an amount or is finer than a picodollar. */
export function parsePico(s: string | undefined | null): bigint | null {
  if (s == null) return null;
  const m = MONEY_RE.exec(s);
  if (!m) return null;
  const [, neg, whole = '', frac = ''] = m;
  if (whole === '' && frac === '') return null;
  const f = frac.replace(/0+$/, '');
  if (f.length > SCALE) return null;
  const v = BigInt(whole || '0') * 10n ** BigInt(SCALE) + BigInt((f + '0'.repeat(SCALE)).slice(0, SCALE) || '0');
  return neg ? -v : v;
}

/** picoString writes picodollars as the shortest exact decimal string of dollars. */
export function picoString(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const scale = 10n ** BigInt(SCALE);
  const whole = a / scale;
  const frac = (a % scale).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + whole.toString() + (frac ? '.' + frac : '');
}

/** isMoney reports whether s is an amount of dollars the API accepts. */
export function isMoney(s: string): boolean {
  return parsePico(s) !== null;
}

/** normalizeMoney turns "$1.50 " into "1.5" for the API; it returns null for text that is not an amount. */
export function normalizeMoney(s: string): string | null {
  const v = parsePico(s);
  return v === null ? null : picoString(v);
}

/** perMillion turns a per-token price into dollars per million tokens, exactly. */
export function perMillion(perToken: string | undefined): string {
  const v = parsePico(perToken ?? '0');
  if (v === null) return perToken ?? '';
  return picoString(v * 1_000_000n);
}

/**
 * fromPerMillion turns dollars per million tokens into a per-token price.
 * A picodollar per token is $0.000001 per million, so a rate with more
 * than six decimals cannot be kept exactly and gives null.
 */
export function fromPerMillion(s: string): string | null {
  const m = MONEY_RE.exec(s);
  if (!m) return null;
  const [, neg, whole = '', frac = ''] = m;
  if (whole === '' && frac === '') return null;
  const f = frac.replace(/0+$/, '');
  if (f.length > 6) return null;
  const pico = BigInt(whole || '0') * 1_000_000n + BigInt((f + '000000').slice(0, 6));
  return picoString(neg ? -pico : pico);
}

/** dollars is a money string as a float, for chart heights and percentages only. */
export function dollars(s: string | undefined | null): number {
  const v = Number(s ?? '0');
  return Number.isFinite(v) ? v : 0;
}

// The system's locale, or US English where the system names none that Intl
// accepts (see locale.ts; kept here so this module stands alone).
const locale: string | undefined = (() => {
  try {
    new Intl.NumberFormat().format(1);
    return undefined;
  } catch {
    return 'en-US';
  }
})();

const usd = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD' });
const usdSmall = new Intl.NumberFormat(locale, {
  style: 'currency',
  currency: 'USD',
  maximumSignificantDigits: 4,
});
const usdMid = new Intl.NumberFormat(locale, {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
});
const usdCompact = new Intl.NumberFormat(locale, {
  style: 'currency',
  currency: 'USD',
  notation: 'compact',
  maximumFractionDigits: 1,
});

/**
 * formatMoney shows an amount for reading: four significant digits under a
 * cent, up to four decimals under $100 ($0.0117, not $0.01), cents above.
 */
export function formatMoney(s: string | number | undefined | null): string {
  const v = typeof s === 'number' ? s : dollars(s);
  if (v === 0) return usd.format(0);
  if (Math.abs(v) < 0.01) return usdSmall.format(v);
  if (Math.abs(v) < 100) return usdMid.format(v);
  return usd.format(v);
}

/** formatMoneyAxis shows an amount on a chart axis, short. */
export function formatMoneyAxis(v: number): string {
  if (v === 0) return usd.format(0).replace(/\.00$/, '');
  if (Math.abs(v) >= 1000) return usdCompact.format(v);
  return formatMoney(v);
}

/** exactMoney shows the exact amount: "$0.000123". */
export function exactMoney(s: string | undefined | null): string {
  const v = parsePico(s ?? '0');
  if (v === null) return String(s);
  const t = picoString(v);
  const [w, f = ''] = t.replace('-', '').split('.');
  const frac = f.padEnd(2, '0');
  return (v < 0n ? '-' : '') + '$' + w + '.' + frac;
}
