package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
)

// nativeFake is one provider's API that speaks only its own format: a
// request in another format's shape is refused with a 400 in the
// provider's own error shape, so that a call the gateway passed through
// untranslated fails. It answers as a model driving a tool: a request that
// offers get_weather and carries no result yet gets a call of it; every
// other request gets a text, the reply once the result came back.
type nativeFake struct {
	*fakeUpstream
	// refused counts requests refused for their shape.
	refused []string
}

const (
	xlateTool  = "get_weather"
	xlateArgs  = `{"city":"Paris"}`
	xlateReply = "It is 18 degrees and overcast in Paris."
	xlateText  = "Paris is mild today."
)

func newNativeFake(t *testing.T, provider string) *nativeFake {
	n := &nativeFake{}
	authorized := map[string]func(*http.Request) bool{
		"openai": func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+openaiKey },
		"anthropic": func(r *http.Request) bool {
			return r.Header.Get("X-Api-Key") == anthropicKey || r.Header.Get("Authorization") == "Bearer "+anthropicKey
		},
		"gemini": func(r *http.Request) bool {
			return r.Header.Get("X-Goog-Api-Key") == geminiKey || r.URL.Query().Get("key") == geminiKey
		},
	}[provider]
	reject := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, _ []byte) {
		nativeError(w, provider, http.StatusUnauthorized, "invalid key")
	}
	handle := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, body []byte) {
		var req map[string]any
		if json.Unmarshal(body, &req) != nil {
			nativeError(w, provider, http.StatusBadRequest, "the body is not JSON")
			return
		}
		var problem, model string
		var stream bool
		switch provider {
		case "openai":
			if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
				nativeError(w, provider, http.StatusNotFound, "Invalid URL ("+r.Method+" "+r.URL.Path+")")
				return
			}
			problem = chatShape(req)
			model, _ = req["model"].(string)
			stream, _ = req["stream"].(bool)
		case "anthropic":
			if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" || r.Header.Get("Anthropic-Version") == "" {
				nativeError(w, provider, http.StatusNotFound, "Not Found")
				return
			}
			problem = messagesShape(req)
			model, _ = req["model"].(string)
			stream, _ = req["stream"].(bool)
		case "gemini":
			rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
			if !ok {
				rest, ok = strings.CutPrefix(r.URL.Path, "/v1/models/")
			}
			m, verb, _ := strings.Cut(rest, ":")
			if !ok || r.Method != http.MethodPost || verb != "generateContent" && (verb != "streamGenerateContent" || r.URL.Query().Get("alt") != "sse") {
				nativeError(w, provider, http.StatusNotFound, "Requested entity was not found.")
				return
			}
			problem = generateShape(req)
			model, stream = m, verb == "streamGenerateContent"
		}
		if problem != "" {
			f.mu.Lock()
			n.refused = append(n.refused, problem)
			f.mu.Unlock()
			nativeError(w, provider, http.StatusBadRequest, "not a "+provider+" request: "+problem)
			return
		}
		kind := "text"
		text := xlateText
		switch {
		case hasToolResult(provider, req):
			text = xlateReply
		case offersTool(provider, req):
			kind = "tool"
		}
		nativeAnswer(w, f, provider, kind, model, text, stream)
	}
	n.fakeUpstream = startFake(t, "agent", "", authorized, reject, handle)
	return n
}

// refusals returns the shape problems the fake refused.
func (n *nativeFake) refusals() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.refused...)
}

func nativeError(w http.ResponseWriter, provider string, status int, msg string) {
	var body any
	switch provider {
	case "anthropic":
		body = map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": msg}}
	case "gemini":
		body = map[string]any{"error": map[string]any{"code": status, "message": msg, "status": "INVALID_ARGUMENT"}}
	default:
		body = map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}}
	}
	b, _ := json.Marshal(body)
	writeBody(w, status, "application/json", b)
}

