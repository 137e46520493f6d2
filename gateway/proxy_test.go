package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memLedger is a small hand-written Ledger: it keeps holds and records in
// memory and refuses holds past limit when limit is set.
type memLedger struct {
	mu      sync.Mutex // guards the fields below
	limit   Money      // 0: no budget
	spent   Money
	holds   map[string]Hold
	records []Record
}

func (l *memLedger) Hold(ctx context.Context, h Hold) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holds == nil {
		l.holds = map[string]Hold{}
	}
	if l.limit > 0 {
		var held Money
		for _, o := range l.holds {
			held += o.Amount
		}
		if l.spent+held+h.Amount > l.limit {
			rem := l.limit - l.spent - held
			return &Refusal{Budget: "daily", Scope: "all requests", Limit: l.limit, Spent: l.spent + held,
				Remaining: max(rem, 0), Resets: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), Wanted: h.Amount,
				Raise: 5 * Dollar}
		}
	}
	l.holds[h.ID] = h
	return nil
}

func (l *memLedger) Settle(ctx context.Context, r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.records {
		if o.ID == r.ID {
			return nil
		}
	}
	delete(l.holds, r.ID)
	l.spent += r.Cost
	l.records = append(l.records, r)
	return nil
}

// all returns the records, in the order their requests started, and the
// number of open holds once every hold is settled (a request settles just
// after its answer reaches the client, so a request may settle after the
// next one), or after a second.
func (l *memLedger) all() ([]Record, int) {
	for i := 0; ; i++ {
		l.mu.Lock()
		recs, open := append([]Record(nil), l.records...), len(l.holds)
		l.mu.Unlock()
		if open == 0 || i == 100 {
			// IDs sort by their request's start (NewID).
			slices.SortStableFunc(recs, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
			return recs, open
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *memLedger) Budgeted(h Hold) bool { return l.limit > 0 }

type mapKeys map[string]string

func (m mapKeys) Key(ctx context.Context, p string) (string, error) {
	if k, ok := m[p]; ok {
		return k, nil
	}
	return "", ErrNoKey
}

type mapTokens map[string]string

func (m mapTokens) Token(ctx context.Context, s string) (string, error) {
	if n, ok := m[s]; ok {
		return n, nil
	}
	return "", ErrUnknownToken
}

const testToken = "sk-sluice-testtoken0123456789abcdefABCDEF"

// upstreamSeen is what a fake upstream received.
type upstreamSeen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (s *upstreamSeen) add(r *http.Request, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, b)
}

func (s *upstreamSeen) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return s.reqs[len(s.reqs)-1], s.body[len(s.body)-1]
}

func (s *upstreamSeen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

const chatBody = `{"id":"chatcmpl-1","object":"chat.completion","created":1764230400,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":1000},"completion_tokens_details":{"reasoning_tokens":0}}}`

const chatStreamUsage = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"total_tokens\":12}}\n\n" +
	"data: [DONE]\n\n"

const chatStreamPlain = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
	"data: [DONE]\n\n"

// fakeOpenAI answers chat completions like OpenAI does.
func fakeOpenAI(t *testing.T, seen *upstreamSeen) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.add(r, b)
		w.Header().Set("X-Request-Id", "req_up_1")
		switch {
		case r.URL.Path == "/v1/models":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"object":"list","data":[]}`)
		case strings.Contains(string(b), `"model":"echo-key"`):
			// OpenAI's words for a key it does not know, with the key.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
				strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		case strings.Contains(string(b), `"model":"broken"`):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`)
		case strings.Contains(string(b), `"stream":true`):
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, chatStreamUsage)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, chatBody)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestProxy(t *testing.T, l Ledger, upstreams map[string]string) (*Proxy, *httptest.Server) {
	t.Helper()
	p := &Proxy{Ledger: l, Keys: mapKeys{"openai": "sk-real-openai", "mistral": "mistral-real", "anthropic": "sk-ant-real", "gemini": "AIza-real"},
		Tokens: mapTokens{testToken: "laptop"}}
	p.SetProviders(ConfirmedUpstreams(t, upstreams))
	return p, ServeForTest(t, p)
}

