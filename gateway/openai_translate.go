package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OpenAI's Chat Completions and Responses APIs as translation formats.
// Chat Completions is both a caller format and the format Sluice calls
// every OpenAI-style provider in; Responses is a caller format only (an
// OpenAI model is reached in it natively).

// chatFormat is the Chat Completions API.
type chatFormat struct {
	// completionTokens: send the output limit as max_completion_tokens
	// rather than max_tokens (Provider.MaxCompletionTokens).
	completionTokens bool
	// provider names the provider in the messages of its errors.
	provider string
}

func (chatFormat) dialect() dialect { return openAIDialect{} }

type chatRequest struct {
	Model               string            `json:"model"`
	Messages            []chatMessage     `json:"messages"`
	Tools               []json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls"`
	MaxTokens           int64             `json:"max_tokens"`
	MaxCompletionTokens int64             `json:"max_completion_tokens"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	Stop                json.RawMessage   `json:"stop"`
	Stream              bool              `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N               *int64          `json:"n"`
	ResponseFormat  json.RawMessage `json:"response_format"`
	ReasoningEffort string          `json:"reasoning_effort"`
	Logprobs        bool            `json:"logprobs"`
	LogitBias       json.RawMessage `json:"logit_bias"`
	Modalities      []string        `json:"modalities"`
	Audio           json.RawMessage `json:"audio"`
	WebSearch       json.RawMessage `json:"web_search_options"`
	Functions       json.RawMessage `json:"functions"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []chatToolCall  `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	// CacheControl on a message (as LiteLLM and OpenRouter take it)
	// marks its last part.
	CacheControl json.RawMessage `json:"cache_control"`
}

type chatToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatContentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL struct {
		URL string `json:"url"`
	} `json:"image_url"`
	CacheControl json.RawMessage `json:"cache_control"`
}

