package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file defines a wire format Sluice does not ship, the parrot API,
// and nothing else: registered with a Proxy, requests in it must be
// routed, authenticated, metered and refused as requests in the built-in
// formats are, with no other file knowing of it. That a format is one
// value in one file is the design; this test keeps it true.
//
// The parrot API: POST /v2/speak {"bird": MODEL, "squawks": MAX,
// "stream": BOOL} answers {"bird": MODEL, "heard": IN, "said": OUT}, or a
// stream of "event: words" with cumulative {"heard", "said"} counts ended
// by "event: done", after an "event: hello" or not. Keys go in
// X-Parrot-Key and start "parrot-"; a request's id comes back in
// X-Parrot-Request. Errors are {"fault": {"status", "kind", "why"}}, and a
// stream's error is "event: fault".

type parrotDialect struct{}

const routeParrotSpeak routeName = "parrot.speak"

var parrotEndpoints = []endpoint{
	{method: "POST", pattern: "/speak", name: routeParrotSpeak, max: "squawks", events: true},
	{method: "GET", pattern: "/birds"},
}

var parrotInfo = dialectInfo{
	name:         "parrot",
	provider:     "parrot",
	endpoints:    parrotEndpoints,
	versions:     []string{"v2"},
	baseURLHint:  "parrot SDKs take the bare address",
	sdkHeaders:   []string{"X-Parrot-Key"},
	keyHeaders:   []string{"X-Parrot-Key"},
	keyParams:    []string{"perch"},
	keyHeader:    "X-Parrot-Key",
	keyCheck:     "/v2/birds",
	keyRefused:   []int{http.StatusUnauthorized},
	billingWords: []string{"no more crackers"},

	openingEvents:    []string{"hello"},
	requestIDHeaders: []string{"X-Parrot-Request"},
	output:           shownSpec{member: "words"},
	modelMember:      "bird",
}

func (parrotDialect) info() *dialectInfo { return &parrotInfo }

func (parrotDialect) claim(method, path string, h http.Header) (string, bool, bool) {
	first, _, _ := cutSegment(path)
	return "parrot", true, first == "v2"
}

func (d parrotDialect) owns(path string) bool {
	_, _, ok := d.claim("", path, nil)
	return ok
}

func (parrotDialect) inspect(rt route, obj jsonObject) (info requestInfo, s inputScan) {
	info.Model = obj.get("bird").str()
	info.Stream = obj.get("stream").isTrue()
	info.MaxOutput = count(obj.get("squawks"))
	return info, s
}

func (parrotDialect) imageTokens(string) int64 { return 1000 }

// parrotBilling: a parrot may look words up in its dictionary
// ("lookups": at most N), each lookup billed apart from its tokens, at
// the price row's per-call fee.
func (parrotDialect) billing(in feeInput, outBound int64) billing {
	lookups := in.top.get("lookups")
	if lookups == nil {
		return billing{}
	}
	var n tokens
	json.Unmarshal(lookups, &n)
	return billing{webSearch: searchBound(int64(n), outBound)}
}

func (parrotDialect) prepare(rt route, info requestInfo, body []byte) ([]byte, bool) {
	return body, false
}

// parrotCounts is the usage the parrot API reports: words heard and said,
// and the lookups made.
type parrotCounts struct {
	Bird   string  `json:"bird"`
	Heard  *tokens `json:"heard"`
	Said   *tokens `json:"said"`
	Looked *tokens `json:"looked"`
}

func (c parrotCounts) usage() (Usage, bool) {
	if c.Heard == nil && c.Said == nil {
		return Usage{}, false
	}
	return Usage{InputTokens: deref(c.Heard), OutputTokens: deref(c.Said), WebSearchCalls: deref(c.Looked)}.normalize(), true
}

func (parrotDialect) usage(rt route, body []byte) (Usage, []byte, bool) {
	var c parrotCounts
	if !decodeJSON(body, &c) {
		return Usage{}, nil, false
	}
	u, ok := c.usage()
	var model []byte
	if c.Bird != "" {
		model, _ = json.Marshal(c.Bird) // raw, as the answer names it
	}
	return u, model, ok
}

type parrotMeter struct{}