func post(t *testing.T, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestProxyChatSwapsKeyAndMeters(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})

	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || body != chatBody {
		t.Fatalf("POST /v1/chat/completions = %d %q, want 200 and the upstream body unchanged", resp.StatusCode, body)
	}
	r, _ := seen.last(t)
	if got := r.Header.Get("Authorization"); got != "Bearer sk-real-openai" {
		t.Errorf("upstream Authorization = %q, want the real key", got)
	}
	recs, open := l.all()
	if len(recs) != 1 || open != 0 {
		t.Fatalf("ledger has %d records and %d open holds, want 1 and 0", len(recs), open)
	}
	rec := recs[0]
	want := Usage{InputTokens: 1200, OutputTokens: 300, CachedInputTokens: 1000}
	if rec.Usage != want || rec.Token != "laptop" || rec.Provider != "openai" || rec.Model != "gpt-4o-mini" || rec.Outcome != OutcomeOK || rec.UpstreamID != "req_up_1" {
		t.Errorf("record = %+v, want usage %+v by laptop on openai/gpt-4o-mini, ok, upstream id req_up_1", rec, want)
	}
	price, ok := DefaultPrices().Lookup("openai", "gpt-4o-mini")
	if !ok {
		t.Fatal("no price for gpt-4o-mini")
	}
	if rec.Cost != price.Cost(want) || rec.Cost <= 0 || !rec.Priced {
		t.Errorf("record cost = %v (priced %v), want %v", rec.Cost, rec.Priced, price.Cost(want))
	}
	if rec.Held < rec.Cost {
		t.Errorf("held %v < cost %v: the hold must bound the cost", rec.Held, rec.Cost)
	}
}

func TestProxyStreamHidesUsageItAskedFor(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})

	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if body != chatStreamPlain {
		t.Errorf("stream relayed =\n%s\nwant exactly what OpenAI sends without include_usage:\n%s", body, chatStreamPlain)
	}
	_, sent := seen.last(t)
	var m map[string]any
	json.Unmarshal(sent, &m)
	so, _ := m["stream_options"].(map[string]any)
	if so["include_usage"] != true {
		t.Errorf("upstream body %s: want stream_options.include_usage true", sent)
	}
	recs, _ := l.all()
	if len(recs) != 1 || recs[0].InputTokens != 10 || recs[0].OutputTokens != 2 || !recs[0].Stream {
		t.Fatalf("records = %+v, want one stream with 10 in and 2 out", recs)
	}

	// A caller who asked for usage sees it.
	_, body = post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if body != chatStreamUsage {
		t.Errorf("stream with include_usage relayed =\n%s\nwant\n%s", body, chatStreamUsage)
	}
}

func TestProxyRefusals(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL})
	p.MaxBodyBytes = 1 << 10
	host := strings.TrimPrefix(srv.URL, "http://")
	p.AllowedHosts = []string{host}

	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	msgs := `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name     string
		path     string
		hdr      map[string]string
		body     string
		status   int
		contains string // in the body
		shape    string // "openai", "anthropic" or "gemini"
	}{
		{"no key", "/v1/chat/completions", nil, chat, 401, "sluice token new", "openai"},
		{"unknown token", "/v1/messages", map[string]string{"X-Api-Key": "sk-sluice-nope"}, msgs, 401, "not known", "anthropic"},
		{"unknown route", "/v1/nonsense", map[string]string{"Authorization": "Bearer " + testToken}, chat, 404, "no route", "openai"},
		{"unknown provider", "/acme/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, chat, 404, "unknown provider", "openai"},
		{"gemini unknown method", "/v1beta/models/gemini-2.5-flash:frobnicate", map[string]string{"X-Goog-Api-Key": testToken}, `{}`, 404, "no route", "gemini"},
		{"too large", "/v1/messages", map[string]string{"X-Api-Key": testToken}, `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, 413, "larger", "anthropic"},
		{"malformed json", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, `{"model":`, 400, "could not read", "openai"},
		{"browser origin", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken, "Origin": "https://evil.example"}, chat, 403, "browser", "openai"},
		{"cross-site fetch", "/v1/messages", map[string]string{"X-Api-Key": testToken, "Sec-Fetch-Site": "cross-site"}, msgs, 403, "browser", "anthropic"},
		{"bad host", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken, "Host": "evil.example:4020"}, chat, 403, "host", "openai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.hdr {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(strings.ToLower(string(b)), strings.ToLower(tt.contains)) {
				t.Fatalf("POST %s = %d %s, want %d mentioning %q", tt.path, resp.StatusCode, b, tt.status, tt.contains)
			}
			checkShape(t, tt.shape, b)
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("answer grants CORS; want none")
			}
		})
	}
	if n := seen.count(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}

	// Node's fetch sends Sec-Fetch-Mode: cors on every request: that alone
	// is not a browser.
	resp, _ := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken, "Sec-Fetch-Mode": "cors"}, chat)
	if resp.StatusCode != 200 {
		t.Errorf("request with Sec-Fetch-Mode: cors alone = %d, want 200", resp.StatusCode)
	}
	// An allowed origin is served.
	p.SetPolicy(Policy{AllowedOrigins: []string{"http://localhost:3000"}})
	resp, _ = post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken, "Origin": "http://localhost:3000"}, chat)
	if resp.StatusCode != 200 {
		t.Errorf("request from an allowed origin = %d, want 200", resp.StatusCode)
	}
}

