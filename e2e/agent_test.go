package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// agentFake is one upstream that answers as a model driving a tool: a
// request whose tools include Tool gets a call of Tool with Args; the
// request that carries that call's result back gets a final text. Anything
// else (a tool's side calls: titles, summaries) gets a short text. It
// speaks Anthropic's Messages API and OpenAI's Responses API, streaming,
// from the templates in testdata/agent/, and takes each provider's key as
// that provider does.
type agentFake struct {
	*fakeUpstream
	// Tool and Args are the call the model makes.
	Tool, Args string
	// Reply is the final text, after the tool's result came back.
	Reply string

	mu      sync.Mutex
	results []string // guarded by mu; the tool results received
}

// Usage each answer reports: In input tokens, and Out output tokens for a
// tool call, TextOut for a text.
const (
	agentIn      = 1200
	agentOut     = 60
	agentTextOut = 25
)

func newAgentFake(t *testing.T, tool, args, reply string) *agentFake {
	a := &agentFake{Tool: tool, Args: args, Reply: reply}
	authorized := func(r *http.Request) bool {
		switch {
		case r.URL.Path == "/v1/messages":
			return r.Header.Get("X-Api-Key") == anthropicKey || r.Header.Get("Authorization") == "Bearer "+anthropicKey
		case strings.HasPrefix(r.URL.Path, "/v1beta/"):
			return r.Header.Get("X-Goog-Api-Key") == geminiKey || r.URL.Query().Get("key") == geminiKey
		default:
			return r.Header.Get("Authorization") == "Bearer "+openaiKey
		}
	}
	reject := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/v1/messages" {
			writeBody(w, http.StatusUnauthorized, "application/json", []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
			return
		}
		writeBody(w, http.StatusUnauthorized, "application/json", []byte(`{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`))
	}
	a.fakeUpstream = startFake(t, "agent", "", authorized, reject, a.handle)
	return a
}

// toolResults returns the tool results the fake has received.
func (a *agentFake) toolResults() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.results...)
}

func (a *agentFake) handle(f *fakeUpstream, w http.ResponseWriter, r *http.Request, body []byte) {
	var req map[string]any
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
		writeBody(w, http.StatusNotFound, "application/json", []byte(`{"error":{"message":"not found","type":"invalid_request_error"}}`))
		return
	}
	model, _ := req["model"].(string)
	offers := false
	tools, _ := req["tools"].([]any)
	for _, t := range tools {
		m, _ := t.(map[string]any)
		fn, _ := m["function"].(map[string]any) // Chat Completions
		decls, _ := m["functionDeclarations"].([]any)
		if m["name"] == a.Tool || fn != nil && fn["name"] == a.Tool {
			offers = true
		}
		for _, d := range decls {
			if dm, _ := d.(map[string]any); dm["name"] == a.Tool {
				offers = true
			}
		}
	}
	var result string
	var gotResult bool
	kind := r.URL.Path
	switch {
	case r.URL.Path == "/v1/messages":
		result, gotResult = anthropicToolResult(req)
	case r.URL.Path == "/v1/responses":
		result, gotResult = responsesToolResult(req)
	case r.URL.Path == "/v1/chat/completions":
		result, gotResult = chatToolResult(req)
	case strings.HasPrefix(r.URL.Path, "/v1beta/models/") && strings.HasSuffix(r.URL.Path, ":streamGenerateContent"):
		kind = "gemini"
		model = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1beta/models/"), ":streamGenerateContent")
		result, gotResult = geminiToolResult(req)
	default:
		writeBody(w, http.StatusNotFound, "application/json", []byte(`{"error":{"message":"not found","type":"invalid_request_error"}}`))
		return
	}
	if gotResult {
		a.mu.Lock()
		a.results = append(a.results, result)
		a.mu.Unlock()
	}
	n := f.count()
	fill := map[string]string{
		"{{MODEL}}": model, "{{N}}": fmt.Sprint(n), "{{TOOL}}": a.Tool,
		"{{ARGS}}": jsonString(a.Args), "{{ARGSOBJ}}": a.Args, "{{IN}}": fmt.Sprint(agentIn),
	}
	name := "text"
	text := "Nothing to do."
	switch {
	case gotResult:
		text = a.Reply
	case offers:
		name = "tool"
	}
	fill["{{TEXT}}"] = jsonString(text)
	out := agentTextOut
	if name == "tool" {
		out = agentOut
	}
	fill["{{OUT}}"], fill["{{TOTAL}}"] = fmt.Sprint(out), fmt.Sprint(agentIn+out)
	file := map[string]string{"/v1/messages tool": "anthropic-tool-use.sse", "/v1/messages text": "anthropic-text.sse",
		"/v1/responses tool": "responses-function-call.sse", "/v1/responses text": "responses-text.sse",
		"/v1/chat/completions tool": "chat-tool-call.sse", "/v1/chat/completions text": "chat-text.sse",
		"gemini tool": "gemini-function-call.sse", "gemini text": "gemini-text.sse"}[kind+" "+name]
	stream := f.file(file)
	for k, v := range fill {
		stream = bytes.ReplaceAll(stream, []byte(k), []byte(v))
	}
	writeSSE(w, "text/event-stream; charset=utf-8", stream)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// anthropicToolResult finds a tool_result block in the last user message.
func anthropicToolResult(req map[string]any) (string, bool) {
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return "", false
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	blocks, _ := last["content"].([]any)
	for _, b := range blocks {
		m, _ := b.(map[string]any)
		if m["type"] != "tool_result" {
			continue
		}
		return textOf(m["content"]), true
	}
	return "", false
}

// responsesToolResult finds a function_call_output item in the input.
func responsesToolResult(req map[string]any) (string, bool) {
	items, _ := req["input"].([]any)
	for i := len(items) - 1; i >= 0; i-- {
		m, _ := items[i].(map[string]any)
		if m["type"] == "function_call_output" {
			return textOf(m["output"]), true
		}
	}
	return "", false
}

// chatToolResult finds a tool message in a Chat Completions conversation.
func chatToolResult(req map[string]any) (string, bool) {
	msgs, _ := req["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m["role"] == "tool" {
			return textOf(m["content"]), true
		}
	}
	return "", false
}

// geminiToolResult finds a functionResponse part in a Gemini conversation.
func geminiToolResult(req map[string]any) (string, bool) {
	contents, _ := req["contents"].([]any)
	for _, c := range contents {
		cm, _ := c.(map[string]any)
		parts, _ := cm["parts"].([]any)
		for _, p := range parts {
			pm, _ := p.(map[string]any)
			if fr, ok := pm["functionResponse"]; ok {
				b, _ := json.Marshal(fr)
				return string(b), true
			}
		}
	}
	return "", false
}

// textOf is the text of a string or of a list of text blocks.
func textOf(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				if s, ok := m["text"].(string); ok {
					b.WriteString(s)
				}
			}
		}
		return b.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