func (f chatFormat) decodeRequest(body []byte) (*xRequest, error) {
	var in chatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, notA("a Chat Completions", err)
	}
	switch {
	case in.N != nil && *in.N > 1:
		return nil, refuseField("n", "only one choice can be asked of another provider's model")
	case in.Logprobs:
		return nil, refuseField("logprobs", "other providers' models give no log probabilities")
	case isPresent(in.LogitBias):
		return nil, refuseField("logit_bias", "other providers' models take no logit bias")
	case isPresent(in.Audio) || containsString(in.Modalities, "audio"):
		return nil, refuseField("modalities", "audio output cannot be asked of another provider's model")
	case isPresent(in.WebSearch):
		return nil, refuseField("web_search_options", "OpenAI's web search has no equivalent here")
	case isPresent(in.Functions):
		return nil, refuseField("functions", "send tools instead of the deprecated functions")
	}
	req := &xRequest{Model: in.Model, Stream: in.Stream, Temperature: in.Temperature, TopP: in.TopP,
		Reasoning: in.ReasoningEffort}
	req.MaxTokens = in.MaxCompletionTokens
	if req.MaxTokens == 0 {
		req.MaxTokens = in.MaxTokens
	}
	if in.StreamOptions != nil {
		req.IncludeUsage = in.StreamOptions.IncludeUsage
	}
	if isPresent(in.Stop) {
		if err := stringOrList(in.Stop, &req.Stop); err != nil {
			return nil, refuseField("stop", "must be a string or a list of strings")
		}
	}
	for i, m := range in.Messages {
		field := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			ps, err := chatContent(field, m.Content, false)
			if err != nil {
				return nil, err
			}
			req.System = append(req.System, cacheLast(ps, m.CacheControl)...)
		case "user":
			ps, err := chatContent(field, m.Content, true)
			if err != nil {
				return nil, err
			}
			req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: cacheLast(ps, m.CacheControl)})
		case "assistant":
			ps, err := chatContent(field, m.Content, false)
			if err != nil {
				return nil, err
			}
			for j, tc := range m.ToolCalls {
				if tc.Type != "" && tc.Type != "function" {
					return nil, refuseField(fmt.Sprintf("%s.tool_calls[%d].type", field, j), "only function tool calls can be sent to another provider")
				}
				args, err := argsObject(fmt.Sprintf("%s.tool_calls[%d].function.arguments", field, j), tc.Function.Arguments)
				if err != nil {
					return nil, err
				}
				ps = append(ps, xPart{Kind: partToolCall, CallID: tc.ID, Name: tc.Function.Name, Args: args})
			}
			req.Messages = append(req.Messages, xMessage{Role: roleAssistant, Parts: cacheLast(ps, m.CacheControl)})
		case "tool":
			ps, err := chatContent(field, m.Content, false)
			if err != nil {
				return nil, err
			}
			req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: []xPart{{Kind: partToolResult, CallID: m.ToolCallID, Result: ps, Cache: m.CacheControl}}})
		default:
			return nil, refuseField(field+".role", "role %q cannot be sent to another provider", m.Role)
		}
	}
	req.Messages = mergeTurns(req.Messages)
	for i, raw := range in.Tools {
		var t struct {
			Type     string `json:"type"`
			Function struct {
				Name        string          `json:"name"`
				Description string          `json:"description"`
				Parameters  json.RawMessage `json:"parameters"`
			} `json:"function"`
			CacheControl json.RawMessage `json:"cache_control"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || t.Type != "function" {
			return nil, refuseField(fmt.Sprintf("tools[%d].type", i), "only function tools can be sent to another provider")
		}
		req.Tools = append(req.Tools, xTool{Name: t.Function.Name, Description: t.Function.Description, Schema: t.Function.Parameters, Cache: t.CacheControl})
	}
	if err := openAIToolChoice("tool_choice", in.ToolChoice, &req.ToolChoice); err != nil {
		return nil, err
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls {
		req.ToolChoice.NoParallel = true
	}
	if isPresent(in.ResponseFormat) {
		var rf struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		}
		if err := json.Unmarshal(in.ResponseFormat, &rf); err != nil {
			return nil, refuseField("response_format", "not a response format")
		}
		switch rf.Type {
		case "text", "":
		case "json_object":
			req.JSONMode = true
		case "json_schema":
			req.JSONSchema, req.SchemaName = rawOr(rf.JSONSchema.Schema, "{}"), rf.JSONSchema.Name
		default:
			return nil, refuseField("response_format.type", "unknown response format %q", rf.Type)
		}
	}
	return req, nil
}

// chatContent reads a Chat message's content: a string or a list of
// parts. Images are taken only where images may be (user messages).
func chatContent(field string, raw json.RawMessage, images bool) ([]xPart, error) {
	if !isPresent(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, refuseField(field+".content", "not a string")
		}
		if s == "" {
			return nil, nil
		}
		return []xPart{{Kind: partText, Text: s}}, nil
	}
	var parts []chatContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, refuseField(field+".content", "must be a string or a list of content parts")
	}
	var out []xPart
	for j, p := range parts {
		pf := fmt.Sprintf("%s.content[%d]", field, j)
		switch p.Type {
		case "text":
			out = append(out, xPart{Kind: partText, Text: p.Text, Cache: p.CacheControl})
		case "refusal":
			out = append(out, xPart{Kind: partText, Text: p.Refusal})
		case "image_url":
			if !images {
				return nil, refuseField(pf+".type", "images go in user messages")
			}
			out = append(out, imagePart(p.ImageURL.URL, p.CacheControl))
		default:
			return nil, refuseField(pf+".type", "content of type %q cannot be sent to another provider", p.Type)
		}
	}
	return out, nil
}

// chatCallID is a tool call id as Chat Completions takes it: OpenAI
// refuses one over 40 characters, which another provider's ids may be
// (one carrying a Gemini thought signature always is), so a longer one
// is replaced by a digest of it, the same for a call and its result.
func chatCallID(id string) string {
	if len(id) <= 40 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "call_" + hex.EncodeToString(sum[:16])
}

// cacheLast puts a message's cache_control on its last part, unless
// that part has its own.
func cacheLast(ps []xPart, cache json.RawMessage) []xPart {
	if isPresent(cache) && len(ps) > 0 && !isPresent(ps[len(ps)-1].Cache) {
		ps[len(ps)-1].Cache = cache
	}
	return ps
}

// imagePart is an image given by URL, which may be a data: URL.
func imagePart(u string, cache json.RawMessage) xPart {
	if mt, data, ok := parseDataURL(u); ok {
		return xPart{Kind: partImage, MediaType: mt, Data: data, Cache: cache}
	}
	return xPart{Kind: partImage, URL: u, Cache: cache}
}

// openAIToolChoice reads tool_choice as both OpenAI APIs spell it.
func openAIToolChoice(field string, raw json.RawMessage, tc *xToolChoice) error {
	if !isPresent(raw) {
		return nil
	}
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		switch s {
		case "auto":
			tc.Mode = choiceAuto
		case "none":
			tc.Mode = choiceNone
		case "required":
			tc.Mode = choiceAny
		default:
			return refuseField(field, "unknown tool choice %q", s)
		}
		return nil
	}
	var o struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Type != "function" {
		return refuseField(field+".type", "only a function can be chosen for another provider's model")
	}
	tc.Mode, tc.Name = choiceTool, o.Function.Name
	if tc.Name == "" {
		tc.Name = o.Name
	}
	return nil
}

func stringOrList(raw json.RawMessage, out *[]string) error {
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		*out = []string{s}
		return nil
	}
	return json.Unmarshal(raw, out)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// reasoningModel reports whether an OpenAI model takes reasoning_effort.
func reasoningModel(model string) bool {
	m := strings.ToLower(model)
	return strings.HasPrefix(m, "o1") || strings.HasPrefix(m, "o3") || strings.HasPrefix(m, "o4") || strings.HasPrefix(m, "gpt-5")
}

func (f chatFormat) encodeRequest(req *xRequest) ([]byte, error) {
	type fn struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	type tool struct {
		Type     string `json:"type"`
		Function fn     `json:"function"`
	}
	type msg struct {
		Role       string         `json:"role"`
		Content    any            `json:"content"`
		ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	out := struct {
		Model               string   `json:"model"`
		Messages            []msg    `json:"messages"`
		Tools               []tool   `json:"tools,omitempty"`
		ToolChoice          any      `json:"tool_choice,omitempty"`
		ParallelToolCalls   *bool    `json:"parallel_tool_calls,omitempty"`
		MaxTokens           int64    `json:"max_tokens,omitempty"`
		MaxCompletionTokens int64    `json:"max_completion_tokens,omitempty"`
		Temperature         *float64 `json:"temperature,omitempty"`
		TopP                *float64 `json:"top_p,omitempty"`
		Stop                []string `json:"stop,omitempty"`
		Stream              bool     `json:"stream,omitempty"`
		StreamOptions       any      `json:"stream_options,omitempty"`
		ResponseFormat      any      `json:"response_format,omitempty"`
		ReasoningEffort     string   `json:"reasoning_effort,omitempty"`
	}{Model: req.Model, Messages: []msg{}, Temperature: req.Temperature, TopP: req.TopP, Stop: req.Stop, Stream: req.Stream}
	if f.completionTokens {
		out.MaxCompletionTokens = req.MaxTokens
	} else {
		out.MaxTokens = req.MaxTokens
	}
	if req.Stream {
		// Always: Sluice meters the stream by its usage.
		out.StreamOptions = map[string]bool{"include_usage": true}
	}
	if len(req.System) > 0 {
		out.Messages = append(out.Messages, msg{Role: "system", Content: joinText(req.System)})
	}
	for _, m := range req.Messages {
		if m.Role == roleSystem {
			out.Messages = append(out.Messages, msg{Role: "system", Content: joinText(m.Parts)})
			continue
		}
		if m.Role == roleAssistant {
			am := msg{Role: "assistant"}
			var text []xPart
			for _, p := range m.Parts {
				switch p.Kind {
				case partText:
					text = append(text, p)
				case partToolCall:
					tc := chatToolCall{ID: chatCallID(p.CallID), Type: "function"}
					tc.Function.Name, tc.Function.Arguments = p.Name, string(rawOr(p.Args, "{}"))
					am.ToolCalls = append(am.ToolCalls, tc)
				}
				// Thinking stays with the provider that thought it.
			}
			if len(text) > 0 {
				am.Content = joinText(text)
			}
			out.Messages = append(out.Messages, am)
			continue
		}
		var content []map[string]any
		flush := func() {
			if len(content) == 0 {
				return
			}
			var c any = content
			if len(content) == 1 && content[0]["type"] == "text" {
				c = content[0]["text"]
			}
			out.Messages = append(out.Messages, msg{Role: "user", Content: c})
			content = nil
		}
		for _, p := range m.Parts {
			switch p.Kind {
			case partText:
				content = append(content, map[string]any{"type": "text", "text": p.Text})
			case partImage:
				content = append(content, map[string]any{"type": "image_url", "image_url": map[string]string{"url": imageURL(p)}})
			case partToolResult:
				flush()
				text := joinText(p.Result)
				if p.IsError && text != "" {
					text = "Error: " + text
				} else if p.IsError {
					text = "Error"
				}
				out.Messages = append(out.Messages, msg{Role: "tool", ToolCallID: chatCallID(p.CallID), Content: text})
				// A tool message holds text only: its images follow
				// in a user message.
				for _, r := range p.Result {
					if r.Kind == partImage {
						content = append(content, map[string]any{"type": "image_url", "image_url": map[string]string{"url": imageURL(r)}})
					}
				}
			}
		}
		flush()
	}
	for _, t := range req.Tools {
		out.Tools = append(out.Tools, tool{Type: "function", Function: fn{Name: t.Name, Description: t.Description, Parameters: t.Schema}})
	}
	switch req.ToolChoice.Mode {
	case choiceAuto:
		out.ToolChoice = "auto"
	case choiceNone:
		out.ToolChoice = "none"
	case choiceAny:
		out.ToolChoice = "required"
	case choiceTool:
		out.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": req.ToolChoice.Name}}
	}
	if req.ToolChoice.NoParallel && len(req.Tools) > 0 {
		f := false
		out.ParallelToolCalls = &f
	}
	switch {
	case req.JSONSchema != nil:
		name := req.SchemaName
		if name == "" {
			name = "output"
		}
		out.ResponseFormat = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": name, "schema": req.JSONSchema}}
	case req.JSONMode:
		out.ResponseFormat = map[string]string{"type": "json_object"}
	}
	if reasoningModel(req.Model) {
		out.ReasoningEffort = req.Reasoning
		if out.ReasoningEffort == "" {
			out.ReasoningEffort = budgetEffort(req.ThinkingBudget)
		}
	}
	return marshal(out), nil
}

// imageURL is an image as a URL, a data: URL for inline data.
func imageURL(p xPart) string {
	if p.URL != "" {
		return p.URL
	}
	return "data:" + p.MediaType + ";base64," + p.Data
}

type chatResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content          *string        `json:"content"`
			ReasoningContent *string        `json:"reasoning_content"`
			Refusal          *string        `json:"refusal"`
			ToolCalls        []chatToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *chatUsage) x() xUsage {
	if u == nil {
		return xUsage{}
	}
	var x xUsage
	if u.PromptTokensDetails != nil {
		x.CacheRead = u.PromptTokensDetails.CachedTokens
	}
	x.Input = max(u.PromptTokens-x.CacheRead, 0)
	x.Output = u.CompletionTokens
	if u.CompletionTokensDetails != nil {
		x.Reasoning = u.CompletionTokensDetails.ReasoningTokens
	}
	return x
}

func chatStop(reason string, toolCalls bool) string {
	switch reason {
	case "length":
		return stopMax
	case "tool_calls", "function_call":
		return stopTool
	case "content_filter":
		return stopFilter
	}
	if toolCalls {
		return stopTool
	}
	return stopEnd
}

func (f chatFormat) decodeResponse(body []byte) (*xResponse, error) {
	var in chatResponse
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("read %s answer: %w", f.provider, err)
	}
	r := &xResponse{ID: in.ID, Model: in.Model, Usage: in.Usage.x(), Stop: stopEnd}
	if len(in.Choices) > 0 {
		c := in.Choices[0]
		m := c.Message
		if m.ReasoningContent != nil && *m.ReasoningContent != "" {
			r.Parts = append(r.Parts, xPart{Kind: partThinking, Text: *m.ReasoningContent})
		}
		if m.Content != nil && *m.Content != "" {
			r.Parts = append(r.Parts, xPart{Kind: partText, Text: *m.Content})
		} else if m.Refusal != nil && *m.Refusal != "" {
			r.Parts = append(r.Parts, xPart{Kind: partText, Text: *m.Refusal})
		}
		for _, tc := range m.ToolCalls {
			r.Parts = append(r.Parts, xPart{Kind: partToolCall, CallID: tc.ID, Name: tc.Function.Name, Args: rawOr(json.RawMessage(tc.Function.Arguments), "{}")})
		}
		r.Stop = chatStop(c.FinishReason, len(m.ToolCalls) > 0)
	}
	return r, nil
}

func (f chatFormat) decodeError(status int, body []byte) xError {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	json.Unmarshal(body, &e)
	kind := errKind(e.Error.Type)
	if kind == "error" {
		kind = ""
	}
	return errorFromStatus(f.provider, status, kind, e.Error.Message)
}

// chatFinishReason is a stop reason as Chat Completions says it.
func chatFinishReason(stop string) string {
	switch stop {
	case stopMax:
		return "length"
	case stopTool:
		return "tool_calls"
	case stopFilter:
		return "content_filter"
	}
	return "stop"
}

// chatUsageJSON is usage as Chat Completions reports it: prompt_tokens
// counts every input token, cached ones included.
func chatUsageJSON(u xUsage) map[string]any {
	return map[string]any{
		"prompt_tokens":             u.promptTokens(),
		"completion_tokens":         u.Output,
		"total_tokens":              u.promptTokens() + u.Output,
		"prompt_tokens_details":     map[string]int64{"cached_tokens": u.CacheRead},
		"completion_tokens_details": map[string]int64{"reasoning_tokens": u.Reasoning},
	}
}

func (chatFormat) encodeResponse(req *xRequest, r *xResponse) []byte {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	var text []xPart
	var calls []chatToolCall
	for _, p := range r.Parts {
		switch p.Kind {
		case partText:
			text = append(text, p)
		case partToolCall:
			tc := chatToolCall{ID: p.CallID, Type: "function"}
			tc.Function.Name, tc.Function.Arguments = p.Name, string(rawOr(p.Args, "{}"))
			calls = append(calls, tc)
		}
	}
	if len(text) > 0 {
		msg["content"] = joinText(text)
	}
	if len(calls) > 0 {
		msg["tool_calls"] = calls
	}
	return marshal(map[string]any{
		"id":      r.ID,
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   r.Model,
		"choices": []map[string]any{{"index": 0, "message": msg, "logprobs": nil, "finish_reason": chatFinishReason(r.Stop)}},
		"usage":   chatUsageJSON(r.Usage),
	})
}

// chatChunk is the part of a Chat Completions stream chunk translation
// reads.
type chatChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content          *string        `json:"content"`
			ReasoningContent *string        `json:"reasoning_content"`
			ToolCalls        []chatToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (f chatFormat) newStreamDecoder() streamDecoder {
	return &chatDecoder{provider: f.provider, block: -1, tools: map[int]int{}}
}

// chatDecoder reads a Chat Completions stream. The finish reason comes a
// chunk before the usage: the finish is held until [DONE] or the end.
type chatDecoder struct {
	provider string
	started  bool
	block    int  // the block being written, -1 before the first
	text     bool // block is text (else thinking or a tool call)
	thinking bool
	tools    map[int]int // tool_calls index → block
	calls    bool
	stop     string
	usage    xUsage
	finished bool
}

func (d *chatDecoder) decode(ev streamEvent, out []xEvent) []xEvent {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 || d.finished {
		return out
	}
	if string(data) == "[DONE]" {
		return d.end(out)
	}
	if d.started {
		if text, ok := chatTextDelta(data); ok {
			if !d.text {
				d.block++
				d.text, d.thinking = true, false
			}
			return append(out, xEvent{Kind: evText, Index: d.block, Text: text})
		}
	}
	var c chatChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return out
	}
	if isPresent(c.Error) {
		d.finished = true
		e := d.chunkError(c.Error)
		return append(out, xEvent{Kind: evError, Err: &e})
	}
	if !d.started {
		d.started = true
		out = append(out, xEvent{Kind: evStart, ID: c.ID, Name: c.Model})
	}
	for _, ch := range c.Choices {
		dl := ch.Delta
		if dl.ReasoningContent != nil && *dl.ReasoningContent != "" {
			if !d.thinking || d.block < 0 {
				d.block++
				d.thinking, d.text = true, false
			}
			out = append(out, xEvent{Kind: evThinking, Index: d.block, Text: *dl.ReasoningContent})
		}
		if dl.Content != nil && *dl.Content != "" {
			if !d.text {
				d.block++
				d.text, d.thinking = true, false
			}
			out = append(out, xEvent{Kind: evText, Index: d.block, Text: *dl.Content})
		}
		for _, tc := range dl.ToolCalls {
			i := 0
			if tc.Index != nil {
				i = *tc.Index
			}
			b, ok := d.tools[i]
			if !ok {
				d.block++
				d.text, d.thinking = false, false
				b = d.block
				d.tools[i] = b
				d.calls = true
				out = append(out, xEvent{Kind: evToolStart, Index: b, ID: tc.ID, Name: tc.Function.Name})
			}
			if tc.Function.Arguments != "" {
				out = append(out, xEvent{Kind: evToolArgs, Index: b, Text: tc.Function.Arguments})
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			d.stop = chatStop(*ch.FinishReason, d.calls)
		}
	}
	if c.Usage != nil {
		d.usage = c.Usage.x()
	}
	return out
}

// chatTextDelta reads a chunk that only adds text, most of a stream,
// without encoding/json: one choice, whose delta holds content alone (or
// with a role), no finish reason, no usage, no error.
func chatTextDelta(data []byte) (string, bool) {
	if bytes.Contains(data, []byte(`"tool_calls"`)) || bytes.Contains(data, []byte(`"reasoning_content"`)) || bytes.Contains(data, []byte(`"error"`)) {
		return "", false
	}
	if u, found := jsonMember(data, "usage"); !isNull(u, found) {
		return "", false
	}
	ch, found := jsonMember(data, "choices")
	if !found {
		return "", false
	}
	choice, ok := onlyElement(ch)
	if !ok {
		return "", false
	}
	if fr, found := jsonMember(choice, "finish_reason"); !isNull(fr, found) {
		return "", false
	}
	dl, found := jsonMember(choice, "delta")
	if !found {
		return "", false
	}
	raw, found := jsonMember(dl, "content")
	if !found {
		return "", false
	}
	text, ok := jsonStringValue(raw)
	return text, ok && text != ""
}

func (d *chatDecoder) chunkError(raw json.RawMessage) xError {
	var e struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	json.Unmarshal(raw, &e)
	return errorFromStatus(d.provider, 500, errKind(e.Type), e.Message)
}

func (d *chatDecoder) end(out []xEvent) []xEvent {
	if d.finished || d.stop == "" {
		return out
	}
	d.finished = true
	return append(out, xEvent{Kind: evFinish, Stop: d.stop, Usage: d.usage})
}

func (chatFormat) newStreamEncoder(req *xRequest) streamEncoder {
	return &chatEncoder{includeUsage: req.IncludeUsage, created: time.Now().Unix(), model: req.Model, tools: map[int]int{}}
}

// chatEncoder writes a Chat Completions stream.
type chatEncoder struct {
	includeUsage bool
	id, model    string
	created      int64
	started      bool
	tools        map[int]int // block → tool_calls index
	done         bool
}

func (e *chatEncoder) finished() bool { return e.done }

// chunk appends one chunk whose choices[0] holds delta (JSON) and
// finish.
func (e *chatEncoder) chunk(out []byte, delta []byte, finish string) []byte {
	out = append(out, `data: {"id":`...)
	out = appendJSONString(out, e.id)
	out = append(out, `,"object":"chat.completion.chunk","created":`...)
	out = appendInt(out, e.created)
	out = append(out, `,"model":`...)
	out = appendJSONString(out, e.model)
	out = append(out, `,"choices":[{"index":0,"delta":`...)
	out = append(out, delta...)
	out = append(out, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		out = append(out, "null"...)
	} else {
		out = appendJSONString(out, finish)
	}
	return append(out, "}]}\n\n"...)
}

func (e *chatEncoder) start(out []byte, ev *xEvent) []byte {
	if e.started {
		return out
	}
	e.started = true
	if ev.Kind == evStart {
		if ev.ID != "" {
			e.id = ev.ID
		}
		if ev.Name != "" {
			e.model = ev.Name
		}
	}
	if e.id == "" {
		e.id = "chatcmpl-" + NewID(time.Now())
	}
	return e.chunk(out, []byte(`{"role":"assistant","content":""}`), "")
}

func (e *chatEncoder) encode(ev *xEvent, out []byte) []byte {
	if ev.Kind == evError {
		e.done = true
		return append(out, openAIDialect{}.cutEvent(route{Name: routeOpenAIChat}, ev.Err.Kind, ev.Err.Message, 0)...)
	}
	out = e.start(out, ev)
	var d []byte
	switch ev.Kind {
	case evText:
		d = appendJSONString(append(d, `{"content":`...), ev.Text)
		d = append(d, '}')
	case evToolStart:
		n := len(e.tools)
		e.tools[ev.Index] = n
		d = append(d, `{"tool_calls":[{"index":`...)
		d = strconv.AppendInt(d, int64(n), 10)
		d = append(d, `,"id":`...)
		d = appendJSONString(d, ev.ID)
		d = append(d, `,"type":"function","function":{"name":`...)
		d = appendJSONString(d, ev.Name)
		d = append(d, `,"arguments":""}}]}`...)
	case evToolArgs:
		d = append(d, `{"tool_calls":[{"index":`...)
		d = strconv.AppendInt(d, int64(e.tools[ev.Index]), 10)
		d = append(d, `,"function":{"arguments":`...)
		d = appendJSONString(d, ev.Text)
		d = append(d, `}}]}`...)
	case evFinish:
		e.done = true
		out = e.chunk(out, []byte(`{}`), chatFinishReason(ev.Stop))
		if e.includeUsage {
			out = append(out, "data: "...)
			out = append(out, marshal(map[string]any{"id": e.id, "object": "chat.completion.chunk", "created": e.created,
				"model": e.model, "choices": []any{}, "usage": chatUsageJSON(ev.Usage)})...)
			out = append(out, "\n\n"...)
		}
		return append(out, "data: [DONE]\n\n"...)
	default:
		// Thinking has no place in a Chat Completions stream.
		return out
	}
	return e.chunk(out, d, "")
}

// responsesFormat is the Responses API, as a caller format.
type responsesFormat struct{}

func (responsesFormat) dialect() dialect { return openAIDialect{} }

type responsesRequest struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       string            `json:"instructions"`
	Tools              []json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	MaxOutputTokens    int64             `json:"max_output_tokens"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Stream             bool              `json:"stream"`
	PreviousResponseID string            `json:"previous_response_id"`
	Conversation       json.RawMessage   `json:"conversation"`
	Background         bool              `json:"background"`
	Prompt             json.RawMessage   `json:"prompt"`
	TopLogprobs        int64             `json:"top_logprobs"`
	Text               *struct {
		Format json.RawMessage `json:"format"`
	} `json:"text"`
	Reasoning *struct {
		Effort string `json:"effort"`
	} `json:"reasoning"`
}

type responsesItem struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	CallID  string          `json:"call_id"`
	Name    string          `json:"name"`
	Args    string          `json:"arguments"`
	Output  json.RawMessage `json:"output"`
}

type responsesPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL string `json:"image_url"`
	FileID   string `json:"file_id"`
	// CacheControl is Anthropic's, kept for Anthropic.
	CacheControl json.RawMessage `json:"cache_control"`
}

func (responsesFormat) decodeRequest(body []byte) (*xRequest, error) {
	var in responsesRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, notA("a Responses", err)
	}
	switch {
	case in.PreviousResponseID != "":
		return nil, refuseField("previous_response_id", "another provider's model cannot read a conversation stored at OpenAI; send the whole input")
	case isPresent(in.Conversation):
		return nil, refuseField("conversation", "another provider's model cannot read a conversation stored at OpenAI; send the whole input")
	case in.Background:
		return nil, refuseField("background", "background responses are OpenAI's alone")
	case isPresent(in.Prompt):
		return nil, refuseField("prompt", "prompts stored at OpenAI cannot be sent to another provider")
	case in.TopLogprobs > 0:
		return nil, refuseField("top_logprobs", "other providers' models give no log probabilities")
	}
	req := &xRequest{Model: in.Model, Stream: in.Stream, Temperature: in.Temperature, TopP: in.TopP,
		MaxTokens: in.MaxOutputTokens, IncludeUsage: true}
	if in.Instructions != "" {
		req.System = append(req.System, xPart{Kind: partText, Text: in.Instructions})
	}
	if in.Reasoning != nil {
		req.Reasoning = in.Reasoning.Effort
	}
	if isPresent(in.Input) {
		if in.Input[0] == '"' {
			var s string
			json.Unmarshal(in.Input, &s)
			req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: []xPart{{Kind: partText, Text: s}}})
		} else {
			var items []responsesItem
			if err := json.Unmarshal(in.Input, &items); err != nil {
				return nil, refuseField("input", "must be a string or a list of items")
			}
			for i, it := range items {
				field := fmt.Sprintf("input[%d]", i)
				switch it.Type {
				case "message", "":
					ps, err := responsesContent(field, it.Content)
					if err != nil {
						return nil, err
					}
					switch it.Role {
					case "system", "developer":
						req.System = append(req.System, ps...)
					case "user":
						req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: ps})
					case "assistant":
						req.Messages = append(req.Messages, xMessage{Role: roleAssistant, Parts: ps})
					default:
						return nil, refuseField(field+".role", "role %q cannot be sent to another provider", it.Role)
					}
				case "function_call":
					args, err := argsObject(field+".arguments", it.Args)
					if err != nil {
						return nil, err
					}
					req.Messages = append(req.Messages, xMessage{Role: roleAssistant, Parts: []xPart{{Kind: partToolCall, CallID: it.CallID, Name: it.Name, Args: args}}})
				case "function_call_output":
					ps, err := responsesContent(field+".output", it.Output)
					if err != nil {
						return nil, err
					}
					req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: []xPart{{Kind: partToolResult, CallID: it.CallID, Result: ps}}})
				case "reasoning":
					// OpenAI's own (encrypted) reasoning: no other model reads it.
				default:
					return nil, refuseField(field+".type", "items of type %q cannot be sent to another provider", it.Type)
				}
			}
		}
	}
	req.Messages = mergeTurns(req.Messages)
	for i, raw := range in.Tools {
		var t struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || t.Type != "function" {
			return nil, refuseField(fmt.Sprintf("tools[%d].type", i), "OpenAI's %q tool has no equivalent at another provider; only function tools can be sent", t.Type)
		}
		req.Tools = append(req.Tools, xTool{Name: t.Name, Description: t.Description, Schema: t.Parameters})
	}
	if err := openAIToolChoice("tool_choice", in.ToolChoice, &req.ToolChoice); err != nil {
		return nil, err
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls {
		req.ToolChoice.NoParallel = true
	}
	if in.Text != nil && isPresent(in.Text.Format) {
		var f struct {
			Type   string          `json:"type"`
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		}
		json.Unmarshal(in.Text.Format, &f)
		req.SchemaField = "text.format"
		switch f.Type {
		case "text", "":
		case "json_object":
			req.JSONMode = true
		case "json_schema":
			req.JSONSchema, req.SchemaName = rawOr(f.Schema, "{}"), f.Name
		default:
			return nil, refuseField("text.format.type", "unknown format %q", f.Type)
		}
	}
	return req, nil
}

