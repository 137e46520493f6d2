// The typed client of Sluice's JSON API: POST api/{method} with the
// argument as the body, answered by {"result": ...} or {"error": {...}}.
// Money is always an exact decimal string of dollars; times are RFC 3339.

export type Money = string;

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens?: number;
  reasoning_tokens: number;
  /** parts of the counts above by modality (what none claims is text) */
  input_audio_tokens?: number;
  input_image_tokens?: number;
  input_video_tokens?: number;
  cached_audio_tokens?: number;
  output_audio_tokens?: number;
  output_image_tokens?: number;
  output_video_tokens?: number;
  /** server-side tool calls billed per call */
  web_search_calls?: number;
  web_fetch_calls?: number;
  code_execution_calls?: number;
  service_tier?: string;
  inference_geo?: string;
  /** Anthropic's output speed: standard, or fast at a premium */
  speed?: string;
}

export interface KeyringState {
  backend: string;
  problem?: string;
}

/** What the gateway's binary knows of its own build. */
export interface Build {
  version: string;
  commit?: string;
  modified?: boolean;
  date?: string;
  committed?: string;
  desktop: boolean;
  go: string;
  platform: string;
}

export interface Status {
  addr: string;
  data_dir: string;
  version: string;
  build?: Build;
  /** the line `sluice version` prints */
  about?: string;
  desktop: boolean;
  keyring: KeyringState;
  started: string;
  close_action: string;
  running?: boolean;
  /** base URLs in force by provider, and where each comes from */
  upstreams?: Record<string, Upstream>;
  /** the pauses in force */
  pauses?: Pause[] | null;
}

/** Upstream is where a provider's requests go, and whether its key goes with them. */
export interface Upstream {
  base_url: string;
  from: 'default' | 'settings' | 'command line';
  /** a local server that takes no key */
  keyless?: boolean;
  /** the provider's official https address */
  official?: boolean;
  /** no key is sent there: nobody confirmed it from the command line */
  withheld?: boolean;
}

/** Pause is a pause of every request (no token) or of one token's. */
export interface Pause {
  token?: string;
  since: string;
  /** when it ends by itself; absent: until resumed */
  until?: string;
  cut?: boolean;
}

export interface SpendRow extends Usage {
  key: string;
  sub?: string;
  requests: number;
  refused: number;
  cost_usd: Money;
  unpriced: number;
}

export interface Budget {
  id?: string;
  name: string;
  limit_usd: Money;
  period: Period;
  provider?: string;
  model?: string;
  token?: string;
  prompt?: string;
  soft_pct: number;
  raise_usd?: Money;
  raise_until?: string;
  created?: string;
}

/** A calendar period, or a rolling window written as a length: "10m", "1h", "7d". */
export type Period = 'day' | 'week' | 'month' | 'total' | string;

export interface BudgetStatus extends Budget {
  limit_now_usd: Money;
  spent_usd: Money;
  held_usd: Money;
  remaining_usd: Money;
  start?: string;
  resets?: string;
  /** the soft threshold in force, in percent: soft_pct, or the default when that is 0 */
  soft_now_pct: number;
  soft_reached: boolean;
  /** a rolling budget's spend per minute over the last 5 minutes */
  rate_usd_per_min?: Money;
  rolling?: boolean;
  /** when a rolling budget's oldest spend ages out */
  ages_out?: string;
}

export interface Summary {
  time: string;
  today: SpendRow;
  month: SpendRow;
  rpm: number[];
  budgets: BudgetStatus[];
  records?: number;
}

/** how a request ended: gateway.Outcome's constants (record.go) */
export type Outcome = 'ok' | 'error' | 'billing' | 'refused' | 'cut' | 'canceled' | 'crashed' | 'blocked' | 'expired';

export interface RecordRow extends Usage {
  id: string;
  time: string;
  token: string;
  provider: string;
  model: string;
  route: string;
  stream: boolean;
  status: number;
  outcome: Outcome | string;
  /** false when Sluice never sent the request upstream (refused or blocked): it costs nothing, priced or not */
  forwarded: boolean;
  cost_usd: Money;
  priced: boolean;
  estimated?: boolean;
  latency_ms: number;
  ttfb_ms: number;
  upstream_request_id?: string;
  /** the saved prompt the request was made for (POST /p/NAME) */
  prompt?: string;
  /** the alias the request named; provider and model are the target that served this attempt */
  alias?: string;
  /** why that target: target, fallback or over-soft */
  routed?: string;
  route_note?: string;
  /** this attempt's place among the alias's attempts, from 1; after is the failed attempt it followed */
  attempt?: number;
  after?: string;
  held_usd: Money;
  error?: string;
  /** why Sluice refused it (budget, unpriced, loop, rpm, pause) or blocked it (auth, guard, route, request) */
  reason?: string;
  budget?: string;
  remaining_usd?: Money;
  price?: string;
  /** what the price row could not price: the record is partially priced */
  unpriced?: string[];
  /** the route the caller spoke, when Sluice translated its request into the provider's format */
  caller_route?: string;
  /** the model the caller named, when Sluice translated its request */
  asked_model?: string;
}

