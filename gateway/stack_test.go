package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// handlerStack is the most stack a request's handler goroutine may grow
// to. Go starts a goroutine's stack small and doubles it, copying, when a
// call goes deeper than it holds; the handler (net/http's conn.serve, the
// app's wrappers, Proxy.ServeHTTP down to the hold, the relay, the SSE
// reader and the meters, or the read that waits for the upstream's next
// event) fits in 16 KB. A frame that pushes it past doubles the stack of
// every open request to 32 KB: with 1,000 streams open that is 16 MB more,
// and the memory per open stream goes over its 64 KB target.
const handlerStack = 16 << 10

// stackChildEnv makes TestHandlerStack the process that serves requests
// under the limit, rather than the test that starts it.
const stackChildEnv = "SLUICE_STACK_LIMIT_CHILD"

// TestHandlerStack serves JSON requests and streams, held open in the
// middle while the upstream waits, in a process whose goroutines may not
// grow a stack past handlerStack (debug.SetMaxStack): the runtime kills
// the process, printing the goroutine that asked for more and its frames,
// the moment one does. The requests run in a child process (this test
// binary again) so that no other test's goroutine shares the limit and a
// crash fails this test alone, with the runtime's trace.
//
// Under the race detector every frame is larger and the limit means
// nothing, so the test skips there; test.sh runs it once more without
// -race.
func TestHandlerStack(t *testing.T) {
	if raceEnabled {
		t.Skip("frames under -race are not the binary's; test.sh runs this test without -race")
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-gcflags" && (strings.Contains(s.Value, "-N") || strings.Contains(s.Value, "-l")) {
				t.Skipf("built with -gcflags=%s: frames without optimisation or inlining are not the binary's", s.Value)
			}
		}
	}
	if os.Getenv(stackChildEnv) == "1" {
		serveUnderStackLimit(t)
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHandlerStack$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), stackChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if i := bytes.Index(out, []byte("runtime: goroutine stack exceeds")); i >= 0 {
			t.Fatalf("a goroutine needed a stack larger than %d KB; its frames, each with its size (fp-sp), from the deepest:\n%s\n"+
				"Keep the frames on a request's path small: a large local or a struct passed by value (a Record, a Price) in each frame adds up.",
				handlerStack>>10, overflowTrace(out[i:]))
		}
		t.Fatalf("the child serving under the stack limit failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestHandlerStack")) {
		t.Fatalf("the child did not run the requests:\n%s", out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "stack_test.go") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// overflowTrace is the runtime's report of a stack overflow up to the end
// of the trace of the goroutine that overflowed, without the other
// goroutines' traces after it.
func overflowTrace(out []byte) []byte {
	i := bytes.Index(out, []byte("[running]:\n"))
	if i < 0 {
		return out
	}
	if j := bytes.Index(out[i:], []byte("\n\n")); j >= 0 {
		return out[:i+j]
	}
	return out
}

// serveUnderStackLimit is TestHandlerStack's child: a Proxy on a real
// ledger, wrapped as the app wraps it, in front of fake OpenAI, Anthropic
// and Gemini upstreams answering with recorded payloads, serves JSON
// requests of each dialect, then streams of each kind (native, hiding
// usage, translated, behind an alias whose first target fails) held open
// at once after their first events.
func serveUnderStackLimit(t *testing.T) {
	release := make(chan struct{})
	// paused is a fake upstream answering each path's recorded JSON, or
	// its recorded stream up to the event holding pauseAfter, where it
	// waits for release. A warm-up request (hello 0) does not wait, and
	// a request for failModel fails as a provider's outage does.
	type recorded struct{ json, stream, pauseAfter string }
	paused := func(paths map[string]recorded, failModel string) *httptest.Server {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Request-Id", "req_0123456789abcdef")
			if failModel != "" && bytes.Contains(body, []byte(`"model":"`+failModel+`"`)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`)
				return
			}
			rec, ok := paths[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			streamed := bytes.Contains(body, []byte(`"stream":true`)) || strings.HasSuffix(r.URL.Path, ":streamGenerateContent")
			if !streamed {
				answer, err := os.ReadFile("testdata/" + rec.json)
				if err != nil {
					t.Error(err)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write(answer)
				return
			}
			events, err := os.ReadFile("testdata/" + rec.stream)
			if err != nil {
				t.Error(err)
			}
			i := bytes.Index(events, []byte(rec.pauseAfter))
			if i < 0 {
				t.Errorf("%s has no %q", rec.stream, rec.pauseAfter)
				return
			}
			cut := i + bytes.Index(events[i:], []byte("\n\n")) + 2
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(events[:cut])
			http.NewResponseController(w).Flush()
			if !bytes.Contains(body, []byte("hello 0.")) {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			w.Write(events[cut:])
		}))
		t.Cleanup(up.Close)
		return up
	}
	openai := paused(map[string]recorded{
		// The third event says " capital".
		"/v1/chat/completions": {"openai/chat.json", "openai/chat_stream_usage.sse", `" capital"`},
		"/v1/responses":        {"openai/responses.json", "openai/responses_stream.sse", "response.output_text.delta"},
	}, "gpt-4o-mini")
	anthropic := paused(map[string]recorded{
		"/v1/messages": {"anthropic/messages.json", "anthropic/messages_stream.sse", "text_delta"},
	}, "")
	gemini := paused(map[string]recorded{
		"/v1beta/models/gemini-2.5-pro:generateContent":       {json: "gemini/generate_content.json"},
		"/v1beta/models/gemini-2.5-pro:streamGenerateContent": {stream: "gemini/stream_generate_content.sse", pauseAfter: "Matter is usually"},
	}, "")

	db := openLedger(t)
	token, err := db.NewToken("stack")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutBudget(gateway.Budget{Name: "day", Limit: 1000 * gateway.Dollar, Period: gateway.PeriodDay}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutPrompt(gateway.Prompt{Name: "hello", Model: "gpt-4.1-mini", Template: "Say hello {{n}}.", MaxTokens: 256}); err != nil {
		t.Fatal(err)
	}
	// An alias whose first target's provider fails: each request is
	// tried there, then served by the fallback.
	if _, err := db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-4o-mini", Fallbacks: []string{"openai/gpt-4.1-mini"}}); err != nil {
		t.Fatal(err)
	}
	p := &gateway.Proxy{Ledger: db, Tokens: db, Aliases: db, Logf: t.Logf,
		Keys: fixedKeys{"openai": "sk-upstream", "anthropic": "sk-ant-upstream", "gemini": "AIza-upstream"}}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{
		"openai": openai.URL + "/v1", "anthropic": anthropic.URL, "gemini": gemini.URL}))
	srv := httptest.NewServer(appLike(p, &gateway.Prompts{Proxy: p, Source: db}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}

	const (
		chat     = `{"model":"gpt-4.1-mini","max_tokens":256,"messages":[{"role":"user","content":"Say hello %d."}]`
		messages = `{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Say hello %d."}]`
		gemini25 = `{"contents":[{"role":"user","parts":[{"text":"Say hello %d."}]}]}`
		answer   = `{"model":"gpt-5","input":"Say hello %d."`
		smart    = `{"model":"smart","max_tokens":256,"messages":[{"role":"user","content":"Say hello %d."}]`
		withUse  = `,"stream":true,"stream_options":{"include_usage":true}}`
	)
	kinds := []struct {
		name, path, body string
		stream           bool
		want, unwanted   string
		fellBack         bool // each request's first target failed and was recorded
	}{
		{name: "JSON", path: "/v1/chat/completions", body: chat + `}`, want: `"object": "chat.completion"`},
		{name: "messages JSON", path: "/v1/messages", body: messages + `}`, want: `"type":"message"`},
		{name: "generateContent JSON", path: "/v1beta/models/gemini-2.5-pro:generateContent", body: gemini25, want: `"candidates"`},
		{name: "responses JSON", path: "/v1/responses", body: answer + `}`, want: `"object": "response"`},
		{name: "alias fallback JSON", path: "/v1/chat/completions", body: smart + `}`, want: `"object": "chat.completion"`, fellBack: true},
		// A prompt endpoint's call, answered whole and streamed.
		{name: "prompt", path: "/p/hello", body: `{"n":"%d"}`, want: `"output":"The function returns early`},
		{name: "prompt streamed", path: "/p/hello?stream=true", body: `{"n":"%d"}`, stream: true, want: "event: done"},
		{name: "stream", path: "/v1/chat/completions", body: chat + withUse, stream: true, want: `"prompt_tokens":1536`},
		// The SDKs' default: Sluice asks for the usage and hides it.
		{name: "stream hiding usage", path: "/v1/chat/completions", body: chat + `,"stream":true}`,
			stream: true, want: "data: [DONE]", unwanted: `"usage"`},
		{name: "messages stream", path: "/v1/messages", body: messages + `,"stream":true}`, stream: true, want: "event: message_stop"},
		{name: "streamGenerateContent", path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", body: gemini25,
			stream: true, want: `"finishReason": "STOP"`},
		{name: "responses stream", path: "/v1/responses", body: answer + `,"stream":true}`, stream: true, want: "event: response.completed"},
		{name: "stream translated", path: "/v1/messages",
			body:   `{"model":"gpt-4.1-mini","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Say hello %d."}]}`,
			stream: true, want: "event: message_stop"},
		{name: "stream translated to messages", path: "/v1/chat/completions",
			body:   `{"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Say hello %d."}]}`,
			stream: true, want: "data: [DONE]"},
		{name: "alias fallback stream", path: "/v1/chat/completions", body: smart + withUse, stream: true, want: `"prompt_tokens":1536`, fellBack: true},
	}
	const each = 50 // requests of each kind, all at once
	asked := 0
	send := func(path, body string) (*http.Response, error) {
		asked++ // each request says something else: the same one over and over is what loop detection stops
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(fmt.Sprintf(body, asked)))
		authorize(req, token)
		return client.Do(req)
	}
	// One request of each kind first, on connections of their own that
	// are closed after: what the first request does once (reading the
	// built-in prices, the JSON encoders' caches) is not per request.
	warm := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
	for _, k := range kinds {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+k.path, strings.NewReader(fmt.Sprintf(k.body, 0)))
		authorize(req, token)
		resp, err := warm.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", k.name, resp.StatusCode, b)
		}
	}
	warm.CloseIdleConnections()

	// From here every goroutine of the process, the handlers among them,
	// stays within handlerStack or the process dies.
	defer debug.SetMaxStack(debug.SetMaxStack(handlerStack))

	var (
		held, done sync.WaitGroup
		mu         sync.Mutex
		failures   []string
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	run := func(kind int) {
		k := kinds[kind]
		for range each {
			resp, err := send(k.path, k.body)
			held.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				reached := false
				defer func() {
					if !reached {
						held.Done()
					}
				}()
				if err != nil {
					fail("%s: %v", k.name, err)
					return
				}
				defer resp.Body.Close()
				var got []byte
				buf := make([]byte, 4096)
				for {
					n, err := resp.Body.Read(buf)
					got = append(got, buf[:n]...)
					if k.stream && !reached && len(got) > 0 {
						reached = true
						held.Done() // the handler relayed the first events and waits for more
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						fail("%s: %v", k.name, err)
						return
					}
				}
				if resp.StatusCode != 200 || !bytes.Contains(got, []byte(k.want)) || k.unwanted != "" && bytes.Contains(got, []byte(k.unwanted)) {
					fail("%s: %d %s", k.name, resp.StatusCode, got)
				}
			}()
		}
	}

	streams := 0
	for kind, k := range kinds {
		if !k.stream {
			run(kind)
		}
	}
	done.Wait()
	var idle, open runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&idle)
	for kind, k := range kinds {
		if k.stream {
			run(kind)
			streams += each
		}
	}
	waited := make(chan struct{})
	go func() { held.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Minute):
		close(release)
		t.Fatalf("the %d streams did not all reach the upstream's pause", streams)
	}
	runtime.GC()
	runtime.ReadMemStats(&open)
	t.Logf("%d streams held open at once: %d KB of goroutine stacks each (the caller's, the gateway's and the upstream's)",
		streams, (int64(open.StackInuse)-int64(idle.StackInuse))/int64(streams)>>10)
	close(release)
	done.Wait()
	for _, f := range failures {
		t.Error(f)
	}

	// The settlements run under the limit too.
	srv.Close()
	p.Wait()
	served, failed := len(kinds)*(each+1), 0 // with the warm-up requests
	for _, k := range kinds {
		if k.fellBack {
			failed += each + 1
		}
	}
	recs, err := db.Records(store.LogQuery{Limit: served + failed + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != served+failed || db.OpenHolds() != 0 {
		t.Errorf("%d records and %d open holds, want %d and none", len(recs), db.OpenHolds(), served+failed)
	}
	for _, r := range recs {
		if r.Outcome != gateway.OutcomeOK && r.Model != "gpt-4o-mini" {
			t.Errorf("record %s of %s ended %s: %s", r.ID, r.Model, r.Outcome, r.Error)
			break
		}
	}
	t.Logf("%d requests answered whole and %d streams, of %d kinds, served with stacks of at most %d KB", len(kinds)*each-streams, streams, len(kinds), handlerStack>>10)
}

// appLike wraps p as the app serves it: a handler counting the requests
// in flight around a ServeMux whose catch-all hands each request to the
// proxy, and prompt calls to ps, so that the frames above the proxy's are
// those of the binary.
func appLike(p *gateway.Proxy, ps *gateway.Prompts) http.Handler {
	var inflight sync.WaitGroup
	mux := http.NewServeMux()
	mux.Handle(gateway.PromptPrefix, ps)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Done()
		mux.ServeHTTP(w, r)
	})
}

// authorize sets req's content type and local token, in its dialect's
// header.
func authorize(req *http.Request, token string) {
	req.Header.Set("Content-Type", "application/json")
	switch {
	case req.URL.Path == "/v1/messages":
		req.Header.Set("X-Api-Key", token)
		req.Header.Set("Anthropic-Version", "2023-06-01")
	case strings.HasPrefix(req.URL.Path, "/v1beta/"):
		req.Header.Set("X-Goog-Api-Key", token)
	default:
		req.Header.Set("Authorization", "Bearer "+token)
	}
}
