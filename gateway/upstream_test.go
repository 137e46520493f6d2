package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOfficial(t *testing.T) {
	tests := []struct {
		name, base string
		want       bool
	}{
		{"openai", "https://api.openai.com/v1", true},
		{"openai", "https://API.openai.com/v1/", true},
		{"openai", "http://api.openai.com/v1", false},
		{"openai", "https://api.openai.com.evil.example/v1", false},
		{"openai", "https://127.0.0.1:8443/v1", false},
		{"anthropic", "https://api.anthropic.com", true},
		{"mistral", "http://127.0.0.1:9/v1", false},
		{"acme", "https://api.acme.example/v1", false},
	}
	for _, tt := range tests {
		if got := Official(tt.name, tt.base); got != tt.want {
			t.Errorf("Official(%q, %q) = %v, want %v", tt.name, tt.base, got, tt.want)
		}
	}
	ps, err := WithUpstreams(DefaultProviders(), map[string]string{
		"openai": "https://api.openai.com/v1", "mistral": "http://127.0.0.1:9/v1", "ollama": "http://10.0.0.5:11434/v1", "vllm": "http://127.0.0.1:8000/v1",
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"openai": "", "mistral": "127.0.0.1:9", "ollama": "", "vllm": "127.0.0.1:8000", "anthropic": ""} {
		if got := ps[name].UnconfirmedHost; got != want {
			t.Errorf("WithUpstreams: %s.UnconfirmedHost = %q, want %q", name, got, want)
		}
	}
	ps = Confirm(ps, []string{"127.0.0.1:9"})
	if ps["mistral"].UnconfirmedHost != "" || ps["vllm"].UnconfirmedHost == "" {
		t.Errorf("Confirm(127.0.0.1:9): mistral %q, vllm %q; want mistral confirmed only", ps["mistral"].UnconfirmedHost, ps["vllm"].UnconfirmedHost)
	}
}

// TestUnconfirmedUpstreamGetsNoKey: a keyed provider pointed at an address
// nobody confirmed gets no key, neither the stored one (local token) nor
// a caller's own; a keyless request still goes.
func TestUnconfirmedUpstreamGetsNoKey(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	ps, err := WithUpstreams(DefaultProviders(), map[string]string{"openai": up.URL + "/v1", "mistral": up.URL + "/v1", "ollama": up.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Ledger: &memLedger{}, Keys: mapKeys{"openai": "sk-real-openai", "mistral": "mistral-real"},
		Tokens: mapTokens{testToken: "laptop"}}
	p.SetProviders(ps)
	srv := ServeForTest(t, p)
	chat := func(model string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	}
	for _, tt := range []struct {
		path, key, model string
	}{
		{"/v1/chat/completions", testToken, "gpt-4o-mini"},
		{"/mistral/v1/chat/completions", testToken, "mistral-small-latest"},
		{"/v1/chat/completions", "sk-proj-callersOwnKey0123456789", "gpt-4o-mini"},
	} {
		resp, body := post(t, srv.URL+tt.path, map[string]string{"Authorization": "Bearer " + tt.key}, chat(tt.model))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "--allow-key-to") {
			t.Errorf("POST %s with %.12s... to an unconfirmed upstream = %d %s, want 403 saying how to confirm", tt.path, tt.key, resp.StatusCode, body)
		}
	}
	if n := seen.count(); n != 0 {
		t.Fatalf("the unconfirmed upstream saw %d requests, want none", n)
	}
	resp, body := post(t, srv.URL+"/ollama/v1/chat/completions", nil, chat("llama3.2"))
	if resp.StatusCode != 200 {
		t.Errorf("keyless request to a local server = %d %s, want 200", resp.StatusCode, body)
	}

	// Confirmed, the key goes.
	p.SetProviders(Confirm(ps, []string{HostOf(up.URL)}))
	resp, body = post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, chat("gpt-4o-mini"))
	if resp.StatusCode != 200 {
		t.Fatalf("request to a confirmed upstream = %d %s, want 200", resp.StatusCode, body)
	}
	if r, _ := seen.last(t); r.Header.Get("Authorization") != "Bearer sk-real-openai" {
		t.Errorf("confirmed upstream got Authorization %q, want the stored key", r.Header.Get("Authorization"))
	}
}

