package gateway_test

// These tests send requests for an alias through the whole request path
// on a real ledger (a store.DB in a temporary directory, which also keeps
// the aliases): the alias's target is a fake upstream that fails in one
// way, its fallback one that answers. A fallback is tried only when the
// target failed before its first byte (429, 5xx, a connection that broke
// before the headers, a timeout), and every attempt is a record of its
// own.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// Ways a fake upstream fails.
const (
	upOK         = "ok"
	up503        = "503"
	up429        = "429"
	up400        = "400"
	upReset      = "reset before headers"
	upResetFirst = "reset after the first byte"
	upStall      = "no headers in time"
	upSilent     = "stream headers, then nothing"
)

// fallbackRig is a Proxy on a real ledger with two upstreams: openai,
// which fails as the test says, and mistral, which answers.
type fallbackRig struct {
	db            *store.DB
	proxy         *gateway.Proxy
	srv           *httptest.Server
	token         string
	primary, back atomic.Int32 // requests each upstream got
}

const (
	backIn, backOut = 21, 7 // the tokens mistral reports
	firstWord       = "first-word "
)

func newFallbackRig(t *testing.T, fault string, configure func(*gateway.Proxy)) *fallbackRig {
	t.Helper()
	g := &fallbackRig{}
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.primary.Add(1)
		io.ReadAll(r.Body)
		rc := http.NewResponseController(w)
		drop := func() {
			conn, _, err := rc.Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		}
		w.Header().Set("Content-Type", "application/json")
		switch fault {
		case up503:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}`)
		case up429:
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		case up400:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"Invalid value for 'temperature': must be at most 2.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}`)
		case upReset:
			drop()
		case upStall:
			<-r.Context().Done()
		case upSilent:
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			rc.Flush()
			<-r.Context().Done()
		case upResetFirst:
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, chunk("primary", firstWord))
			rc.Flush()
			time.Sleep(20 * time.Millisecond)
			drop()
		default:
			io.WriteString(w, chatJSON("primary", 10, 5, 8))
		}
	}))
	t.Cleanup(primary.Close)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.back.Add(1)
		req, err := readUpstreamRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, chunk("back", "from the fallback"))
			io.WriteString(w, usageChunk("back", backIn, backOut))
			io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, strings.Replace(chatJSON("back", backIn, backOut, 8), `"aaaaaaaa"`, `"from the fallback"`, 1))
	}))
	t.Cleanup(back.Close)

	db := openLedger(t)
	g.db = db
	var err error
	if g.token, err = db.NewToken("agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-4o-mini", Fallbacks: []string{"mistral/mistral-small-latest"}}); err != nil {
		t.Fatal(err)
	}
	p := &gateway.Proxy{Ledger: db, Keys: fixedKeys{"openai": "sk-openai-key", "mistral": "mistral-key"}, Tokens: db, Aliases: db}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{"openai": primary.URL + "/v1", "mistral": back.URL + "/v1"}))
	if configure != nil {
		configure(p)
	}
	g.proxy = p
	g.srv = gateway.ServeForTest(t, p)
	return g
}

// send asks for model, as a stream or not, and returns the answer.
func (g *fallbackRig) send(t *testing.T, model string, stream bool) (int, string) {
	t.Helper()
	return g.post(t, g.token, fmt.Sprintf(`{"model":%q,"max_tokens":100,"stream":%v,"messages":[{"role":"user","content":"Say hello."}]}`, model, stream))
}