export interface CostLine {
  kind: string;
  /** text, audio, image or video, for token lines */
  modality?: string;
  tokens: number;
  /** server-side tool calls, for fee lines */
  calls?: number;
  per_million?: string;
  per_call?: string;
  amount: Money;
  note?: string;
  /** the table has no rate for this line; the unpriced-model policy covers it */
  unpriced?: boolean;
}

export interface Tier {
  above_input_tokens: number;
  input?: Money;
  output?: Money;
  cached_input?: Money;
  cache_write?: Money;
  cache_write_1h?: Money;
}

export interface Price {
  provider: string;
  model: string;
  match?: string[];
  input: Money;
  output: Money;
  cached_input?: Money;
  cache_write?: Money;
  cache_write_1h?: Money;
  input_audio?: Money;
  cached_input_audio?: Money;
  input_image?: Money;
  input_video?: Money;
  output_audio?: Money;
  output_image?: Money;
  output_video?: Money;
  reasoning?: Money;
  tiers?: Tier[];
  /** fee per server-side web search (or per request that searched) */
  web_search?: Money;
  web_search_per_request?: boolean;
  service_tiers?: ({ name: string } & Partial<Record<'input' | 'output' | 'cached_input' | 'cache_write', Money>>)[];
  regions?: { name: string; multiplier: string }[];
  earlier?: ({ until: string } & Partial<Record<'input' | 'output' | 'cached_input' | 'cache_write', Money>>)[];
  windows?: ({ from: string; to: string; name?: string } & Partial<Record<'input' | 'output' | 'cached_input', Money>>)[];
  context_window?: number;
  max_output?: number;
  source: string;
  updated: string;
}

export interface Prompt {
  name: string;
  version?: number;
  model: string;
  template: string;
  system?: string;
  /** a JSON Schema the output must fit */
  schema?: unknown;
  max_tokens?: number;
  temperature?: number | null;
  deleted?: boolean;
  created?: string;
  note?: string;
}

export interface PromptPreview {
  inputs: string[];
  missing: string[];
  system?: string;
  user: string;
  provider?: string;
  request?: unknown;
  problem?: string;
}

export interface PromptResult {
  output: unknown;
  model: string;
  usage: Usage;
  cost_usd: Money;
  id: string;
  prompt: string;
  version: number;
}

export interface RecordDetail {
  record: RecordRow;
  price: Price | null;
  lines: CostLine[] | null;
  explanation?: string;
}

export interface PriceUpdate {
  source: string;
  format?: string;
  rows: number;
  skipped?: number;
  added: string[] | null;
  changed: { model: string; was: string; now: string }[] | null;
  removed: string[] | null;
  date: string;
}

export interface ConnectRecipe {
  tool: string;
  title: string;
  group: 'agent' | 'sdk' | 'editor';
  notes?: string[];
  verified: string;
  file?: { path: string; format: string; block: string; writable: boolean; env_fallback?: boolean };
  /** the alias the tool runs on, when one was asked for */
  model?: { alias: string; target: string; context_window?: number; max_output?: number };
}

export interface ConnectResult {
  recipe: ConnectRecipe;
  token_name?: string;
  text: string;
}

export interface KeyInfo {
  provider: string;
  masked: string;
  source?: string;
  env_var?: string;
}

export interface KeyList {
  backend: string;
  problem?: string;
  keys: KeyInfo[] | null;
}

export interface KeyCheck {
  provider: string;
  valid: boolean;
  status?: number;
  message: string;
}

export interface TokenInfo {
  name: string;
  created: string;
  last_used?: string;
}

/** A model name that stands for other models (`sluice alias`). */
export interface Alias {
  name: string;
  /** provider/model, a model the price table knows, or another alias */
  target: string;
  /** tried in order when the ones before fail before their first byte */
  fallbacks?: string[] | null;
  /** serves instead of target once a budget that applies is past its soft threshold */
  over_soft?: string;
  updated?: string;
  /** what keeps the alias from working as written (a target's provider has no key) */
  warnings?: string[] | null;
}

export interface PriceList {
  version: string;
  /** the data the built-in table derives from, with commit and date */
  sources?: string[];
  overrides: number;
  prices: Price[] | null;
  /** the date of the table in force: the embedded table's, or the day a fetched one was taken */
  date: string;
  /** the fetched table in force, if any (`sluice prices update`) */
  table?: { source: string; format: string; fetched: string; rows: number };
  can_rollback: boolean;
}