// responsesContent reads a Responses message content or function output:
// a string or a list of parts.
func responsesContent(field string, raw json.RawMessage) ([]xPart, error) {
	if !isPresent(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		return []xPart{{Kind: partText, Text: s}}, nil
	}
	var parts []responsesPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, refuseField(field, "must be a string or a list of content parts")
	}
	var out []xPart
	for j, p := range parts {
		pf := fmt.Sprintf("%s.content[%d]", field, j)
		switch p.Type {
		case "input_text", "output_text", "text":
			out = append(out, xPart{Kind: partText, Text: p.Text, Cache: p.CacheControl})
		case "refusal":
			out = append(out, xPart{Kind: partText, Text: p.Refusal})
		case "input_image":
			if p.ImageURL == "" {
				return nil, refuseField(pf+".file_id", "files stored at OpenAI cannot be sent to another provider; send the image as image_url")
			}
			out = append(out, imagePart(p.ImageURL, p.CacheControl))
		default:
			return nil, refuseField(pf+".type", "content of type %q cannot be sent to another provider", p.Type)
		}
	}
	return out, nil
}

// responsesUsageJSON is usage as the Responses API reports it.
func responsesUsageJSON(u xUsage) map[string]any {
	return map[string]any{
		"input_tokens":          u.promptTokens(),
		"input_tokens_details":  map[string]int64{"cached_tokens": u.CacheRead},
		"output_tokens":         u.Output,
		"output_tokens_details": map[string]int64{"reasoning_tokens": u.Reasoning},
		"total_tokens":          u.promptTokens() + u.Output,
	}
}