// post sends a chat completion body with cred and returns the answer.
func (g *fallbackRig) post(t *testing.T, cred, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// records waits for want records and no open hold, and returns them
// oldest first.
func (g *fallbackRig) records(t *testing.T, want int) []gateway.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := g.db.Records(store.LogQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= want && g.db.OpenHolds() == 0 || time.Now().After(deadline) {
			if len(recs) != want || g.db.OpenHolds() != 0 {
				t.Fatalf("%d records and %d open holds, want %d and none: %+v", len(recs), g.db.OpenHolds(), want, recs)
			}
			for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
				recs[i], recs[j] = recs[j], recs[i]
			}
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFallbackBeforeFirstByte: a target that fails before its first byte
// with 503, 429, a connection that broke before the headers, or no
// headers in time hands the request to the fallback. The caller gets the
// fallback's answer; the failed attempt is a record that costs nothing,
// and the answered one a record of its own at the fallback's price.
func TestFallbackBeforeFirstByte(t *testing.T) {
	for _, fault := range []string{up503, up429, upReset, upStall} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", fault, stream), func(t *testing.T) {
				g := newFallbackRig(t, fault, func(p *gateway.Proxy) { p.HeaderTimeout = 300 * time.Millisecond })
				status, body := g.send(t, "smart", stream)
				if status != http.StatusOK || !strings.Contains(body, "from the fallback") {
					t.Fatalf("answer %d %s, want the fallback's", status, body)
				}
				if g.primary.Load() != 1 || g.back.Load() != 1 {
					t.Errorf("upstreams got %d and %d requests, want 1 each", g.primary.Load(), g.back.Load())
				}
				recs := g.records(t, 2)
				failed, served := recs[0], recs[1]
				if failed.Provider != "openai" || failed.Model != "gpt-4o-mini" || failed.Outcome == gateway.OutcomeOK || failed.Cost != 0 ||
					failed.Alias != "smart" || failed.Routed != gateway.RoutedTarget || failed.Attempt != 1 || failed.Error == "" {
					t.Errorf("failed attempt's record = %+v", failed)
				}
				switch fault {
				case up503, up429:
					if failed.Status != map[string]int{up503: 503, up429: 429}[fault] {
						t.Errorf("failed attempt's status %d", failed.Status)
					}
				case upStall:
					if failed.Status != http.StatusGatewayTimeout {
						t.Errorf("timed-out attempt's status %d, want 504", failed.Status)
					}
				}
				back := gateway.PriceForTest(t, "mistral", "mistral-small-latest")
				want := back.Cost(gateway.Usage{InputTokens: backIn, OutputTokens: backOut})
				if served.Provider != "mistral" || served.Model != "mistral-small-latest" || served.Outcome != gateway.OutcomeOK || served.Status != 200 ||
					served.InputTokens != backIn || served.OutputTokens != backOut || served.Cost != want || served.Cost == 0 ||
					served.Alias != "smart" || served.Routed != gateway.RoutedFallback || served.Attempt != 2 || served.After != failed.ID ||
					!strings.Contains(served.RouteNote, "mistral/mistral-small-latest") {
					t.Errorf("fallback's record = %+v, want mistral ok at %s, after %s", served, want, failed.ID)
				}
				if served.ID == failed.ID {
					t.Error("both attempts have one ID")
				}
			})
		}
	}
}

// TestNoFallbackAfterFirstByte: a stream that breaks after its first byte
// reached the caller is not tried again elsewhere: the caller's stream
// ends with the dialect's error event, and the one record is charged for
// what was relayed.
func TestNoFallbackAfterFirstByte(t *testing.T) {
	g := newFallbackRig(t, upResetFirst, nil)
	status, body := g.send(t, "smart", true)
	if status != http.StatusOK || !strings.Contains(body, firstWord) || strings.Contains(body, "from the fallback") {
		t.Fatalf("answer %d %s, want the target's first word and no fallback", status, body)
	}
	events := strings.Split(strings.TrimSpace(body), "\n\n")
	if last := events[len(events)-1]; !strings.Contains(last, `"error"`) {
		t.Errorf("the stream ends with %q, want OpenAI's error event", last)
	}
	if g.back.Load() != 0 {
		t.Errorf("the fallback got %d requests after the target's first byte", g.back.Load())
	}
	recs := g.records(t, 1)
	if r := recs[0]; r.Provider != "openai" || r.Outcome != gateway.OutcomeCut || r.Alias != "smart" || r.Attempt != 1 || r.Cost == 0 {
		t.Errorf("record = %+v, want openai cut, charged for what it relayed", r)
	}
}

// TestNoFallbackOnCallersError: a 400 is the caller's to fix; the same
// request elsewhere would fail the same way. The caller gets it as it was.
func TestNoFallbackOnCallersError(t *testing.T) {
	g := newFallbackRig(t, up400, nil)
	status, body := g.send(t, "smart", false)
	if status != http.StatusBadRequest || !strings.Contains(body, "temperature") {
		t.Fatalf("answer %d %s, want the target's 400", status, body)
	}
	if g.back.Load() != 0 {
		t.Errorf("the fallback got %d requests after a 400", g.back.Load())
	}
	if r := g.records(t, 1)[0]; r.Status != 400 || r.Provider != "openai" || r.Alias != "smart" || r.Cost != 0 {
		t.Errorf("record = %+v", r)
	}
}