// nativeAnswer answers from the agent templates: a stream as it is, a
// whole answer as the JSON the stream adds up to.
func nativeAnswer(w http.ResponseWriter, f *fakeUpstream, provider, kind, model, text string, stream bool) {
	out := agentTextOut
	if kind == "tool" {
		out = agentOut
	}
	fill := map[string]string{
		"{{MODEL}}": model, "{{N}}": fmt.Sprint(f.count()), "{{TOOL}}": xlateTool,
		"{{ARGS}}": jsonString(xlateArgs), "{{ARGSOBJ}}": xlateArgs, "{{IN}}": fmt.Sprint(agentIn),
		"{{TEXT}}": jsonString(text), "{{OUT}}": fmt.Sprint(out), "{{TOTAL}}": fmt.Sprint(agentIn + out),
	}
	file := map[string]string{"openai tool": "chat-tool-call.sse", "openai text": "chat-text.sse",
		"anthropic tool": "anthropic-tool-use.sse", "anthropic text": "anthropic-text.sse",
		"gemini tool": "gemini-function-call.sse", "gemini text": "gemini-text.sse"}[provider+" "+kind]
	sse := f.file(file)
	for k, v := range fill {
		sse = bytes.ReplaceAll(sse, []byte(k), []byte(v))
	}
	if stream {
		writeSSE(w, "text/event-stream; charset=utf-8", sse)
		return
	}
	writeBody(w, http.StatusOK, "application/json", wholeAnswer(provider, sse))
}

// wholeAnswer adds a template stream up to the whole answer the provider
// gives a request that does not stream.
func wholeAnswer(provider string, sse []byte) []byte {
	var datas []map[string]any
	for _, ev := range splitEvents(sse) {
		for _, line := range strings.Split(string(ev), "\n") {
			if d, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: "); ok && d != "[DONE]" {
				var m map[string]any
				json.Unmarshal([]byte(d), &m)
				datas = append(datas, m)
			}
		}
	}
	var out any
	switch provider {
	case "gemini":
		out = datas[0] // the templates are one event
	case "openai":
		msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
		var text string
		var calls []any
		finish := ""
		var usage any
		for _, d := range datas {
			if u := d["usage"]; u != nil {
				usage = u
			}
			for _, c := range asList(d["choices"]) {
				cm := c.(map[string]any)
				if fr, ok := cm["finish_reason"].(string); ok {
					finish = fr
				}
				delta, _ := cm["delta"].(map[string]any)
				if s, ok := delta["content"].(string); ok {
					text += s
				}
				for _, tc := range asList(delta["tool_calls"]) {
					tm := tc.(map[string]any)
					if tm["id"] != nil {
						calls = append(calls, map[string]any{"id": tm["id"], "type": "function", "function": map[string]any{"name": tm["function"].(map[string]any)["name"], "arguments": ""}})
					}
					last := calls[len(calls)-1].(map[string]any)["function"].(map[string]any)
					if a, ok := tm["function"].(map[string]any)["arguments"].(string); ok {
						last["arguments"] = last["arguments"].(string) + a
					}
				}
			}
		}
		if text != "" {
			msg["content"] = text
		}
		if calls != nil {
			msg["tool_calls"] = calls
		}
		out = map[string]any{"id": datas[0]["id"], "object": "chat.completion", "created": datas[0]["created"], "model": datas[0]["model"],
			"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}}, "usage": usage}
	case "anthropic":
		msg := datas[0]["message"].(map[string]any)
		var content []any
		for _, d := range datas[1:] {
			switch d["type"] {
			case "content_block_start":
				content = append(content, d["content_block"])
			case "content_block_delta":
				b := content[len(content)-1].(map[string]any)
				delta := d["delta"].(map[string]any)
				switch delta["type"] {
				case "text_delta":
					b["text"] = b["text"].(string) + delta["text"].(string)
				case "input_json_delta":
					var in any
					json.Unmarshal([]byte(delta["partial_json"].(string)), &in)
					b["input"] = in
				}
			case "message_delta":
				for k, v := range d["delta"].(map[string]any) {
					msg[k] = v
				}
				msg["usage"] = d["usage"]
			}
		}
		msg["content"] = content
		out = msg
	}
	b, _ := json.Marshal(out)
	return b
}