// responseObject is a Responses API response object.
func responseObject(req *xRequest, id, model, status string, created int64, output []any, usage *xUsage, stop string) map[string]any {
	if output == nil {
		output = []any{}
	}
	r := map[string]any{
		"id": id, "object": "response", "created_at": created, "status": status,
		"error": nil, "incomplete_details": nil, "instructions": nil,
		"max_output_tokens": nil, "model": model, "output": output,
		"parallel_tool_calls": !req.ToolChoice.NoParallel, "previous_response_id": nil,
		"temperature": req.Temperature, "top_p": req.TopP, "tool_choice": "auto", "tools": []any{},
		"text": map[string]any{"format": map[string]string{"type": "text"}}, "usage": nil, "metadata": map[string]any{},
	}
	if req.MaxTokens > 0 {
		r["max_output_tokens"] = req.MaxTokens
	}
	if usage != nil {
		r["usage"] = responsesUsageJSON(*usage)
	}
	if status == "incomplete" {
		reason := "max_output_tokens"
		if stop == stopFilter {
			reason = "content_filter"
		}
		r["incomplete_details"] = map[string]string{"reason": reason}
	}
	return r
}

func responsesStatus(stop string) string {
	if stop == stopMax || stop == stopFilter {
		return "incomplete"
	}
	return "completed"
}