func (parrotDialect) meter(route) eventMeter { return parrotMeter{} }

func (parrotMeter) event(m *streamMeter, ev streamEvent) []byte {
	switch ev.Name {
	case "done":
		m.Done = true
	case "fault":
		var f struct {
			Fault struct{ Why string } `json:"fault"`
		}
		json.Unmarshal(ev.Data, &f)
		m.ErrorMessage = f.Fault.Why
	case "words":
		var c parrotCounts
		if decodeJSON(ev.Data, &c) {
			if u, ok := c.usage(); ok {
				m.Usage = u
			}
			if c.Bird != "" {
				m.Model = c.Bird
			}
		}
	}
	return ev.Raw
}

func (parrotDialect) cutEvent(rt route, kind errKind, msg string, seq int64) []byte {
	return []byte("event: fault\ndata: " + string(mustJSON(map[string]any{"fault": map[string]any{"kind": kind, "why": msg}})) + "\n\n")
}

func (parrotDialect) errorBody(status int, kind errKind, msg string) []byte {
	return mustJSON(map[string]any{"fault": map[string]any{"status": status, "kind": kind, "why": msg}})
}

// budgetLedger keeps holds and records in memory and admits a hold by
// the budgets' own arithmetic (Budget.Applies, Admission), as the store
// does.
type budgetLedger struct {
	budgets []Budget
	mu      sync.Mutex // guards the fields below
	spent   Money
	holds   map[string]Hold
	records []Record
}

func (l *budgetLedger) Budgeted(h Hold) bool {
	for _, b := range l.budgets {
		if b.Applies(h) {
			return true
		}
	}
	return false
}

func (l *budgetLedger) Hold(ctx context.Context, h Hold) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var held Money
	for _, o := range l.holds {
		held += o.Amount
	}
	a := Admission{Now: h.Time, Want: h.Amount}
	for _, b := range l.budgets {
		if b.Applies(h) {
			a.Refuses(b, Standing{Settled: l.spent, Held: held})
		}
	}
	if ref := a.Refusal(); ref != nil {
		return ref
	}
	if l.holds == nil {
		l.holds = map[string]Hold{}
	}
	l.holds[h.ID] = h
	return nil
}

func (l *budgetLedger) Settle(ctx context.Context, r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.holds, r.ID)
	if r.Outcome != OutcomeRefused && r.Outcome != OutcomeBlocked {
		l.spent += r.Cost
	}
	l.records = append(l.records, r)
	return nil
}

