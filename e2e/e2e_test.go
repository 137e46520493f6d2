package e2e

// What the pinned SDK versions put on the wire (read from their sources in
// node_modules and confirmed against the fake upstreams by TestSDKsDirect):
//
// openai 7.55.0
//   - URL: baseURL + "/chat/completions", "/responses", "/embeddings",
//     "/models"; baseURL defaults to https://api.openai.com/v1, so a
//     gateway base is http://127.0.0.1:PORT/v1.
//   - Key: "Authorization: Bearer KEY".
//   - Streams: never adds stream_options by itself; a caller that wants
//     usage on a chat stream passes stream_options.include_usage.
//   - embeddings.create without encoding_format sends
//     "encoding_format":"base64" and decodes the float32 vector itself.
//   - Retries (maxRetries 2) 408, 409, 429 and 5xx, but obeys
//     "x-should-retry: false|true" first. A 402 has no error class of its
//     own: it is an APIError with status, type, code and the body's
//     "error" object.
//
// @anthropic-ai/sdk 1.10.0
//   - URL: baseURL + "/v1/messages"; baseURL defaults to
//     https://api.anthropic.com.
//   - Key: "Authorization: Bearer KEY" for an apiKey (not x-api-key), plus
//     "anthropic-version: 2026-10-21".
//   - Retries (maxRetries 2) like openai, obeying x-should-retry first.
//   - A 402 is a PaymentRequiredError (a subclass of APIError) whose
//     .type is the body's error.type ("billing_error").
//
// @google/genai 3.1.0
//   - URL: baseUrl + "/v1/models/MODEL:generateContent" and
//     ":streamGenerateContent?alt=sse". The default API version is v1 (not
//     v1beta); httpOptions.apiVersion "v1beta" switches to
//     "/v1beta/models/...".
//   - Key: "x-goog-api-key: KEY".
//   - No retries unless httpOptions.retryOptions is set; with them it
//     retries 408, 429 and 5xx without reading x-should-retry (a loop or
//     rpm refusal is then refused again on each retry, never forwarded).
//   - Any 4xx/5xx is an ApiError with .status; its .message is the JSON
//     error body as a string ({"error":{"code":402,...}}).
//
// openai and @google/genai declare engines node >= 22 (the anthropic SDK
// declares none); all three run on Node 20, so .npmrc turns engine-strict
// off for npm ci.

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
)

// fakes are the three fake upstreams by provider name.
type fakes map[string]*fakeUpstream

func startFakes(t *testing.T) fakes {
	return fakes{
		"openai":    newFakeOpenAI(t),
		"anthropic": newFakeAnthropic(t),
		"gemini":    newFakeGemini(t),
	}
}

// counts returns how many requests each upstream has received.
func (f fakes) counts() map[string]int {
	m := map[string]int{}
	for name, u := range f {
		m[name] = u.count()
	}
	return m
}

// sdkBase is the base URL a provider's SDK takes for a server at root:
// OpenAI's includes /v1, the others' do not.
func sdkBase(provider, root string) string {
	if provider == "openai" {
		return root + "/v1"
	}
	return root
}

var providerKeys = map[string]string{"openai": openaiKey, "anthropic": anthropicKey, "gemini": geminiKey}

// checkUpstream checks that the call c made exactly one request, to c's
// upstream, with the provider key and c's method and path, and returns it.
func checkUpstream(t *testing.T, f fakes, before map[string]int, c sdkCase) (seenRequest, bool) {
	t.Helper()
	after := f.counts()
	for name, n := range after {
		want := before[name]
		if name == c.provider {
			want++
		}
		if n != want {
			t.Errorf("%s: upstream %s received %d requests, want %d", c, name, n-before[name], want-before[name])
		}
	}
	reqs := f[c.provider].requests()
	if len(reqs) <= before[c.provider] {
		return seenRequest{}, false
	}
	r := reqs[before[c.provider]]
	if r.Method != c.method || r.Path != c.path {
		t.Errorf("%s: upstream got %s %s, want %s %s", c, r.Method, r.Path, c.method, c.path)
	}
	if r.LocalToken {
		t.Errorf("%s: upstream got the local token in a header or the query; it must get only the provider key", c)
	} else if !r.Authorized {
		t.Errorf("%s: upstream did not get the provider key (headers %q)", c, slices.Sorted(maps.Keys(r.Header)))
	}
	if c.method == "POST" && c.provider != "gemini" {
		if body := r.jsonBody(); body == nil || body["model"] != c.model {
			t.Errorf("%s: upstream body model = %v, want %q", c, body["model"], c.model)
		}
	}
	if c.provider == "gemini" && c.stream && r.Query.Get("alt") != "sse" {
		t.Errorf("%s: upstream query alt = %q, want sse", c, r.Query.Get("alt"))
	}
	return r, true
}

