package gateway_test

// This file is a catalogue of attempts to get around the budget: every
// route and method Sluice forwards, paths spelled to slip past the
// allow-list, background and usage-less answers, model names in every
// spelling, keys that belong elsewhere and tokens in odd places. Each
// attempt runs twice against the whole request path on a real ledger:
//
//   - with a budget that refuses everything: nothing billable may reach the
//     fake upstream;
//   - with no budget: a billable attempt leaves exactly one ledger row,
//     costing more than $0; a refused one reaches nothing billable and
//     costs nothing.
//
// A new trick goes in the catalogue as one more entry.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// Keys the fake upstream accepts, shaped like the providers' own.
const (
	upOpenAIKey    = "sk-proj-upstreamFakeKey000000000000T3BlbkFJupstreamFake"
	upAnthropicKey = "sk-ant-api03-upstreamFakeKey0000000000000000000000000000-AA"
	upGeminiKey    = "AIzaSyUpstreamFakeKey0000000000000000000"
	// A caller's own keys, of each provider.
	ownOpenAIKey    = "sk-proj-callersOwn000000000000000T3BlbkFJcallersOwn"
	ownAnthropicKey = "sk-ant-api03-callersOwn0000000000000000000000000000000-AA"
	ownGeminiKey    = "AIzaSyCallersOwn00000000000000000000000"
	ownXAIKey       = "xai-callersOwn0000000000000000000000000000000000000"
)

// fakeHit is one request a fake upstream received.
type fakeHit struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
}

// billable reports whether a provider would charge for h: a request to
// one of the endpoints that run a model.
func (h fakeHit) billable() bool {
	if h.Method != http.MethodPost {
		return false
	}
	switch {
	case strings.HasSuffix(h.Path, "/chat/completions"), strings.HasSuffix(h.Path, "/completions"),
		strings.HasSuffix(h.Path, "/responses"), strings.HasSuffix(h.Path, "/responses/compact"),
		strings.HasSuffix(h.Path, "/embeddings"), strings.HasSuffix(h.Path, "/messages"),
		strings.Contains(h.Path, ":generateContent"), strings.Contains(h.Path, ":streamGenerateContent"),
		strings.Contains(h.Path, ":embedContent"), strings.Contains(h.Path, ":batchEmbedContents"):
		return true
	}
	return false
}

// fakeProviders is one upstream speaking OpenAI's, Anthropic's and
// Gemini's wire formats. How it answers a model-running request is set by
// the request's X-Test-Answer header: "" a whole answer with usage,
// "nousage" a 2xx answer without usage, "stream-nousage" a stream with no
// usage event, "hugeusage" usage far past what was held.
type fakeProviders struct {
	mu   sync.Mutex // guards hits and the background states
	hits []fakeHit
	// background responses: id → polls until done
	bg map[string]int
	*httptest.Server
}

func newFakeProviders(t *testing.T) *fakeProviders {
	f := &fakeProviders{bg: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProviders) all() []fakeHit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeHit(nil), f.hits...)
}

