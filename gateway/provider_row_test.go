package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestProviderRow adds a provider that speaks an existing format as one
// row of the provider table, and nothing else: its models are routed to
// it (by their prefix, and by a price row no other provider has), its
// keys go to it and to no one else, a key without its shape does not go
// to it, and its requests are metered at its prices. That a provider is a
// row is the design; this test keeps it true.
func TestProviderRow(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	other := &upstreamSeen{}
	openai := fakeOpenAI(t, other)

	ps := DefaultProviders()
	ps["acme"] = Provider{Name: "acme", Dialect: dialectOpenAI, BaseURL: up.URL + "/v1", BillingPage: "acme.test → Billing",
		Prefixes: []string{"acme-"}, KeyPrefixes: []string{"acme_"}, KeyPattern: regexp.MustCompile(`^[0-9a-f]{8}\.acme$`),
		MaxCompletionTokens: true, PriceLists: PriceLists{GenAI: "acme-corp", LiteLLM: []string{"acme_ai"}}}
	o := ps["openai"]
	o.BaseURL = openai.URL + "/v1"
	ps["openai"] = o

	large := Price{Provider: "acme", Model: "acme-large", Input: perMillion(2), CachedInput: perMillion(1), Output: perMillion(8), MaxOutput: 8000}
	widget := Price{Provider: "acme", Model: "widget-1", Input: perMillion(3), Output: perMillion(9), MaxOutput: 8000}
	l := &memLedger{}
	var logs logLines
	p := &Proxy{Ledger: l, Keys: mapKeys{"acme": "acme_stored", "openai": "sk-real-openai"}, Tokens: mapTokens{testToken: "laptop"}, Logf: logs.logf}
	p.SetProviders(ps)
	p.SetPrices(DefaultPrices().With([]Price{large, widget}))
	srv := ServeForTest(t, p)

	chatAt := func(path, key, model string) (*http.Response, string) {
		t.Helper()
		return post(t, srv.URL+path, map[string]string{"Authorization": "Bearer " + key},
			`{"model":"`+model+`","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)
	}
	chat := func(key, model string) (*http.Response, string) {
		t.Helper()
		return chatAt("/v1/chat/completions", key, model)
	}
	// chatBody's usage: 1,200 in (1,000 of them cached), 300 out.
	used := Usage{InputTokens: 1200, CachedInputTokens: 1000, OutputTokens: 300}.normalize()

	for _, tc := range []struct {
		key, model, sent string
		price            Price
		token            string
	}{
		{testToken, "acme-large", "acme_stored", large, "laptop"},                     // routed by prefix, stored key
		{testToken, "widget-1", "acme_stored", widget, "laptop"},                      // routed by its price row
		{"acme_callers-own", "acme-large", "acme_callers-own", large, ClientKeyToken}, // the caller's own key, by prefix
		{"0123abcd.acme", "acme-large", "0123abcd.acme", large, ClientKeyToken},       // by pattern
	} {
		before := seen.count()
		resp, body := chat(tc.key, tc.model)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with key %s = %d %s, want 200", tc.model, tc.key, resp.StatusCode, body)
		}
		if seen.count() != before+1 {
			t.Fatalf("%s did not reach acme's upstream", tc.model)
		}
		r, _ := seen.last(t)
		if got := r.Header.Get("Authorization"); got != "Bearer "+tc.sent || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("%s reached acme as %s with %q, want /v1/chat/completions with the key %s", tc.model, r.URL.Path, got, tc.sent)
		}
		recs, _ := l.all()
		rec := recs[len(recs)-1]
		if rec.Provider != "acme" || rec.Model != tc.model || rec.Outcome != OutcomeOK || rec.Token != tc.token ||
			rec.InputTokens != 1200 || rec.OutputTokens != 300 || !rec.Priced || rec.Cost != tc.price.Cost(used) {
			t.Errorf("record %+v: want acme %s, 1,200 in, 300 out, cost %s", rec, tc.model, tc.price.Cost(used))
		}
	}
	if other.count() != 0 {
		t.Errorf("OpenAI's upstream saw %d requests for acme's models", other.count())
	}

	// A Messages request for an acme model is translated for acme's Chat
	// Completions, its output limit in the member acme's row names.
	resp, body := post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"},
		`{"model":"acme-large","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("messages for acme-large = %d %s, want 200", resp.StatusCode, body)
	}
	if r, b := seen.last(t); r.URL.Path != "/v1/chat/completions" || !strings.Contains(string(b), `"max_completion_tokens":100`) || strings.Contains(string(b), `"max_tokens"`) {
		t.Errorf("acme got %s %s, want a chat completion with max_completion_tokens", r.URL.Path, b)
	}

	// An acme key goes to acme only, and only a key of acme's shape goes
	// to acme: both refused before anything is sent.
	before := seen.count()
	for _, tc := range []struct{ path, key, model, says string }{
		{"/v1/chat/completions", "acme_callers-own", "gpt-4o-mini", "acme key"},
		{"/v1/chat/completions", "sk-proj-abcdefghijklmnopqrstuvwx", "acme-large", "openai key"},
		{"/acme/v1/chat/completions", "plain-key-of-no-shape", "acme-large", "none of the prefixes acme keys have"},
	} {
		resp, body := chatAt(tc.path, tc.key, tc.model)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, tc.says) {
			t.Errorf("key %s for %s = %d %s, want 401 saying %q", tc.key, tc.model, resp.StatusCode, body, tc.says)
		}
	}
	if seen.count() != before || other.count() != 0 {
		t.Error("a refused key reached an upstream")
	}

	// An acme error that echoes the key it was sent: the key, of a shape
	// the redactor knows only from acme's row, is in neither the record
	// nor the log.
	for _, key := range []string{"acme_callers-own-0123456789abcdef", "0123abcd.acme"} {
		if Redact(key) != key {
			t.Fatalf("Redact(%s) redacts it without acme's row: the check below proves nothing", key)
		}
		resp, body := chatAt("/acme/v1/chat/completions", key, "echo-key")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("echo-key with %s = %d %s, want acme's 401", key, resp.StatusCode, body)
		}
		recs, _ := l.all()
		if r := recs[len(recs)-1]; r.Outcome != OutcomeError || !strings.Contains(r.Error, "provided: [redacted]. You can") || strings.Contains(r.Error, key) {
			t.Errorf("echo-key record with %s: error %q, want acme's words with the key redacted", key, r.Error)
		}
		if strings.Contains(logs.String(), key) {
			t.Errorf("the log shows the acme key %s:\n%s", key, logs.String())
		}
	}

	// acme's prices are imported from both price lists, under the ids
	// its row gives; only the built-in table knows none of them.
	for _, list := range []string{
		`[{"id":"acme-corp","models":[{"id":"acme-large","match":{"equals":"acme-large"},"context_window":64000,"prices":{"input_mtok":2,"cache_read_mtok":1,"output_mtok":8}}]}]`,
		`{"acme_ai/acme-large":{"litellm_provider":"acme_ai","mode":"chat","input_cost_per_token":2e-06,"cache_read_input_token_cost":1e-06,"output_cost_per_token":8e-06,"max_input_tokens":64000,"max_output_tokens":8000}}`,
	} {
		imp, err := importPrices([]byte(list), ps)
		if err != nil || len(imp.Prices) != 1 {
			t.Fatalf("importPrices(%.40s…) = %+v, %v; want acme-large", list, imp, err)
		}
		if got := imp.Prices[0]; got.Provider != "acme" || got.Model != "acme-large" || got.Input != large.Input || got.CachedInput != large.CachedInput || got.Output != large.Output {
			t.Errorf("importPrices(%.40s…) = %+v, want acme-large at %s/%s/%s", list, got, large.Input, large.CachedInput, large.Output)
		}
		if imp, _ := ImportPrices([]byte(list)); len(imp.Prices) != 0 {
			t.Errorf("ImportPrices(%.40s…) = %+v with the built-in table, want no rows", list, imp.Prices)
		}
	}

	// The account cannot pay: the advice names acme's billing page.
	if msg := billingAdvice(ps["acme"]); !strings.Contains(msg, "acme.test → Billing") {
		t.Errorf("billingAdvice(acme) = %q, want acme's billing page", msg)
	}
}