// all returns the records once no hold is open (a request settles just
// after its answer reaches the client), or after a second.
func (l *budgetLedger) all() []Record {
	for i := 0; ; i++ {
		l.mu.Lock()
		recs, open := append([]Record(nil), l.records...), len(l.holds)
		l.mu.Unlock()
		if open == 0 || i == 100 {
			return recs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parrotOwnKey is a parrot key a caller sends of its own; parrotRealKey
// is the stored one, long enough to be a key to the redactor (which
// knows the parrot's keys only from its provider row).
const (
	parrotOwnKey  = "parrot-own-key"
	parrotRealKey = "parrot-real-key-0123456789abcdef"
)

// Extend raises a hold as Hold admits one: by the budgets' arithmetic.
func (l *budgetLedger) Extend(ctx context.Context, id string, amount Money) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.holds[id]
	if !ok {
		return fmt.Errorf("no hold %s", id)
	}
	var held Money
	for _, o := range l.holds {
		held += o.Amount
	}
	a := Admission{Now: h.Time, Want: amount - h.Amount}
	for _, b := range l.budgets {
		if b.Applies(h) {
			a.Refuses(b, Standing{Settled: l.spent, Held: held})
		}
	}
	if ref := a.Refusal(); ref != nil {
		return ref
	}
	h.Amount = amount
	l.holds[id] = h
	return nil
}

// fakeParrot is an upstream that speaks the parrot API and wants key (or
// parrotOwnKey, and then says so in its words). Its bird "hoarse" fails
// every stream after its hello; "moult" fails any request; "echo" is
// refused with the key it was sent in the words, as some providers do.
func fakeParrot(t *testing.T, key string, calls *int, mu *sync.Mutex) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*calls++
		n := *calls
		mu.Unlock()
		got := r.Header.Get("X-Parrot-Key")
		if r.URL.Query().Has("perch") || r.URL.Query().Has("PERCH") {
			got = "" // a key in the query went upstream
		}
		if got != key && got != parrotOwnKey || strings.Contains(r.Header.Get("Authorization"), "sk-sluice-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Parrot-Request", "squawk-"+strconv.Itoa(n))
		switch r.URL.Path {
		case "/v2/birds":
			fmt.Fprint(w, `{"birds":["macaw"]}`)
			return
		case "/v2/speak":
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var req struct {
			Bird    string `json:"bird"`
			Stream  bool   `json:"stream"`
			Cut     bool   `json:"cut"`
			Broke   bool   `json:"broke"`
			Lookups int    `json:"lookups"`
			Moult   bool   `json:"moult"`
			Echo    bool   `json:"echo"`
			Long    bool   `json:"long"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Echo {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"fault":{"status":401,"kind":"bad_key","why":"Incorrect key provided: %s"}}`, got)
			return
		}
		if req.Moult {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"fault":{"status":503,"kind":"moulting","why":"The parrot is moulting"}}`)
			return
		}
		if req.Broke {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"fault":{"status":400,"kind":"hungry","why":"No more crackers on this account"}}`)
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			looked := ""
			if req.Lookups > 0 {
				looked = fmt.Sprintf(`,"looked":%d`, req.Lookups-1)
			}
			words := "polly"
			if got == parrotOwnKey {
				words += ", with the caller's own key"
			}
			fmt.Fprintf(w, `{"bird":%q,"words":%q,"heard":1000,"said":200%s}`, req.Bird, words, looked)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: hello\ndata: {}\n\n")
		if req.Bird == "hoarse" {
			fmt.Fprint(w, "event: fault\ndata: {\"fault\":{\"kind\":\"hoarse\",\"why\":\"too hoarse to talk\"}}\n\n")
			return
		}
		if req.Long {
			// Far more words than a slice of 100 holds.
			fmt.Fprintf(w, "event: words\ndata: {\"bird\":%q,\"heard\":1000,\"said\":50,\"words\":\"pol\"}\n\n", req.Bird)
			fmt.Fprint(w, "event: words\ndata: {\"heard\":1000,\"said\":3000,\"words\":\"ly wants a cracker\"}\n\n")
			fmt.Fprint(w, "event: done\ndata: {}\n\n")
			return
		}
		fmt.Fprintf(w, "event: words\ndata: {\"bird\":%q,\"heard\":1000,\"said\":1,\"words\":\"pol\"}\n\n", req.Bird)
		fmt.Fprint(w, "event: words\ndata: {\"heard\":1000,\"said\":300,\"words\":\"ly\"}\n\n")
		if !req.Cut {
			fmt.Fprint(w, "event: done\ndata: {}\n\n")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFourthDialect(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
	)
	up := fakeParrot(t, parrotRealKey, &calls, &mu)
	upCalls := func() int { mu.Lock(); defer mu.Unlock(); return calls }

	// $10 a million input tokens, $50 a million output: 1,000 in and 200
	// out cost $0.02; the worst case of 1,000 squawks is about $0.06. A
	// lookup costs $0.01.
	price := Price{Provider: "parrot", Model: "macaw", Input: perMillion(10), Output: perMillion(50), MaxOutput: 4000, WebSearch: Dollar / 100}
	l := &budgetLedger{budgets: []Budget{{ID: "b1", Name: "parrots", Limit: 3 * Dollar / 10, Period: PeriodTotal, Provider: "parrot"}}}
	// The alias chatty tries the hoarse parrot, then the macaw.
	chatty := Alias{Name: "chatty", Target: "parrot/hoarse", Fallbacks: []string{"parrot/macaw"}}
	var logs logLines
	p := &Proxy{Ledger: l, Keys: mapKeys{"parrot": parrotRealKey}, Tokens: mapTokens{testToken: "laptop"}, Aliases: aliasesOf(chatty), Logf: logs.logf}
	p.dialects = append([]dialect{parrotDialect{}}, builtinDialects...)
	p.SetProviders(map[string]Provider{
		"parrot": {Name: "parrot", Dialect: "parrot", BaseURL: up.URL, KeyPrefixes: []string{"parrot-"}},
		"openai": DefaultProviders()["openai"],
	})
	hoarse := price
	hoarse.Model = "hoarse"
	p.SetPrices(DefaultPrices().With([]Price{price, hoarse}))
	srv := ServeForTest(t, p)

	speak := func(path, key, body string) (*http.Response, string) {
		t.Helper()
		hdr := map[string]string{}
		if key != "" {
			hdr["X-Parrot-Key"] = key
		}
		return post(t, srv.URL+path, hdr, body)
	}
	fault := func(body string) (status int, kind, why string) {
		var f struct {
			Fault struct {
				Status int    `json:"status"`
				Kind   string `json:"kind"`
				Why    string `json:"why"`
			} `json:"fault"`
		}
		if err := json.Unmarshal([]byte(body), &f); err != nil {
			t.Fatalf("error body %s is not the parrot API's: %v", body, err)
		}
		return f.Fault.Status, f.Fault.Kind, f.Fault.Why
	}

	// Metered, whole: under its provider's prefix and bare, since the
	// dialect claims /v2.
	for _, path := range []string{"/parrot/v2/speak", "/v2/speak"} {
		resp, body := speak(path, testToken, `{"bird":"macaw","squawks":1000}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "polly") {
			t.Fatalf("POST %s = %d %s, want the parrot's answer", path, resp.StatusCode, body)
		}
	}
	recs := l.all()
	if len(recs) != 2 {
		t.Fatalf("%d records after two requests, want 2: %+v", len(recs), recs)
	}
	for _, r := range recs {
		want := price.Cost(Usage{InputTokens: 1000, OutputTokens: 200})
		if r.Route != "parrot.speak" || r.Provider != "parrot" || r.Model != "macaw" || r.Outcome != OutcomeOK ||
			r.InputTokens != 1000 || r.OutputTokens != 200 || r.Cost != want || r.Token != "laptop" || r.Held <= 0 {
			t.Errorf("record %+v: want parrot.speak, macaw, 1000 in, 200 out, cost %s, held", r, want)
		}
	}

	// Metered, streamed: the usage of the last event stands; a stream
	// the upstream ends early is cut in the parrot's own words. (Each
	// request's row is read before the next goes: a stream settles just
	// after its last byte, and may settle after the next request's row.)
	resp, body := speak("/v2/speak", testToken, `{"bird":"macaw","squawks":1000,"stream":true}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "event: done") {
		t.Fatalf("stream = %d %q", resp.StatusCode, body)
	}
	recs = l.all()
	if r := recs[len(recs)-1]; len(recs) != 3 || r.Outcome != OutcomeOK || !r.Stream || r.InputTokens != 1000 || r.OutputTokens != 300 {
		t.Errorf("stream record %+v (of %d): want the third, ok, 1000 in, 300 out", r, len(recs))
	}
	resp, body = speak("/v2/speak", testToken, `{"bird":"macaw","squawks":1000,"stream":true,"cut":true}`)
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(body, "\n\n") || !strings.Contains(body, "event: fault\ndata: {\"fault\":{\"kind\":\"upstream_error\"") {
		t.Fatalf("cut stream = %d %q, want it ended by a parrot fault event", resp.StatusCode, body)
	}
	recs = l.all()
	if r := recs[len(recs)-1]; len(recs) != 4 || r.Outcome != OutcomeCut || r.OutputTokens != 300 {
		t.Errorf("cut stream record %+v (of %d): want the fourth, cut, 300 out", r, len(recs))
	}

	// An upstream error in the parrot's words for an account that cannot
	// pay is told apart from other errors.
	resp, body = speak("/v2/speak", testToken, `{"bird":"macaw","squawks":10,"broke":true}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "crackers") {
		t.Fatalf("broke = %d %s, want the upstream's 400", resp.StatusCode, body)
	}
	recs = l.all()
	if len(recs) != 5 || recs[4].Outcome != OutcomeBilling || recs[4].Cost != 0 {
		t.Fatalf("records %+v: want the fifth a billing error, charged nothing", recs)
	}

	// A fee of the parrot's own: a request that may make three lookups
	// is held for them, though no other format spells "lookups", and is
	// charged for the two made.
	resp, body = speak("/v2/speak", testToken, `{"bird":"macaw","squawks":1000,"lookups":3}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with lookups = %d %s", resp.StatusCode, body)
	}
	recs = l.all()
	plain, looked := recs[0], recs[len(recs)-1]
	if want := price.Cost(Usage{InputTokens: 1000, OutputTokens: 200, WebSearchCalls: 2}); looked.Cost != want || looked.WebSearchCalls != 2 {
		t.Errorf("record with lookups %+v: want 2 lookups, cost %s", looked, want)
	}
	if extra := looked.Held - plain.Held; extra < 3*price.WebSearch || extra >= 4*price.WebSearch {
		t.Errorf("held %s with three lookups, %s without: want three lookups' %s more", looked.Held, plain.Held, 3*price.WebSearch)
	}

	// Refused by the budget: 402 in the parrot's error shape, with the
	// budget's headers, a refused row, and nothing sent upstream. $0.30
	// less the six requests' $0.13 leaves less than the $0.21 that 4,000
	// squawks can cost.
	before := upCalls()
	resp, body = speak("/parrot/v2/speak", testToken, `{"bird":"macaw","squawks":4000}`)
	status, kind, why := fault(body)
	if resp.StatusCode != http.StatusPaymentRequired || status != 402 || kind != "budget_exceeded" ||
		!strings.Contains(why, `budget "parrots"`) || !strings.Contains(why, "squawks at most") ||
		resp.Header.Get("X-Sluice-Budget") != "parrots" || resp.Header.Get("X-Should-Retry") != "false" {
		t.Fatalf("over budget = %d %s (%v), want a parrot 402 naming the budget", resp.StatusCode, body, resp.Header)
	}
	if upCalls() != before {
		t.Error("a refused request reached the upstream")
	}
	recs = l.all()
	if r := recs[len(recs)-1]; r.Outcome != OutcomeRefused || r.Reason != ReasonBudget || r.Budget != "parrots" || r.Cost != 0 {
		t.Errorf("refusal record %+v: want refused by budget parrots", r)
	}

	// Refused before admission, in the parrot's shape: no key, and a
	// path the allow-list does not hold. Both are blocked rows.
	resp, body = speak("/v2/speak", "", `{"bird":"macaw"}`)
	if status, kind, _ := fault(body); resp.StatusCode != http.StatusUnauthorized || status != 401 || kind != string(kindAuth) {
		t.Errorf("no key = %d %s, want a parrot 401", resp.StatusCode, body)
	}
	resp, body = speak("/v2/feathers", testToken, `{}`)
	if status, _, why := fault(body); resp.StatusCode != http.StatusNotFound || status != 404 || !strings.Contains(why, "parrot API") {
		t.Errorf("unknown path = %d %s, want a parrot 404", resp.StatusCode, body)
	}
	recs = l.all()
	blocked := recs[len(recs)-2:]
	if blocked[0].Outcome != OutcomeBlocked || blocked[0].Reason != ReasonAuth || blocked[1].Outcome != OutcomeBlocked || blocked[1].Reason != ReasonRoute {
		t.Errorf("blocked records %+v, want auth then route", blocked)
	}
	if upCalls() != before {
		t.Error("a blocked request reached the upstream")
	}

	// A key in the parrot's own query parameter (keyParams) is read, and
	// neither it nor a key of the caller's own there goes upstream.
	resp, body = speak("/v2/speak?perch="+testToken+"&PERCH="+parrotOwnKey, "", `{"bird":"macaw","squawks":10}`)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("key in ?perch= = %d %s, want 200", resp.StatusCode, body)
	}

	// A parrot key is checked by the parrot's cheapest call.
	for key, valid := range map[string]bool{parrotRealKey: true, "parrot-wrong-key": false} {
		c, err := p.CheckKey(context.Background(), nil, p.providerTable()["parrot"], key)
		if err != nil || c.Valid != valid || c.Status != map[bool]int{true: 200, false: 401}[valid] {
			t.Errorf("CheckKey(parrot, %s) = %+v, %v; want valid %v", key, c, err, valid)
		}
	}

	// An upstream error: relayed with its status in the parrot's shape,
	// recorded as an error in the parrot's words, with the parrot's
	// request id, and charged nothing.
	resp, body = speak("/v2/speak", testToken, `{"bird":"macaw","squawks":10,"moult":true}`)
	if status, kind, _ := fault(body); resp.StatusCode != http.StatusServiceUnavailable || status != 503 || kind != "moulting" {
		t.Errorf("moulting = %d %s, want the parrot's 503", resp.StatusCode, body)
	}
	recs = l.all()
	if r := recs[len(recs)-1]; r.Outcome != OutcomeError || !strings.Contains(r.Error, "The parrot is moulting") || r.Cost != 0 ||
		!strings.HasPrefix(r.UpstreamID, "squawk-") {
		t.Errorf("moulting record %+v: want an error in the parrot's words, its request id, no cost", r)
	}

	// An upstream error that echoes the stored key: the key, known to the
	// redactor only from the parrot's row, is in neither the record nor
	// the log.
	if Redact(parrotRealKey) != parrotRealKey {
		t.Fatalf("Redact(%s) redacts it without the parrot's row: the check below proves nothing", parrotRealKey)
	}
	resp, body = speak("/v2/speak", testToken, `{"bird":"macaw","squawks":10,"echo":true}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("echo = %d %s, want the parrot's 401", resp.StatusCode, body)
	}
	recs = l.all()
	if r := recs[len(recs)-1]; r.Outcome != OutcomeError || !strings.Contains(r.Error, "Incorrect key provided: [redacted]") || strings.Contains(r.Error, "0123456789abcdef") {
		t.Errorf("echo record %+v: want the error with the parrot's key redacted", r)
	}
	if strings.Contains(logs.String(), "0123456789abcdef") {
		t.Errorf("the log shows the parrot's key:\n%s", logs.String())
	}

	// A parrot key of the caller's own goes to the parrot as it is.
	resp, body = speak("/v2/speak", parrotOwnKey, `{"bird":"macaw","squawks":10}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "own key") {
		t.Errorf("own key = %d %s, want the parrot's answer to the caller's key", resp.StatusCode, body)
	}
	recs = l.all()
	if r := recs[len(recs)-1]; r.Outcome != OutcomeOK || r.Token != ClientKeyToken || r.Cost != price.Cost(Usage{InputTokens: 1000, OutputTokens: 200}) {
		t.Errorf("own key record %+v: want ok, the client's key, charged", r)
	}

	// An alias falls back when a stream opens with the parrot's hello and
	// then a fault, before a word: the hoarse parrot's attempt is an
	// error row, the macaw answers. The model goes in the parrot's
	// "bird".
	resp, body = speak("/v2/speak", testToken, `{"bird":"chatty","squawks":100,"stream":true}`)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "fault") || !strings.Contains(body, "event: done") {
		t.Errorf("alias stream = %d %q, want the macaw's whole stream", resp.StatusCode, body)
	}
	recs = l.all()
	for _, r := range recs[len(recs)-2:] {
		switch r.Attempt {
		case 1:
			if r.Outcome != OutcomeError || r.Model != "hoarse" || r.Alias != "chatty" || !strings.Contains(r.Error, "too hoarse") || r.Cost != 0 {
				t.Errorf("first attempt %+v: want hoarse's error, free", r)
			}
		case 2:
			if r.Outcome != OutcomeOK || r.Model != "macaw" || r.Alias != "chatty" || r.OutputTokens != 300 {
				t.Errorf("second attempt %+v: want the macaw's answer", r)
			}
		default:
			t.Errorf("record %+v: want the alias's two attempts", r)
		}
	}

	// Cut by the budget mid-stream: held a slice of 100 squawks at a
	// time, a stream whose words outgrow what the budget has left ends
	// with a parrot fault before the words it could not pay for. (The
	// parrot said them, and says so: the row charges them.)
	p.SetPolicy(Policy{StreamSlice: 100})
	resp, body = speak("/v2/speak", testToken, `{"bird":"macaw","squawks":4000,"stream":true,"long":true}`)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "cracker") || strings.Contains(body, "event: done") ||
		!strings.Contains(body, "event: fault\ndata: {\"fault\":{\"kind\":\"budget_exceeded\"") {
		t.Errorf("stream past the budget = %d %q, want it cut by a parrot fault", resp.StatusCode, body)
	}
	recs = l.all()
	if r := recs[len(recs)-1]; r.Outcome != OutcomeCut || !strings.Contains(r.Error, `budget "parrots"`) {
		t.Errorf("cut record %+v: want cut by the budget parrots", r)
	}

	// A bird no provider claims goes to the parrot's own provider.
	resp, body = speak("/v2/speak", testToken, `{"bird":"kea","squawks":10}`)
	recs = l.all()
	if r := recs[len(recs)-1]; r.Provider != "parrot" || r.Model != "kea" {
		t.Errorf("unknown bird = %d %s, record %+v: want it sent to the parrot", resp.StatusCode, body, r)
	}

	// The built-in formats are untouched by the fourth: an OpenAI request
	// still answers in OpenAI's shape.
	resp, body = post(t, srv.URL+"/v1/chat/completions", nil, `{"model":"gpt-4o-mini","messages":[]}`)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(body, `{"error":{`) {
		t.Errorf("OpenAI request without a key = %d %s, want OpenAI's 401", resp.StatusCode, body)
	}
}

