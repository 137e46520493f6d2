package gateway

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func guardRig(t *testing.T) (*Proxy, string, *upstreamSeen, *memLedger, *testClock) {
	t.Helper()
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
	clock := &testClock{t: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}
	p.Now = clock.Now
	return p, srv.URL, seen, l, clock
}

var auth = map[string]string{"Authorization": "Bearer " + testToken}

// chatCall is an agent's call as its SDK sends it: per-call ids and a
// timestamp in the system prompt change every time.
func chatCall(i int, question string) string {
	return fmt.Sprintf(`{"model":"gpt-4o-mini","user":"u-%d","metadata":{"run":"%d"},"messages":[`+
		`{"role":"system","content":"You are a build agent. Now: 2026-11-30T10:%02d:%02d.%03dZ, session 3f2b8c1e-9a4d-4e6f-8b1a-%012d."},`+
		`{"role":"assistant","tool_calls":[{"id":"call_%d","type":"function","function":{"name":"run","arguments":"{\"cmd\":\"make test\"}"}}]},`+
		`{"role":"tool","tool_call_id":"call_%d","content":"FAIL: TestBuild (exit 2) at %d"},`+
		`{"role":"user","content":"%s"}]}`, i, i, i%60, i%60, i, i, i, i, 1764496800+i, question)
}

func TestLoopRefusedOnTheNinth(t *testing.T) {
	_, url, seen, l, clock := guardRig(t)
	since := clock.Now().Local().Format("15:04:05") // the first call's time
	for i := 1; i <= 8; i++ {
		resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(i, "The build failed. Fix it and try again."))
		if resp.StatusCode != 200 {
			t.Fatalf("identical call %d: %d %s, want 200", i, resp.StatusCode, body)
		}
		clock.Add(5 * time.Second)
	}
	resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(9, "The build failed. Fix it and try again."))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("ninth identical call: %d %s, want 429", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Should-Retry"); got != "false" {
		t.Errorf("loop 429 x-should-retry = %q, want false", got)
	}
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Type != string(kindLoop) || e.Error.Code != string(kindLoop) {
		t.Errorf("loop 429 body %s, want an OpenAI error of type %s", body, kindLoop)
	}
	for _, want := range []string{`token "laptop"`, "gpt-4o-mini", "/v1/chat/completions", "The build failed. Fix it and try again.", "9 times since " + since, "sluice loop allow laptop", "loop_limit"} {
		if !strings.Contains(e.Error.Message, want) {
			t.Errorf("loop message %q does not say %q", e.Error.Message, want)
		}
	}
	if n := seen.count(); n != 8 {
		t.Errorf("upstream saw %d calls, want 8", n)
	}
	last := waitRecord(t, l, func(r Record) bool { return r.Outcome == OutcomeRefused })
	if last.Status != 429 || last.Outcome != OutcomeRefused || last.Reason != ReasonLoop || last.Token != "laptop" {
		t.Errorf("refused record = status %d outcome %q reason %q token %q, want 429 refused loop laptop", last.Status, last.Outcome, last.Reason, last.Token)
	}
	// The loop stays refused while it goes on; quiet for the window, it
	// is let through again.
	clock.Add(10 * time.Second)
	if resp, _ := post(t, url+"/v1/chat/completions", auth, chatCall(10, "The build failed. Fix it and try again.")); resp.StatusCode != 429 {
		t.Errorf("tenth identical call: %d, want 429", resp.StatusCode)
	}
	clock.Add(DefaultLoopWindow + time.Second)
	if resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(11, "The build failed. Fix it and try again.")); resp.StatusCode != 200 {
		t.Errorf("the same call after %s of quiet: %d %s, want 200", DefaultLoopWindow, resp.StatusCode, body)
	}
}

