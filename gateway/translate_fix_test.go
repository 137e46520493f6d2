package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestProxyResponsesToChatProvider: a Responses request for a model of an
// OpenAI-style provider without the Responses API (Mistral here, DeepSeek
// alike) is translated into Chat Completions, and the answer back into
// the Responses API, streamed or not.
func TestProxyResponsesToChatProvider(t *testing.T) {
	seen := &upstreamSeen{}
	// Mistral reads max_tokens, so OpenAI's own shape check does not
	// apply; a Responses body is what it must not get.
	up := nativeUpstream(t, "mistral", seen, func(w http.ResponseWriter, r *http.Request, m map[string]any) {
		if r.URL.Path != "/v1/chat/completions" || m["input"] != nil || m["messages"] == nil || m["max_completion_tokens"] != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if m["stream"] == true {
			writeRecorded(t, w, 200, "openai/chat_stream_tool_calls.sse")
			return
		}
		writeRecorded(t, w, 200, "openai/chat_tool_calls.json")
	})
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"mistral": up.URL + "/v1"})
	hdr := map[string]string{"Authorization": "Bearer " + testToken}
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"whole", `{"model":"mistral-large-latest","input":"Weather?","max_output_tokens":100}`,
			[]string{`"object":"response"`, `"type":"function_call"`, `"name":"get_weather"`}},
		{"streamed", `{"model":"mistral-large-latest","input":"Weather?","stream":true}`,
			[]string{"event: response.created", `"type":"function_call"`, "event: response.completed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, srv.URL+"/v1/responses", hdr, c.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %s:\n%s", w, body)
				}
			}
			r, b := seen.last(t)
			if r.URL.Path != "/v1/chat/completions" || !strings.Contains(string(b), `"messages"`) || !strings.Contains(string(b), `"model":"mistral-large-latest"`) {
				t.Errorf("upstream got %s %s, want a Chat Completions request", r.URL.Path, b)
			}
			recs, _ := l.all()
			rec := recs[len(recs)-1]
			if rec.Provider != "mistral" || rec.Route != string(routeOpenAIChat) || rec.CallerRoute != string(routeOpenAIResponses) || rec.OutputTokens == 0 {
				t.Errorf("record %s %s caller %s out %d, want mistral's chat route for a Responses caller, metered", rec.Provider, rec.Route, rec.CallerRoute, rec.OutputTokens)
			}
		})
	}
}

// TestProvidersResponses: which built-in providers get Responses requests
// as they are.
func TestProvidersResponses(t *testing.T) {
	ps := DefaultProviders()
	for name, want := range map[string]bool{"openai": true, "groq": true, "xai": true, "openrouter": true, "fireworks": true,
		"deepseek": false, "mistral": false, "together": false, "ollama": false} {
		if got := serves(ps[name], route{Name: routeOpenAIResponses}); got != want {
			t.Errorf("serves(%s, responses) = %v, want %v", name, got, want)
		}
	}
}

// TestTranslateThinkingForClaude: an effort becomes a thinking budget
// that fits the caller's limit; and thinking stays off for a tool loop
// whose last assistant turn called a tool without thinking, which
// Anthropic refuses with thinking on.
func TestTranslateThinkingForClaude(t *testing.T) {
	tool := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
	loop := `"messages":[{"role":"user","content":"Weather?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"sunny"}]`
	for _, c := range []struct {
		name, body string
		budget     float64 // 0: no thinking
	}{
		{"first turn", `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"Weather?"}],` + tool + `}`, 1024},
		{"tool loop", `{"model":"m","reasoning_effort":"low",` + loop + `,` + tool + `}`, 0},
		{"after the loop", `{"model":"m","reasoning_effort":"low",` + strings.TrimSuffix(loop, "]") + `,{"role":"assistant","content":"Sunny."},{"role":"user","content":"And Rome?"}],` + tool + `}`, 1024},
		{"budget over the limit", `{"model":"m","reasoning_effort":"high","max_completion_tokens":5000,"messages":[{"role":"user","content":"Think."}]}`, 2500},
	} {
		t.Run(c.name, func(t *testing.T) {
			x, err := chatFormat{}.decodeRequest([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			out, err := anthropicFormat{}.encodeRequest(x)
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Thinking *struct {
					BudgetTokens float64 `json:"budget_tokens"`
				} `json:"thinking"`
			}
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			got := 0.0
			if m.Thinking != nil {
				got = m.Thinking.BudgetTokens
			}
			if got != c.budget {
				t.Errorf("thinking budget %v, want %v: %s", got, c.budget, out)
			}
		})
	}
}

// TestTranslateToolCallNoArgs: Claude streams a call of a tool without
// parameters with no argument text; OpenAI-format callers get "{}", as
// OpenAI itself sends, which a JSON parser reads.
func TestTranslateToolCallNoArgs(t *testing.T) {
	for _, c := range []struct {
		caller string
		want   []string
	}{
		{"chat", []string{`"arguments":"{}"`}},
		{"responses", []string{`"arguments":"{}","item_id"`, `"output":[{"arguments":"{}"`}},
	} {
		tr := newStreamTranslator(anthropicFormat{}, testCallers[c.caller], &xRequest{Model: "m", Stream: true})
		var out []byte
		for _, ev := range readEvents(t, readTestdata(t, "anthropic/messages_stream_tool_no_args.sse")) {
			out = tr.translate(ev, out)
		}
		out = tr.end(out)
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s stream lacks %s:\n%s", c.caller, w, out)
			}
		}
	}
}