// TestCheckKeyNoRedirect: a key test never follows a redirect, and never
// asks an unconfirmed upstream.
func TestCheckKeyNoRedirect(t *testing.T) {
	elsewhere := &upstreamSeen{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.add(r, nil)
		w.Write([]byte(`{"data":[]}`))
	}))
	defer other.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer up.Close()
	ps, _ := WithUpstreams(DefaultProviders(), map[string]string{"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL, "xai": other.URL + "/v1"})
	confirmed := Confirm(ps, []string{HostOf(up.URL)})
	for _, name := range []string{"openai", "anthropic", "gemini"} {
		if c, err := (&Proxy{}).CheckKey(context.Background(), nil, confirmed[name], "the-key-0123456789"); err == nil || !strings.Contains(err.Error(), "redirect") {
			t.Errorf("CheckKey(%s) against a redirect = %+v, %v; want an error about the redirect", name, c, err)
		}
	}
	if c, err := (&Proxy{}).CheckKey(context.Background(), nil, ps["xai"], "xai-the-key-0123456789"); err == nil || !strings.Contains(err.Error(), "--allow-key-to") {
		t.Errorf("CheckKey(xai) on an unconfirmed upstream = %+v, %v; want an error saying how to confirm", c, err)
	}
	if n := elsewhere.count(); n != 0 {
		t.Errorf("the redirect's target saw %d requests, want none", n)
	}
}

// TestUpstreamErrorStoredRedacted: a provider that echoes the key in its
// error text does not put the key in the log.
func TestUpstreamErrorStoredRedacted(t *testing.T) {
	const key = "sk-proj-realKeyEchoedBack0123456789abcdefghijklmnopqrstuvwxyz"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`.","type":"invalid_request_error","code":"invalid_api_key"}}`)
	}))
	defer up.Close()
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
	p.Keys = mapKeys{"openai": key}
	resp, _ := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 401 {
		t.Fatalf("status = %d, want the upstream's 401", resp.StatusCode)
	}
	recs, _ := l.all()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	if strings.Contains(recs[0].Error, key[8:24]) || !strings.Contains(recs[0].Error, "[redacted]") {
		t.Errorf("record error = %q, want the echoed key redacted", recs[0].Error)
	}
}

// TestCheckUpstream: the one rule for an upstream's name and base, which
// the store applies to saved settings and the command line to --upstream.
func TestCheckUpstream(t *testing.T) {
	for _, tt := range []struct {
		name, base string
		ok         bool
	}{
		{"openai", "https://api.openai.com/v1", true},
		{"my-server", "http://127.0.0.1:8000/v1", true},
		{"MyServer", "http://127.0.0.1:8000/v1", true}, // names are taken in lower case
		{"my_server", "http://127.0.0.1:8000/v1", false},
		{"my server", "http://127.0.0.1:8000/v1", false},
		{"a/b", "http://127.0.0.1:8000/v1", false},
		{"", "http://127.0.0.1:8000/v1", false},
		{strings.Repeat("a", 41), "http://127.0.0.1:8000/v1", false},
		{"local", "ftp://127.0.0.1/v1", false},
		{"local", "127.0.0.1:8000", false},
	} {
		err := CheckUpstream(tt.name, tt.base)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidUpstream) {
			t.Errorf("CheckUpstream(%q, %q) = %v, want ok %v", tt.name, tt.base, err, tt.ok)
		}
		_, werr := WithUpstreams(DefaultProviders(), map[string]string{tt.name: tt.base})
		if (werr == nil) != tt.ok {
			t.Errorf("WithUpstreams(%q: %q) = %v, want ok %v, as CheckUpstream", tt.name, tt.base, werr, tt.ok)
		}
	}
}
