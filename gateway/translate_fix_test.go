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
	rt, f := parseDialectRoute(openAIDialect{}, http.MethodPost, "/v1/responses")
	if f != nil {
		t.Fatal(f)
	}
	for name, want := range map[string]bool{"openai": true, "groq": true, "xai": true, "openrouter": true, "fireworks": true,
		"deepseek": false, "mistral": false, "together": false, "ollama": false} {
		if got := rt.servedBy(ps[name]); got != want {
			t.Errorf("responses route servedBy(%s) = %v, want %v", name, got, want)
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

// TestTranslateGeminiThoughtSignature: the thought signature Gemini
// gives with a function call comes back to it with the call when the
// caller speaks another format (inside the call id the caller sends
// back); a Gemini 3 turn with a call Gemini did not sign gets the
// documented placeholder on its first call, an older Gemini nothing.
func TestTranslateGeminiThoughtSignature(t *testing.T) {
	const sig = "CiQB0e2Kb3vWq8z1xYw4" // in the recorded answer
	ans, err := geminiFormat{}.decodeResponse(readTestdata(t, "gemini/generate_content_function_call.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr := newStreamTranslator(geminiFormat{}, chatFormat{}, &xRequest{Model: "m", Stream: true})
	var stream []byte
	for _, ev := range readEvents(t, readTestdata(t, "gemini/stream_generate_content_function_call.sse")) {
		stream = tr.translate(ev, stream)
	}
	for _, c := range []struct {
		caller string
		body   []byte
	}{
		{"chat", chatFormat{}.encodeResponse(&xRequest{Model: "m"}, ans)},
		{"anthropic", anthropicFormat{}.encodeResponse(&xRequest{Model: "m"}, ans)},
	} {
		var id string
		if c.caller == "chat" {
			var r chatResponse
			json.Unmarshal(c.body, &r)
			id = r.Choices[0].Message.ToolCalls[0].ID
		} else {
			var r struct{ Content []struct{ ID string } }
			json.Unmarshal(c.body, &r)
			id = r.Content[0].ID
		}
		for _, ch := range id {
			if !(ch == '_' || ch == '-' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
				t.Errorf("%s call id %q has %q, which Anthropic refuses in an id", c.caller, id, ch)
			}
		}
		history := `{"model":"m","messages":[{"role":"user","content":"Weather?"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"` + id + `","content":"sunny"}]}`
		x, err := chatFormat{}.decodeRequest([]byte(history))
		if err != nil {
			t.Fatal(err)
		}
		x.Model = "gemini-3-pro-preview"
		out, err := geminiFormat{}.encodeRequest(x)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"thoughtSignature":"`+sig+`"`) || !strings.Contains(string(out), `"functionResponse"`) {
			t.Errorf("%s: history went to Gemini as %s, want the call with its signature %s", c.caller, out, sig)
		}
	}
	if !strings.Contains(string(stream), thoughtMark) {
		t.Errorf("streamed call id carries no signature: %s", stream)
	}
	unsigned := `{"model":"m","messages":[{"role":"user","content":"Weather?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{}"}},{"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"toolu_1","content":"sunny"},{"role":"tool","tool_call_id":"toolu_2","content":"rainy"}]}`
	for model, want := range map[string]int{"gemini-3-pro-preview": 1, "gemini-3.5-flash": 1, "gemini-2.5-flash": 0} {
		x, err := chatFormat{}.decodeRequest([]byte(unsigned))
		if err != nil {
			t.Fatal(err)
		}
		x.Model = model
		out, _ := geminiFormat{}.encodeRequest(x)
		if got := strings.Count(string(out), `"thoughtSignature":"skip_thought_signature_validator"`); got != want {
			t.Errorf("%s: %d placeholder signatures, want %d: %s", model, got, want, out)
		}
	}
}

// TestTranslateGeminiResultOrder: results a caller returns in another
// order than the calls go to Gemini, which pairs them by order, in the
// calls' order.
func TestTranslateGeminiResultOrder(t *testing.T) {
	x, err := anthropicFormat{}.decodeRequest([]byte(`{"model":"m","max_tokens":100,"messages":[
		{"role":"user","content":"Weather in Paris and Rome?"},
		{"role":"assistant","content":[{"type":"tool_use","id":"call_X_0","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_X_1","name":"get_weather","input":{"city":"Rome"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_X_1","content":"rainy"},{"type":"tool_result","tool_use_id":"call_X_0","content":"boom","is_error":true},{"type":"text","text":"Go on."}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := geminiFormat{}.encodeRequest(x)
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Contents []struct {
			Parts []map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(out, &req); err != nil {
		t.Fatal(err)
	}
	last := req.Contents[len(req.Contents)-1].Parts
	if len(last) != 3 || !strings.Contains(string(last[0]["functionResponse"]), `"error":"boom"`) ||
		!strings.Contains(string(last[1]["functionResponse"]), `"result":"rainy"`) || last[2]["text"] == nil {
		t.Errorf("results went to Gemini as %s, want Paris's (boom), then Rome's (rainy), then the text", out)
	}
}

// TestProxyTranslatedMaxTokens: a translated request asks the target for
// no more output than the price table says it can give (Claude Code asks
// every model for 32000).
func TestProxyTranslatedMaxTokens(t *testing.T) {
	seen := &upstreamSeen{}
	up := nativeUpstream(t, "mistral", seen, func(w http.ResponseWriter, r *http.Request, m map[string]any) {
		writeRecorded(t, w, 200, "openai/chat.json")
	})
	l := &memLedger{}
	p, srv := newTestProxy(t, l, map[string]string{"openai": up.URL + "/v1", "deepseek": up.URL + "/v1"})
	keys := p.Keys.(mapKeys)
	keys["deepseek"] = "sk-deepseek-real"
	hdr := map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"}
	for model, want := range map[string]string{"gpt-4o": `"max_completion_tokens":16384`, "deepseek-chat": `"max_tokens":8192`} {
		resp, body := post(t, srv.URL+"/v1/messages", hdr, `{"model":"`+model+`","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", model, resp.StatusCode, body)
		}
		if _, b := seen.last(t); !strings.Contains(string(b), want) {
			t.Errorf("%s got %s, want %s", model, b, want)
		}
	}
}

// TestTranslateRequestRefusals: a temperature Anthropic cannot take is
// refused naming it; a member of the wrong type is named in the
// caller's words.
func TestTranslateRequestRefusals(t *testing.T) {
	x, err := chatFormat{}.decodeRequest([]byte(`{"model":"m","temperature":1.8,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (anthropicFormat{}).encodeRequest(x); err == nil || !strings.HasPrefix(err.Error(), "temperature: ") {
		t.Errorf("temperature 1.8 for Anthropic: %v, want a refusal naming temperature", err)
	}
	x.Temperature = new(float64)
	*x.Temperature = 0.7
	if out, err := (anthropicFormat{}).encodeRequest(x); err != nil || !strings.Contains(string(out), `"temperature":0.7`) {
		t.Errorf("temperature 0.7 for Anthropic: %s, %v", out, err)
	}
	_, err = anthropicFormat{}.decodeRequest([]byte(`{"model":"m","max_tokens":"ten","messages":[]}`))
	if err == nil || err.Error() != "max_tokens: must be a number, not string" {
		t.Errorf("max_tokens \"ten\": %v, want max_tokens: must be a number, not string", err)
	}
	x, err = anthropicFormat{}.decodeRequest([]byte(`{"model":"m","max_tokens":10,"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := (chatFormat{}).encodeRequest(x); !strings.Contains(string(out), `"messages":[]`) {
		t.Errorf("no messages went as %s, want an empty list", out)
	}
}

// TestTranslateCacheControlMore: a cache_control on a Responses input
// part, or on a whole Chat message (LiteLLM's and OpenRouter's way),
// reaches Anthropic.
func TestTranslateCacheControlMore(t *testing.T) {
	for _, c := range []struct {
		caller, body string
	}{
		{"responses", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"Long document.","cache_control":{"type":"ephemeral"}}]}]}`},
		{"chat", `{"model":"m","messages":[{"role":"user","content":"Long document.","cache_control":{"type":"ephemeral"}}]}`},
		{"chat", `{"model":"m","messages":[{"role":"system","content":"Long rules.","cache_control":{"type":"ephemeral","ttl":"1h"}},{"role":"user","content":"hi"}]}`},
	} {
		x, err := testCallers[c.caller].decodeRequest([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		out, err := anthropicFormat{}.encodeRequest(x)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"cache_control":{"type":"ephemeral"`) {
			t.Errorf("%s %s went to Anthropic as %s, want its cache_control", c.caller, c.body, out)
		}
	}
}

// TestProxyCountTokensOtherProvider: a token count for a model of a
// provider of another format is refused saying that only requests for
// an answer are translated, before anything goes upstream.
func TestProxyCountTokensOtherProvider(t *testing.T) {
	seen := &upstreamSeen{}
	up := nativeUpstream(t, "openai", seen, func(w http.ResponseWriter, r *http.Request, m map[string]any) {
		writeRecorded(t, w, 200, "openai/chat.json")
	})
	_, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	resp, body := post(t, srv.URL+"/v1/messages/count_tokens", map[string]string{"X-Api-Key": testToken, "Anthropic-Version": "2023-06-01"},
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 404 || !strings.Contains(body, "translates only requests for an answer") || !strings.Contains(body, "anthropic.count_tokens") {
		t.Errorf("count_tokens for gpt-4o: %d %s, want a 404 saying only answers are translated", resp.StatusCode, body)
	}
	if seen.count() != 0 {
		t.Errorf("upstream got %d requests, want none", seen.count())
	}
}

// TestTranslateLongCallIDForChat: a call id over OpenAI's 40 characters
// (another provider's, or one carrying a Gemini signature) goes to a
// Chat Completions provider shortened, the same for the call and its
// result.
func TestTranslateLongCallIDForChat(t *testing.T) {
	long := "call_3Dm2aN6tG4-qz7IPj4aO0Aw_0" + thoughtMark + "CiQB0e2Kb3vWq8z1xYw4"
	x, err := anthropicFormat{}.decodeRequest([]byte(`{"model":"m","max_tokens":100,"messages":[
		{"role":"user","content":"Weather?"},
		{"role":"assistant","content":[{"type":"tool_use","id":"` + long + `","name":"get_weather","input":{}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"` + long + `","content":"sunny"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := testTargets["chat"].encodeRequest(x)
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Messages []struct {
			ToolCalls  []struct{ ID string } `json:"tool_calls"`
			ToolCallID string                `json:"tool_call_id"`
		}
	}
	json.Unmarshal(out, &req)
	id := req.Messages[1].ToolCalls[0].ID
	if len(id) > 40 || id != req.Messages[2].ToolCallID {
		t.Errorf("call id %q, result's %q: want one id of at most 40 characters", id, req.Messages[2].ToolCallID)
	}
}