func (f *fakeProviders) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.hits = append(f.hits, fakeHit{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), b})
	f.mu.Unlock()
	answer := r.Header.Get("X-Test-Answer")
	var req map[string]any
	json.Unmarshal(b, &req)
	stream, _ := req["stream"].(bool)
	background, _ := req["background"].(bool)
	in, out := 1200, 300
	if answer == "hugeusage" {
		in, out = 900_000_000, 900_000_000
	}
	js := func(s string) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, s)
	}
	sse := func(events ...string) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			io.WriteString(w, e+"\n\n")
		}
	}
	p := r.URL.Path
	switch {
	case r.Method == "POST" && strings.HasSuffix(p, "/chat/completions"):
		switch {
		case stream && answer == "stream-nousage":
			sse(`data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"`+strings.Repeat("word ", 200)+`"}}]}`, `data: [DONE]`)
		case stream:
			sse(`data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"}}]}`,
				fmt.Sprintf(`data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}`, in, out), `data: [DONE]`)
		case answer == "nousage":
			js(`{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("word ", 200) + `"}}]}`)
		default:
			js(fmt.Sprintf(`{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"}}],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}`, in, out))
		}
	case r.Method == "POST" && p == "/v1/completions":
		js(fmt.Sprintf(`{"id":"cmpl1","object":"text_completion","model":"gpt-3.5-turbo-instruct","choices":[{"text":"Hi","index":0}],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}`, in, out))
	case r.Method == "POST" && p == "/v1/embeddings":
		js(fmt.Sprintf(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":%d,"total_tokens":%d}}`, in, in))
	case r.Method == "POST" && p == "/v1/responses" && background:
		id := fmt.Sprintf("resp_bg%d", len(f.bg)+1)
		f.mu.Lock()
		f.bg[id] = 1
		f.mu.Unlock()
		js(`{"id":"` + id + `","object":"response","status":"queued","model":"gpt-4o-mini","background":true,"output":[],"usage":null}`)
	case r.Method == "POST" && p == "/v1/responses" && stream:
		sse(`event: response.created`+"\n"+`data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_s1","status":"in_progress","model":"gpt-4o-mini"}}`,
			`event: response.completed`+"\n"+fmt.Sprintf(`data: {"type":"response.completed","sequence_number":1,"response":{"id":"resp_s1","status":"completed","model":"gpt-4o-mini","usage":{"input_tokens":%d,"output_tokens":%d}}}`, in, out))
	case r.Method == "POST" && p == "/v1/responses":
		if answer == "nousage" {
			js(`{"id":"resp_1","object":"response","status":"completed","model":"gpt-4o-mini","output":[{"type":"message","content":[{"type":"output_text","text":"` + strings.Repeat("word ", 100) + `"}]}]}`)
			return
		}
		js(fmt.Sprintf(`{"id":"resp_1","object":"response","status":"completed","model":"gpt-4o-mini","output":[],"usage":{"input_tokens":%d,"output_tokens":%d}}`, in, out))
	case r.Method == "POST" && p == "/v1/responses/compact":
		js(fmt.Sprintf(`{"id":"cmp_1","object":"response.compaction","created_at":1764230400,"output":[{"type":"compaction","encrypted_content":"x"}],"usage":{"input_tokens":%d,"output_tokens":%d,"total_tokens":%d}}`, in, out, in+out))
	case r.Method == "GET" && strings.HasPrefix(p, "/v1/responses/resp_"):
		id := strings.TrimPrefix(p, "/v1/responses/")
		f.mu.Lock()
		polls, bg := f.bg[id]
		if bg {
			f.bg[id] = polls + 1
		}
		f.mu.Unlock()
		status := "completed"
		if bg && polls < 2 {
			status = "in_progress"
		}
		if status != "completed" {
			js(`{"id":"` + id + `","object":"response","status":"in_progress","model":"gpt-4o-mini","usage":null}`)
			return
		}
		if r.URL.Query().Get("stream") == "true" {
			sse(`event: response.completed` + "\n" + fmt.Sprintf(`data: {"type":"response.completed","sequence_number":9,"response":{"id":"%s","status":"completed","model":"gpt-4o-mini","usage":{"input_tokens":%d,"output_tokens":%d}}}`, id, in, out))
			return
		}
		js(fmt.Sprintf(`{"id":"%s","object":"response","status":"completed","model":"gpt-4o-mini","usage":{"input_tokens":%d,"output_tokens":%d}}`, id, in, out))
	case r.Method == "POST" && strings.HasPrefix(p, "/v1/responses/") && strings.HasSuffix(p, "/cancel"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/v1/responses/"), "/cancel")
		js(`{"id":"` + id + `","object":"response","status":"cancelled","model":"gpt-4o-mini","usage":null}`)
	case r.Method == "POST" && p == "/v1/messages":
		if stream {
			sse(`event: message_start`+"\n"+fmt.Sprintf(`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":%d,"output_tokens":1}}}`, in),
				`event: message_delta`+"\n"+fmt.Sprintf(`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":%d}}`, out),
				`event: message_stop`+"\n"+`data: {"type":"message_stop"}`)
			return
		}
		js(fmt.Sprintf(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":%d,"output_tokens":%d}}`, in, out))
	case r.Method == "POST" && p == "/v1/messages/count_tokens":
		js(`{"input_tokens":12}`)
	case r.Method == "POST" && strings.HasPrefix(p, "/v1beta/models/") || strings.HasPrefix(p, "/v1/models/") && strings.Contains(p, ":"):
		switch {
		case strings.HasSuffix(p, ":countTokens"):
			js(`{"totalTokens":12}`)
		case strings.HasSuffix(p, ":embedContent"):
			js(`{"embedding":{"values":[0.1]}}`)
		case strings.HasSuffix(p, ":streamGenerateContent"):
			sse(fmt.Sprintf(`data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":%d},"modelVersion":"gemini-2.5-flash"}`, in, out))
		default:
			js(fmt.Sprintf(`{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":%d},"modelVersion":"gemini-2.5-flash"}`, in, out))
		}
	case r.Method == "GET":
		js(`{"object":"list","data":[]}`)
	case r.Method == "DELETE":
		js(`{"id":"x","object":"response","deleted":true}`)
	case r.Method == "POST" && p == "/v1/moderations":
		js(`{"id":"modr-1","model":"omni-moderation-latest","results":[]}`)
	default:
		js(`{}`)
	}
}

// catalogueRig is a Proxy on a real ledger in a temporary directory, in
// front of one fake upstream for OpenAI, Anthropic, Gemini and xAI.
type catalogueRig struct {
	db    *store.DB
	proxy *gateway.Proxy
	srv   *httptest.Server
	up    *fakeProviders
	token string
}

func newCatalogueRig(t *testing.T, budget bool, budgetModel string, configure func(*gateway.Proxy)) *catalogueRig {
	t.Helper()
	db := openLedger(t)
	if budget {
		// One picodollar: every hold of a priced request is refused.
		if _, err := db.PutBudget(gateway.Budget{Name: "tiny", Limit: 1, Period: gateway.PeriodTotal, Model: budgetModel}); err != nil {
			t.Fatal(err)
		}
	}
	token, err := db.NewToken("catalogue")
	if err != nil {
		t.Fatal(err)
	}
	up := newFakeProviders(t)
	p := &gateway.Proxy{Ledger: db, Tokens: db,
		Keys: fixedKeys{"openai": upOpenAIKey, "anthropic": upAnthropicKey, "gemini": upGeminiKey, "xai": "xai-upstreamFake"}}
	p.SetProviders(gateway.ConfirmedUpstreams(t, map[string]string{
		"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL, "xai": up.URL + "/v1",
	}))
	if configure != nil {
		configure(p)
	}
	srv := gateway.ServeForTest(t, p)
	return &catalogueRig{db: db, proxy: p, srv: srv, up: up, token: token}
}

// attempt is one entry of the catalogue.
type attempt struct {
	name   string
	method string
	path   string // as sent on the wire: encoded bytes stay encoded
	header map[string]string
	body   string
	// want is what Sluice must do with it:
	//   "metered": held, forwarded, charged once above $0 (402 under the budget);
	//   "free":    forwarded, recorded at $0 or not at all, never billable;
	//   "refused": answered with status, forwarded nowhere billable.
	want   string
	status int // for "refused": the status; for others, the status without a budget
	// then, when set, runs after the request with no budget, for attempts
	// whose charge comes later (background responses).
	then func(t *testing.T, g *catalogueRig)
	// budgetModel, when set, scopes the refusing budget to this model
	// (as the user typed it) instead of every request.
	budgetModel string
	// estimated: the row must be marked an estimate.
	estimated bool
}

// The caller's local token goes where the SDK puts it; tok marks where.
const tok = "$TOKEN"

var (
	chatBody   = `{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	respBody   = `{"model":"gpt-4o-mini","max_output_tokens":100,"input":"hi"}`
	msgBody    = `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	geminiBody = `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":100}}`
	bearer     = map[string]string{"Authorization": "Bearer " + tok}
	bgBody     = `{"model":"gpt-4o-mini","background":true,"max_output_tokens":100,"input":"hi"}`
	xAPIKey    = map[string]string{"X-Api-Key": tok, "Anthropic-Version": "2023-06-01"}
	googKey    = map[string]string{"X-Goog-Api-Key": tok}
	chatModel  = func(m string) string {
		return `{"model":"` + m + `","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	}
	withHeader = func(h map[string]string, k, v string) map[string]string {
		o := map[string]string{k: v}
		for a, b := range h {
			o[a] = b
		}
		return o
	}
	catalogueSet = []attempt{
		// Every model-running endpoint, in each dialect.
		{name: "openai chat", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatBody, want: "metered", status: 200},
		{name: "openai chat stream", method: "POST", path: "/v1/chat/completions", header: bearer, body: `{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`, want: "metered", status: 200},
		{name: "openai responses", method: "POST", path: "/v1/responses", header: bearer, body: respBody, want: "metered", status: 200},
		{name: "openai responses stream", method: "POST", path: "/v1/responses", header: bearer, body: `{"model":"gpt-4o-mini","stream":true,"input":"hi"}`, want: "metered", status: 200},
		{name: "openai responses compact", method: "POST", path: "/v1/responses/compact", header: bearer, body: `{"model":"gpt-4o-mini","input":"hi"}`, want: "metered", status: 200},
		{name: "openai completions", method: "POST", path: "/v1/completions", header: bearer, body: `{"model":"gpt-3.5-turbo-instruct","max_tokens":100,"prompt":"hi"}`, want: "metered", status: 200},
		{name: "openai embeddings", method: "POST", path: "/v1/embeddings", header: bearer, body: `{"model":"text-embedding-3-small","input":"hi"}`, want: "metered", status: 200},
		{name: "explicit /openai prefix", method: "POST", path: "/openai/v1/chat/completions", header: bearer, body: chatBody, want: "metered", status: 200},
		{name: "anthropic messages", method: "POST", path: "/v1/messages", header: xAPIKey, body: msgBody, want: "metered", status: 200},
		{name: "anthropic messages stream", method: "POST", path: "/v1/messages", header: xAPIKey, body: `{"model":"claude-sonnet-4-5","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`, want: "metered", status: 200},
		{name: "anthropic without /v1", method: "POST", path: "/messages", header: xAPIKey, body: msgBody, want: "metered", status: 200},
		{name: "anthropic explicit prefix without /v1", method: "POST", path: "/anthropic/messages", header: xAPIKey, body: msgBody, want: "metered", status: 200},
		{name: "claude through OpenAI chat", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("claude-sonnet-4-5"), want: "metered", status: 200},
		{name: "gemini generateContent", method: "POST", path: "/v1beta/models/gemini-2.5-flash:generateContent", header: googKey, body: geminiBody, want: "metered", status: 200},
		{name: "gemini v1 generateContent", method: "POST", path: "/v1/models/gemini-2.5-flash:generateContent", header: googKey, body: geminiBody, want: "metered", status: 200},
		{name: "gemini stream", method: "POST", path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", header: googKey, body: geminiBody, want: "metered", status: 200},
		{name: "gemini embedContent", method: "POST", path: "/v1beta/models/gemini-embedding-001:embedContent", header: googKey, body: `{"content":{"parts":[{"text":"hi"}]}}`, want: "metered", status: 200},
		{name: "gemini token in ?key=", method: "POST", path: "/v1beta/models/gemini-2.5-flash:generateContent?key=" + tok, body: geminiBody, want: "metered", status: 200},

		// Free endpoints: forwarded, never billable.
		{name: "openai moderations", method: "POST", path: "/v1/moderations", header: bearer, body: `{"input":"hi"}`, want: "free", status: 200},
		{name: "openai input_tokens", method: "POST", path: "/v1/responses/input_tokens", header: bearer, body: respBody, want: "free", status: 200},
		{name: "anthropic count_tokens", method: "POST", path: "/v1/messages/count_tokens", header: xAPIKey, body: msgBody, want: "free", status: 200},
		{name: "gemini countTokens", method: "POST", path: "/v1beta/models/gemini-2.5-flash:countTokens", header: googKey, body: geminiBody, want: "free", status: 200},
		// Read-back, exactly as documented.
		{name: "GET models", method: "GET", path: "/v1/models", header: bearer, want: "free", status: 200},
		{name: "GET anthropic models", method: "GET", path: "/v1/models", header: xAPIKey, want: "free", status: 200},
		{name: "GET response", method: "GET", path: "/v1/responses/resp_abc", header: bearer, want: "free", status: 200},
		{name: "DELETE response", method: "DELETE", path: "/v1/responses/resp_abc", header: bearer, want: "free", status: 200},
		{name: "cancel response", method: "POST", path: "/v1/responses/resp_abc/cancel", header: bearer, want: "free", status: 200},
		{name: "response input items", method: "GET", path: "/v1/responses/resp_abc/input_items", header: bearer, want: "free", status: 200},
		{name: "GET chat completion", method: "GET", path: "/v1/chat/completions/chatcmpl-1", header: bearer, want: "free", status: 200},
		{name: "GET files", method: "GET", path: "/v1/files", header: bearer, want: "free", status: 200},
		{name: "GET file content", method: "GET", path: "/v1/files/file-abc/content", header: bearer, want: "free", status: 200},

		// Billable endpoints Sluice does not meter: never forwarded.
		{name: "openai batches", method: "POST", path: "/v1/batches", header: bearer, body: `{"input_file_id":"file-1","endpoint":"/v1/chat/completions","completion_window":"24h"}`, want: "refused", status: 404},
		{name: "openai images", method: "POST", path: "/v1/images/generations", header: bearer, body: `{"model":"gpt-image-1","prompt":"x"}`, want: "refused", status: 404},
		{name: "openai audio", method: "POST", path: "/v1/audio/speech", header: bearer, body: `{"model":"tts-1","input":"x","voice":"alloy"}`, want: "refused", status: 404},
		{name: "openai realtime", method: "POST", path: "/v1/realtime/sessions", header: bearer, body: `{"model":"gpt-4o-realtime-preview"}`, want: "refused", status: 404},
		{name: "anthropic batches", method: "POST", path: "/v1/messages/batches", header: xAPIKey, body: `{"requests":[]}`, want: "refused", status: 404},
		{name: "gemini batchGenerateContent", method: "POST", path: "/v1beta/models/gemini-2.5-flash:batchGenerateContent", header: googKey, body: geminiBody, want: "refused", status: 404},
		{name: "gemini cachedContents", method: "POST", path: "/v1beta/cachedContents", header: googKey, body: `{"model":"models/gemini-2.5-flash"}`, want: "refused", status: 404},
		// Model-running paths under another method or shape.
		{name: "PUT chat", method: "PUT", path: "/v1/chat/completions", header: bearer, body: chatBody, want: "refused", status: 404},
		{name: "POST response by id", method: "POST", path: "/v1/responses/resp_abc", header: bearer, body: respBody, want: "refused", status: 404},
		{name: "chat under a read-back prefix", method: "POST", path: "/v1/responses/resp_abc/input_items", header: bearer, body: respBody, want: "refused", status: 404},
		{name: "trailing slash", method: "POST", path: "/v1/chat/completions/", header: bearer, body: chatBody, want: "refused", status: 404},
		{name: "doubled /v1", method: "POST", path: "/v1/v1/chat/completions", header: bearer, body: chatBody, want: "refused", status: 404},
		{name: "files path to chat", method: "GET", path: "/v1/files/file-1/../../chat/completions", header: bearer, want: "refused", status: 400},
		// Paths spelled to be read otherwise upstream.
		{name: "encoded slash", method: "POST", path: "/v1/responses%2Fcompact", header: bearer, body: respBody, want: "refused", status: 400},
		{name: "encoded slash in an id", method: "GET", path: "/v1/responses/x%2F..%2F..%2Fchat%2Fcompletions", header: bearer, want: "refused", status: 400},
		{name: "encoded dots", method: "POST", path: "/v1/files/%2e%2e/chat/completions", header: bearer, body: chatBody, want: "refused", status: 400},
		{name: "encoded backslash", method: "POST", path: "/v1/files/x%5C..%5Cchat/completions", header: bearer, body: chatBody, want: "refused", status: 400},
		{name: "double encoding", method: "POST", path: "/v1/files/%252e%252e/chat/completions", header: bearer, body: chatBody, want: "refused", status: 400},
		{name: "dot segment", method: "POST", path: "/v1/files/./../chat/completions", header: bearer, body: chatBody, want: "refused", status: 400},
		{name: "gemini model with a slash", method: "POST", path: "/v1beta/models/gemini-2.5-flash%2F..%2Fx:generateContent", header: googKey, body: geminiBody, want: "refused", status: 400},
		{name: "gemini model not plain", method: "POST", path: "/v1beta/models/gemini@x:generateContent", header: googKey, body: geminiBody, want: "refused", status: 404},
		// The Responses WebSocket mode: refused at once so Codex falls back.
		{name: "responses websocket", method: "GET", path: "/v1/responses", header: withHeader(bearer, "Upgrade", "websocket"), want: "refused", status: 426},

		// Keys that belong elsewhere.
		{name: "own OpenAI key", method: "POST", path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer " + ownOpenAIKey}, body: chatBody, want: "metered", status: 200},
		{name: "own Anthropic key", method: "POST", path: "/v1/messages", header: map[string]string{"X-Api-Key": ownAnthropicKey}, body: msgBody, want: "metered", status: 200},
		{name: "OpenAI key to xAI", method: "POST", path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer " + ownOpenAIKey}, body: chatModel("grok-4"), want: "refused", status: 401},
		{name: "Anthropic key to OpenAI", method: "POST", path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer " + ownAnthropicKey}, body: chatBody, want: "refused", status: 401},
		{name: "Gemini key to Anthropic", method: "POST", path: "/v1/messages", header: map[string]string{"X-Api-Key": ownGeminiKey}, body: msgBody, want: "refused", status: 401},
		{name: "xAI key to OpenAI", method: "POST", path: "/openai/v1/chat/completions", header: map[string]string{"Authorization": "Bearer " + ownXAIKey}, body: chatBody, want: "refused", status: 401},
		{name: "unknown key to OpenAI", method: "POST", path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer some-key-of-no-known-shape"}, body: chatBody, want: "refused", status: 401},

		// 2xx answers whose usage cannot be read: charged an estimate.
		{name: "answer without usage", method: "POST", path: "/v1/chat/completions", header: withHeader(bearer, "X-Test-Answer", "nousage"), body: chatBody, want: "metered", status: 200, estimated: true},
		{name: "responses answer without usage", method: "POST", path: "/v1/responses", header: withHeader(bearer, "X-Test-Answer", "nousage"), body: respBody, want: "metered", status: 200, estimated: true},
		{name: "stream without its usage event", method: "POST", path: "/v1/chat/completions", header: withHeader(bearer, "X-Test-Answer", "stream-nousage"), body: `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`, want: "metered", status: 200, estimated: true},
		{name: "usage past the hold", method: "POST", path: "/v1/chat/completions", header: withHeader(bearer, "X-Test-Answer", "hugeusage"), body: chatBody, want: "metered", status: 200},

		// Background responses: held until read back finished, charged once.
		{name: "background response read back", method: "POST", path: "/v1/responses", header: bearer, body: bgBody, want: "metered", status: 200,
			then: func(t *testing.T, g *catalogueRig) {
				id := g.waitDeferred(t)
				for i := 0; i < 3; i++ { // in progress, then completed, then read again
					if resp, body := g.send(t, attempt{method: "GET", path: "/v1/responses/" + id, header: bearer}); resp.StatusCode != 200 {
						t.Fatalf("GET response = %d %s", resp.StatusCode, body)
					}
					if recs, _ := g.db.Records(store.LogQuery{}); i == 0 && len(recs) != 0 {
						t.Fatalf("charged %+v while the response was in progress", recs)
					}
				}
			}},
		{name: "background response resumed stream", method: "POST", path: "/v1/responses", header: bearer, body: bgBody, want: "metered", status: 200,
			then: func(t *testing.T, g *catalogueRig) {
				id := g.waitDeferred(t)
				g.send(t, attempt{method: "GET", path: "/v1/responses/" + id, header: bearer})
				if resp, body := g.send(t, attempt{method: "GET", path: "/v1/responses/" + id + "?stream=true&starting_after=3", header: bearer}); !strings.Contains(body, "response.completed") {
					t.Fatalf("resumed stream = %d %s", resp.StatusCode, body)
				}
			}},
		{name: "background response cancelled", method: "POST", path: "/v1/responses", header: bearer, body: bgBody, want: "metered", status: 200, estimated: true,
			then: func(t *testing.T, g *catalogueRig) {
				id := g.waitDeferred(t)
				g.send(t, attempt{method: "POST", path: "/v1/responses/" + id + "/cancel", header: bearer})
			}},
		{name: "background response deleted unread", method: "POST", path: "/v1/responses", header: bearer, body: bgBody, want: "metered", status: 200, estimated: true,
			then: func(t *testing.T, g *catalogueRig) {
				id := g.waitDeferred(t)
				g.send(t, attempt{method: "DELETE", path: "/v1/responses/" + id, header: bearer})
			}},
		{name: "background response never read back", method: "POST", path: "/v1/responses", header: bearer, body: bgBody, want: "metered", status: 200, estimated: true,
			then: func(t *testing.T, g *catalogueRig) {
				g.waitDeferred(t)
				// A restart keeps the hold open: it is not a crash.
				if n, err := g.db.Recover(context.Background()); err != nil || n != 0 || g.db.OpenHolds() != 1 {
					t.Fatalf("Recover = %d, %v with %d holds open; want nothing charged, the hold kept", n, err, g.db.OpenHolds())
				}
				if n, err := g.db.Expire(context.Background(), time.Now().Add(25*time.Hour)); err != nil || n != 1 {
					t.Fatalf("Expire a day later = %d, %v; want the hold charged", n, err)
				}
			}},

		// Model names in every spelling: one budget by model covers them all.
		{name: "model budget, exact", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("gpt-4o-mini"), want: "metered", status: 200, budgetModel: "gpt-4o-mini"},
		{name: "model budget, upper case", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("GPT-4o-Mini"), want: "metered", status: 200, budgetModel: "gpt-4o-mini"},
		{name: "model budget, spaces", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel(" gpt-4o-mini "), want: "metered", status: 200, budgetModel: "gpt-4o-mini"},
		{name: "model budget, dated snapshot", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("gpt-4o-mini-2024-07-18"), want: "metered", status: 200, budgetModel: "gpt-4o-mini"},
		{name: "model budget, -latest", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("gpt-4o-mini-latest"), want: "metered", status: 200, budgetModel: "gpt-4o-mini"},
		{name: "model budget, provider prefix", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("openai/gpt-4o-mini"), want: "metered", status: 200, budgetModel: "gpt-4o-mini"},
		{name: "model budget, budget typed in caps", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("gpt-4o-mini"), want: "metered", status: 200, budgetModel: "GPT-4o-mini"},
		{name: "model budget, anthropic snapshot", method: "POST", path: "/v1/messages", header: xAPIKey, body: strings.Replace(msgBody, "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 1), want: "metered", status: 200, budgetModel: "claude-sonnet-4-5"},
		{name: "model budget, anthropic @ tag", method: "POST", path: "/v1/messages", header: xAPIKey, body: strings.Replace(msgBody, "claude-sonnet-4-5", "claude-sonnet-4-5@20250929", 1), want: "metered", status: 200, budgetModel: "claude-sonnet-4-5"},
		{name: "model budget, gemini resource name", method: "POST", path: "/v1/chat/completions", header: bearer, body: chatModel("models/gemini-2.5-flash"), want: "metered", status: 200, budgetModel: "gemini-2.5-flash"},
		// A minor version is another model: unpriced, and refused under a
		// budget by the unpriced policy, never priced as its elder.
		{name: "minor version claude-opus-5-5", method: "POST", path: "/v1/messages", header: xAPIKey, body: strings.Replace(msgBody, "claude-sonnet-4-5", "claude-opus-5-5", 1), want: "unpriced", status: 200},
		{name: "minor version claude-opus-4-10", method: "POST", path: "/v1/messages", header: xAPIKey, body: strings.Replace(msgBody, "claude-sonnet-4-5", "claude-opus-4-10", 1), want: "unpriced", status: 200},

		// Tokens in odd places: still the local token, never sent on.
		{name: "token in Api-Key", method: "POST", path: "/v1/chat/completions", header: map[string]string{"Api-Key": tok}, body: chatBody, want: "metered", status: 200},
		{name: "token in ?KEY=", method: "POST", path: "/v1/chat/completions?KEY=" + tok, body: chatBody, want: "metered", status: 200},
		{name: "token in ?api_key=", method: "POST", path: "/v1/messages?api_key=" + tok, header: map[string]string{"Anthropic-Version": "2023-06-01"}, body: msgBody, want: "metered", status: 200},
		{name: "token in lower-case bearer", method: "POST", path: "/v1/chat/completions", header: map[string]string{"Authorization": "bearer " + tok}, body: chatBody, want: "metered", status: 200},
		{name: "token also in an odd header", method: "POST", path: "/v1/chat/completions", header: withHeader(bearer, "X-Whatever", "x "+tok), body: chatBody, want: "metered", status: 200},
		{name: "token also in an odd param", method: "POST", path: "/v1/chat/completions?foo=" + tok, header: bearer, body: chatBody, want: "metered", status: 200},
		{name: "token only in an odd header", method: "POST", path: "/v1/chat/completions", header: map[string]string{"X-Whatever": tok}, body: chatBody, want: "refused", status: 401},
	}
)

func TestBypassCatalogue(t *testing.T) {
	for _, a := range catalogueSet {
		t.Run(a.name, func(t *testing.T) {
			for _, budget := range []bool{true, false} {
				g := newCatalogueRig(t, budget, a.budgetModel, nil)
				resp, body := g.send(t, a)
				hits := g.up.all()
				for _, h := range hits {
					checkNoLocalToken(t, h)
				}
				var billable []fakeHit
				for _, h := range hits {
					if h.billable() {
						billable = append(billable, h)
					}
				}
				if !budget && a.then != nil && resp.StatusCode == a.status {
					a.then(t, g)
				}
				recs, open := g.settled(t)
				switch {
				case a.want == "refused":
					if resp.StatusCode != a.status {
						t.Fatalf("budget %v: %s %s = %d %s, want %d", budget, a.method, a.path, resp.StatusCode, body, a.status)
					}
					if len(hits) != 0 {
						t.Errorf("budget %v: upstream received %d requests (%s %s), want none", budget, len(hits), hits[0].Method, hits[0].Path)
					}
					checkErrorShape(t, a, body)
					// And it is a row saying why (the log's "why was this
					// blocked"), whatever its route.
					if rows := g.refusals(t); len(rows) != 1 || rows[0].Reason == "" || rows[0].Status != a.status || rows[0].Cost != 0 {
						t.Errorf("budget %v: refusal rows %+v; want one, with its reason and status %d, costing nothing", budget, rows, a.status)
					}
				case budget && a.want == "metered":
					if resp.StatusCode != http.StatusPaymentRequired {
						t.Fatalf("under a refusing budget: %s %s = %d %s, want 402", a.method, a.path, resp.StatusCode, body)
					}
					if len(billable) != 0 {
						t.Errorf("under a refusing budget: upstream received %s %s", billable[0].Method, billable[0].Path)
					}
				case a.want == "metered":
					if resp.StatusCode != a.status {
						t.Fatalf("%s %s = %d %s, want %d", a.method, a.path, resp.StatusCode, body, a.status)
					}
					if len(recs) != 1 || recs[0].Cost <= 0 || open != 0 {
						t.Fatalf("ledger: %d rows, %d open holds (%+v), want exactly one row costing above $0 and no hold", len(recs), open, recs)
					}
					if a.estimated && !recs[0].Estimated {
						t.Errorf("row %+v: want it marked estimated", recs[0])
					}
				case budget && a.want == "unpriced":
					if resp.StatusCode != http.StatusPaymentRequired || len(billable) != 0 {
						t.Fatalf("unpriced model under a budget: %s %s = %d %s, upstream got %d billable; want 402 and nothing", a.method, a.path, resp.StatusCode, body, len(billable))
					}
				case a.want == "unpriced":
					// No budget applies and no price is known: forwarded,
					// recorded once as unpriced, never priced as another model.
					if resp.StatusCode != a.status || len(recs) != 1 || recs[0].Priced || recs[0].PriceRef != "" {
						t.Fatalf("unpriced model without a budget: %d, rows %+v; want %d and one unpriced row", resp.StatusCode, recs, a.status)
					}
				case a.want == "free":
					if resp.StatusCode != a.status {
						t.Fatalf("budget %v: %s %s = %d %s, want %d", budget, a.method, a.path, resp.StatusCode, body, a.status)
					}
					if len(billable) != 0 || len(hits) != 1 {
						t.Errorf("budget %v: upstream received %d requests, %d billable; want the one, not billable", budget, len(hits), len(billable))
					}
					for _, r := range recs {
						if r.Cost != 0 {
							t.Errorf("budget %v: a free call charged %v", budget, r.Cost)
						}
					}
				}
				if a.want != "metered" && a.want != "unpriced" {
					for _, r := range recs {
						if r.Cost != 0 {
							t.Errorf("budget %v: row %+v charged for an unforwarded call", budget, r)
						}
					}
				}
			}
		})
	}
}

// send makes a's request to g, the local token put where a says, on a raw
// connection so that the path reaches Sluice exactly as written.
func (g *catalogueRig) send(t *testing.T, a attempt) (*http.Response, string) {
	t.Helper()
	path := strings.ReplaceAll(a.path, tok, g.token)
	req, err := http.NewRequest(a.method, g.srv.URL+"/", strings.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	// Opaque keeps the path as written: %2F and .. reach the server.
	req.URL.Opaque = path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		req.URL.Opaque, req.URL.RawQuery = path[:i], path[i+1:]
	}
	if a.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range a.header {
		req.Header.Set(k, strings.ReplaceAll(v, tok, g.token))
	}
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// waitDeferred waits until one background response's hold is deferred
// and returns the response's id.
func (g *catalogueRig) waitDeferred(t *testing.T) string {
	t.Helper()
	for i := 0; i < 500 && g.db.Deferrals() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := g.db.Deferrals(); n != 1 {
		t.Fatalf("%d deferred holds, want the background response's", n)
	}
	recs, _ := g.db.Records(store.LogQuery{})
	if len(recs) != 0 {
		t.Fatalf("rows %+v before the response was read back, want none", recs)
	}
	return "resp_bg1"
}

// settled waits for every hold to close, then returns the rows and the
// number of holds open.
func (g *catalogueRig) settled(t *testing.T) ([]gateway.Record, int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Holds first: a settlement is in the log before its hold
		// closes, so once none is open the log read next holds them all.
		open := g.db.OpenHolds()
		recs, err := g.db.Records(store.LogQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if open == 0 || time.Now().After(deadline) {
			var kept []gateway.Record
			for _, r := range recs {
				if r.Outcome != gateway.OutcomeRefused && r.Outcome != gateway.OutcomeBlocked {
					kept = append(kept, r)
				}
			}
			return kept, open
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refusals are the rows of requests Sluice blocked or refused.
func (g *catalogueRig) refusals(t *testing.T) []gateway.Record {
	t.Helper()
	recs, err := g.db.Records(store.LogQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var rows []gateway.Record
	for _, r := range recs {
		if r.Outcome == gateway.OutcomeRefused || r.Outcome == gateway.OutcomeBlocked {
			rows = append(rows, r)
		}
	}
	return rows
}

// checkNoLocalToken fails when a local token reached the upstream in any
// header, parameter or the body.
func checkNoLocalToken(t *testing.T, h fakeHit) {
	t.Helper()
	for k, vs := range h.Header {
		for _, v := range vs {
			if strings.Contains(v, "sk-sluice-") {
				t.Errorf("upstream got a local token in header %s", k)
			}
		}
	}
	for k, vs := range h.Query {
		for _, v := range vs {
			if strings.Contains(v, "sk-sluice-") {
				t.Errorf("upstream got a local token in parameter %s", k)
			}
		}
	}
	if strings.Contains(string(h.Body), "sk-sluice-") {
		t.Errorf("upstream got a local token in the body")
	}
}

// checkErrorShape checks that a refusal is an error document of the
// dialect the request spoke.
func checkErrorShape(t *testing.T, a attempt, body string) {
	t.Helper()
	var v struct {
		Type  string `json:"type"`
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error.Message == "" {
		t.Errorf("refusal body %s: not an error document", body)
		return
	}
	switch {
	case a.header["X-Goog-Api-Key"] != "" || strings.Contains(a.path, "v1beta"):
		if v.Error.Status == "" {
			t.Errorf("refusal %s: want Gemini's error shape", body)
		}
	case a.header["Anthropic-Version"] != "" || a.header["X-Api-Key"] != "" || strings.Contains(a.path, "/messages"):
		if v.Type != "error" {
			t.Errorf("refusal %s: want Anthropic's error shape", body)
		}
	default:
		if v.Error.Type == "" {
			t.Errorf("refusal %s: want OpenAI's error shape", body)
		}
	}
}