export interface Settings {
  upstreams?: Record<string, string>;
  unpriced_policy: string;
  unpriced_hold_usd: Money;
  time_zone?: string;
  allowed_origins?: string[] | null;
  log_bodies: boolean;
  /** send OpenAI-format requests for Anthropic and Gemini models to their OpenAI-compatible endpoints instead of translating them */
  compat_endpoints?: boolean;
  retention_days: number;
  close_action?: string;
  loop_off?: boolean;
  loop_limit?: number;
  loop_window_s?: number;
  /** seconds an alias's target with a fallback left has to send its first byte; 0: default (60), -1: off */
  fallback_after_s?: number;
  token_rpm?: Record<string, number>;
  /** whether the OS starts Sluice at login (window hidden, gateway running) */
  start_at_login?: boolean;
  port?: number;
  session_hours?: number;
  allow_key_to?: string[] | null;
  /** what each value left at 0 stands for, and bounds; answered by the API, never sent back */
  defaults?: SettingsDefaults;
}

/** The gateway's defaults for settings left unset, and their bounds. */
export interface SettingsDefaults {
  unpriced_hold_usd: Money;
  loop_limit: number;
  loop_limit_max: number;
  loop_window_s: number;
  loop_window_max_s: number;
  fallback_after_s: number;
  session_hours: number;
  /** a budget's soft threshold, in percent */
  soft_pct: number;
}

export interface Notice {
  seq: number;
  time: string;
  kind: 'soft' | 'limit' | 'billing' | string;
  title: string;
  message: string;
  /** the route of the requests involved, e.g. "requests?reason=loop&token=ci" */
  link?: string;
}

export interface LogQuery {
  limit?: number;
  before?: string;
  provider?: string;
  model?: string;
  token?: string;
  prompt?: string;
  outcome?: string;
  status?: number;
  estimated?: boolean;
  since?: string;
  reason?: string;
  budget?: string;
}

export interface SpendQuery {
  since?: string;
  until?: string;
  by: 'day' | 'provider' | 'model' | 'token' | '';
  then?: 'provider' | 'model' | 'token';
}

/**
 * ApiError is an answer other than 2xx, or no answer at all (code "offline").
 * existing names the alias an "alias_case" refusal clashes with.
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly existing?: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorizedListeners: Listener[] = [];

/** onUnauthorized registers fn to run when any call answers 401. */
export function onUnauthorized(fn: Listener): void {
  unauthorizedListeners.push(fn);
}

// The per-tab secret: the sign-in redirect hands it to this page in the
// URL's fragment (which no server sees); it stays in this tab's
// sessionStorage and goes with every API call. The session cookie alone,
// which the browser also sends to every other server on this host, opens
// nothing.
const TAB_KEY = 'sluice.tab';
const TAB_FRAGMENT = '#sluice-tab=';
const TAB_HEADER = 'X-Sluice-Tab';

/** takeTabSecret moves a secret from the address bar into this tab's storage; call it before routing. */
export function takeTabSecret(): void {
  if (!location.hash.startsWith(TAB_FRAGMENT)) return;
  const secret = location.hash.slice(TAB_FRAGMENT.length);
  if (secret) sessionStorage.setItem(TAB_KEY, secret);
  history.replaceState(null, '', location.pathname + location.search + '#/overview');
}

/** signedInHere reports whether this tab holds a browser session's secret (the desktop window needs none). */
export function signedInHere(): boolean {
  return sessionStorage.getItem(TAB_KEY) !== null;
}

function authHeaders(): Record<string, string> {
  const secret = sessionStorage.getItem(TAB_KEY);
  return secret ? { [TAB_HEADER]: secret } : {};
}