func messageItem(id, text, status string) map[string]any {
	content := []any{}
	if status == "completed" {
		content = append(content, map[string]any{"type": "output_text", "text": text, "annotations": []any{}, "logprobs": []any{}})
	}
	return map[string]any{"id": id, "type": "message", "status": status, "role": "assistant", "content": content}
}

func callItem(id, callID, name, args, status string) map[string]any {
	return map[string]any{"id": id, "type": "function_call", "status": status, "call_id": callID, "name": name, "arguments": args}
}

func (responsesFormat) encodeResponse(req *xRequest, r *xResponse) []byte {
	var output []any
	for i, p := range r.Parts {
		switch p.Kind {
		case partText:
			output = append(output, messageItem(fmt.Sprintf("msg_%s_%d", r.ID, i), p.Text, "completed"))
		case partToolCall:
			output = append(output, callItem(fmt.Sprintf("fc_%s_%d", r.ID, i), p.CallID, p.Name, string(rawOr(p.Args, "{}")), "completed"))
		}
	}
	u := r.Usage
	return marshal(responseObject(req, responseID(r.ID), r.Model, responsesStatus(r.Stop), time.Now().Unix(), output, &u, r.Stop))
}

func responseID(id string) string {
	if strings.HasPrefix(id, "resp_") {
		return id
	}
	return "resp_" + id
}