// includeUsage returns stream_options.include_usage of an OpenAI request
// body, and whether stream_options was there at all.
func includeUsage(r seenRequest) (value, present bool) {
	opts, ok := r.jsonBody()["stream_options"].(map[string]any)
	if !ok {
		return false, false
	}
	v, _ := opts["include_usage"].(bool)
	return v, true
}

// TestSDKsDirect runs every call straight against the fake upstreams with
// the provider keys. It shows that the fakes answer the official SDKs as
// the providers do, and pins down what each SDK sends on its own.
func TestSDKsDirect(t *testing.T) {
	requireNode(t)
	f := startFakes(t)
	for _, c := range sdkCases {
		t.Run(c.String(), func(t *testing.T) {
			before := f.counts()
			o := runSDK(t, c.script, c.name, sdkBase(c.provider, f[c.provider].srv.URL), providerKeys[c.provider])
			if !o.OK {
				t.Fatalf("%s failed: %+v", c, o.Error)
			}
			c.check(t, o.Result)
			r, ok := checkUpstream(t, f, before, c)
			if !ok {
				return
			}
			// Where each SDK puts its key, as the notes at the top say.
			key, h := providerKeys[c.provider], c.keyHeader()
			if got := r.Header.Get(h); got != key && got != "Bearer "+key {
				t.Errorf("%s: the SDK did not send its key in %s (headers %q)", c, h, slices.Sorted(maps.Keys(r.Header)))
			}
			if c.provider == "anthropic" && r.Header.Get("Anthropic-Version") != "2026-10-21" {
				t.Errorf("%s: anthropic-version %q, want 2026-10-21", c, r.Header.Get("Anthropic-Version"))
			}
			if c.provider == "openai" && c.stream && c.path == "/v1/chat/completions" {
				v, present := includeUsage(r)
				if wantPresent := c.name == "chat-stream-usage"; present != wantPresent || present && !v {
					t.Errorf("%s: openai SDK sent stream_options.include_usage = %v (present %v), want present %v", c, v, present, wantPresent)
				}
			}
		})
	}
}

// sluiceSetup starts the fakes and `sluice serve` in front of them, gives
// it the fake provider keys and returns it with a new local token.
func sluiceSetup(t *testing.T) (fakes, *sluice, string) {
	t.Helper()
	requireNode(t)
	f := startFakes(t)
	mode := currentKeyMode()
	s := startSluice(t, sluiceEnv(t, mode), map[string]string{
		"openai":    f["openai"].srv.URL + "/v1",
		"anthropic": f["anthropic"].srv.URL,
		"gemini":    f["gemini"].srv.URL,
	})
	setKeys(t, s, mode)
	out := s.mustCLI("", "token", "new", "e2e")
	token, _, _ := strings.Cut(out, "\n")
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, localTokenPrefix) {
		t.Fatalf("sluice token new e2e printed %q first, want a %s... token", token, localTokenPrefix)
	}
	return f, s, token
}

// setKeys stores the fake provider keys in the keyring, as the key mode
// asks.
func setKeys(t *testing.T, s *sluice, mode keyMode) {
	t.Helper()
	if mode != keysInEnv {
		for _, p := range []string{"openai", "anthropic", "gemini"} {
			if _, err := s.runCLI(providerKeys[p]+"\n", "key", "set", p); err != nil {
				if mode == keysInKeyring {
					t.Fatalf("store the %s key with SLUICE_REQUIRE_KEYRING=1: %v", p, err)
				}
				t.Logf("sluice key set failed, so the keys come from the environment: %v", err)
				break
			}
		}
	}
}