func asList(v any) []any { l, _ := v.([]any); return l }

// chatShape says what in a request is not Chat Completions, or "".
func chatShape(req map[string]any) string {
	for _, k := range []string{"system", "stop_sequences", "top_k", "contents", "generationConfig", "systemInstruction", "thinking", "input", "instructions"} {
		if _, ok := req[k]; ok {
			return "member " + k
		}
	}
	if stream, _ := req["stream"].(bool); stream {
		so, _ := req["stream_options"].(map[string]any)
		if so["include_usage"] != true {
			return "a stream without stream_options.include_usage"
		}
	}
	for i, m := range asList(req["messages"]) {
		mm, _ := m.(map[string]any)
		role, _ := mm["role"].(string)
		if !slices.Contains([]string{"system", "developer", "user", "assistant", "tool"}, role) {
			return fmt.Sprintf("messages[%d].role %q", i, role)
		}
		if role == "tool" && mm["tool_call_id"] == nil {
			return fmt.Sprintf("messages[%d] without tool_call_id", i)
		}
		for j, p := range asList(mm["content"]) {
			pm, _ := p.(map[string]any)
			if ty, _ := pm["type"].(string); !slices.Contains([]string{"text", "image_url", "refusal"}, ty) {
				return fmt.Sprintf("messages[%d].content[%d].type %v", i, j, pm["type"])
			}
		}
		for j, tc := range asList(mm["tool_calls"]) {
			tm, _ := tc.(map[string]any)
			fn, _ := tm["function"].(map[string]any)
			if _, ok := fn["arguments"].(string); !ok || tm["id"] == nil || tm["type"] != "function" {
				return fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
			}
		}
	}
	for i, tl := range asList(req["tools"]) {
		tm, _ := tl.(map[string]any)
		if tm["type"] != "function" || tm["function"] == nil {
			return fmt.Sprintf("tools[%d]", i)
		}
	}
	if len(asList(req["messages"])) == 0 {
		return "no messages"
	}
	return ""
}

// messagesShape says what in a request is not Anthropic's Messages API,
// or "".
func messagesShape(req map[string]any) string {
	if _, ok := req["max_tokens"].(float64); !ok {
		return "no max_tokens"
	}
	for _, k := range []string{"stream_options", "max_completion_tokens", "response_format", "contents", "generationConfig", "n", "reasoning_effort", "tool_calls", "stop"} {
		if _, ok := req[k]; ok {
			return "member " + k
		}
	}
	for i, m := range asList(req["messages"]) {
		mm, _ := m.(map[string]any)
		role, _ := mm["role"].(string)
		if role != "user" && role != "assistant" {
			return fmt.Sprintf("messages[%d].role %q", i, role)
		}
		if _, ok := mm["content"].(string); ok {
			continue
		}
		for j, b := range asList(mm["content"]) {
			bm, _ := b.(map[string]any)
			switch bm["type"] {
			case "text", "thinking", "redacted_thinking":
			case "image":
				if bm["source"] == nil {
					return fmt.Sprintf("messages[%d].content[%d] image without source", i, j)
				}
			case "tool_use":
				if _, ok := bm["input"].(map[string]any); !ok || bm["id"] == nil {
					return fmt.Sprintf("messages[%d].content[%d] tool_use", i, j)
				}
			case "tool_result":
				if bm["tool_use_id"] == nil {
					return fmt.Sprintf("messages[%d].content[%d] tool_result", i, j)
				}
			default:
				return fmt.Sprintf("messages[%d].content[%d].type %v", i, j, bm["type"])
			}
		}
	}
	for i, tl := range asList(req["tools"]) {
		tm, _ := tl.(map[string]any)
		if tm["input_schema"] == nil || tm["function"] != nil {
			return fmt.Sprintf("tools[%d]", i)
		}
	}
	return ""
}