// checkShape checks that b is an error document of the dialect.
func checkShape(t *testing.T, dialect string, b []byte) {
	t.Helper()
	var v struct {
		Type  string `json:"type"`
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Error.Message == "" {
		t.Fatalf("error body %s: not an error document (%v)", b, err)
	}
	switch dialect {
	case "anthropic":
		if v.Type != "error" || v.Error.Type == "" {
			t.Errorf("error body %s: want Anthropic's shape", b)
		}
	case "gemini":
		if v.Error.Status == "" || v.Error.Code == nil {
			t.Errorf("error body %s: want Gemini's shape", b)
		}
	default:
		if v.Error.Type == "" {
			t.Errorf("error body %s: want OpenAI's shape", b)
		}
	}
}

func TestProxyBudgetRefusal(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{limit: Microdollar}
	_, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL})
	for _, tt := range []struct{ path, hdr, body, shape, typ string }{
		{"/v1/chat/completions", "Authorization", `{"model":"gpt-4o-mini","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}`, "openai", "budget_exceeded"},
		{"/v1/messages", "X-Api-Key", `{"model":"claude-sonnet-4-5","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}`, "anthropic", "billing_error"},
		{"/v1beta/models/gemini-2.5-flash:generateContent", "X-Goog-Api-Key", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "gemini", ""},
	} {
		val := testToken
		if tt.hdr == "Authorization" {
			val = "Bearer " + testToken
		}
		resp, b := post(t, srv.URL+tt.path, map[string]string{tt.hdr: val}, tt.body)
		if resp.StatusCode != 402 || resp.Header.Get("X-Should-Retry") != "false" || resp.Header.Get("X-Sluice-Budget") != "daily" {
			t.Fatalf("POST %s = %d %v, want 402 with x-should-retry false and the budget named", tt.path, resp.StatusCode, resp.Header)
		}
		checkShape(t, tt.shape, []byte(b))
		if tt.typ != "" && !strings.Contains(b, tt.typ) {
			t.Errorf("402 body %s: want %q", b, tt.typ)
		}
		if !strings.Contains(b, "daily") || !strings.Contains(b, "budget raise") {
			t.Errorf("402 body %s: want the budget's name and how to raise it", b)
		}
	}
	if n := seen.count(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	recs, open := l.all()
	for i := 0; i < 100 && len(recs) < 3; i++ {
		// Refusals hold nothing, and settle just after their answer.
		time.Sleep(10 * time.Millisecond)
		recs, open = l.all()
	}
	if len(recs) != 3 || open != 0 {
		t.Fatalf("ledger has %d records, %d open holds; want 3 refusals, 0 holds", len(recs), open)
	}
	for _, r := range recs {
		if r.Outcome != OutcomeRefused || r.Status != 402 || r.Budget != "daily" || r.Remaining == nil || r.Cost != 0 {
			t.Errorf("refusal record = %+v, want refused, 402, budget daily, remaining set, cost 0", r)
		}
	}
}

func TestProxyUpstreamErrorsRelayedAndRecorded(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"broken","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 429 || !strings.Contains(body, "insufficient_quota") {
		t.Fatalf("status %d body %s, want the upstream's 429 unchanged", resp.StatusCode, body)
	}
	recs, open := l.all()
	if len(recs) != 1 || open != 0 || recs[0].Outcome != OutcomeBilling || recs[0].Cost != 0 || recs[0].Status != 429 {
		t.Fatalf("records %+v (open %d), want one billing record at $0", recs, open)
	}
}

func TestProxyUnreachableAndTimeout(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer stall.Close()

	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": deadURL + "/v1", "anthropic": stall.URL})
	p.HeaderTimeout = 200 * time.Millisecond
	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","messages":[]}`)
	if resp.StatusCode != 502 {
		t.Errorf("unreachable upstream = %d %s, want 502", resp.StatusCode, body)
	}
	checkShape(t, "openai", []byte(body))
	resp, body = post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken},
		`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[]}`)
	if resp.StatusCode != 504 {
		t.Errorf("stalled upstream = %d %s, want 504", resp.StatusCode, body)
	}
	checkShape(t, "anthropic", []byte(body))
	recs, open := l.all()
	if len(recs) != 2 || open != 0 {
		t.Fatalf("ledger has %d records, %d holds; want 2 and 0", len(recs), open)
	}
}