// TestSDKsThroughSluice runs every call through `sluice serve` with a local
// token: the SDK must get what it gets directly, the upstream must get the
// provider key, and the ledger must hold each call's tokens and its cost to
// the picodollar.
func TestSDKsThroughSluice(t *testing.T) {
	f, s, token := sluiceSetup(t)
	seen := map[string]bool{}
	prices := gateway.DefaultPrices()
	var metered int
	for _, c := range sdkCases {
		t.Run(c.String(), func(t *testing.T) {
			before := f.counts()
			o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token)
			if !o.OK {
				t.Fatalf("%s through sluice failed: %+v", c, o.Error)
			}
			c.check(t, o.Result)
			if r, ok := checkUpstream(t, f, before, c); ok && c.provider == "openai" && c.stream && c.path == "/v1/chat/completions" {
				if v, _ := includeUsage(r); !v {
					t.Errorf("%s: upstream body %s has no stream_options.include_usage = true; sluice must ask for usage", c, r.Body)
				}
			}
			want := 0
			if c.metered {
				want = 1
				metered++
			}
			rows := s.newRows(seen, want)
			switch {
			case !c.metered && len(rows) <= 1:
				for _, r := range rows {
					if r.Status != 200 || r.CostUSD != "0" {
						t.Errorf("%s: log row status %d cost_usd %q, want 200 and 0", c, r.Status, r.CostUSD)
					}
				}
			case len(rows) != 1:
				t.Fatalf("%s: %d new log rows, want 1: %+v", c, len(rows), rows)
			default:
				checkRow(t, prices, c, rows[0])
			}
		})
	}

	all := s.logRows()
	out := s.mustCLI("", "log", "--json", "-n", "100000")
	if strings.Contains(out, token) {
		t.Errorf("sluice log --json printed the local token's secret")
	}
	s.stop()
	// With the gateway gone, the CLI reads the data directly; every row
	// must have survived the shutdown.
	if after := s.logRows(); len(after) != len(all) || len(all) < metered {
		t.Errorf("sluice log --json after shutdown has %d rows, want the %d it had running (at least %d metered calls)", len(after), len(all), metered)
	}
}

// checkRow checks a ledger row against the call that made it.
func checkRow(t *testing.T, prices *gateway.Prices, c sdkCase, r logRow) {
	t.Helper()
	if r.Token != "e2e" || r.Provider != c.provider || r.Stream != c.stream || r.Status != 200 || r.Outcome != gateway.OutcomeOK {
		t.Errorf("%s: log row token %q provider %q stream %v status %d outcome %q, want e2e %s %v 200 ok",
			c, r.Token, r.Provider, r.Stream, r.Status, r.Outcome, c.provider, c.stream)
	}
	if !strings.HasPrefix(r.Model, c.model) {
		t.Errorf("%s: log row model %q, want %s or a snapshot of it", c, r.Model, c.model)
	}
	if r.ID == "" || r.Route == "" || r.Time.IsZero() || r.LatencyMS == nil {
		t.Errorf("%s: log row id %q route %q time %v latency_ms %v, want all set", c, r.ID, r.Route, r.Time, r.LatencyMS)
	}
	got := gateway.Usage{
		InputTokens:       r.InputTokens,
		OutputTokens:      r.OutputTokens,
		CachedInputTokens: r.CachedInputTokens,
		CacheWriteTokens:  r.CacheWriteTokens,
		ReasoningTokens:   r.ReasoningTokens,
	}
	want := c.usage
	if r.CacheWrite1hTokens != nil {
		got.CacheWrite1hTokens = *r.CacheWrite1hTokens
	} else {
		// The field is optional in the log; the cost below still shows
		// whether the one-hour writes were priced as such.
		want.CacheWrite1hTokens = 0
	}
	if got != want {
		t.Errorf("%s: log row tokens = %+v, want %+v", c, got, want)
	}
	if r.Priced != nil && !*r.Priced {
		t.Errorf("%s: log row priced = false, want true", c)
	}
	cost, err := gateway.ParseMoney(r.CostUSD)
	if err != nil {
		t.Errorf("%s: log row cost_usd %q: %v", c, r.CostUSD, err)
		return
	}
	price, ok := prices.Lookup(r.Provider, r.Model)
	if !ok {
		t.Errorf("%s: the embedded price table has no row for %s %s", c, r.Provider, r.Model)
	} else if wantCost := price.Cost(c.usage); cost != wantCost {
		lines, _ := json.Marshal(price.Explain(c.usage))
		t.Errorf("%s: log row cost_usd = %s, want %s (%s: %s)", c, r.CostUSD, wantCost, price.Ref(), lines)
	}
	if c.hand != "" {
		if hand, err := gateway.ParseMoney(c.hand); err != nil || cost != hand {
			t.Errorf("%s: log row cost_usd = %s, want %s by hand from the list price", c, r.CostUSD, c.hand)
		}
	}
}

