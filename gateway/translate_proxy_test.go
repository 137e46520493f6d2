package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// nativeUpstream serves one provider's API from recorded payloads, and
// only in that provider's shape: a body of another format's shape gets a
// 400, so a request passed through untranslated fails.
func nativeUpstream(t *testing.T, provider string, seen *upstreamSeen, answer func(w http.ResponseWriter, r *http.Request, body map[string]any)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.add(r, b)
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		foreign := map[string][]string{
			"anthropic": {"stream_options", "max_completion_tokens", "contents", "n"},
			"openai":    {"system", "stop_sequences", "contents", "max_tokens"},
			"gemini":    {"model", "messages", "stream", "max_tokens"},
		}[provider]
		for _, k := range foreign {
			if _, ok := m[k]; ok {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":{"message":"unknown member `+k+`"}}`)
				return
			}
		}
		answer(w, r, m)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeRecorded(t *testing.T, w http.ResponseWriter, status int, name string) {
	ct := "application/json"
	if strings.HasSuffix(name, ".sse") {
		ct = "text/event-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(readTestdata(t, name))
}

// TestProxyTranslates sends requests in each format for models of the
// other providers: the provider gets its own format (and its own key and
// headers), the caller gets its own, and the record is the provider's,
// with the caller's route and model beside it.
func TestProxyTranslates(t *testing.T) {
	seen := map[string]*upstreamSeen{"openai": {}, "anthropic": {}, "gemini": {}}
	ups := map[string]string{
		"anthropic": nativeUpstream(t, "anthropic", seen["anthropic"], func(w http.ResponseWriter, r *http.Request, m map[string]any) {
			if r.URL.Path != "/v1/messages" || r.Header.Get("Anthropic-Version") == "" || r.Header.Get("X-Api-Key") != "sk-ant-real" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			if m["stream"] == true {
				writeRecorded(t, w, 200, "anthropic/messages_stream_tool_use.sse")
				return
			}
			writeRecorded(t, w, 200, "anthropic/messages_tool_use.json")
		}).URL,
		"openai": nativeUpstream(t, "openai", seen["openai"], func(w http.ResponseWriter, r *http.Request, m map[string]any) {
			if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-real-openai" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			if m["stream"] == true {
				writeRecorded(t, w, 200, "openai/chat_stream_tool_calls.sse")
				return
			}
			writeRecorded(t, w, 400, "openai/error.json")
		}).URL + "/v1",
		"gemini": nativeUpstream(t, "gemini", seen["gemini"], func(w http.ResponseWriter, r *http.Request, m map[string]any) {
			switch {
			case r.Header.Get("X-Goog-Api-Key") != "AIza-real":
				w.WriteHeader(http.StatusUnauthorized)
			case r.URL.Path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent" && r.URL.Query().Get("alt") == "sse":
				writeRecorded(t, w, 200, "gemini/stream_generate_content_function_call.sse")
			case r.URL.Path == "/v1beta/models/gemini-2.5-flash:generateContent":
				writeRecorded(t, w, 200, "gemini/generate_content_function_call.json")
			default:
				w.WriteHeader(http.StatusNotFound)
			}
		}).URL,
	}
	// The recorded answers count more input than these small requests
	// hold for: the hold grows as a stream reports it.
	l := extLedger{&memLedger{}}
	_, srv := newTestProxy(t, l, ups)
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
	cases := []struct {
		name, path, body   string
		hdr                map[string]string
		provider, upRoute  string
		callerRoute, model string
		status             int
		in, out            int64
		want               []string // in the caller's answer
	}{
		{name: "chat to anthropic, streamed", path: "/v1/chat/completions",
			body:     `{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"}],` + tools + `}`,
			hdr:      map[string]string{"Authorization": "Bearer " + testToken},
			provider: "anthropic", upRoute: "anthropic.messages", callerRoute: "openai.chat", model: "claude-sonnet-4-5", status: 200,
			in: 472 + 1024 + 2048, out: 89,
			want: []string{`"object":"chat.completion.chunk"`, `"name":"get_weather"`, `"finish_reason":"tool_calls"`, "data: [DONE]"}},
		{name: "chat to anthropic", path: "/v1/chat/completions",
			body:     `{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"Weather?"}]}`,
			hdr:      map[string]string{"Authorization": "Bearer " + testToken},
			provider: "anthropic", upRoute: "anthropic.messages", callerRoute: "openai.chat", model: "anthropic/claude-sonnet-4-5", status: 200,
			in: 472 + 1024 + 2048, out: 89,
			want: []string{`"object":"chat.completion"`, `"tool_calls"`, `"prompt_tokens":3544`, `"cached_tokens":2048`}},
		{name: "messages to openai, streamed", path: "/v1/messages",
			body:     `{"model":"gpt-4.1","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Weather?"}]}`,
			hdr:      map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"},
			provider: "openai", upRoute: "openai.chat", callerRoute: "anthropic.messages", model: "gpt-4.1", status: 200,
			in: 1402, out: 61,
			want: []string{"event: message_start", `"type":"tool_use"`, `"stop_reason":"tool_use"`, `"cache_read_input_tokens":1152`, "event: message_stop"}},
		{name: "messages to openai, its error", path: "/v1/messages",
			body:     `{"model":"gpt-4.1","max_tokens":100,"messages":[{"role":"user","content":"Weather?"}]}`,
			hdr:      map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"},
			provider: "openai", upRoute: "openai.chat", callerRoute: "anthropic.messages", model: "gpt-4.1", status: 400,
			want: []string{`"type":"error"`, `"type":"invalid_request_error"`, "maximum context length"}},
		{name: "generateContent to anthropic", path: "/v1beta/models/claude-sonnet-4-5:generateContent",
			body:     `{"contents":[{"role":"user","parts":[{"text":"Weather?"}]}]}`,
			hdr:      map[string]string{"X-Goog-Api-Key": testToken},
			provider: "anthropic", upRoute: "anthropic.messages", callerRoute: "gemini.generateContent", model: "claude-sonnet-4-5", status: 200,
			in: 472 + 1024 + 2048, out: 89,
			want: []string{`"functionCall"`, `"promptTokenCount":3544`, `"finishReason":"STOP"`}},
		{name: "messages to gemini, streamed", path: "/v1/messages",
			body:     `{"model":"gemini-2.5-flash","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Weather?"}]}`,
			hdr:      map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"},
			provider: "gemini", upRoute: "gemini.streamGenerateContent", callerRoute: "anthropic.messages", model: "gemini-2.5-flash", status: 200,
			in: 1290, out: 40 + 88,
			want: []string{"event: message_start", `"name":"get_weather"`, `"cache_read_input_tokens":1024`}},
		{name: "responses to gemini", path: "/v1/responses",
			body:     `{"model":"gemini-2.5-flash","input":"Weather?"}`,
			hdr:      map[string]string{"Authorization": "Bearer " + testToken},
			provider: "gemini", upRoute: "gemini.generateContent", callerRoute: "openai.responses", model: "gemini-2.5-flash", status: 200,
			in: 1290, out: 21 + 88,
			want: []string{`"object":"response"`, `"type":"function_call"`, `"reasoning_tokens":88`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := l.all()
			resp, body := post(t, srv.URL+c.path, c.hdr, c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %s:\n%s", w, body)
				}
			}
			recs, _ := l.all()
			if len(recs) != len(before)+1 {
				t.Fatalf("%d records, want %d", len(recs), len(before)+1)
			}
			r := recs[len(recs)-1]
			if r.Provider != c.provider || r.Route != c.upRoute || r.CallerRoute != c.callerRoute || r.AskedModel != c.model || r.Status != c.status {
				t.Errorf("record provider %q route %q caller route %q asked %q status %d, want %s %s %s %s %d",
					r.Provider, r.Route, r.CallerRoute, r.AskedModel, r.Status, c.provider, c.upRoute, c.callerRoute, c.model, c.status)
			}
			if c.status == 200 && (r.InputTokens != c.in || r.OutputTokens != c.out || r.Cost <= 0) {
				t.Errorf("record tokens %d in %d out cost %v, want the provider's %d and %d, priced", r.InputTokens, r.OutputTokens, r.Cost, c.in, c.out)
			}
		})
	}
	for p, s := range seen {
		if s.count() == 0 {
			t.Errorf("%s upstream got no request", p)
		}
	}
}