func TestProxyClientKeyAndGeminiKeySwap(t *testing.T) {
	seen := &upstreamSeen{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.add(r, b)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"totalTokenCount":6},"modelVersion":"gemini-2.5-flash"}`)
	}))
	defer up.Close()
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"gemini": up.URL})

	resp, _ := post(t, srv.URL+"/v1beta/models/gemini-2.5-flash:generateContent?key="+testToken, nil, `{"contents":[{"parts":[{"text":"hi"}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	r, _ := seen.last(t)
	if r.URL.Query().Get("key") != "" || r.Header.Get("X-Goog-Api-Key") != "AIza-real" {
		t.Errorf("upstream got key query %q, header %q; want no query key and the real key in the header", r.URL.Query().Get("key"), r.Header.Get("X-Goog-Api-Key"))
	}
	if r.URL.Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Errorf("upstream path = %q", r.URL.Path)
	}

	// A provider key of the caller's own goes through untouched.
	resp, _ = post(t, srv.URL+"/v1/models/gemini-2.5-flash:generateContent", map[string]string{"X-Goog-Api-Key": "AIza-callers-own"}, `{"contents":[]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	r, _ = seen.last(t)
	if r.Header.Get("X-Goog-Api-Key") != "AIza-callers-own" || r.URL.Path != "/v1/models/gemini-2.5-flash:generateContent" {
		t.Errorf("upstream got %q at %s, want the caller's key at the v1 path", r.Header.Get("X-Goog-Api-Key"), r.URL.Path)
	}
	recs, _ := l.all()
	if len(recs) != 2 || recs[0].Token != "laptop" || recs[1].Token != ClientKeyToken || recs[1].InputTokens != 5 {
		t.Fatalf("records = %+v, want laptop then client key", recs)
	}
}

func TestRouteModel(t *testing.T) {
	ps := DefaultProviders()
	tests := []struct{ model, provider, upstream string }{
		{"gpt-4o-mini", "openai", "gpt-4o-mini"},
		{"o3-mini", "openai", "o3-mini"},
		{"mistral-large-latest", "mistral", "mistral-large-latest"},
		{"mistral/mistral-large-latest", "mistral", "mistral-large-latest"},
		{"groq/llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"},
		{"openrouter/anthropic/claude-sonnet-4.5", "openrouter", "anthropic/claude-sonnet-4.5"},
		{"deepseek-chat", "deepseek", "deepseek-chat"},
		{"grok-4", "xai", "grok-4"},
		{"claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"},
		{"gemini-2.5-flash", "gemini", "gemini-2.5-flash"},
		{"ollama/llama3.2", "ollama", "llama3.2"},
	}
	for _, tt := range tests {
		p, m := routeModel(tt.model, openAIDialect{}, ps, nil, DefaultPrices())
		if p != tt.provider || m != tt.upstream {
			t.Errorf("routeModel(%q) = %s, %s; want %s, %s", tt.model, p, m, tt.provider, tt.upstream)
		}
	}
}

// TestProxyCompatRoutesByModel: with the compatible endpoints chosen in
// the policy, an OpenAI-format request for a Claude model goes, as it
// came, to Anthropic's OpenAI-compatible endpoint.
func TestProxyCompatRoutesByModel(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"mistral": up.URL + "/v1", "anthropic": up.URL})
	p.SetPolicy(Policy{CompatEndpoints: true})
	for _, tt := range []struct{ model, path, provider, sentModel string }{
		{"mistral/mistral-large-latest", "/v1/chat/completions", "mistral", "mistral-large-latest"},
		{"claude-sonnet-4-5", "/v1/chat/completions", "anthropic", "claude-sonnet-4-5"},
	} {
		resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
			`{"model":"`+tt.model+`","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d %s", tt.model, resp.StatusCode, body)
		}
		r, b := seen.last(t)
		var m map[string]any
		json.Unmarshal(b, &m)
		if r.URL.Path != tt.path || m["model"] != tt.sentModel {
			t.Errorf("%s: upstream got %s model %v, want %s model %s", tt.model, r.URL.Path, m["model"], tt.path, tt.sentModel)
		}
	}
	recs, _ := l.all()
	if len(recs) != 2 || recs[0].Provider != "mistral" || recs[1].Provider != "anthropic" {
		t.Fatalf("records = %+v", recs)
	}
}

func TestProxyGeminiEmbeddingChargedAtInputBound(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"embedding":{"values":[0.1,0.2]}}`)
	}))
	defer up.Close()
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"gemini": up.URL})
	resp, _ := post(t, srv.URL+"/v1beta/models/gemini-embedding-001:embedContent", map[string]string{"X-Goog-Api-Key": testToken},
		`{"content":{"parts":[{"text":"hello world"}]}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	recs, _ := l.all()
	if len(recs) != 1 || !recs[0].Estimated || recs[0].InputTokens < 2 || (recs[0].Priced && recs[0].Cost <= 0) {
		t.Fatalf("record = %+v, want an estimated charge for the input bound, never $0", recs)
	}
}

func TestClassifyUpstreamError(t *testing.T) {
	tests := []struct {
		provider string
		status   int
		body     string
		want     Outcome
	}{
		{"openai", 429, `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, OutcomeBilling},
		{"openai", 429, `{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`, OutcomeError},
		{"anthropic", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}`, OutcomeBilling},
		{"anthropic", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, OutcomeError},
		{"anthropic", 402, `{"type":"error","error":{"type":"billing_error","message":"payment failed"}}`, OutcomeBilling},
		{"openrouter", 402, `{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/credits","code":402}}`, OutcomeBilling},
		{"gemini", 429, `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`, OutcomeError},
		{"gemini", 400, `{"error":{"code":400,"message":"Billing account not configured for this project.","status":"FAILED_PRECONDITION"}}`, OutcomeBilling},
		// Rate limits whose text points at the billing page are still rate limits.
		{"gemini", 429, `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.","status":"RESOURCE_EXHAUSTED"}}`, OutcomeError},
		{"openai", 429, `{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per day (RPD): Limit 200. Add a payment method to your account to increase your rate limit. Visit https://platform.openai.com/account/billing to add a payment method.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, OutcomeError},
		{"groq", 429, `plain text: see your plan and billing details`, OutcomeError},
	}
	for _, tt := range tests {
		got, msg := classifyUpstreamError(builtinDialects, builtinRedactor, DefaultProviders()[tt.provider], tt.status, []byte(tt.body))
		if got != tt.want {
			t.Errorf("classifyUpstreamError(%s, %d, %.60s…) = %s, want %s", tt.provider, tt.status, tt.body, got, tt.want)
		}
		if got == OutcomeBilling && !strings.Contains(msg, "add credit") {
			t.Errorf("billing message %q does not say what to do", msg)
		}
	}
}

func TestCheckKey(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := r.Header.Get("Authorization") == "Bearer good" || r.Header.Get("X-Api-Key") == "good" || r.Header.Get("X-Goog-Api-Key") == "good"
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"data":[]}`)
	}))
	defer up.Close()
	ps := ConfirmedUpstreams(t, map[string]string{"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL})
	for _, name := range []string{"openai", "anthropic", "gemini"} {
		for _, key := range []string{"good", "bad"} {
			c, err := (&Proxy{}).CheckKey(context.Background(), nil, ps[name], key)
			if err != nil || c.Valid != (key == "good") {
				t.Errorf("CheckKey(%s, %s) = %+v, %v; want valid %v", name, key, c, err, key == "good")
			}
		}
	}
}

func TestProxyLogsBodiesOnlyWhenAsked(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
	req := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"my key is sk-proj-abcdefghijklmnopqrstu"}]}`
	post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, req)
	p.SetPolicy(Policy{LogBodies: true})
	post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, req)
	post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, strings.Replace(req, `"model"`, `"stream":true,"model"`, 1))
	recs, _ := l.all()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	if recs[0].RequestBody != "" || recs[0].ResponseBody != "" {
		t.Errorf("bodies logged without opting in: %+v", recs[0])
	}
	for _, r := range recs[1:] {
		if !strings.Contains(r.RequestBody, `"gpt-4o-mini"`) || strings.Contains(r.RequestBody, "sk-proj-") || !strings.Contains(r.RequestBody, "[redacted]") {
			t.Errorf("request body logged = %q, want it with the secret redacted", r.RequestBody)
		}
		if !strings.Contains(r.ResponseBody, "Hello") && !strings.Contains(r.ResponseBody, "Hi") {
			t.Errorf("response body logged = %q, want the answer", r.ResponseBody)
		}
	}
}

// extLedger is a memLedger that can raise a hold within its limit.
type extLedger struct{ *memLedger }

func (l extLedger) Extend(ctx context.Context, id string, amount Money) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.holds[id]
	if !ok {
		return errors.New("no such hold")
	}
	var held Money
	for _, o := range l.holds {
		held += o.Amount
	}
	if l.limit > 0 && l.spent+held-h.Amount+amount > l.limit {
		return &Refusal{Budget: "daily", Scope: "all requests", Limit: l.limit, Spent: l.spent + held, Remaining: l.limit - l.spent - held, Wanted: amount - h.Amount}
	}
	h.Amount = amount
	l.holds[id] = h
	return nil
}

func TestProxyStreamOutgrowingItsHold(t *testing.T) {
	// The provider reports far more input than the body could hold: a
	// stream whose cost passes its hold is held more when the budget
	// allows, and cut with a well-formed error event when it does not.
	const stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":200000,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	defer up.Close()
	req := `{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	price, _ := DefaultPrices().Lookup("anthropic", "claude-sonnet-4-5")
	full := price.Cost(Usage{InputTokens: 200000, OutputTokens: 2})

	for _, tt := range []struct {
		name    string
		limit   Money
		outcome Outcome
	}{
		{"budget covers it", 100 * Dollar, OutcomeOK},
		{"budget cannot", full / 2, OutcomeCut},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := extLedger{&memLedger{limit: tt.limit}}
			_, srv := newTestProxy(t, l, map[string]string{"anthropic": up.URL})
			resp, body := post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken}, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			recs, open := l.all()
			if len(recs) != 1 || open != 0 {
				t.Fatalf("%d records, %d open holds; want 1 and 0", len(recs), open)
			}
			r := recs[0]
			if r.Outcome != tt.outcome {
				t.Errorf("outcome = %s (%s), want %s", r.Outcome, r.Error, tt.outcome)
			}
			switch tt.outcome {
			case OutcomeOK:
				if r.Cost != full || !strings.HasSuffix(body, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
					t.Errorf("cost %v, want %v, and the whole stream relayed", r.Cost, full)
				}
			case OutcomeCut:
				if !strings.Contains(body, "event: error") || !strings.Contains(body, "billing_error") || strings.Contains(body, "message_stop") {
					t.Errorf("cut stream ended with %q, want an Anthropic error event and no message_stop", body[max(0, len(body)-300):])
				}
				if r.Cost < price.Cost(Usage{InputTokens: 200000}) {
					t.Errorf("cut stream charged %v, below the input the provider reported", r.Cost)
				}
			}
		})
	}
}