func TestLoopOtherDialects(t *testing.T) {
	p, url, _, _, _ := guardRig(t)
	pol := p.Policy()
	pol.Loop.Limit = 2
	p.SetPolicy(pol)
	body := `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"again"}]}`
	for i := 0; i < 2; i++ {
		// Anthropic's upstream is not faked: 502s count as sent too.
		post(t, url+"/v1/messages", map[string]string{"X-Api-Key": testToken}, body)
	}
	resp, got := post(t, url+"/v1/messages", map[string]string{"X-Api-Key": testToken}, body)
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	json.Unmarshal([]byte(got), &e)
	if resp.StatusCode != 429 || e.Type != "error" || e.Error.Type != "rate_limit_error" || resp.Header.Get("X-Should-Retry") != "false" {
		t.Errorf("third identical Anthropic call: %d %s (x-should-retry %q), want 429 rate_limit_error, x-should-retry false", resp.StatusCode, got, resp.Header.Get("X-Should-Retry"))
	}
}

func TestLoopBurstOfDifferentCallsPasses(t *testing.T) {
	_, url, seen, _, _ := guardRig(t)
	// Fifty calls in the same instant, each asking something else.
	for i := 0; i < 50; i++ {
		resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(i, fmt.Sprintf("Summarise page %d of the report.", i)))
		if resp.StatusCode != 200 {
			t.Fatalf("call %d of a burst of different calls: %d %s", i, resp.StatusCode, body)
		}
	}
	if seen.count() != 50 {
		t.Errorf("upstream saw %d calls, want 50", seen.count())
	}
}

func TestLoopAllowAndOff(t *testing.T) {
	p, url, _, _, clock := guardRig(t)
	call := func() int {
		resp, _ := post(t, url+"/v1/chat/completions", auth, chatCall(1, "same"))
		return resp.StatusCode
	}
	pol := p.Policy()
	pol.Loop.Allowed = map[string]time.Time{"laptop": clock.Now().Add(time.Hour)}
	p.SetPolicy(pol)
	for i := 0; i < 12; i++ {
		if got := call(); got != 200 {
			t.Fatalf("allowed token, identical call %d: %d, want 200", i+1, got)
		}
	}
	clock.Add(time.Hour)
	codes := []int{}
	for i := 0; i < DefaultLoopLimit+1; i++ {
		codes = append(codes, call())
	}
	if want := fmt.Sprint([]int{200, 200, 200, 200, 200, 200, 200, 200, 429}); fmt.Sprint(codes) != want {
		t.Errorf("after the allowance ended, nine identical calls answered %v, want %s", codes, want)
	}
	pol.Loop = LoopPolicy{Off: true}
	p.SetPolicy(pol)
	if got := call(); got != 200 {
		t.Errorf("loop detection off: %d, want 200", got)
	}
}

func TestRPMCap(t *testing.T) {
	p, url, _, l, clock := guardRig(t)
	pol := p.Policy()
	pol.RPM = map[string]int{"laptop": 3}
	p.SetPolicy(pol)
	for i := 0; i < 3; i++ {
		if resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(i, fmt.Sprintf("q%d", i))); resp.StatusCode != 200 {
			t.Fatalf("call %d under a cap of 3: %d %s", i, resp.StatusCode, body)
		}
		clock.Add(10 * time.Second)
	}
	resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(4, "q4"))
	if resp.StatusCode != 429 || resp.Header.Get("X-Should-Retry") != "false" || resp.Header.Get("Retry-After") != "30" {
		t.Errorf("fourth call in a minute: %d %s (x-should-retry %q, retry-after %q), want 429, false, 30",
			resp.StatusCode, body, resp.Header.Get("X-Should-Retry"), resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "3 requests a minute") || !strings.Contains(body, "sluice token rpm laptop") {
		t.Errorf("rpm message %s does not name the cap and how to change it", body)
	}
	if r := waitRecord(t, l, func(r Record) bool { return r.Outcome == OutcomeRefused }); r.Reason != ReasonRPM || r.Status != 429 {
		t.Errorf("refused record reason %q status %d, want rpm 429", r.Reason, r.Status)
	}
	clock.Add(31 * time.Second)
	if resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(5, "q5")); resp.StatusCode != 200 {
		t.Errorf("a call once the first aged out: %d %s, want 200", resp.StatusCode, body)
	}
}