// TestBudgetRefusal sets a budget no call fits in: each SDK must get a 402
// it exposes as its own error type, not retry it, and the upstream must
// never see the call.
func TestBudgetRefusal(t *testing.T) {
	f, s, token := sluiceSetup(t)
	const budget = "e2e-day"
	s.mustCLI("", "budget", "set", "--limit", "0.000001", "--period", "day", "--name", budget)
	seen := map[string]bool{}
	for _, r := range s.logRows() {
		seen[r.ID] = true
	}
	refused := []string{"openai/chat", "openai/chat-stream", "openai/responses-stream", "anthropic/messages", "anthropic/messages-stream", "gemini/generate", "gemini/generate-stream"}
	for _, c := range sdkCases {
		if !slices.Contains(refused, c.String()) {
			continue
		}
		t.Run(c.String(), func(t *testing.T) {
			before := f.counts()
			o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token)
			if o.OK || o.Error == nil {
				t.Fatalf("%s under a $0.000001 budget succeeded, want a 402 error", c)
			}
			e := o.Error
			if !e.SDK || e.Status != 402 {
				t.Fatalf("%s: error %+v, want the SDK's own error with status 402", c, e)
			}
			if !strings.Contains(e.Message, budget) {
				t.Errorf("%s: error message %q does not name the budget %q", c, e.Message, budget)
			}
			switch c.provider {
			case "openai":
				if e.Class != "APIError" || e.Type != "budget_exceeded" || e.Code != "budget_exceeded" {
					t.Errorf("%s: error class %s type %q code %q, want APIError budget_exceeded budget_exceeded", c, e.Class, e.Type, e.Code)
				}
			case "anthropic":
				if !e.PaymentRequired || e.Type != "billing_error" {
					t.Errorf("%s: error class %s type %q, want PaymentRequiredError billing_error", c, e.Class, e.Type)
				}
			case "gemini":
				var body struct {
					Error struct {
						Code    int
						Message string
						Status  string
					}
				}
				if json.Unmarshal(e.Body, &body) != nil || body.Error.Code != 402 || body.Error.Message == "" {
					t.Errorf("%s: ApiError body %s, want {\"error\":{\"code\":402,\"message\":...}}", c, e.Body)
				}
			}
			if c.provider != "gemini" && e.Headers["x-should-retry"] != "false" {
				t.Errorf("%s: x-should-retry = %q, want false", c, e.Headers["x-should-retry"])
			}
			if after := f.counts(); !maps.Equal(after, before) {
				t.Errorf("%s: upstreams received %v requests, had %v: a refused call must never reach them", c, after, before)
			}
			// One row: a retried 402 would leave one per attempt.
			rows := s.newRows(seen, 1)
			if len(rows) != 1 {
				t.Fatalf("%s: %d new log rows, want exactly 1 refusal: %+v", c, len(rows), rows)
			}
			r := rows[0]
			if r.Status != 402 || r.Outcome != gateway.OutcomeRefused || r.Token != "e2e" || r.Provider != c.provider || r.Budget != budget {
				t.Errorf("%s: log row status %d outcome %q token %q provider %q budget %q, want 402 refused e2e %s %s",
					c, r.Status, r.Outcome, r.Token, r.Provider, r.Budget, c.provider, budget)
			}
			if cost, err := gateway.ParseMoney(r.CostUSD); err != nil || cost != 0 {
				t.Errorf("%s: refused row cost_usd = %q, want 0", c, r.CostUSD)
			}
		})
	}

	// With the budget gone the same call goes through.
	s.mustCLI("", "budget", "rm", budget)
	before := f.counts()
	c := sdkCases[0]
	if o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token); !o.OK {
		t.Errorf("%s after budget rm: %+v, want success", c, o.Error)
	} else {
		checkUpstream(t, f, before, c)
	}
	s.stop()
}