/** call invokes one API method. */
export async function call<T>(method: string, arg?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`api/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify(arg ?? null),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError('offline', 'Sluice is not answering. Is it still running?', 0);
  }
  let body: { result?: T; error?: { code: string; message: string; existing?: string } } | null = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 401) {
    for (const fn of unauthorizedListeners) fn();
  }
  if (!res.ok || !body || body.error) {
    const err = body?.error;
    throw new ApiError(err?.code ?? 'http_' + res.status, err?.message ?? `Sluice answered ${res.status} ${res.statusText}`, res.status, err?.existing);
  }
  return body.result as T;
}

/** The API's methods, typed. */
export const api = {
  prompts: () => call<Prompt[] | null>('prompts'),
  prompt: (name: string, version = 0) => call<Prompt>('prompt', { name, version }),
  promptVersions: (name: string) => call<Prompt[] | null>('prompt.versions', { name }),
  putPrompt: (p: Prompt) => call<Prompt>('prompt.put', p),
  deletePrompt: (name: string) => call<null>('prompt.delete', { name }),
  rollbackPrompt: (name: string, version = 0) => call<Prompt>('prompt.rollback', { name, version }),
  previewPrompt: (prompt: Prompt, inputs: Record<string, string>) => call<PromptPreview>('prompt.preview', { prompt, inputs }),
  runPrompt: (name: string, inputs: Record<string, string>) => call<PromptResult>('prompt.run', { name, inputs, from: 'dashboard' }),
  promptSpend: () => call<SpendRow[] | null>('prompt.spend'),
  status: () => call<Status>('status'),
  changes: () => call<{ seq: number }>('changes'),
  notices: (since = 0) => call<Notice[] | null>('notices', { since }),
  summary: () => call<Summary>('summary'),
  spend: (q: SpendQuery) => call<SpendRow[] | null>('spend', q),
  records: (q: LogQuery) => call<RecordRow[] | null>('records', q),
  record: (id: string) => call<RecordDetail>('record', { id }),
  keys: () => call<KeyList>('keys'),
  setKey: (provider: string, key: string) => call<null>('key.set', { provider, key }),
  deleteKey: (provider: string) => call<null>('key.delete', { provider }),
  testKey: (provider: string) => call<KeyCheck>('key.test', { provider }),
  tokens: () => call<TokenInfo[] | null>('tokens'),
  newToken: (name: string) => call<string>('token.new', { name }),
  /** What a tool needs to reach Sluice, rendered by the same Go code as `sluice connect TOOL`; with makeToken, with a new token named after the tool. */
  /** Takes the current price table (genai-prices' data.json unless source names another URL) over the embedded one. */
  updatePrices: (source?: string) => call<PriceUpdate>('prices.update', source ? { source } : {}),
  rollbackPrices: () => call<PriceUpdate>('prices.rollback'),
  /** With model (a target such as openai/gpt-5-mini), the tool runs on it through the alias named after the tool, which this sets. */
  connect: (tool: string, makeToken: boolean, model = '') => call<ConnectResult>('connect', { tool, make_token: makeToken, model }),
  deleteToken: (name: string) => call<null>('token.delete', { name }),
  prices: () => call<PriceList>('prices'),
  importPrices: (data: string) => call<{ format: string; rows: number }>('prices.import', { data }),
  putPrice: (price: Price) => call<null>('price.put', { price }),
  budgets: () => call<BudgetStatus[] | null>('budgets'),
  putBudget: (b: Budget) => call<Budget>('budget.put', b),
  deleteBudget: (name: string) => call<null>('budget.delete', { name }),
  raiseBudget: (name: string, by_usd: Money, forDuration: string) =>
    call<Budget>('budget.raise', { name, by_usd, for: forDuration }),
  pause: (token: string, forDuration: string, cut: boolean) => call<Pause>('pause', { token, for: forDuration, cut }),
  resume: (token = '') => call<Pause[] | null>('resume', { token }),
  allowLoop: (token: string, forDuration = '1h') => call<string>('loop.allow', { token, for: forDuration }),
  aliases: () => call<Alias[] | null>('aliases'),
  putAlias: (a: Alias) => call<Alias>('alias.put', a),
  deleteAlias: (name: string) => call<null>('alias.delete', { name }),
  settings: () => call<Settings>('settings'),
  putSettings: (s: Settings) => call<Settings>('settings.put', s),
};

/** signOut ends this tab's session. */
export async function signOut(): Promise<void> {
  try {
    await fetch('logout', { method: 'POST', headers: authHeaders(), credentials: 'same-origin', cache: 'no-store' });
  } finally {
    sessionStorage.removeItem(TAB_KEY);
  }
}

/** download fetches url with this tab's secret and saves the answer as a file named name. */
export async function download(url: string, name: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError('offline', 'Sluice is not answering. Is it still running?', 0);
  }
  if (res.status === 401) {
    for (const fn of unauthorizedListeners) fn();
  }
  if (!res.ok) {
    let msg = `Sluice answered ${res.status} ${res.statusText}`;
    try {
      msg = (await res.json())?.error?.message ?? msg;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError('http_' + res.status, msg, res.status);
  }
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/** exportURL is the download address of the log with the given filters. */
export function exportURL(format: 'csv' | 'jsonl', q: LogQuery): string {
  const p = new URLSearchParams({ format });
  for (const k of ['provider', 'model', 'token', 'outcome', 'reason', 'budget'] as const) {
    const v = q[k];
    if (v) p.set(k, v);
  }
  if (q.status) p.set('status', String(q.status));
  if (q.estimated) p.set('estimated', '1');
  return `api/export?${p}`;
}