func TestPause(t *testing.T) {
	p, url, seen, l, clock := guardRig(t)
	now := clock.Now()
	pol := p.Policy()
	pol.Pauses = []Pause{{Token: "laptop", Since: now, Until: now.Add(30 * time.Minute)}}
	p.SetPolicy(pol)
	resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(1, "hello"))
	if resp.StatusCode != 402 || resp.Header.Get("X-Should-Retry") != "false" || !strings.Contains(body, `paused token \"laptop\"`) || !strings.Contains(body, "sluice resume --token laptop") {
		t.Errorf("call while the token is paused: %d %s, want 402 naming the pause", resp.StatusCode, body)
	}
	// Another caller (its own provider key) is not covered.
	if resp, body := post(t, url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-proj-ownkey0123456789abcdefghij"}, chatCall(2, "hello")); resp.StatusCode != 200 {
		t.Errorf("a call of another token during the token's pause: %d %s", resp.StatusCode, body)
	}
	if r := waitRecord(t, l, func(r Record) bool { return r.Outcome == OutcomeRefused }); r.Reason != ReasonPause || r.Status != 402 || r.Outcome != OutcomeRefused {
		t.Errorf("paused record reason %q status %d outcome %q, want pause 402 refused", r.Reason, r.Status, r.Outcome)
	}
	// It ends by itself.
	clock.Add(30 * time.Minute)
	if resp, body := post(t, url+"/v1/chat/completions", auth, chatCall(3, "hello")); resp.StatusCode != 200 {
		t.Errorf("a call after the pause ended: %d %s", resp.StatusCode, body)
	}
	// A pause of everything covers every caller, even model lists.
	pol.Pauses = []Pause{{Since: clock.Now()}}
	p.SetPolicy(pol)
	before := seen.count()
	req, _ := http.NewRequest("GET", url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer sk-proj-ownkey0123456789abcdefghij")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 402 || !strings.Contains(string(b), "Sluice is paused") || seen.count() != before {
		t.Errorf("list models while paused: %d %s, want 402 and nothing upstream", r2.StatusCode, b)
	}
}