// TestProxyTranslationRefused: what the provider's format cannot carry is
// refused with a 400 in the caller's shape naming the field, before
// anything goes upstream or is held.
func TestProxyTranslationRefused(t *testing.T) {
	seen := &upstreamSeen{}
	up := nativeUpstream(t, "anthropic", seen, func(w http.ResponseWriter, r *http.Request, m map[string]any) {
		writeRecorded(t, w, 200, "anthropic/messages.json")
	})
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"anthropic": up.URL})
	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"claude-sonnet-4-5","n":3,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 400 || !strings.Contains(body, "n: only one choice") || !strings.Contains(body, `"type":"invalid_request_error"`) {
		t.Errorf("status %d body %s, want 400 naming n in OpenAI's shape", resp.StatusCode, body)
	}
	recs, open := l.all()
	if seen.count() != 0 || open != 0 {
		t.Errorf("upstream got %d requests and %d holds are open, want none", seen.count(), open)
	}
	for _, r := range recs {
		if r.Held != 0 || r.Cost != 0 || r.Outcome != OutcomeBlocked {
			t.Errorf("record %+v, want a blocked request that held and cost nothing", r)
		}
	}
}

// TestProxyTranslatedStreamCut: a translated stream that outgrows what
// its budgets grant is ended with the caller's own error event, and
// recorded as cut at the provider's usage.
func TestProxyTranslatedStreamCut(t *testing.T) {
	seen := &upstreamSeen{}
	up := nativeUpstream(t, "gemini", seen, func(w http.ResponseWriter, r *http.Request, m map[string]any) {
		// The recorded stream counts 1,290 input tokens: far more than
		// this small request is held for, and the ledger cannot extend.
		writeRecorded(t, w, 200, "gemini/stream_generate_content_function_call.sse")
	})
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"gemini": up.URL})
	resp, body := post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"},
		`{"model":"gemini-2.5-flash","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Weather?"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "event: message_start") {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if !strings.HasSuffix(body, "\n\n") || !strings.Contains(body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"billing_error\"") || strings.Contains(body, "message_stop") {
		t.Errorf("the stream does not end with Anthropic's error event:\n%s", body)
	}
	recs, open := l.all()
	if len(recs) != 1 || open != 0 || recs[0].Outcome != OutcomeCut || recs[0].Provider != "gemini" || recs[0].CallerRoute != "anthropic.messages" || recs[0].InputTokens != 1290 {
		t.Errorf("records %+v (open holds %d), want one cut gemini row at its 1,290 input tokens", recs, open)
	}
}

// A translated stream's headers reach the caller while the provider,
// having sent a comment the translation drops, is silent before its first
// event.
func TestProxyTranslatedStreamHeadersBeforeFirstEvent(t *testing.T) {
	release := make(chan struct{})
	up := nativeUpstream(t, "gemini", &upstreamSeen{}, func(w http.ResponseWriter, r *http.Request, m map[string]any) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, ": keep-alive\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write(readTestdata(t, "gemini/stream_generate_content.sse"))
	})
	// The recorded stream reports more than this request is held for:
	// the hold grows as it does.
	_, srv := newTestProxy(t, extLedger{&memLedger{}}, map[string]string{"gemini": up.URL})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages",
		strings.NewReader(`{"model":"gemini-2.5-flash","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("X-Api-Key", testToken)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	resp := headersWhileSilent(t, req, release)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "event: message_stop") {
		t.Errorf("stream = %d\n%s\nwant 200 and an Anthropic stream to its message_stop", resp.StatusCode, body)
	}
}