// TestFourthDialectMeter reads a parrot stream through the stream meter
// alone, event by event, as relay does.
func TestFourthDialectMeter(t *testing.T) {
	m := newStreamMeter(parrotDialect{}, route{dialect: parrotDialect{}, Name: routeParrotSpeak}, false)
	stream := "event: words\ndata: {\"bird\":\"macaw\",\"heard\":7,\"said\":1}\n\nevent: words\ndata: {\"heard\":7,\"said\":9}\n\n"
	er := newSSEReader(strings.NewReader(stream))
	var out bytes.Buffer
	for {
		ev, err := er.Next()
		out.Write(m.relay(ev))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != stream || m.Usage != (Usage{InputTokens: 7, OutputTokens: 9}) || m.Model != "macaw" || m.Done {
		t.Errorf("meter after %q: usage %+v, model %q, done %v; relayed %q", stream, m.Usage, m.Model, m.Done, out.String())
	}
	if cut := string(m.cut(kindBudget, "spent")); cut != "event: fault\ndata: {\"fault\":{\"kind\":\"budget_exceeded\",\"why\":\"spent\"}}\n\n" {
		t.Errorf("Cut = %q", cut)
	}
}

// part: parrot has no image or document parts.
func (parrotDialect) part([]byte, jsonObject, *inputScan) {}

func (parrotDialect) errorOf(body []byte) (apiError, bool) {
	var f struct {
		Fault *struct {
			Kind string `json:"kind"`
			Why  string `json:"why"`
		} `json:"fault"`
	}
	if json.Unmarshal(body, &f) != nil || f.Fault == nil {
		return apiError{}, false
	}
	return apiError{Type: f.Fault.Kind, Message: f.Fault.Why}, true
}

// shyParrot is the parrot dialect claiming no path as its own: a path
// under its version names no provider.
type shyParrot struct{ parrotDialect }

func (shyParrot) claim(method, path string, h http.Header) (string, bool, bool) {
	return "", false, false
}

// TestVersionIsNotAProvider: a path no dialect claims, under a version
// segment of any dialect (the parrot's v2, not only OpenAI's v1), is a
// path Sluice has no route for, not an unknown provider.
func TestVersionIsNotAProvider(t *testing.T) {
	ds := []dialect{shyParrot{}}
	for path, want := range map[string]string{
		"/v2/speak":      "has no route",
		"/acme/v2/speak": "unknown provider",
	} {
		_, f := parseRoute("POST", path, http.Header{}, DefaultProviders(), ds)
		if f == nil || !strings.Contains(f.msg, want) {
			t.Errorf("parseRoute(%q) = %+v, want a failure saying %q", path, f, want)
		}
	}
}