func TestNormalizeText(t *testing.T) {
	for in, want := range map[string]string{
		"now 2026-11-30T10:31:02.123Z ok":          "now <time> ok",
		"at 2026-11-30 10:31 local":                "at <time> local",
		"id 3f2b8c1e-9a4d-4e6f-8b1a-000000000001.": "id <uuid>.",
		"ts 1764496800 and 42":                     "ts <n> and 42",
		"sha deadbeefdeadbeef0123 end":             "sha <n> end",
		"page 7 of 12":                             "page 7 of 12",
		"no digits here":                           "no digits here",
		"abc1764496800":                            "abc1764496800",
	} {
		if got := normalizeText(in); got != want {
			t.Errorf("normalizeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPauseCutsOpenStreams: a pause that cuts ends the token's stream
// being relayed at once, with the dialect's error event, and charges what
// was relayed; another token's stream goes on.
func TestPauseCutsOpenStreams(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word%d \"},\"finish_reason\":null}]}\n\n", i)
			rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-release:
				io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\ndata: [DONE]\n\n")
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer up.Close()
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1"})
	p.Tokens = mapTokens{testToken: "laptop", testToken + "2": "other"}

	open := func(token, q string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"`+q+`"}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
			t.Fatalf("first line of the stream = %q, %v", line, err)
		}
		return resp, br
	}
	mine, mineBody := open(testToken, "one")
	defer mine.Body.Close()
	theirs, theirBody := open(testToken+"2", "two")
	defer theirs.Body.Close()

	if n := p.CutStreams("laptop"); n != 1 {
		t.Errorf("CutStreams(laptop) = %d, want 1", n)
	}
	rest, _ := io.ReadAll(mineBody)
	if !strings.Contains(string(rest), "Sluice ended this stream: it was paused") {
		t.Errorf("the cut stream ended with %q, want an error event naming the pause", tail(string(rest), 300))
	}
	close(release)
	other, _ := io.ReadAll(theirBody)
	if !strings.Contains(string(other), "[DONE]") {
		t.Errorf("the other token's stream ended with %q, want it to finish", tail(string(other), 300))
	}
	cut := waitRecord(t, l, func(r Record) bool { return r.Token == "laptop" })
	if cut.Outcome != OutcomeCut || !strings.Contains(cut.Error, "paused") || cut.OutputTokens == 0 {
		t.Errorf("cut record outcome %q error %q output %d, want cut, naming the pause, with what was relayed charged", cut.Outcome, cut.Error, cut.OutputTokens)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// BenchmarkFingerprint: the loop fingerprint of a long request and of a
// short chat (what bench/run.sh sends).
func BenchmarkFingerprint(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"long", chatCall(1, strings.Repeat("The build failed at step 12; the log says FAIL at 2026-11-30T10:31:02Z. ", 200))},
		{"chat", `{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},` +
			`{"role":"user","content":"Say hello and offer help in one sentence. (1234)"}],"stream":true,"stream_options":{"include_usage":true}}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				fingerprint("laptop", "gpt-4o-mini", "openai.chat", body)
			}
		})
	}
}

// waitRecord returns the first record that match accepts, waiting for
// settlements, which are written after the answer has gone.
func waitRecord(t *testing.T, l *memLedger, match func(Record) bool) Record {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		for _, r := range l.records {
			if match(r) {
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no such record settled within 5s")
		}
	}
}

// A body inspectRequest read is fingerprinted without checking it again,
// to the same fingerprint; and so is the canonical form its walk wrote.
func TestFingerprintOfInspectedBody(t *testing.T) {
	n := 0
	for _, body := range append(scanCorpus(t), fingerprintBodies()...) {
		if checkInspectedFingerprint(t, body) {
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d bodies inspected", n)
	}
}

// fingerprintBodies are bodies whose members the fingerprint leaves out
// or puts in order at several depths, around the parts inspection reads.
func fingerprintBodies() [][]byte {
	var out [][]byte
	for _, s := range []string{
		`{"z":1,"metadata":{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},"a":[{"id":"x","b":2,"a":[]}],"user":"u"}`,
		`{"messages":[{"role":"user","content":[{"type":"input_audio","tool_call_id":"c1","input_audio":{"data":"QUJD","format":"wav"}},{"type":"text","text":"at 2026-11-30T10:31:02Z run 123e4567-e89b-12d3-a456-426614174000 ts 17642304001234"}]}],"b":[[],{},[{}],""],"b":null}`,
		`{"c":{"y":[1,{"q":true,"p":false}],"x":{"requestId":"r","v":-0.5e3}},"c":{"k":"w"},"a":"\u00e9t\u00e9 0123456789abcdef0123"}`,
		`{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"AAAA"}}]}],"generationConfig":{"maxOutputTokens":9,"sessionId":"s"}}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// checkInspectedFingerprint fails t unless the fingerprints of body,
// when inspectRequest reads it, match fingerprint's, on every route; it
// reports whether body was read.
func checkInspectedFingerprint(t *testing.T, body []byte) bool {
	t.Helper()
	want := fingerprint("tok", "m", "r", body)
	read := false
	for _, r := range routes {
		c := fpCanons.Get().(*fpCanon)
		_, _, err := inspectRequest(builtinDialects, dialectByName(r.dialect), testRoute(r.dialect, r.route), body, c)
		if err != nil {
			c.put()
			continue
		}
		read = true
		if got := c.sum("tok", "m", "r", nil); got != want {
			t.Fatalf("the fingerprint inspectRequest(%s) wrote of %.200q differs from fingerprint", r.route, body)
		}
		c.put()
		if got := fingerprintOf("tok", "m", "r", body, true); got != want {
			t.Fatalf("fingerprintOf(%.200q, inspected) differs from fingerprint", body)
		}
	}
	return read
}

