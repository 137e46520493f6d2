package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the request path's parts, each run with -benchmem so that
// a regression in time or allocations shows in one number:
//
//	go test -run '^$' -bench 'Route|Inspect|Relay' -benchmem ./gateway
//
// The ledger's part (a durable hold and its settlement) is measured in
// store's BenchmarkHoldSettle.

// BenchmarkRouteAndAuth: the guard, the route and the credential of a
// chat completion, the local token resolved.
func BenchmarkRouteAndAuth(b *testing.B) {
	p := &Proxy{Tokens: mapTokens{testToken: "bench"}, AllowedHosts: []string{"127.0.0.1:4020", "localhost:4020"}}
	providers := p.providerTable()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4020/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer "+testToken)
	r.Header.Set("Content-Type", "application/json")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if f := p.guard(r); f != nil {
			b.Fatal("guard refused")
		}
		rt, rerr := parseRoute(r.Method, r.URL.Path, r.Header, providers, builtinDialects)
		if rerr != nil || rt.Name != "openai.chat" {
			b.Fatalf("route %+v, %v", rt, rerr)
		}
		cred, _ := credential(r, builtinDialects)
		if name, err := p.token(ctx, cred); err != nil || name != "bench" {
			b.Fatalf("token %q, %v", name, err)
		}
	}
}

// BenchmarkInspectAndEstimate: reading a chat request's bounds, routing its
// model, looking up its price and working out its worst-case cost.
func BenchmarkInspectAndEstimate(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,"messages":[` +
		`{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello and offer help in one sentence."}],"stream":true,"stream_options":{"include_usage":true}}`)
	p := &Proxy{}
	providers := p.providerTable()
	rt, _ := parseRoute(http.MethodPost, "/v1/chat/completions", nil, providers, builtinDialects)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		info, bill, err := inspectRequest(p.dialectList(), rt.dialect, rt, body, nil)
		if err != nil {
			b.Fatal(err)
		}
		prov, model := routeModel(info.Model, rt.dialect, providers, p.providerSet().prefixes, p.Prices())
		pr, ok := p.Prices().Lookup(prov, model)
		if !ok {
			b.Fatal("no price")
		}
		if c, _ := worstCost(&pr, time.Now(), &info, &bill, &rt); c <= 0 {
			b.Fatal("no cost")
		}
	}
}

// BenchmarkInspectAndFingerprint: what the request path reads of a chat
// request's body (what bench/run.sh sends) in its one walk: its bounds,
// its billing and its loop fingerprint.
func BenchmarkInspectAndFingerprint(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,"messages":[` +
		`{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello and offer help in one sentence. (mhqzkrtwxy 1234)"}]}`)
	p := &Proxy{}
	rt, _ := parseRoute(http.MethodPost, "/v1/chat/completions", nil, p.providerTable(), builtinDialects)
	want := fingerprint("bench", "gpt-4o-mini", string(rt.Name), body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c := fpCanons.Get().(*fpCanon)
		info, _, err := inspectRequest(p.dialectList(), rt.dialect, rt, body, c)
		if err != nil || info.MaxOutput != 256 {
			b.Fatal(info, err)
		}
		if fp := c.sum("bench", "gpt-4o-mini", string(rt.Name), nil); fp != want {
			b.Fatal("fingerprint differs")
		}
		c.put()
	}
}

// BenchmarkRelayStream: a recorded OpenAI stream relayed event by event
// to a client (flushing each) while its usage is read, the settlement
// going to a ledger that keeps nothing. allocs/event is the allocations of one
// stream, less those of one stream of no content events, per content
// event: what each further event costs.
func BenchmarkRelayStream(b *testing.B) {
	for _, c := range []struct {
		n      int
		sliced bool // held a slice at a time: each event's output counted
	}{{10, false}, {100, false}, {100, true}} {
		n := c.n
		name := "events-" + strconv.Itoa(n)
		if c.sliced {
			name += "-sliced"
		}
		b.Run(name, func(b *testing.B) {
			stream := benchStream(n)
			base := benchStream(0)
			p := &Proxy{Ledger: nopLedger{}, Logf: b.Logf}
			pr, _ := p.Prices().Lookup("openai", "gpt-4o-mini")
			rt, _ := parseRoute(http.MethodPost, "/v1/chat/completions", nil, p.providerTable(), builtinDialects)
			prov := p.providerTable()["openai"]
			relay := func(s []byte) {
				x := &exchange{route: rt, provider: prov, row: &pr, price: pr, priced: true, held: true,
					hold: Hold{ID: "h", Amount: Dollar}, start: time.Now(), rec: Record{ID: "h"}}
				if c.sliced {
					x.sliced, x.slice, x.outHeld, x.outBound = true, DefaultStreamSlice, DefaultStreamSlice, 16384
				}
				resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}}
				p.relayStream(discardWriter{h: http.Header{}}, x, resp, bytes.NewReader(s), context.Background(), false)
				if x.rec.Outcome != OutcomeOK || x.rec.InputTokens != 24 {
					b.Fatalf("relay ended %s %q, usage %+v", x.rec.Outcome, x.rec.Error, x.rec.Usage)
				}
			}
			allocs := func(s []byte, runs int) float64 {
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for range runs {
					relay(s)
				}
				runtime.ReadMemStats(&m1)
				return float64(m1.Mallocs-m0.Mallocs) / float64(runs)
			}
			perEvent := (allocs(stream, 50) - allocs(base, 50)) / float64(n)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				relay(stream)
			}
			p.Wait()
			b.ReportMetric(perEvent, "allocs/event")
		})
	}
}

