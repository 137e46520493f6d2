package gateway_test

// These tests run the whole request path against a real ledger: a Proxy
// served by httptest in front of a fake OpenAI upstream, holding and
// settling in a store.DB in a temporary directory. They check the promises
// budgets rest on: concurrent requests never together pass a limit, and
// however a request ends, its hold is settled exactly once.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// fixedKeys gives each provider the key in the map.
type fixedKeys map[string]string

func (k fixedKeys) Key(ctx context.Context, provider string) (string, error) {
	if v, ok := k[provider]; ok {
		return v, nil
	}
	return "", gateway.ErrNoKey
}

// rig is a Proxy on a real ledger in front of one fake OpenAI upstream.
type rig struct {
	db     *store.DB
	proxy  *gateway.Proxy
	srv    *httptest.Server
	token  string       // a local token the ledger knows
	client *http.Client // talks to srv
}

// newRig opens a ledger in a temporary directory, gives it a total budget
// of limit (none when limit is 0) and serves a Proxy on it whose OpenAI
// upstream is up. configure, when not nil, sets the Proxy's fields before
// it serves.
func newRig(t *testing.T, up *httptest.Server, limit gateway.Money, configure func(*gateway.Proxy)) *rig {
	t.Helper()
	db := openLedger(t)
	if limit > 0 {
		if _, err := db.PutBudget(gateway.Budget{Name: "small", Limit: limit, Period: gateway.PeriodTotal}); err != nil {
			t.Fatal(err)
		}
	}
	token, err := db.NewToken("fault")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateway.Proxy{Ledger: db, Keys: fixedKeys{"openai": "sk-upstream-key"}, Tokens: db}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{"openai": up.URL + "/v1"}))
	// These tests fire hundreds of requests that differ only in their
	// user field, which loop detection sets aside: it would stop them
	// (runaway_test.go tests it).
	p.SetPolicy(gateway.Policy{Loop: gateway.LoopPolicy{Off: true}})
	if configure != nil {
		configure(p)
	}
	srv := gateway.ServeForTest(t, p)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &rig{db: db, proxy: p, srv: srv, token: token, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// request builds a chat completion request carrying marker in its user
// field, which the fake upstreams echo as their request id. Markers of the
// same length give bodies of the same length, and so the same hold.
func (g *rig) request(ctx context.Context, marker string, stream bool, maxTokens int) *http.Request {
	body := fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":%d,"user":%q,"stream":%v,"messages":[{"role":"user","content":"Say hello."}]}`,
		maxTokens, marker, stream)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// settledOne waits for the record of the rig's one request and fails t
// unless it is the only one and no hold is left open.
func (g *rig) settledOne(t *testing.T) gateway.Record {
	t.Helper()
	recs, open := g.settled(t, 1)
	if len(recs) != 1 || open != 0 {
		t.Fatalf("%d records and %d open holds, want 1 and 0", len(recs), open)
	}
	return recs[0]
}

// settled waits until the ledger has want records and no open hold (a
// request settles just after its answer reaches the client, or after the
// proxy notices the client left), or until ten seconds have passed, and
// returns the records and the number of holds open.
func (g *rig) settled(t *testing.T, want int) ([]gateway.Record, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := g.db.Records(store.LogQuery{Limit: want + 1000})
		if err != nil {
			t.Fatal(err)
		}
		open := g.db.OpenHolds()
		if len(recs) >= want && open == 0 || time.Now().After(deadline) {
			return recs, open
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upstreamRequest is what a fake upstream reads of a request.
type upstreamRequest struct {
	User          string `json:"user"`
	Stream        bool   `json:"stream"`
	MaxTokens     int64  `json:"max_tokens"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func readUpstreamRequest(r *http.Request) (upstreamRequest, error) {
	var u upstreamRequest
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return u, err
	}
	return u, json.Unmarshal(b, &u)
}

// chatJSON is a whole chat completion reporting the usage given; pad makes
// its content that many bytes long.
func chatJSON(marker string, in, out int64, pad int) string {
	return fmt.Sprintf(`{"id":"chatcmpl-%s","object":"chat.completion","created":1764230400,"model":"gpt-4o-mini-2024-07-18",`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		marker, strings.Repeat("a", max(pad, 2)), in, out, in+out)
}

// chunk is one SSE event of a chat completion stream with content text.
func chunk(marker, text string) string {
	return fmt.Sprintf(`data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`+"\n\n", marker, text)
}

// usageChunk is the last chunk of a stream that asked for usage.
func usageChunk(marker string, in, out int64) string {
	return fmt.Sprintf(`data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n", marker, in, out, in+out)
}

// TestRaceBudgetAdmission sends 200 requests at once against a budget that
// covers a few of them, in several runs with different limits.
//
// In the first wave the upstream holds every admitted request until each
// of the 200 has been admitted or refused, so no hold is released early:
// exactly floor(limit / hold) must pass. In the second wave, streams on the
// same budget run freely, each settling (and so giving back the unspent
// part of its hold) while others are admitted; the settled spend must still
// never pass the limit. Each upstream answer reports as many output tokens
// as the request allowed, so costs come close to holds.
func TestRaceBudgetAdmission(t *testing.T) {
	const requests = 200
	const maxTokens = 200
	const promptTokens = 10
	price := gateway.PriceForTest(t, "openai", "gpt-4o-mini")
	cost := price.Cost(gateway.Usage{InputTokens: promptTokens, OutputTokens: maxTokens})

	var (
		mu      sync.Mutex    // guards release
		release chan struct{} // closed to let the held upstream requests answer; nil: answer at once
		arrived atomic.Int64
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readUpstreamRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		arrived.Add(1)
		mu.Lock()
		wait := release
		mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("X-Request-Id", req.User)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, chatJSON(req.User, promptTokens, req.MaxTokens, 2))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunk(req.User, "Hello"))
		if req.StreamOptions.IncludeUsage {
			io.WriteString(w, usageChunk(req.User, promptTokens, req.MaxTokens))
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer up.Close()

	// The hold of one request, learned from a ledger with no budget.
	holdOf := func(stream bool) gateway.Money {
		probe := newRig(t, up, 0, nil)
		resp, err := probe.client.Do(probe.request(context.Background(), "race-9999", stream, maxTokens))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		recs, _ := probe.settled(t, 1)
		if len(recs) != 1 || recs[0].Held <= 0 {
			t.Fatalf("probe request (stream %v): records %+v, want one with a hold", stream, recs)
		}
		return recs[0].Held
	}
	hold := holdOf(false)
	streamHold := holdOf(true)
	if cost >= hold || cost >= streamHold {
		t.Fatalf("cost %v of an answer is not below the holds %v and %v; the test needs it below", cost, hold, streamHold)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i, fit := range []int64{1, 7, 23, 64, 150} {
		limit := gateway.Money(fit)*hold + gateway.Money(rng.Int64N(int64(hold)))
		if i == 0 {
			limit = hold // an exact fit is admitted
		}
		t.Run(fmt.Sprintf("fit=%d", fit), func(t *testing.T) {
			g := newRig(t, up, limit, nil)
			// In every other run a second, tighter budget covers the
			// provider: every budget that applies must admit a request.
			budget, bound := "small", limit
			if i%2 == 1 {
				budget, bound = "tight", limit-hold/2
				if _, err := g.db.PutBudget(gateway.Budget{Name: budget, Provider: "openai", Limit: bound, Period: gateway.PeriodTotal}); err != nil {
					t.Fatal(err)
				}
			}
			arrived.Store(0)
			wait := make(chan struct{})
			mu.Lock()
			release = wait
			mu.Unlock()

			// Wave one: every admitted request waits upstream until all 200
			// are decided.
			var refused atomic.Int64
			statuses := make([]int, requests)
			go func() {
				deadline := time.After(15 * time.Second)
				for arrived.Load()+refused.Load() < requests {
					select {
					case <-deadline:
						t.Errorf("after 15s, %d requests reached upstream and %d were refused, of %d", arrived.Load(), refused.Load(), requests)
						close(wait)
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
				close(wait)
			}()
			fire(t, g, requests, statuses, func(i int) *http.Request {
				return g.request(context.Background(), fmt.Sprintf("race-%04d", i), false, maxTokens)
			}, func(status int) {
				if status == http.StatusPaymentRequired {
					refused.Add(1)
				}
			})
			mu.Lock()
			release = nil
			mu.Unlock()

			want := int(bound / hold)
			ok, pay := count(statuses, 200), count(statuses, 402)
			if ok != want || pay != requests-want {
				t.Errorf("wave one: %d admitted, %d refused with 402 (others %v); want %d = floor(%v / %v) admitted, %d refused",
					ok, pay, others(statuses), want, bound, hold, requests-want)
			}
			if n := arrived.Load(); n != int64(ok) {
				t.Errorf("wave one: upstream saw %d requests, want the %d admitted", n, ok)
			}
			recs, open := g.settled(t, requests)
			checkWave(t, "wave one", recs, open, requests, budget, hold, cost)

			// Wave two: streams, admitted and settled while others run.
			statuses2 := make([]int, requests)
			fire(t, g, requests, statuses2, func(i int) *http.Request {
				return g.request(context.Background(), fmt.Sprintf("race-%04d", requests+i), true, maxTokens)
			}, nil)
			ok2 := count(statuses2, 200)
			if n := count(statuses2, 402); ok2+n != requests {
				t.Errorf("wave two: %d admitted and %d refused (others %v); want every request one or the other", ok2, n, others(statuses2))
			}
			// At least what was left after wave one, in whole holds, must
			// have been admitted: a settlement only ever gives money back.
			if least := min(int((bound-gateway.Money(ok)*cost)/streamHold), requests); ok2 < least {
				t.Errorf("wave two: %d admitted, want at least %d (%v left of %v, holds of %v)", ok2, least, bound-gateway.Money(ok)*cost, bound, streamHold)
			}
			recs, open = g.settled(t, 2*requests)
			checkWave(t, "both waves", recs, open, 2*requests, budget, 0, cost)

			var spent gateway.Money
			for _, r := range recs {
				spent += r.Cost
			}
			if spent > bound {
				t.Errorf("settled spend %v passed the limit %v", spent, bound)
			}
			if want := gateway.Money(ok+ok2) * cost; spent != want {
				t.Errorf("settled spend %v, want %d answers at %v = %v", spent, ok+ok2, cost, want)
			}
			bs, err := g.db.Budgets()
			if err != nil || len(bs) != 1+i%2 {
				t.Fatalf("Budgets() = %+v, %v; want %d", bs, err, 1+i%2)
			}
			for _, b := range bs {
				if b.Spent != spent || b.Held != 0 {
					t.Errorf("budget %s: spent %v and held %v, want %v (the records' costs) and 0", b.Name, b.Spent, b.Held, spent)
				}
			}
			t.Logf("wave one: %d of %d admitted (hold %v, limit %v); wave two: %d admitted; spent %v", ok, requests, hold, bound, ok2, spent)
		})
	}
}

// fire sends n requests at once, made by mk, and stores each status in
// statuses (0 when the request failed). done, when not nil, is called with
// each status as soon as it is known.
func fire(t *testing.T, g *rig, n int, statuses []int, mk func(i int) *http.Request, done func(status int)) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := g.client.Do(mk(i))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				if done != nil {
					done(0)
				}
				return
			}
			if done != nil {
				done(resp.StatusCode)
			}
			if resp.StatusCode == http.StatusPaymentRequired && resp.Header.Get("X-Should-Retry") != "false" {
				t.Errorf("request %d: 402 without x-should-retry: false", i)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
}

// checkWave checks the ledger after n requests: no hold open, one record
// each, refusals free and naming budget, answers charged cost and no more
// than held (every hold equal to hold, when hold is not 0).
func checkWave(t *testing.T, what string, recs []gateway.Record, open, n int, budget string, hold, cost gateway.Money) {
	t.Helper()
	if open != 0 {
		t.Errorf("%s: %d holds open once idle, want 0", what, open)
	}
	if len(recs) != n {
		t.Errorf("%s: %d records, want one per request: %d", what, len(recs), n)
	}
	ids := map[string]int{}
	ups := map[string]int{}
	for _, r := range recs {
		ids[r.ID]++
		if r.UpstreamID != "" {
			ups[r.UpstreamID]++
		}
		if hold != 0 && r.Held != hold {
			t.Errorf("%s: record %s held %v, want every request to hold %v", what, r.ID, r.Held, hold)
		}
		switch r.Outcome {
		case gateway.OutcomeRefused:
			if r.Status != 402 || r.Cost != 0 || r.Budget != budget {
				t.Errorf("%s: refusal %+v, want status 402, cost 0, budget %s", what, r, budget)
			}
		case gateway.OutcomeOK:
			if r.Status != 200 || r.Cost != cost || r.Cost > r.Held {
				t.Errorf("%s: answer %s: status %d cost %v held %v, want 200 and %v, within the hold", what, r.ID, r.Status, r.Cost, r.Held, cost)
			}
		default:
			t.Errorf("%s: record %+v, want outcome ok or refused", what, r)
		}
	}
	for id, k := range ids {
		if k != 1 {
			t.Errorf("%s: record id %s appears %d times, want once", what, id, k)
		}
	}
	for id, k := range ups {
		if k != 1 {
			t.Errorf("%s: upstream request %s recorded %d times, want once", what, id, k)
		}
	}
}

func count(statuses []int, status int) int {
	n := 0
	for _, s := range statuses {
		if s == status {
			n++
		}
	}
	return n
}

// others counts the statuses that are neither 200 nor 402.
func others(statuses []int) map[int]int {
	m := map[int]int{}
	for _, s := range statuses {
		if s != 200 && s != 402 {
			m[s]++
		}
	}
	return m
}

// Faults the fake upstream of TestFaultsSettleOnce plays, and the clients
// that go away.
const (
	faultOK           = "ok"          // a whole answer
	faultOKStream     = "okstream"    // a whole stream
	fault500          = "err500"      // a 500 before any body
	fault500Stream    = "err500str"   // the same, to a request for a stream
	faultResetStream  = "resetstream" // a few events, then the connection is dropped
	faultResetBody    = "resetbody"   // half an answer promised whole, then the connection is dropped
	faultStallHeaders = "stallhdr"    // no answer at all
	faultStallStream  = "stallstream" // a few events, then silence
	faultCancelStream = "cancelstrm"  // the client leaves after reading some bytes of a stream
	faultCancelBody   = "cancelbody"  // the client leaves after reading some bytes of an answer
)

var faults = []string{faultOK, faultOKStream, fault500, fault500Stream, faultResetStream, faultResetBody,
	faultStallHeaders, faultStallStream, faultCancelStream, faultCancelBody}

// streamFaults are the faults played on streams.
var streamFaults = map[string]bool{faultOKStream: true, fault500Stream: true, faultResetStream: true, faultStallStream: true, faultCancelStream: true}

// faultUpstream plays the fault named in each request's marker
// ("f-KIND-NNN"), answering with the marker as its request id.
func faultUpstream(t *testing.T, in, out int64) *httptest.Server {
	t.Helper()
	const events = 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readUpstreamRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		kind := strings.Split(req.User, "-")[1]
		if kind == faultStallHeaders {
			<-r.Context().Done() // until the proxy gives up
			return
		}
		w.Header().Set("X-Request-Id", req.User)
		rc := http.NewResponseController(w)
		drop := func() {
			conn, _, err := rc.Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		}
		switch kind {
		case fault500, fault500Stream:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`)
		case faultOK:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, chatJSON(req.User, in, out, 64))
		case faultResetBody, faultCancelBody:
			body := chatJSON(req.User, in, out, 16<<10)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			if kind == faultResetBody {
				io.WriteString(w, body[:len(body)/2])
				rc.Flush()
				drop()
				return
			}
			// Slowly, so that clients leave while it is on its way.
			const parts = 16
			for i := 0; i < parts; i++ {
				part := body[i*len(body)/parts : (i+1)*len(body)/parts]
				if _, err := io.WriteString(w, part); err != nil {
					return
				}
				rc.Flush()
				time.Sleep(8 * time.Millisecond)
			}
		default: // streams
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			for i := 0; i < events; i++ {
				if _, err := io.WriteString(w, chunk(req.User, fmt.Sprintf("word%02d ", i))); err != nil {
					return
				}
				rc.Flush()
				switch {
				case i == 3 && kind == faultResetStream:
					drop()
					return
				case i == 3 && kind == faultStallStream:
					<-r.Context().Done()
					return
				}
				time.Sleep(3 * time.Millisecond)
			}
			if req.StreamOptions.IncludeUsage {
				io.WriteString(w, usageChunk(req.User, in, out))
			}
			io.WriteString(w, "data: [DONE]\n\n")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// faultResult is what one client of TestFaultsSettleOnce saw.
type faultResult struct {
	marker string
	kind   string
	status int
	read   int // bytes of the answer the client read
}

// TestFaultsSettleOnce sends a mix of requests at once where the upstream
// fails (500, dropped connections, silence) and clients leave after a
// random number of bytes. Once idle, no hold may be open, each request
// must have exactly one record, an interrupted stream that relayed bytes
// must be charged, and a 500 before any body must cost nothing.
func TestFaultsSettleOnce(t *testing.T) {
	const perKind = 10
	const in, out = 12, 40
	price := gateway.PriceForTest(t, "openai", "gpt-4o-mini")
	full := price.Cost(gateway.Usage{InputTokens: in, OutputTokens: out})
	up := faultUpstream(t, in, out)
	g := newRig(t, up, 100*gateway.Dollar, func(p *gateway.Proxy) {
		p.HeaderTimeout = 2 * time.Second
		p.IdleTimeout = 2 * time.Second
	})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))

	var results []*faultResult
	for _, kind := range faults {
		for i := 0; i < perKind; i++ {
			results = append(results, &faultResult{marker: fmt.Sprintf("f-%s-%03d", kind, i), kind: kind})
		}
	}
	rng.Shuffle(len(results), func(i, j int) { results[i], results[j] = results[j], results[i] })
	// How far each leaving client reads: from one byte to past the end.
	limits := make([]int, len(results))
	for i := range limits {
		limits[i] = 1 + rng.IntN(4000)
		if results[i].kind == faultCancelBody {
			limits[i] = 1 + rng.IntN(20000)
		}
	}

	var wg sync.WaitGroup
	for i, res := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream := streamFaults[res.kind]
			resp, err := g.client.Do(g.request(ctx, res.marker, stream, 100))
			if err != nil {
				t.Errorf("%s: %v", res.marker, err)
				return
			}
			defer resp.Body.Close()
			res.status = resp.StatusCode
			switch res.kind {
			case faultCancelStream, faultCancelBody:
				buf := make([]byte, limits[i])
				res.read, _ = io.ReadFull(resp.Body, buf)
				cancel()
			default:
				n, _ := io.Copy(io.Discard, resp.Body)
				res.read = int(n)
			}
		}()
	}
	wg.Wait()

	recs, open := g.settled(t, len(results))
	if open != 0 {
		t.Errorf("%d holds open once idle, want 0", open)
	}
	if len(recs) != len(results) {
		t.Errorf("%d records for %d requests, want one each", len(recs), len(results))
	}
	byUpstream := map[string][]gateway.Record{}
	var anonymous []gateway.Record // records with no upstream request id
	ids := map[string]int{}
	var spent gateway.Money
	for _, r := range recs {
		ids[r.ID]++
		spent += r.Cost
		if r.UpstreamID == "" {
			anonymous = append(anonymous, r)
		} else {
			byUpstream[r.UpstreamID] = append(byUpstream[r.UpstreamID], r)
		}
		if r.Cost > r.Held {
			t.Errorf("record %s (%s, %s) cost %v, more than its hold %v", r.ID, r.UpstreamID, r.Outcome, r.Cost, r.Held)
		}
	}
	for id, k := range ids {
		if k != 1 {
			t.Errorf("record id %s appears %d times, want once", id, k)
		}
	}

	stalled := 0
	seen := map[string]int{} // "kind outcome" → requests, for the log
	for _, res := range results {
		if res.kind == faultStallHeaders {
			stalled++
			if res.status != http.StatusGatewayTimeout {
				t.Errorf("%s: status %d, want 504", res.marker, res.status)
			}
			continue
		}
		rs := byUpstream[res.marker]
		if len(rs) != 1 {
			t.Errorf("%s: %d records, want 1", res.marker, len(rs))
			continue
		}
		r := rs[0]
		seen[res.kind+" "+string(r.Outcome)]++
		switch res.kind {
		case faultOK, faultOKStream:
			if res.status != 200 || r.Status != 200 || r.Outcome != gateway.OutcomeOK || r.Cost != full {
				t.Errorf("%s: client got %d; record status %d outcome %s cost %v; want 200, ok, %v", res.marker, res.status, r.Status, r.Outcome, r.Cost, full)
			}
		case fault500, fault500Stream:
			if res.status != 500 || r.Status != 500 || r.Outcome != gateway.OutcomeError || r.Cost != 0 {
				t.Errorf("%s: client got %d; record status %d outcome %s cost %v; want 500, error, 0", res.marker, res.status, r.Status, r.Outcome, r.Cost)
			}
		case faultResetStream, faultResetBody, faultStallStream:
			if r.Outcome != gateway.OutcomeCut || r.Cost <= 0 || res.read == 0 {
				t.Errorf("%s: client read %d bytes; record outcome %s cost %v; want bytes relayed, cut, charged more than 0", res.marker, res.read, r.Outcome, r.Cost)
			}
			checkRelayedCharged(t, res, r)
		case faultCancelStream, faultCancelBody:
			if r.Outcome != gateway.OutcomeCanceled && r.Outcome != gateway.OutcomeOK {
				t.Errorf("%s: record outcome %s (status %d, %s), want canceled (or ok, had the client read it all)", res.marker, r.Outcome, r.Status, r.Error)
			}
			if res.read > 0 && r.Cost <= 0 {
				t.Errorf("%s: client read %d bytes and left; record %s cost %v, want more than 0", res.marker, res.read, r.Outcome, r.Cost)
			}
			if r.Outcome == gateway.OutcomeCanceled && r.Status != 499 {
				t.Errorf("%s: canceled record has status %d, want 499", res.marker, r.Status)
			}
			checkRelayedCharged(t, res, r)
		}
	}
	t.Logf("outcomes by fault: %v", seen)
	if len(anonymous) != stalled {
		t.Errorf("%d records carry no upstream request id, want the %d requests upstream never answered", len(anonymous), stalled)
	}
	for _, r := range anonymous {
		if r.Status != http.StatusGatewayTimeout || r.Outcome != gateway.OutcomeError || r.Cost != 0 {
			t.Errorf("unanswered request %s: status %d outcome %s cost %v, want 504, error, 0", r.ID, r.Status, r.Outcome, r.Cost)
		}
	}
	bs, err := g.db.Budgets()
	if err != nil || len(bs) != 1 {
		t.Fatalf("Budgets() = %+v, %v; want the one budget", bs, err)
	}
	if bs[0].Spent != spent || bs[0].Held != 0 {
		t.Errorf("budget spent %v and held %v, want %v (the records' costs) and 0", bs[0].Spent, bs[0].Held, spent)
	}
	if err := g.db.Check(); err != nil {
		t.Errorf("ledger check: %v", err)
	}
}

// checkRelayedCharged checks that a request whose client read some bytes
// is charged for input and for output: at least its input plus what was
// relayed.
func checkRelayedCharged(t *testing.T, res *faultResult, r gateway.Record) {
	t.Helper()
	// Sluice counts at least one token per four bytes relayed.
	if res.read >= 4 && (r.InputTokens <= 0 || r.OutputTokens <= 0) {
		t.Errorf("%s: client read %d bytes; record %s charged %d input and %d output tokens, want both more than 0",
			res.marker, res.read, r.Outcome, r.InputTokens, r.OutputTokens)
	}
}

// TestFaultCanceledLongStreamWithinHold leaves a long stream that set no
// max_tokens after 300 KB. The proxy charges what it relayed, but never
// more than it held: the hold is what the budgets granted.
func TestFaultCanceledLongStreamWithinHold(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readUpstreamRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Request-Id", req.User)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		// 3,000 one-token chunks, about 500 KB of events.
		for i := 0; i < 3000; i++ {
			if _, err := io.WriteString(w, chunk(req.User, "a")); err != nil {
				return
			}
			if i%50 == 0 {
				rc.Flush()
				time.Sleep(time.Millisecond)
			}
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	g := newRig(t, up, 0, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := `{"model":"gpt-4o-mini","user":"long-stream","stream":true,"messages":[{"role":"user","content":"Say hello."}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.CopyN(io.Discard, resp.Body, 300_000)
	cancel()
	resp.Body.Close()

	r := g.settledOne(t)
	if r.Cost <= 0 || r.Cost > r.Held {
		t.Errorf("stream left after %d bytes: record %s charged %v for %d output tokens, held %v; want more than 0 and no more than the hold",
			n, r.Outcome, r.Cost, r.OutputTokens, r.Held)
	}
}