// TestNoFallbackOnBudgetRefusal: a budget that refuses the target refuses
// the request; trying another model would spend around the user's limit.
func TestNoFallbackOnBudgetRefusal(t *testing.T) {
	g := newFallbackRig(t, upOK, nil)
	if _, err := g.db.PutBudget(gateway.Budget{Name: "openai-tiny", Limit: 1, Period: gateway.PeriodDay, Provider: "openai"}); err != nil {
		t.Fatal(err)
	}
	status, body := g.send(t, "smart", false)
	if status != http.StatusPaymentRequired || !strings.Contains(body, "openai-tiny") {
		t.Fatalf("answer %d %s, want the budget's 402", status, body)
	}
	if g.primary.Load()+g.back.Load() != 0 {
		t.Errorf("upstreams got %d and %d requests under a refusing budget", g.primary.Load(), g.back.Load())
	}
	if r := g.records(t, 1)[0]; r.Outcome != gateway.OutcomeRefused || r.Budget != "openai-tiny" || r.Alias != "smart" {
		t.Errorf("record = %+v", r)
	}
}

// TestEveryTargetFails: the caller gets the last target's error.
func TestEveryTargetFails(t *testing.T) {
	g := newFallbackRig(t, up503, nil)
	if _, err := g.db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-4o-mini", Fallbacks: []string{"openai/gpt-4.1-mini"}}); err != nil {
		t.Fatal(err)
	}
	status, body := g.send(t, "smart", false)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "overloaded") {
		t.Fatalf("answer %d %s, want the last target's 503", status, body)
	}
	recs := g.records(t, 2)
	if recs[0].Model != "gpt-4o-mini" || recs[1].Model != "gpt-4.1-mini" || recs[1].After != recs[0].ID || recs[0].Cost+recs[1].Cost != 0 {
		t.Errorf("records = %+v", recs)
	}
}

// TestOverSoftRoutes: once a budget that applies to the target's requests
// is past its soft threshold, the alias's over-soft target serves them,
// and the record says which budget sent it there.
func TestOverSoftRoutes(t *testing.T) {
	g := newFallbackRig(t, upOK, nil)
	if _, err := g.db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-4o-mini", OverSoft: "mistral/mistral-small-latest"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.db.PutBudget(gateway.Budget{Name: "openai-day", Limit: gateway.Dollar, Period: gateway.PeriodDay, Provider: "openai", Soft: 50}); err != nil {
		t.Fatal(err)
	}
	// Under the threshold: the target.
	if status, body := g.send(t, "smart", false); status != 200 || strings.Contains(body, "from the fallback") {
		t.Fatalf("answer under the threshold %d %s", status, body)
	}
	first := g.records(t, 1)[0]
	if first.Provider != "openai" || first.Routed != gateway.RoutedTarget {
		t.Errorf("record under the threshold = %+v", first)
	}
	// $0.60 of a $1 budget spent: past 50%.
	spend := gateway.Hold{ID: "earlier", Time: time.Now(), Provider: "openai", Model: "gpt-4o", Amount: gateway.Dollar * 6 / 10}
	if err := g.db.Hold(t.Context(), spend); err != nil {
		t.Fatal(err)
	}
	if err := g.db.Settle(t.Context(), gateway.Record{ID: "earlier", Time: spend.Time, Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: spend.Amount, Priced: true}); err != nil {
		t.Fatal(err)
	}
	status, body := g.send(t, "smart", false)
	if status != 200 || !strings.Contains(body, "from the fallback") {
		t.Fatalf("answer past the threshold %d %s, want the over-soft target's", status, body)
	}
	r := g.records(t, 3)[2]
	if r.Provider != "mistral" || r.Routed != gateway.RoutedOverSoft || !strings.Contains(r.RouteNote, "openai-day") || r.Attempt != 1 {
		t.Errorf("record past the threshold = %+v", r)
	}
	if g.primary.Load() != 1 {
		t.Errorf("the target got %d requests, want only the first", g.primary.Load())
	}
}