// benchStream is an OpenAI chat stream of n content chunks, as OpenAI
// sends them, with the finish chunk, a usage chunk and [DONE].
func benchStream(n int) []byte {
	const pre = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":`
	var s bytes.Buffer
	s.WriteString(pre + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for i := range n {
		s.WriteString(pre + `{"content":" word` + strconv.Itoa(i) + `"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	}
	s.WriteString(pre + `{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	s.WriteString(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","choices":[],` +
		`"usage":{"prompt_tokens":24,"completion_tokens":` + strconv.Itoa(n) + `,"total_tokens":` + strconv.Itoa(24+n) + `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}` + "\n\n")
	s.WriteString("data: [DONE]\n\n")
	return s.Bytes()
}

// nopLedger admits every hold and forgets every settlement.
type nopLedger struct{}

func (nopLedger) Hold(context.Context, Hold) error     { return nil }
func (nopLedger) Settle(context.Context, Record) error { return nil }

// discardWriter is a ResponseWriter that flushes and drops what it gets.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (w discardWriter) WriteHeader(int)             {}
func (w discardWriter) Flush()                      {}

// BenchmarkGatewayCPU: what the gateway's own work costs a request, over
// real HTTP, beside a bare httputil.ReverseProxy serving the same load in
// the same run. The ledger keeps nothing, so no disk is waited on: the
// difference between "bare" and "sluice" is the gateway's CPU per
// request (routing, auth, inspection, estimate, metering, the record).
// The clients and the fake upstream run in the same process and cost
// both the same.
//
//	go test -run '^$' -bench GatewayCPU -benchmem -cpuprofile cpu.out ./gateway
func BenchmarkGatewayCPU(b *testing.B) {
	const answer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`
	stream := benchStream(10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Request-Id", "req_0123456789abcdef0123456789abcdef")
		if bytes.Contains(body, []byte(`"stream":true`)) {
			// An event at a time, flushed, as a provider sends them.
			w.Header().Set("Content-Type", "text/event-stream")
			rc := http.NewResponseController(w)
			for ev := range bytes.SplitAfterSeq(stream, []byte("\n\n")) {
				w.Write(ev)
				rc.Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: transport}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	defer bare.Close()

	p := &Proxy{Ledger: nopLedger{}, Tokens: mapTokens{testToken: "bench"}, Keys: mapKeys{"openai": "sk-upstream"}, Logf: b.Logf}
	ps, _ := WithUpstreams(DefaultProviders(), map[string]string{"openai": up.URL + "/v1"})
	p.SetProviders(Confirm(ps, []string{HostOf(up.URL)}))
	defer p.Wait()
	srv := httptest.NewServer(p)
	defer srv.Close()

	load := &ChatLoad{}
	run := func(b *testing.B, url, req string) { load.Run(b, url, testToken, req) }
	// The requests bench/run.sh sends; and a stream that does not ask
	// for usage, as the OpenAI SDKs' default is, whose usage Sluice
	// asks for and hides.
	const chat = `{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hi and offer help in one sentence."}]`
	b.Run("direct", func(b *testing.B) { run(b, up.URL+"/v1/chat/completions", chat+"}") })
	b.Run("bare", func(b *testing.B) { run(b, bare.URL+"/v1/chat/completions", chat+"}") })
	b.Run("sluice", func(b *testing.B) { run(b, srv.URL+"/v1/chat/completions", chat+"}") })
	const streamed = `,"stream":true,"stream_options":{"include_usage":true}}`
	b.Run("direct-stream", func(b *testing.B) { run(b, up.URL+"/v1/chat/completions", chat+streamed) })
	b.Run("bare-stream", func(b *testing.B) { run(b, bare.URL+"/v1/chat/completions", chat+streamed) })
	b.Run("sluice-stream", func(b *testing.B) { run(b, srv.URL+"/v1/chat/completions", chat+streamed) })
	b.Run("sluice-stream-hidden-usage", func(b *testing.B) { run(b, srv.URL+"/v1/chat/completions", chat+`,"stream":true}`) })
}

// ChatLoad drives chat completions at a server from parallel clients,
// for a benchmark: BenchmarkGatewayCPU's, and BenchmarkProxy's (in
// package gateway_test). Each request asks something else, as a real
// workload's do: the same one over and over is what loop detection
// stops.
type ChatLoad struct {
	client *http.Client
	asked  atomic.Int64
}

// Run sends req (whose "Say hi" is made unique) to url with key as a
// bearer token, b.N times, and reports allocations and CPU time per
// request.
func (l *ChatLoad) Run(b *testing.B, url, key, req string) {
	if l.client == nil {
		l.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := strings.Replace(req, "Say hi", "Say hi "+strconv.FormatInt(l.asked.Add(1), 10), 1)
			r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+key)
			r.Header.Set("Content-Type", "application/json")
			resp, err := l.client.Do(r)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// reportCPU reports, when the returned func is called, the process's CPU
// time (user and system, every goroutine) per operation: on a loaded
// machine a steadier figure than the wall time per operation.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkServeJSON: the gateway's own work for one chat completion
// answered whole, from ServeHTTP to the settlement, with nothing else on
// the clock: the request, the upstream's answer and the client are made
// once and reused, the upstream answers from memory and the ledger keeps
// nothing. Every allocation it reports is the gateway's.
func BenchmarkServeJSON(b *testing.B) {
	// The answer bench/run.sh's fake upstream gives, as OpenAI does.
	const answer = `{"id":"chatcmpl-bench","object":"chat.completion","created":1764230400,"model":"gpt-4o-mini-2024-07-18",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today? I can answer questions, write code, or explain things.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":24,"completion_tokens":20,"total_tokens":44,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
		`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
		`"service_tier":"default","system_fingerprint":"fp_bench"}`
	// The request bench/run.sh sends; its digits change on every request,
	// as a real workload's do (the same request over and over is what
	// loop detection stops).
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hi 00000000 and offer help in one sentence."}]}`)
	digits := bytes.Index(body, []byte("00000000"))
	up := &memUpstream{resp: http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_0123456789abcdef0123456789abcdef"},
			"Content-Length": {strconv.Itoa(len(answer))}, "Date": {"Mon, 01 Dec 2026 04:00:00 GMT"}},
		ContentLength: int64(len(answer))}, answer: []byte(answer)}
	p := &Proxy{Ledger: nopLedger{}, Tokens: mapTokens{testToken: "bench"}, Keys: mapKeys{"openai": "sk-upstream"}, Transport: up, Logf: b.Logf}
	ps, _ := WithUpstreams(DefaultProviders(), map[string]string{"openai": "http://127.0.0.1:1/v1"})
	p.SetProviders(Confirm(ps, []string{"127.0.0.1:1"}))
	defer p.Wait()
	var in bytes.Reader
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4020/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer "+testToken)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "OpenAI/Python 1.99.0")
	r.ContentLength = int64(len(body))
	reqBody := io.NopCloser(&in)
	w := &statusWriter{h: http.Header{}}
	n := 0
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		n++
		for i, k := digits+7, n; i >= digits; i, k = i-1, k/10 {
			body[i] = byte('0' + k%10)
		}
		in.Reset(body)
		r.Body = reqBody
		clear(w.h)
		w.status = 0
		p.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// memUpstream is an upstream answering every request with one answer from
// memory, reusing its response: for one request at a time.
type memUpstream struct {
	resp   http.Response
	answer []byte
	body   bytes.Reader
	rc     io.ReadCloser // of body
}

func (u *memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, r.Body)
	u.body.Reset(u.answer)
	if u.rc == nil {
		u.rc = io.NopCloser(&u.body)
	}
	u.resp.Body = u.rc
	u.resp.Request = r
	return &u.resp, nil
}

// statusWriter is a ResponseWriter that keeps the status and drops the
// body; it flushes and sets read deadlines, as net/http's does.
type statusWriter struct {
	h      http.Header
	status int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(s int)           { w.status = s }
func (w *statusWriter) Flush()                      {}

// SetReadDeadline does nothing, as a net/http response's succeeds.
func (w *statusWriter) SetReadDeadline(time.Time) error { return nil }