func (responsesFormat) newStreamEncoder(req *xRequest) streamEncoder {
	return &responsesEncoder{req: req, created: time.Now().Unix(), model: req.Model, item: -1}
}

// responsesEncoder writes a Responses API stream: each event named, each
// numbered.
type responsesEncoder struct {
	req       *xRequest
	id, model string
	created   int64
	seq       int64
	started   bool
	done      bool
	// The output item being written: its index, block, kind and text or
	// arguments so far.
	item     int
	block    int
	itemKind eventKind
	itemID   string
	callID   string
	name     string
	buf      []byte
	output   []any
}

func (e *responsesEncoder) finished() bool { return e.done }

func (e *responsesEncoder) event(out []byte, typ string, fields map[string]any) []byte {
	fields["type"] = typ
	fields["sequence_number"] = e.seq
	e.seq++
	return sseEvent(out, typ, marshal(fields))
}

func (e *responsesEncoder) start(out []byte, ev *xEvent) []byte {
	if e.started {
		return out
	}
	e.started = true
	if ev.Kind == evStart {
		e.id = ev.ID
		if ev.Name != "" {
			e.model = ev.Name
		}
	}
	if e.id == "" {
		e.id = NewID(time.Now())
	}
	e.id = responseID(e.id)
	obj := func() map[string]any {
		return responseObject(e.req, e.id, e.model, "in_progress", e.created, nil, nil, "")
	}
	out = e.event(out, "response.created", map[string]any{"response": obj()})
	return e.event(out, "response.in_progress", map[string]any{"response": obj()})
}

