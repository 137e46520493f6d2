package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// The budget a stream is held against grows a slice at a time, on the real
// ledger: these tests run the proxy in front of a fake Anthropic upstream
// with a bbolt ledger in a temporary directory.

type oneKey string

func (k oneKey) Key(ctx context.Context, provider string) (string, error) { return string(k), nil }

// streamingAnthropic answers every message request with a stream of
// events, each carrying perEvent tokens of text (four bytes a token, as
// English runs), reporting the tokens at the end as Anthropic does.
func streamingAnthropic(t *testing.T, events, perEvent int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		write := func(s string) bool {
			if _, err := io.WriteString(w, s); err != nil {
				return false
			}
			fl.Flush()
			return true
		}
		write(`event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":2000,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

`)
		text := strings.Repeat("word", perEvent)
		for i := 0; i < events; i++ {
			if !write(`event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + text + `"}}

`) {
				return
			}
		}
		write(fmt.Sprintf(`event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":%d}}

event: message_stop
data: {"type":"message_stop"}

`, events*perEvent))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// claudeCodeBody is shaped like Claude Code's requests: max_tokens 128000,
// adaptive thinking, tools, a stream, about 4 KB in all.
func claudeCodeBody() string {
	tools := make([]string, 8)
	for i := range tools {
		tools[i] = fmt.Sprintf(`{"name":"Tool%d","description":"%s","input_schema":{"type":"object","properties":{"path":{"type":"string"}}}}`, i, strings.Repeat("Does one thing well. ", 16))
	}
	return `{"model":"claude-sonnet-4-5","max_tokens":128000,"stream":true,"thinking":{"type":"adaptive"},` +
		`"system":[{"type":"text","text":"You are a coding agent."}],"tools":[` + strings.Join(tools, ",") + `],` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"Fix the failing test."}]}]}`
}

// sliceSetup runs a proxy on a fresh ledger with a $1 total budget.
func sliceSetup(t *testing.T, upstream string, pol gateway.Policy) (*store.DB, *httptest.Server, string) {
	t.Helper()
	db := openLedger(t)
	if _, err := db.PutBudget(gateway.Budget{Name: "one-dollar", Limit: gateway.Dollar, Period: gateway.PeriodTotal}); err != nil {
		t.Fatal(err)
	}
	secret, err := db.NewToken("cc")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateway.Proxy{Ledger: db, Keys: oneKey("sk-ant-api03-fake"), Tokens: db}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{"anthropic": upstream}))
	p.SetPolicy(pol)
	srv := gateway.ServeForTest(t, p)
	return db, srv, secret
}

// claudeCodeCall makes one Claude-Code-shaped call and returns its status
// and body.
func claudeCodeCall(t *testing.T, url, secret string) (int, string) {
	return claudeCodeCallBody(t, url, secret, claudeCodeBody())
}

func claudeCodeCallBody(t *testing.T, url, secret, body string) (int, string) {
	req, _ := http.NewRequest("POST", url+"/v1/messages?beta=true", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "claude-cli/2.1.332 (external, sdk-cli)")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

func spent(t *testing.T, db *store.DB) (gateway.Money, []gateway.Record) {
	t.Helper()
	// Settlement follows the answer's last byte closely; wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, err := db.Records(store.LogQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var sum gateway.Money
		for _, r := range recs {
			sum += r.Cost
		}
		if len(recs) >= 5 || time.Now().After(deadline) {
			return sum, recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStreamSlicesFiveClaudeCodeCallsUnderOneDollar(t *testing.T) {
	price, _ := gateway.DefaultPrices().Lookup("anthropic", "claude-sonnet-4-5")
	// Each answer: 1,500 tokens, some cents; their worst case, 64,000
	// tokens of output, is about $1 each.
	up := streamingAnthropic(t, 150, 10)
	db, srv, secret := sliceSetup(t, up.URL, gateway.Policy{})
	parallel(5, func(i int) {
		status, body := claudeCodeCall(t, srv.URL, secret)
		if status != 200 || !strings.HasSuffix(body, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
			t.Errorf("call %d: status %d, body ends %q; want the whole stream", i, status, body[max(0, len(body)-200):])
		}
	})
	sum, recs := spent(t, db)
	want := 5 * price.Cost(gateway.Usage{InputTokens: 2000, OutputTokens: 1500})
	if len(recs) != 5 || sum != want {
		t.Errorf("%d records costing %s, want 5 costing %s", len(recs), sum, want)
	}
	for _, r := range recs {
		if r.Outcome != gateway.OutcomeOK || r.Held >= gateway.Dollar/5 {
			t.Errorf("record %s outcome %s held %s: want ok, held far below the worst case", r.ID, r.Outcome, r.Held)
		}
	}

	// Held for its worst case, a call to a dearer model (64,000 tokens of
	// output at $25 a million) is refused outright; its 402 says which
	// max_tokens would fit and how Claude Code sets it. Held a slice at a
	// time, the same call goes through.
	opus := strings.Replace(claudeCodeBody(), "claude-sonnet-4-5", "claude-opus-4-5", 1)
	_, srv2, secret2 := sliceSetup(t, up.URL, gateway.Policy{StrictHolds: true})
	status, body := claudeCodeCallBody(t, srv2.URL, secret2, opus)
	if status != 402 || !strings.Contains(body, "max_tokens at most ") || !strings.Contains(body, "CLAUDE_CODE_MAX_OUTPUT_TOKENS=") {
		t.Errorf("strict hold: status %d body %s; want a 402 naming max_tokens and CLAUDE_CODE_MAX_OUTPUT_TOKENS", status, body)
	}
	if status, _ := claudeCodeCallBody(t, srv.URL, secret, opus); status != 200 {
		t.Errorf("sliced hold: opus call status %d, want 200", status)
	}
}

func TestStreamSlicesNeverPassTheLimitByMoreThanASlice(t *testing.T) {
	price, _ := gateway.DefaultPrices().Lookup("anthropic", "claude-sonnet-4-5")
	// Each answer runs to 12,000 tokens, 48 KB of text, which the proxy
	// must take for up to 48,000 tokens ($0.72) until the provider reports
	// the count: five cannot all be held in $1, so some are cut as their
	// next slice is refused.
	up := streamingAnthropic(t, 600, 20)
	db, srv, secret := sliceSetup(t, up.URL, gateway.Policy{})
	var mu sync.Mutex
	cut, whole := 0, 0
	parallel(5, func(i int) {
		status, body := claudeCodeCall(t, srv.URL, secret)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case status == 200 && strings.HasSuffix(body, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"):
			whole++
		case status == 200 && strings.Contains(body, "event: error") && strings.Contains(body, "one-dollar"):
			cut++
		case status == 402:
		default:
			t.Errorf("call %d: status %d, body ends %q", i, status, body[max(0, len(body)-300):])
		}
	})
	sum, recs := spent(t, db)
	slice := price.Cost(gateway.Usage{OutputTokens: gateway.DefaultStreamSlice})
	if sum > gateway.Dollar+slice {
		t.Errorf("spent %s under a $1 budget, more than one slice (%s) past it", sum, slice)
	}
	if cut == 0 {
		t.Errorf("%d whole and %d cut streams; want some cut ($%s spent, %d records)", whole, cut, sum, len(recs))
	}
	for _, r := range recs {
		if r.Outcome != gateway.OutcomeOK && r.Outcome != gateway.OutcomeCut && r.Outcome != gateway.OutcomeRefused {
			t.Errorf("record outcome %s (%s)", r.Outcome, r.Error)
		}
	}
	t.Logf("%d whole, %d cut, %s spent", whole, cut, sum)
	st, err := db.Budgets()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Held != 0 || st[0].Spent != sum {
		t.Errorf("budget after the calls: %+v; want nothing held and the records' sum spent", st)
	}
}