// TestAliasShadowsModel: an alias with a real model's name takes that
// model's requests; provider/model still reaches the model itself.
func TestAliasShadowsModel(t *testing.T) {
	g := newFallbackRig(t, upOK, nil)
	if _, err := g.db.PutAlias(gateway.Alias{Name: "gpt-4o-mini", Target: "mistral/mistral-small-latest"}); err != nil {
		t.Fatal(err)
	}
	if status, body := g.send(t, "GPT-4o-mini", false); status != 200 || !strings.Contains(body, "from the fallback") {
		t.Fatalf("answer %d %s, want mistral's", status, body)
	}
	if status, body := g.send(t, "openai/gpt-4o-mini", false); status != 200 || strings.Contains(body, "from the fallback") {
		t.Fatalf("answer for openai/gpt-4o-mini %d %s, want openai's", status, body)
	}
	recs := g.records(t, 2)
	if recs[0].Provider != "mistral" || recs[0].Alias != "gpt-4o-mini" || recs[1].Provider != "openai" || recs[1].Alias != "" {
		t.Errorf("records = %+v", recs)
	}
}

// TestNoFallbackAfterFirstByteAnthropic: an Anthropic caller's stream
// that breaks after its first byte ends with Anthropic's error event, and
// the alias's fallback is not tried. The alias here has a real model's
// name, as Claude Code's background model would.
func TestNoFallbackAfterFirstByteAnthropic(t *testing.T) {
	var haiku, sonnet atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"model":"claude-haiku-4-5"`) {
			sonnet.Add(1)
			http.Error(w, "the fallback was asked", http.StatusTeapot)
			return
		}
		haiku.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n")
		io.WriteString(w, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
		io.WriteString(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""+firstWord+"\"}}\n\n")
		rc := http.NewResponseController(w)
		rc.Flush()
		conn, _, err := rc.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(up.Close)
	db := openLedger(t)
	token, _ := db.NewToken("claude-code")
	if _, err := db.PutAlias(gateway.Alias{Name: "claude-haiku-4-5-20251001", Target: "anthropic/claude-haiku-4-5", Fallbacks: []string{"anthropic/claude-sonnet-4-5"}}); err != nil {
		t.Fatal(err)
	}
	p := &gateway.Proxy{Ledger: db, Keys: fixedKeys{"anthropic": "sk-ant-key"}, Tokens: db, Aliases: db}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{"anthropic": up.URL}))
	srv := gateway.ServeForTest(t, p)

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{"model":"claude-haiku-4-5-20251001","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Title this."}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	events := strings.Split(strings.TrimSpace(string(b)), "\n\n")
	if resp.StatusCode != 200 || !strings.Contains(string(b), firstWord) || !strings.HasPrefix(events[len(events)-1], "event: error\ndata: {\"type\":\"error\"") {
		t.Errorf("answer %d, ending %q; want the first word, then Anthropic's error event", resp.StatusCode, events[len(events)-1])
	}
	if haiku.Load() != 1 || sonnet.Load() != 0 {
		t.Errorf("the target got %d requests and the fallback %d, want 1 and 0", haiku.Load(), sonnet.Load())
	}
	recs, _ := db.Records(store.LogQuery{Limit: 10})
	for i := 0; len(recs) == 0 && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		recs, _ = db.Records(store.LogQuery{Limit: 10})
	}
	if len(recs) != 1 || recs[0].Outcome != gateway.OutcomeCut || recs[0].Model != "claude-haiku-4-5" || recs[0].Alias != "claude-haiku-4-5-20251001" || recs[0].InputTokens != 30 {
		t.Errorf("records = %+v, want one cut at claude-haiku-4-5 through the alias", recs)
	}
}

// TestAliasInGeminiPath: a Gemini caller names the model in the path; an
// alias there goes to its target, a Gemini model in the path Gemini is
// asked at, or an OpenAI model in OpenAI's format (translated).
func TestAliasInGeminiPath(t *testing.T) {
	geminiAnswer, err := os.ReadFile(filepath.Join("testdata", "gemini", "generate_content.json"))
	if err != nil {
		t.Fatal(err)
	}
	chatAnswer, err := os.ReadFile(filepath.Join("testdata", "openai", "chat.json"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/v1beta/") {
			w.Write(geminiAnswer)
			return
		}
		if !strings.Contains(string(b), `"messages"`) {
			http.Error(w, `{"error":{"message":"not a chat completion"}}`, http.StatusBadRequest)
			return
		}
		w.Write(chatAnswer)
	}))
	t.Cleanup(up.Close)
	db := openLedger(t)
	token, _ := db.NewToken("script")
	for _, a := range []gateway.Alias{{Name: "quick", Target: "gemini/gemini-2.5-flash"}, {Name: "other", Target: "openai/gpt-4o-mini"}} {
		if _, err := db.PutAlias(a); err != nil {
			t.Fatal(err)
		}
	}
	p := &gateway.Proxy{Ledger: db, Keys: fixedKeys{"gemini": "AIza-key", "openai": "sk-openai-key"}, Tokens: db, Aliases: db}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{"gemini": up.URL, "openai": up.URL + "/v1"}))
	srv := gateway.ServeForTest(t, p)

	for _, tc := range []struct{ alias, provider, model, path string }{
		{"quick", "gemini", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"other", "openai", "gpt-4o-mini", "/v1/chat/completions"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1beta/models/"+tc.alias+":generateContent", strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"Say hello."}]}]}`))
		req.Header.Set("X-Goog-Api-Key", token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"candidates"`) {
			t.Errorf("%s: answer %d %s, want a Gemini answer", tc.alias, resp.StatusCode, b)
		}
		mu.Lock()
		last := paths[len(paths)-1]
		mu.Unlock()
		if !strings.HasPrefix(last, tc.path+" ") || strings.Contains(last, tc.alias) {
			t.Errorf("%s: the upstream was asked %.200s, want %s without the alias", tc.alias, last, tc.path)
		}
	}
	recs, _ := db.Records(store.LogQuery{Limit: 10})
	for i := 0; len(recs) < 2 && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		recs, _ = db.Records(store.LogQuery{Limit: 10})
	}
	if len(recs) != 2 || recs[1].Provider != "gemini" || recs[1].Model != "gemini-2.5-flash" || recs[1].Alias != "quick" ||
		recs[0].Provider != "openai" || recs[0].Model != "gpt-4o-mini" || recs[0].Alias != "other" || recs[0].Cost == 0 || recs[1].Cost == 0 {
		t.Errorf("records = %+v", recs)
	}
}

// TestFallbackAcrossFormats: an Anthropic caller's alias whose target is
// an OpenAI model falls back to an Anthropic one, and the other way
// round: each attempt is asked in its own provider's format, and the
// caller gets the answer in Anthropic's, as a stream and not.
func TestFallbackAcrossFormats(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var down atomic.Value // the provider that answers 5xx
	var asked sync.Map    // path → count
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n, _ := asked.LoadOrStore(r.URL.Path, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		anthropic := r.URL.Path == "/v1/messages"
		if anthropic && !strings.Contains(string(b), `"max_tokens"`) || !anthropic && strings.Contains(string(b), `"system":`) {
			http.Error(w, `{"error":{"message":"a foreign shape"}}`, http.StatusBadRequest)
			return
		}
		stream := strings.Contains(string(b), `"stream":true`)
		cut := func(partial string) {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, partial)
			rc := http.NewResponseController(w)
			rc.Flush()
			if conn, _, err := rc.Hijack(); err == nil {
				conn.Close()
			}
		}
		switch {
		case anthropic && down.Load() == "anthropic-event":
			// Anthropic's overload, as it often comes: 200, then an
			// error event before any content.
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
		case !anthropic && down.Load() == "openai-cut" && stream:
			w.Header().Set("Content-Type", "text/event-stream")
			cut("")
		case !anthropic && down.Load() == "openai-cut":
			w.Header().Set("Content-Type", "application/json")
			cut(`{"id":"chatcmpl-`)
		case anthropic && down.Load() == "anthropic":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(529)
			io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		case !anthropic && down.Load() == "openai":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"The engine is currently overloaded","type":"server_error","param":null,"code":null}}`)
		case anthropic && stream:
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(read("anthropic/messages_stream.sse"))
		case anthropic:
			w.Header().Set("Content-Type", "application/json")
			w.Write(read("anthropic/messages.json"))
		case stream:
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(read("openai/chat_stream_usage.sse"))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write(read("openai/chat.json"))
		}
	}))
	t.Cleanup(up.Close)
	db := openLedger(t)
	token, _ := db.NewToken("claude-code")
	p := &gateway.Proxy{Ledger: db, Keys: fixedKeys{"anthropic": "sk-ant-key", "openai": "sk-openai-key"}, Tokens: db, Aliases: db}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{"anthropic": up.URL, "openai": up.URL + "/v1"}))
	p.SetPolicy(gateway.Policy{Loop: gateway.LoopPolicy{Off: true}})
	srv := gateway.ServeForTest(t, p)

	n := 0
	for _, tc := range []struct {
		down, target, fallback, served string
		streams                        []bool
	}{
		{"openai", "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "anthropic", []bool{false, true}},
		{"anthropic", "anthropic/claude-haiku-4-5", "openai/gpt-4o-mini", "openai", []bool{false, true}},
		// 200, then a failure before a byte of the answer reached the
		// caller: an error event first, an empty stream, a cut JSON
		// body (translated, so read whole before it is written).
		{"anthropic-event", "anthropic/claude-haiku-4-5", "openai/gpt-4o-mini", "openai", []bool{true}},
		{"openai-cut", "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "anthropic", []bool{false, true}},
	} {
		for _, stream := range tc.streams {
			down.Store(tc.down)
			if _, err := db.PutAlias(gateway.Alias{Name: "claude-code", Target: tc.target, Fallbacks: []string{tc.fallback}}); err != nil {
				t.Fatal(err)
			}
			body := fmt.Sprintf(`{"model":"claude-code","max_tokens":200,"stream":%v,"system":"Be brief.","messages":[{"role":"user","content":"Say hello."}]}`, stream)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			what := fmt.Sprintf("%s down, stream %v", tc.down, stream)
			if stream && (resp.StatusCode != 200 || !strings.Contains(string(b), "event: message_stop")) ||
				!stream && (resp.StatusCode != 200 || !strings.Contains(string(b), `"type":"message"`)) {
				t.Errorf("%s: answer %d %.300s, want an Anthropic answer", what, resp.StatusCode, b)
			}
			n += 2
			recs, _ := db.Records(store.LogQuery{Limit: 100})
			for i := 0; (len(recs) < n || db.OpenHolds() > 0) && i < 200; i++ {
				time.Sleep(20 * time.Millisecond)
				recs, _ = db.Records(store.LogQuery{Limit: 100})
			}
			if len(recs) != n {
				t.Fatalf("%s: %d records, want %d", what, len(recs), n)
			}
			served, failed := recs[0], recs[1]
			downProv, _, _ := strings.Cut(tc.down, "-")
			if failed.Provider != downProv || failed.Cost != 0 || failed.Outcome == gateway.OutcomeOK || failed.Status == 200 ||
				served.Provider != tc.served || served.Outcome != gateway.OutcomeOK || served.Cost == 0 || served.After != failed.ID || served.Routed != gateway.RoutedFallback {
				t.Errorf("%s: records %+v then %+v", what, failed, served)
			}
		}
	}
}

// TestProviderModelNotAliased: provider/model reaches that provider's
// model even when an alias has the name (one set before such names were
// refused, still in a data file): a caller that names the provider is
// never sent to another.
func TestProviderModelNotAliased(t *testing.T) {
	g := newFallbackRig(t, upOK, nil)
	if _, err := g.db.PutAlias(gateway.Alias{Name: "openai/gpt-4o-mini", Target: "mistral/mistral-small-latest"}); err != nil {
		t.Fatal(err)
	}
	if status, body := g.send(t, "openai/gpt-4o-mini", false); status != http.StatusOK {
		t.Fatalf("answer %d %s", status, body)
	}
	if g.primary.Load() != 1 || g.back.Load() != 0 {
		t.Errorf("openai got %d requests and mistral %d, want openai's model itself", g.primary.Load(), g.back.Load())
	}
	if r := g.records(t, 1)[0]; r.Provider != "openai" || r.Alias != "" {
		t.Errorf("record = %+v", r)
	}
}

// sendAs is send with another credential: a caller's own provider key.
func (g *fallbackRig) sendAs(t *testing.T, cred, model string) (int, string) {
	t.Helper()
	return g.post(t, cred, fmt.Sprintf(`{"model":%q,"max_tokens":100,"messages":[{"role":"user","content":"Say hello."}]}`, model))
}

// TestFallbackPastMissingKey: a target whose provider Sluice has no key
// for is passed over for the fallback (recorded as its own row), not
// answered with a 401 while a fallback could serve.
func TestFallbackPastMissingKey(t *testing.T) {
	g := newFallbackRig(t, upOK, func(p *gateway.Proxy) { p.Keys = fixedKeys{"mistral": "mistral-key"} })
	status, body := g.send(t, "smart", false)
	if status != http.StatusOK || !strings.Contains(body, "from the fallback") {
		t.Fatalf("answer %d %s, want the fallback's", status, body)
	}
	if g.primary.Load() != 0 || g.back.Load() != 1 {
		t.Errorf("upstreams got %d and %d requests", g.primary.Load(), g.back.Load())
	}
	recs := g.records(t, 2)
	if r := recs[0]; r.Provider != "openai" || r.Status != 401 || r.Alias != "smart" || r.Attempt != 1 || !strings.Contains(r.Error, "no openai key") {
		t.Errorf("skipped attempt's record = %+v", r)
	}
	if r := recs[1]; r.Provider != "mistral" || r.Outcome != gateway.OutcomeOK || r.Attempt != 2 || r.After != recs[0].ID {
		t.Errorf("fallback's record = %+v", r)
	}
}

// TestOwnKeyFallbackKeepsTargetsError: a caller with its own OpenAI key
// may reach only OpenAI; when the target fails and the fallback is at
// another provider, the caller hears the target's 503, not a 401 about a
// key it never meant for the fallback.
func TestOwnKeyFallbackKeepsTargetsError(t *testing.T) {
	g := newFallbackRig(t, up503, nil)
	status, body := g.sendAs(t, "sk-proj-"+strings.Repeat("a", 40), "smart")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "overloaded") || !strings.Contains(body, "mistral") {
		t.Fatalf("answer %d %s, want the target's 503 naming the skipped fallback", status, body)
	}
	if g.back.Load() != 0 {
		t.Errorf("the fallback got %d requests with an OpenAI key", g.back.Load())
	}
	recs := g.records(t, 2)
	if recs[0].Status != 503 || recs[1].Provider != "mistral" || recs[1].Status != 401 {
		t.Errorf("records = %+v", recs)
	}
}

// TestBudgetRefusedFallbackPassedOver: once the target has failed, a
// fallback a budget refuses is passed over for the next one (held to its
// own budgets); a budget refusing the target itself still refuses the
// request (TestNoFallbackOnBudgetRefusal).
func TestBudgetRefusedFallbackPassedOver(t *testing.T) {
	g := newFallbackRig(t, up503, nil)
	if _, err := g.db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-4o-mini", Fallbacks: []string{"openai/gpt-4.1-mini", "mistral/mistral-small-latest"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.db.PutBudget(gateway.Budget{Name: "mini-tiny", Limit: 1, Period: gateway.PeriodDay, Model: "gpt-4.1-mini"}); err != nil {
		t.Fatal(err)
	}
	status, body := g.send(t, "smart", false)
	if status != http.StatusOK || !strings.Contains(body, "from the fallback") {
		t.Fatalf("answer %d %s, want the last fallback's", status, body)
	}
	recs := g.records(t, 3)
	if recs[0].Status != 503 || recs[1].Outcome != gateway.OutcomeRefused || recs[1].Budget != "mini-tiny" || recs[2].Provider != "mistral" || recs[2].Outcome != gateway.OutcomeOK {
		t.Errorf("records = %+v", recs)
	}
	if g.primary.Load() != 1 {
		t.Errorf("openai got %d requests, want 1 (the refused fallback sends none)", g.primary.Load())
	}
}

// TestFallbackAfterSetting: with a fallback left, a target that sends no
// first byte (no headers; a stream's headers and then no event) within
// Policy.FallbackAfter hands the request on, whatever the transport's
// own (10-minute) header timeout.
func TestFallbackAfterSetting(t *testing.T) {
	for _, fault := range []string{upStall, upSilent} {
		t.Run(fault, func(t *testing.T) {
			g := newFallbackRig(t, fault, func(p *gateway.Proxy) {
				p.SetPolicy(gateway.Policy{FallbackAfter: 200 * time.Millisecond})
			})
			start := time.Now()
			status, body := g.send(t, "smart", true)
			if status != http.StatusOK || !strings.Contains(body, "from the fallback") {
				t.Fatalf("answer %d %s, want the fallback's", status, body)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("the fallback answered after %v", d)
			}
			recs := g.records(t, 2)
			if r := recs[0]; r.Provider != "openai" || r.Status < 500 || r.Cost != 0 || !strings.Contains(r.Error+recs[1].RouteNote, "200ms") {
				t.Errorf("timed-out attempt's record = %+v, then %+v", r, recs[1])
			}
		})
	}
}