// closeItem ends the output item being written.
func (e *responsesEncoder) closeItem(out []byte) []byte {
	if e.item < 0 || e.itemKind == 0 {
		return out
	}
	var item map[string]any
	switch e.itemKind {
	case evText:
		text := string(e.buf)
		part := map[string]any{"type": "output_text", "text": text, "annotations": []any{}, "logprobs": []any{}}
		out = e.event(out, "response.output_text.done", map[string]any{"item_id": e.itemID, "output_index": e.item, "content_index": 0, "text": text, "logprobs": []any{}})
		out = e.event(out, "response.content_part.done", map[string]any{"item_id": e.itemID, "output_index": e.item, "content_index": 0, "part": part})
		item = messageItem(e.itemID, text, "completed")
	case evToolStart:
		args := string(e.buf)
		out = e.event(out, "response.function_call_arguments.done", map[string]any{"item_id": e.itemID, "output_index": e.item, "arguments": args})
		item = callItem(e.itemID, e.callID, e.name, args, "completed")
	}
	out = e.event(out, "response.output_item.done", map[string]any{"output_index": e.item, "item": item})
	e.output = append(e.output, item)
	e.itemKind = 0
	return out
}

func (e *responsesEncoder) encode(ev *xEvent, out []byte) []byte {
	if ev.Kind == evError {
		e.done = true
		return append(out, openAIDialect{}.cutEvent(route{Name: routeOpenAIResponses}, ev.Err.Kind, ev.Err.Message, e.seq)...)
	}
	out = e.start(out, ev)
	switch ev.Kind {
	case evText:
		if e.itemKind != evText || e.block != ev.Index {
			out = e.closeItem(out)
			e.item++
			e.block, e.itemKind, e.buf = ev.Index, evText, e.buf[:0]
			e.itemID = fmt.Sprintf("msg_%s_%d", strings.TrimPrefix(e.id, "resp_"), e.item)
			out = e.event(out, "response.output_item.added", map[string]any{"output_index": e.item, "item": messageItem(e.itemID, "", "in_progress")})
			out = e.event(out, "response.content_part.added", map[string]any{"item_id": e.itemID, "output_index": e.item, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}, "logprobs": []any{}}})
		}
		e.buf = append(e.buf, ev.Text...)
		out = e.deltaEvent(out, "response.output_text.delta", ev.Text, true)
	case evToolStart:
		out = e.closeItem(out)
		e.item++
		e.block, e.itemKind, e.buf = ev.Index, evToolStart, e.buf[:0]
		e.itemID = fmt.Sprintf("fc_%s_%d", strings.TrimPrefix(e.id, "resp_"), e.item)
		e.callID, e.name = ev.ID, ev.Name
		out = e.event(out, "response.output_item.added", map[string]any{"output_index": e.item, "item": callItem(e.itemID, e.callID, e.name, "", "in_progress")})
	case evToolArgs:
		if e.itemKind == evToolStart && e.block == ev.Index {
			e.buf = append(e.buf, ev.Text...)
			out = e.deltaEvent(out, "response.function_call_arguments.delta", ev.Text, false)
		}
	case evFinish:
		out = e.closeItem(out)
		e.done = true
		u := ev.Usage
		status := responsesStatus(ev.Stop)
		typ := "response.completed"
		if status == "incomplete" {
			typ = "response.incomplete"
		}
		out = e.event(out, typ, map[string]any{"response": responseObject(e.req, e.id, e.model, status, e.created, e.output, &u, ev.Stop)})
	}
	return out
}