// generateShape says what in a request is not Gemini's generateContent,
// or "".
func generateShape(req map[string]any) string {
	for _, k := range []string{"model", "messages", "max_tokens", "stream", "system", "input"} {
		if _, ok := req[k]; ok {
			return "member " + k
		}
	}
	if len(asList(req["contents"])) == 0 {
		return "no contents"
	}
	for i, c := range asList(req["contents"]) {
		cm, _ := c.(map[string]any)
		if role, _ := cm["role"].(string); role != "user" && role != "model" {
			return fmt.Sprintf("contents[%d].role %q", i, role)
		}
		for j, p := range asList(cm["parts"]) {
			pm, _ := p.(map[string]any)
			data := 0
			for k := range pm {
				switch k {
				case "text", "inlineData", "fileData", "functionCall", "functionResponse":
					data++
				case "thought", "thoughtSignature":
				default:
					return fmt.Sprintf("contents[%d].parts[%d].%s", i, j, k)
				}
			}
			if data != 1 {
				return fmt.Sprintf("contents[%d].parts[%d] holds %d data members", i, j, data)
			}
		}
	}
	for i, tl := range asList(req["tools"]) {
		tm, _ := tl.(map[string]any)
		if tm["functionDeclarations"] == nil {
			return fmt.Sprintf("tools[%d]", i)
		}
	}
	return ""
}

// offersTool reports whether a request in provider's format offers
// xlateTool.
func offersTool(provider string, req map[string]any) bool {
	for _, tl := range asList(req["tools"]) {
		tm, _ := tl.(map[string]any)
		switch provider {
		case "openai":
			if fn, _ := tm["function"].(map[string]any); fn["name"] == xlateTool {
				return true
			}
		case "anthropic":
			if tm["name"] == xlateTool {
				return true
			}
		case "gemini":
			for _, d := range asList(tm["functionDeclarations"]) {
				if dm, _ := d.(map[string]any); dm["name"] == xlateTool {
					return true
				}
			}
		}
	}
	return false
}

// hasToolResult reports whether a request carries the tool's result.
func hasToolResult(provider string, req map[string]any) bool {
	switch provider {
	case "openai":
		_, ok := chatToolResult(req)
		return ok
	case "anthropic":
		_, ok := anthropicToolResult(req)
		return ok
	}
	_, ok := geminiToolResult(req)
	return ok
}