// guard.repeat counts as a list of each fingerprint's times within the
// window does, however the times of fingerprints sent once are kept.
func TestGuardRepeatCounts(t *testing.T) {
	const limit, window = 3, 10 * time.Second
	var g guard
	want := map[[32]byte][]time.Time{}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 2000 {
		// A few fingerprints, sent at uneven steps that cross the window.
		fp := [32]byte{byte(i * 7 % 5)}
		now = now.Add(time.Duration(i*13%9) * time.Second / 2)
		ts := want[fp]
		for len(ts) > 0 && !ts[0].After(now.Add(-window)) {
			ts = ts[1:]
		}
		ts = append(ts, now)
		if len(ts) > limit+1 {
			ts = ts[len(ts)-limit-1:]
		}
		want[fp] = ts
		n, first := g.repeat(fp, now, limit, window)
		if n != len(ts) || !first.Equal(ts[0]) {
			t.Fatalf("request %d: repeat = %d since %v, want %d since %v", i, n, first, len(ts), ts[0])
		}
	}
}

// distinctFingerprint is the i-th of a run of distinct fingerprints, as
// a load of different requests makes them.
func distinctFingerprint(i uint64) [32]byte {
	var fp [32]byte
	for j := range 4 {
		i = i*0x9e3779b97f4a7c15 + 0x632be59bd9b4e5f5
		binary.LittleEndian.PutUint64(fp[j*8:], i^i>>29)
	}
	return fp
}

// BenchmarkGuardRepeat: the loop guard's count of a request, each with a
// fingerprint of its own, arriving at 9,000 a second (what bench/run.sh
// drives at 64 connections), so that the guard's memory grows to the
// window's million fingerprints and is forgotten as the window moves.
// Run it long enough to pass a window: -benchtime=3000000x.
func BenchmarkGuardRepeat(b *testing.B) {
	var g guard
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const step = time.Second / 9000
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		now = now.Add(step)
		if n, _ := g.repeat(distinctFingerprint(i), now, DefaultLoopLimit, DefaultLoopWindow); n != 1 {
			b.Fatalf("request %d counted %d times, want 1", i, n)
		}
	}
}

// BenchmarkGuardMillion: the heap the loop guard holds after a million
// distinct requests within one window, and how long a full collection
// takes with it live (most of it the marking of what the guard holds).
func BenchmarkGuardMillion(b *testing.B) {
	const n = 1_000_000
	var heap, gc float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g := new(guard)
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		for i := range uint64(n) {
			g.repeat(distinctFingerprint(i), now.Add(time.Duration(i)*time.Microsecond), DefaultLoopLimit, DefaultLoopWindow)
		}
		runtime.GC()
		start := time.Now()
		runtime.GC()
		gc += float64(time.Since(start).Microseconds()) / 1000
		runtime.ReadMemStats(&after)
		heap += float64(after.HeapInuse-before.HeapInuse) / (1 << 20)
		runtime.KeepAlive(g)
	}
	b.ReportMetric(heap/float64(b.N), "heap-MB")
	b.ReportMetric(gc/float64(b.N), "gc-ms")
}

// A fingerprint sent just before the guard's memory starts a new
// generation still counts just after; one older than the window does
// not, and what is older than the window is forgotten whole.
func TestGuardRepeatAcrossRotation(t *testing.T) {
	const limit, window = 3, 10 * time.Second
	var g guard
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	old, edge, other, gone := distinctFingerprint(1), distinctFingerprint(2), distinctFingerprint(3), distinctFingerprint(4)
	steps := []struct {
		fp    [32]byte
		at    time.Duration // since t0
		n     int
		first time.Duration
	}{
		{old, 0, 1, 0},
		{gone, 0, 1, 0},
		{edge, window - 1, 1, window - 1}, // the last nanosecond of the first generation
		{other, window, 1, window},        // starts the second
		{edge, window + 1, 2, window - 1}, // just after: the one before counts
		{old, window + 1, 1, window + 1},  // sent a window and a nanosecond ago: it does not
		{edge, 2*window - 1, 2, window + 1},
		{other, 2*window - 1, 2, window},
		{edge, 2*window + 1, 2, 2*window - 1}, // a third generation; window+1 has left the window
	}
	for i, s := range steps {
		n, first := g.repeat(s.fp, t0.Add(s.at), limit, window)
		if n != s.n || !first.Equal(t0.Add(s.first)) {
			t.Errorf("step %d: repeat at t0+%v = %d since t0+%v, want %d since t0+%v", i, s.at, n, first.Sub(t0), s.n, s.first)
		}
	}
	// The first generation is forgotten: gone is in neither map.
	_, inCur := g.cur.once[fingerprintKey(gone)]
	_, inPrev := g.prev.once[fingerprintKey(gone)]
	if inCur || inPrev || len(g.cur.once)+len(g.prev.once) != 4 {
		t.Errorf("two windows on, the guard holds %d+%d fingerprints (the first generation's among them: %v), want 1+3", len(g.cur.once), len(g.prev.once), inCur || inPrev)
	}
	// After a quiet spell of a window, the next request lets the rest go.
	if n, _ := g.repeat(edge, t0.Add(3*window+2), limit, window); n != 1 || len(g.cur.once)+len(g.prev.once) != 1 {
		t.Errorf("after a window of quiet: repeat = %d with %d+%d fingerprints held, want 1 with 1+0", n, len(g.cur.once), len(g.prev.once))
	}
}