func TestProxyRefusalHintFits(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	price, _ := DefaultPrices().Lookup("anthropic", "claude-sonnet-4-5")
	l := &memLedger{limit: price.Cost(Usage{OutputTokens: 700})}
	_, srv := newTestProxy(t, l, map[string]string{"anthropic": up.URL, "openai": up.URL + "/v1"})
	for _, tt := range []struct{ path, hdr, body, field string }{
		{"/v1/messages", "X-Api-Key", `{"model":"claude-sonnet-4-5","max_tokens":4000,"messages":[{"role":"user","content":"Say hi"}]}`, "max_tokens"},
		{"/v1/responses", "Authorization", `{"model":"gpt-4o","max_output_tokens":100000,"input":"Say hi"}`, "max_output_tokens"},
	} {
		val := testToken
		if tt.hdr == "Authorization" {
			val = "Bearer " + testToken
		}
		resp, body := post(t, srv.URL+tt.path, map[string]string{tt.hdr: val}, tt.body)
		if resp.StatusCode != 402 {
			t.Fatalf("POST %s = %d, want 402", tt.path, resp.StatusCode)
		}
		i := strings.Index(body, tt.field+" at most ")
		if i < 0 {
			t.Fatalf("402 body %s: want a hint naming %s", body, tt.field)
		}
		var n int
		fmt.Sscanf(body[i+len(tt.field+" at most "):], "%d", &n)
		if n <= 0 {
			t.Fatalf("hint in %s: no number", body)
		}
		// Following the hint gets past the budget.
		retry := regexp.MustCompile(`"`+tt.field+`":\d+`).ReplaceAllString(tt.body, fmt.Sprintf(`"%s":%d`, tt.field, n))
		resp, body = post(t, srv.URL+tt.path, map[string]string{tt.hdr: val}, retry)
		if resp.StatusCode == 402 {
			t.Errorf("retry with %s %d still refused: %s", tt.field, n, body)
		}
		// The retry settles after its answer has gone; until then its
		// hold, not its cost, counts against the next case's budget.
		if _, open := l.all(); open != 0 {
			t.Fatalf("%d holds still open a second after the retry's answer", open)
		}
	}
}