// TestTranslationSDKs has each official SDK call models of the two other
// providers through `sluice serve`, whose upstreams speak only their own
// format: plain calls and streamed tool round trips. Each call's rows are
// the target's: its provider, model, tokens and cost.
func TestTranslationSDKs(t *testing.T) {
	requireNode(t)
	natives := map[string]*nativeFake{}
	for _, p := range []string{"openai", "anthropic", "gemini"} {
		natives[p] = newNativeFake(t, p)
	}
	mode := currentKeyMode()
	s := startSluice(t, sluiceEnv(t, mode), map[string]string{
		"openai":    natives["openai"].srv.URL + "/v1",
		"anthropic": natives["anthropic"].srv.URL,
		"gemini":    natives["gemini"].srv.URL,
	})
	setKeys(t, s, mode)
	out := s.mustCLI("", "token", "new", "e2e")
	token := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	prices := gateway.DefaultPrices()
	seen := map[string]bool{}
	s.newRows(seen, 0)

	type xcase struct {
		sdk, call, target string
		base              string // the SDK's base URL
		route             string // the caller's route, as the row keeps it
		tools             bool
	}
	models := map[string]string{"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}
	var cases []xcase
	for _, target := range []string{"anthropic", "gemini"} {
		cases = append(cases,
			xcase{"openai", "chat", target, s.url + "/v1", "openai.chat", false},
			xcase{"openai", "chat-stream-tools", target, s.url + "/v1", "openai.chat", true},
			xcase{"openai", "responses", target, s.url + "/v1", "openai.responses", false},
			xcase{"openai", "responses-stream-tools", target, s.url + "/v1", "openai.responses", true})
	}
	for _, target := range []string{"openai", "gemini"} {
		cases = append(cases,
			xcase{"anthropic", "messages", target, s.url, "anthropic.messages", false},
			xcase{"anthropic", "messages-stream-tools", target, s.url, "anthropic.messages", true})
	}
	for _, target := range []string{"openai", "anthropic"} {
		cases = append(cases,
			xcase{"gemini", "generate", target, s.url, "gemini.generateContent", false},
			xcase{"gemini", "generate-stream-tools", target, s.url, "gemini.streamGenerateContent", true})
	}
	for _, c := range cases {
		name := c.call + ":" + c.target
		t.Run(c.sdk+"/"+name, func(t *testing.T) {
			before := natives[c.target].count()
			o := runSDK(t, "xlate.mjs", name, c.base, token)
			if !o.OK {
				t.Fatalf("%s through sluice failed: %+v (upstream refused: %q)", name, o.Error, natives[c.target].refusals())
			}
			var res struct {
				Error string `json:"error"`
				Text  string `json:"text"`
				Call  *struct {
					ID        string          `json:"id"`
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"call"`
				Usage json.RawMessage `json:"usage"`
			}
			decode(t, o.Result, &res)
			want := xlateText
			calls := 1
			if c.tools {
				want, calls = xlateReply, 2
				if res.Call == nil || res.Call.Name != xlateTool || compact(res.Call.Arguments) != xlateArgs || res.Call.ID == "" {
					t.Errorf("tool call = %+v, want %s(%s) with an id; result %s", res.Call, xlateTool, xlateArgs, o.Result)
				}
			}
			if res.Error != "" || strings.TrimSpace(res.Text) != want {
				t.Errorf("text = %q (error %q), want %q; result %s", res.Text, res.Error, want, o.Result)
			}
			if got := natives[c.target].count() - before; got != calls {
				t.Errorf("%s upstream got %d requests, want %d", c.target, got, calls)
			}
			for p, n := range natives {
				if len(n.refusals()) > 0 {
					t.Errorf("%s upstream refused a foreign shape: %q", p, n.refusals())
				}
			}
			rows := s.newRows(seen, calls)
			if len(rows) != calls {
				t.Fatalf("%d new log rows, want %d: %+v", len(rows), calls, rows)
			}
			for i, r := range rows {
				// The tool call came first.
				out := int64(agentTextOut)
				if c.tools && i == 0 {
					out = agentOut
				}
				u := gateway.Usage{InputTokens: agentIn, OutputTokens: out}
				if r.Provider != c.target || !strings.HasPrefix(r.Model, models[c.target]) || r.Status != 200 || r.Outcome != gateway.OutcomeOK {
					t.Errorf("row %d: provider %q model %q status %d outcome %q, want %s %s 200 ok", i, r.Provider, r.Model, r.Status, r.Outcome, c.target, models[c.target])
				}
				if r.InputTokens != u.InputTokens || r.OutputTokens != u.OutputTokens {
					t.Errorf("row %d: tokens %d in %d out, want the target's %d and %d", i, r.InputTokens, r.OutputTokens, u.InputTokens, u.OutputTokens)
				}
				if r.CallerRoute != c.route || r.AskedModel != models[c.target] {
					t.Errorf("row %d: caller route %q asked model %q, want %s %s", i, r.CallerRoute, r.AskedModel, c.route, models[c.target])
				}
				price, ok := prices.Lookup(r.Provider, r.Model)
				cost, err := gateway.ParseMoney(r.CostUSD)
				if !ok || err != nil || cost != price.Cost(u) || cost <= 0 {
					t.Errorf("row %d: cost %s (%v), want the target's price %s for %+v", i, r.CostUSD, err, price.Cost(u), u)
				}
			}
		})
	}
}