// The rare fingerprint sent more than once within the window keeps its
// times apart, at most limit+1 of them, carries them into the next
// generation, and goes back to a single time once they leave the window.
func TestGuardRepeatManyTimes(t *testing.T) {
	const limit, window = 3, 10 * time.Second
	var g guard
	fp := distinctFingerprint(7)
	k := fingerprintKey(fp)
	t0 := time.Now() // with a monotonic reading, as the proxy's clock has
	for i, want := range []struct {
		at    time.Duration
		n     int
		first time.Duration
	}{
		{0, 1, 0},
		{1 * time.Second, 2, 0},
		{2 * time.Second, 3, 0},
		{3 * time.Second, 4, 0},
		{4 * time.Second, 4, 1 * time.Second},                   // at most limit+1 kept
		{11500 * time.Millisecond, 4, 2 * time.Second},          // across a rotation; 1s has left the window
		{13 * time.Second, 3, 4 * time.Second},                  // 2s and 3s have too
		{23500 * time.Millisecond, 1, 23500 * time.Millisecond}, // all of them have
		{24 * time.Second, 2, 23500 * time.Millisecond},
	} {
		n, first := g.repeat(fp, t0.Add(want.at), limit, window)
		if n != want.n || !first.Equal(t0.Add(want.first)) {
			t.Errorf("send %d at t0+%v: repeat = %d since t0+%v, want %d since t0+%v", i, want.at, n, first.Sub(t0), want.n, want.first)
		}
		if want.at == 23500*time.Millisecond {
			if s := g.cur.once[k]; s.at == manyTimes || len(g.cur.many) != 0 {
				t.Errorf("send %d, alone in the window: still kept as many times (%d in many)", i, len(g.cur.many))
			}
		}
	}
	if s := g.cur.once[k]; s.at != manyTimes || len(g.cur.many[k]) != 2 {
		t.Errorf("after two sends within the window: once %+v, many %v, want its two times in many", s, g.cur.many[k])
	}
}

// The previous generation is kept while anything in it is within the
// window, as it can be when the window shrinks while requests race.
func TestGuardRepeatKeepsPreviousInWindow(t *testing.T) {
	var g guard
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fp := distinctFingerprint(9)
	g.repeat(distinctFingerprint(8), t0, 3, 20*time.Second)
	g.repeat(fp, t0.Add(9*time.Second), 3, 20*time.Second)
	// A request that read the clock earlier, under a window cut to 5s,
	// starts a new generation; fp, sent later, goes to the previous one.
	g.repeat(distinctFingerprint(10), t0.Add(8*time.Second), 3, 5*time.Second)
	if n, first := g.repeat(fp, t0.Add(13500*time.Millisecond), 3, 5*time.Second); n != 2 || !first.Equal(t0.Add(9*time.Second)) {
		t.Errorf("repeat 4.5s after the first = %d since t0+%v, want 2 since t0+9s", n, first.Sub(t0))
	}
}