// deltaEvent writes a text or arguments delta without reflection: these
// are most of a stream's events.
func (e *responsesEncoder) deltaEvent(out []byte, typ, delta string, text bool) []byte {
	out = append(out, "event: "...)
	out = append(out, typ...)
	out = append(out, "\ndata: {\"type\":"...)
	out = appendJSONString(out, typ)
	out = append(out, `,"sequence_number":`...)
	out = appendInt(out, e.seq)
	e.seq++
	out = append(out, `,"item_id":`...)
	out = appendJSONString(out, e.itemID)
	out = append(out, `,"output_index":`...)
	out = appendInt(out, int64(e.item))
	if text {
		out = append(out, `,"content_index":0,"logprobs":[]`...)
	}
	out = append(out, `,"delta":`...)
	out = appendJSONString(out, delta)
	return append(out, "}\n\n"...)
}

// OpenAI's dialect translates: Chat Completions and Responses requests
// can go to any provider, and OpenAI-style providers are called by Chat
// Completions.

func (openAIDialect) callerFormat(rt route, q url.Values) callerFormat {
	switch rt.Name {
	case routeOpenAIChat:
		return chatFormat{}
	case routeOpenAIResponses:
		return responsesFormat{}
	}
	return nil
}

func (openAIDialect) targetFormat(prov Provider) targetFormat {
	return chatFormat{provider: prov.Name, completionTokens: prov.MaxCompletionTokens}
}

func (openAIDialect) targetPath(model string, stream bool) (string, url.Values) {
	return "/v1/chat/completions", url.Values{}
}

func (openAIDialect) targetHeaders(h http.Header) {}