// An upstream that echoes the key it was sent in its request id must not
// put the key in the ledger: the id is kept redacted, or dropped when it is
// not an id at all.
func TestProxyUpstreamIDNeverHoldsAKey(t *testing.T) {
	const key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3k"
	for _, tc := range []struct {
		name, id string
		want     func(string) bool
	}{
		{"key in the id", "req_" + key, func(id string) bool { return strings.HasPrefix(id, "req_") && !strings.Contains(id, key[8:]) }},
		{"header echoed", "req_Bearer " + key, func(id string) bool { return id == "" }},
		{"too long", "req_" + strings.Repeat("a", 300), func(id string) bool { return id == "" }},
		{"an id", "req_0123abcdEF", func(id string) bool { return id == "req_0123abcdEF" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("X-Request-Id", tc.id)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, chatBody)
			}))
			defer up.Close()
			l := &memLedger{}
			_, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
			resp, _ := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
				`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			recs, _ := l.all()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			if got := recs[0].UpstreamID; !tc.want(got) || strings.Contains(got, key) {
				t.Errorf("upstream id %q sent as %q: recorded as %q", tc.name, tc.id, got)
			}
		})
	}
}

// Headers a Connection header names are hop-by-hop: they reach neither the
// provider nor, from its answer, the caller.
func TestProxyDropsHeadersConnectionNames(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Connection", "X-Upstream-Hop")
		w.Header().Set("X-Upstream-Hop", "upstream's own")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, chatBody)
	}))
	t.Cleanup(up.Close)
	_, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})

	resp, _ := post(t, srv.URL+"/v1/chat/completions", map[string]string{
		"Authorization": "Bearer " + testToken, "Connection": "X-Caller-Hop", "X-Caller-Hop": "caller's own"},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if v := got.Get("X-Caller-Hop"); v != "" {
		t.Errorf("upstream got X-Caller-Hop %q, which the caller's Connection header names", v)
	}
	if v := resp.Header.Get("X-Upstream-Hop"); v != "" {
		t.Errorf("caller got X-Upstream-Hop %q, which the provider's Connection header names", v)
	}
}

// A stream's headers reach the caller while its upstream is still silent
// (a reasoning model thinking before its first event), and its events
// after them as they come: when the upstream sent nothing yet, and when
// what it sent with its headers writes the caller nothing (part of the
// first event, a comment).
func TestProxyStreamHeadersBeforeFirstEvent(t *testing.T) {
	firstEnd := strings.Index(chatStreamUsage, "\n\n") + 2
	for _, tc := range []struct {
		name        string
		first, rest string
	}{
		{"nothing", "", chatStreamUsage},
		{"part of an event", chatStreamUsage[:firstEnd-12], chatStreamUsage[firstEnd-12:]},
		{"a comment", ": keep-alive\n\n", chatStreamUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, tc.first)
				http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, tc.rest)
			}))
			defer up.Close()
			l := &memLedger{}
			_, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp := headersWhileSilent(t, req, release)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if want := tc.first + tc.rest; resp.StatusCode != 200 || string(body) != want {
				t.Errorf("stream = %d\n%s\nwant 200 and\n%s", resp.StatusCode, body, want)
			}
		})
	}
}

// headersWhileSilent sends req and returns its response once its headers
// came, failing t if they don't while the upstream waits on release;
// release is closed either way.
func headersWhileSilent(t *testing.T, req *http.Request, release chan struct{}) *http.Response {
	t.Helper()
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		got <- result{resp, err}
	}()
	var res result
	select {
	case res = <-got:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("no headers from Sluice while the upstream held its first event")
	}
	close(release)
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.resp
}

// The header names deleted with deleteHeaders, read with headerValue or
// set directly are written canonical, so that using them as written is
// what Header's Del, Get and Set would do.
func TestHeaderListsCanonical(t *testing.T) {
	lists := map[string][]string{"strippedRequestHeaders": strippedRequestHeaders,
		"strippedResponseHeaders": strippedResponseHeaders, "credentialHeaders": credentialHeaders}
	for _, d := range builtinDialects {
		// Read with headerValue, deleted and set without Header's
		// canonicalizing.
		di := d.info()
		lists[di.name+" keyHeaders"] = di.keyHeaders
		lists[di.name+" requestIDHeaders"] = di.requestIDHeaders
		if di.keyHeader != "" {
			lists[di.name+" keyHeader"] = []string{di.keyHeader}
		}
	}
	for name, ks := range lists {
		for _, k := range ks {
			if c := http.CanonicalHeaderKey(k); c != k {
				t.Errorf("%s holds %q, want it canonical: %q", name, k, c)
			}
		}
	}
}

// The upstream request carries the target URL as outbound built it, as
// it would be read back from its text: the same URL on the wire, Host
// and request line.
func TestOutboundURLAsParsed(t *testing.T) {
	p := &Proxy{}
	providers := DefaultProviders()
	for _, c := range []struct{ base, path string }{
		{"https://api.openai.com/v1", "/v1/chat/completions"},
		{"http://127.0.0.1:8080/v1/", "/v1/chat/completions?x=1"},
		{"http://localhost:/v1", "/v1/embeddings"},
		{"http://[::1]:11434/v1", "/v1/models/gpt-4o:mini%20x"},
		{"https://example.test/base%20dir/v1", "/v1/responses/resp_1"},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4020"+c.path, nil)
		rt, f := parseRoute(r.Method, r.URL.Path, r.Header, providers, builtinDialects)
		if f != nil {
			rt, _ = parseRoute(http.MethodPost, "/v1/chat/completions", r.Header, providers, builtinDialects)
		}
		prov := providers["openai"]
		prov.BaseURL = c.base
		x := &exchange{route: rt, provider: prov}
		out, err := p.outbound(r, x, []byte("{}"), "sk-up", true)
		if err != nil {
			t.Fatalf("outbound(%s, %s): %v", c.base, c.path, err)
		}
		x.cancel(nil)
		want, err := http.NewRequest(http.MethodPost, out.URL.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.URL.String() != want.URL.String() || out.URL.RequestURI() != want.URL.RequestURI() || out.Host != want.Host || out.URL.Host != want.URL.Host {
			t.Errorf("outbound(%s, %s) = %s (request line %s, Host %s), want %s (%s, %s)", c.base, c.path,
				out.URL, out.URL.RequestURI(), out.Host, want.URL, want.URL.RequestURI(), want.Host)
		}
	}
}

// stripRequestHeaders and copyResponseHeaders, which look at each header
// once, leave what deleting every name of the lists did: a header the
// Connection header names, one of the lists (credentials and each
// dialect's key header among them) or one holding a local token goes;
// every other stays, with its values.
func TestHeaderStripping(t *testing.T) {
	all := http.Header{"Connection": {"X-Hop, keep-alive", "X-Hop2"}, "X-Hop": {"1"}, "X-Hop2": {"2"}, "Keep-Alive": {"timeout=5"},
		"X-Stainless-Lang": {"python"}, "User-Agent": {"OpenAI/Python 1.99.0"}, "Content-Type": {"application/json"},
		"X-Custom": {"plain", "Bearer " + testToken}, "X-Other": {"fine"}, "Openai-Organization": {"org-1"},
		"Set-Cookie": {"a=b"}, "Alt-Svc": {"h3"}, "Access-Control-Allow-Origin": {"*"}, "X-Request-Id": {"req_1"}}
	for _, lists := range [][]string{strippedRequestHeaders, credentialHeaders, strippedResponseHeaders} {
		for _, k := range lists {
			if _, ok := all[k]; !ok {
				all[k] = []string{"v-" + k}
			}
		}
	}
	for _, d := range builtinDialects {
		for _, k := range d.info().keyHeaders {
			all[k] = []string{"k-" + k}
		}
	}

	want := all.Clone()
	removeConnectionHeaders(want)
	deleteHeaders(want, strippedRequestHeaders)
	deleteHeaders(want, credentialHeaders)
	for _, d := range builtinDialects {
		deleteHeaders(want, d.info().keyHeaders)
	}
	for k, vs := range want {
		if slices.ContainsFunc(vs, holdsLocalToken) {
			delete(want, k)
		}
	}
	got := all.Clone()
	stripRequestHeaders(got, builtinDialects)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stripRequestHeaders left %v, want %v", got, want)
	}
	if len(want) == 0 || want.Get("X-Other") != "fine" {
		t.Fatalf("nothing kept: %v", want)
	}

	for _, before := range []http.Header{{}, {"X-Sluice-Note": {"set before"}, "Set-Cookie": {"x=y"}}} {
		want := before.Clone()
		for k, vs := range all {
			want[k] = vs
		}
		removeConnectionHeaders(want)
		deleteHeaders(want, strippedResponseHeaders)
		got := before.Clone()
		copyResponseHeaders(got, all)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("copyResponseHeaders into %v gave %v, want %v", before, got, want)
		}
	}
}
