package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Anthropic's Messages API as a translation format, both ways.
type anthropicFormat struct{}

func (anthropicFormat) dialect() dialect { return anthropicDialect{} }

type anthropicRequest struct {
	Model         string             `json:"model"`
	MaxTokens     int64              `json:"max_tokens"`
	System        json.RawMessage    `json:"system"`
	Messages      []anthropicMessage `json:"messages"`
	Tools         []json.RawMessage  `json:"tools"`
	ToolChoice    json.RawMessage    `json:"tool_choice"`
	Temperature   *float64           `json:"temperature"`
	TopP          *float64           `json:"top_p"`
	TopK          *int64             `json:"top_k"`
	StopSequences []string           `json:"stop_sequences"`
	Stream        bool               `json:"stream"`
	Thinking      *struct {
		Type         string `json:"type"`
		BudgetTokens int64  `json:"budget_tokens"`
	} `json:"thinking"`
	MCPServers   json.RawMessage `json:"mcp_servers"`
	Container    json.RawMessage `json:"container"`
	OutputFormat json.RawMessage `json:"output_format"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicContent is a content block as read: every block type's
// members in one struct.
type anthropicContent struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	Source    *anthropicImage `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	Cache     json.RawMessage `json:"cache_control"`
}

type anthropicImage struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

func (anthropicFormat) decodeRequest(body []byte) (*xRequest, error) {
	var in anthropicRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, notA("a Messages", err)
	}
	switch {
	case isPresent(in.MCPServers):
		return nil, refuseField("mcp_servers", "Anthropic's MCP connector has no equivalent at another provider")
	case isPresent(in.Container):
		return nil, refuseField("container", "Anthropic's containers have no equivalent at another provider")
	}
	// context_management (Claude Code sends it) asks Anthropic to clear
	// old thinking or tool results from what the model reads; the
	// conversation itself is whole, so another provider reads it all.
	req := &xRequest{Model: in.Model, MaxTokens: in.MaxTokens, Temperature: in.Temperature, TopP: in.TopP,
		TopK: in.TopK, Stop: in.StopSequences, Stream: in.Stream, IncludeUsage: true}
	if in.Thinking != nil && in.Thinking.Type == "enabled" {
		req.ThinkingBudget = in.Thinking.BudgetTokens
	}
	if isPresent(in.OutputFormat) {
		var of struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		}
		json.Unmarshal(in.OutputFormat, &of)
		if of.Type != "json_schema" {
			return nil, refuseField("output_format.type", "unknown output format %q", of.Type)
		}
		req.JSONSchema, req.SchemaField = rawOr(of.Schema, "{}"), "output_format"
	}
	if isPresent(in.System) {
		ps, err := anthropicBlocks("system", in.System)
		if err != nil {
			return nil, err
		}
		req.System = ps
	}
	for i, m := range in.Messages {
		field := fmt.Sprintf("messages[%d]", i)
		ps, err := anthropicBlocks(field+".content", m.Content)
		if err != nil {
			return nil, err
		}
		switch m.Role {
		case "user":
			req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: ps})
		case "assistant":
			req.Messages = append(req.Messages, xMessage{Role: roleAssistant, Parts: ps})
		case "system":
			req.Messages = append(req.Messages, xMessage{Role: roleSystem, Parts: ps})
		default:
			return nil, refuseField(field+".role", "unknown role %q", m.Role)
		}
	}
	req.Messages = mergeTurns(req.Messages)
	for i, raw := range in.Tools {
		var t struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
			Cache       json.RawMessage `json:"cache_control"`
		}
		json.Unmarshal(raw, &t)
		if t.Type != "" && t.Type != "custom" {
			return nil, refuseField(fmt.Sprintf("tools[%d].type", i), "Anthropic's server tool %q has no equivalent at another provider", t.Type)
		}
		req.Tools = append(req.Tools, xTool{Name: t.Name, Description: t.Description, Schema: t.InputSchema, Cache: t.Cache})
	}
	if isPresent(in.ToolChoice) {
		var tc struct {
			Type                   string `json:"type"`
			Name                   string `json:"name"`
			DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
		}
		json.Unmarshal(in.ToolChoice, &tc)
		switch tc.Type {
		case "auto":
			req.ToolChoice.Mode = choiceAuto
		case "any":
			req.ToolChoice.Mode = choiceAny
		case "none":
			req.ToolChoice.Mode = choiceNone
		case "tool":
			req.ToolChoice.Mode, req.ToolChoice.Name = choiceTool, tc.Name
		default:
			return nil, refuseField("tool_choice.type", "unknown tool choice %q", tc.Type)
		}
		req.ToolChoice.NoParallel = tc.DisableParallelToolUse
	}
	return req, nil
}

// anthropicBlocks reads content: a string or a list of blocks.
func anthropicBlocks(field string, raw json.RawMessage) ([]xPart, error) {
	if !isPresent(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, refuseField(field, "not a string")
		}
		if s == "" {
			return nil, nil
		}
		return []xPart{{Kind: partText, Text: s}}, nil
	}
	var blocks []anthropicContent
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, refuseField(field, "must be a string or a list of content blocks")
	}
	var out []xPart
	for j, b := range blocks {
		bf := fmt.Sprintf("%s[%d]", field, j)
		switch b.Type {
		case "text":
			out = append(out, xPart{Kind: partText, Text: b.Text, Cache: b.Cache})
		case "image":
			if b.Source == nil {
				return nil, refuseField(bf+".source", "an image needs a source")
			}
			switch b.Source.Type {
			case "base64":
				out = append(out, xPart{Kind: partImage, MediaType: b.Source.MediaType, Data: b.Source.Data, Cache: b.Cache})
			case "url":
				out = append(out, xPart{Kind: partImage, URL: b.Source.URL, Cache: b.Cache})
			default:
				return nil, refuseField(bf+".source.type", "images of source %q (stored at Anthropic) cannot be sent to another provider", b.Source.Type)
			}
		case "tool_use":
			out = append(out, xPart{Kind: partToolCall, CallID: b.ID, Name: b.Name, Args: rawOr(b.Input, "{}"), Cache: b.Cache})
		case "tool_result":
			rs, err := anthropicBlocks(bf+".content", b.Content)
			if err != nil {
				return nil, err
			}
			out = append(out, xPart{Kind: partToolResult, CallID: b.ToolUseID, Result: rs, IsError: b.IsError, Cache: b.Cache})
		case "thinking":
			out = append(out, xPart{Kind: partThinking, Text: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			// Encrypted thinking only Anthropic can read.
		default:
			return nil, refuseField(bf+".type", "content of type %q cannot be sent to another provider", b.Type)
		}
	}
	return out, nil
}

// anthropicDefaultMaxTokens is the output limit sent for a request that
// sets none, when the price table knows no maximum: Anthropic requires
// one.
const anthropicDefaultMaxTokens = 8192

func (anthropicFormat) encodeRequest(req *xRequest) ([]byte, error) {
	type block map[string]any
	type msg struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	out := struct {
		Model         string   `json:"model"`
		MaxTokens     int64    `json:"max_tokens"`
		System        []block  `json:"system,omitempty"`
		Messages      []msg    `json:"messages"`
		Tools         []block  `json:"tools,omitempty"`
		ToolChoice    block    `json:"tool_choice,omitempty"`
		Temperature   *float64 `json:"temperature,omitempty"`
		TopP          *float64 `json:"top_p,omitempty"`
		TopK          *int64   `json:"top_k,omitempty"`
		StopSequences []string `json:"stop_sequences,omitempty"`
		Stream        bool     `json:"stream,omitempty"`
		Thinking      block    `json:"thinking,omitempty"`
	}{Model: req.Model, MaxTokens: req.MaxTokens, TopP: req.TopP, TopK: req.TopK, StopSequences: req.Stop, Stream: req.Stream}
	switch {
	case req.JSONSchema != nil:
		return nil, refuseField(schemaField(req), "structured output has no equivalent in Anthropic's Messages API; describe the JSON in the prompt or use a tool")
	case req.JSONMode:
		return nil, refuseField(schemaField(req), "JSON mode has no equivalent in Anthropic's Messages API; describe the JSON in the prompt")
	}
	if out.MaxTokens <= 0 {
		out.MaxTokens = anthropicDefaultMaxTokens
	}
	if t := req.Temperature; t != nil {
		// OpenAI's and Gemini's scales run to 2, Anthropic's to 1:
		// a higher one would sample otherwise than asked.
		if *t > 1 {
			return nil, refuseField("temperature", "Anthropic's models take a temperature from 0 to 1, not %v", *t)
		}
		out.Temperature = t
	}
	withCache := func(b block, cache json.RawMessage) block {
		if isPresent(cache) {
			b["cache_control"] = cache
		}
		return b
	}
	system, turns := systemParts(req)
	for _, p := range system {
		out.System = append(out.System, withCache(block{"type": "text", "text": p.Text}, p.Cache))
	}
	image := func(p xPart) block {
		src := anthropicImage{Type: "base64", MediaType: p.MediaType, Data: p.Data}
		if p.URL != "" {
			src = anthropicImage{Type: "url", URL: p.URL}
		}
		return withCache(block{"type": "image", "source": src}, p.Cache)
	}
	// unthoughtCall: the last assistant turn called a tool without
	// first thinking. With thinking on, Anthropic refuses (400) such a
	// conversation, which every tool loop of a caller that cannot carry
	// Anthropic's signed thinking blocks back (an OpenAI or Gemini
	// caller) has; its documented way out is to leave thinking off for
	// that request.
	unthoughtCall := false
	for _, m := range mergeTurns(turns) {
		am := msg{Role: "user"}
		if m.Role == roleAssistant {
			am.Role = "assistant"
		}
		for _, p := range m.Parts {
			switch p.Kind {
			case partText:
				if p.Text != "" {
					am.Content = append(am.Content, withCache(block{"type": "text", "text": p.Text}, p.Cache))
				}
			case partImage:
				am.Content = append(am.Content, image(p))
			case partToolCall:
				am.Content = append(am.Content, withCache(block{"type": "tool_use", "id": p.CallID, "name": p.Name, "input": rawOr(p.Args, "{}")}, p.Cache))
			case partToolResult:
				var rs []block
				for _, r := range p.Result {
					switch r.Kind {
					case partText:
						rs = append(rs, block{"type": "text", "text": r.Text})
					case partImage:
						rs = append(rs, image(r))
					}
				}
				b := block{"type": "tool_result", "tool_use_id": p.CallID}
				if len(rs) > 0 {
					b["content"] = rs
				}
				if p.IsError {
					b["is_error"] = true
				}
				am.Content = append(am.Content, withCache(b, p.Cache))
			case partThinking:
				// Only Anthropic's own thinking, signed, may go back to it.
				if p.Signature != "" && m.Role == roleAssistant {
					am.Content = append(am.Content, block{"type": "thinking", "thinking": p.Text, "signature": p.Signature})
				}
			}
		}
		if len(am.Content) > 0 {
			out.Messages = append(out.Messages, am)
			if am.Role == "assistant" {
				unthoughtCall = false
				for _, b := range am.Content {
					unthoughtCall = unthoughtCall || b["type"] == "tool_use"
				}
				unthoughtCall = unthoughtCall && am.Content[0]["type"] != "thinking"
			}
		}
	}
	for _, t := range req.Tools {
		out.Tools = append(out.Tools, withCache(block{"name": t.Name, "description": t.Description, "input_schema": rawOr(t.Schema, `{"type":"object","properties":{}}`)}, t.Cache))
	}
	switch req.ToolChoice.Mode {
	case choiceAuto:
		out.ToolChoice = block{"type": "auto"}
	case choiceAny:
		out.ToolChoice = block{"type": "any"}
	case choiceNone:
		out.ToolChoice = block{"type": "none"}
	case choiceTool:
		out.ToolChoice = block{"type": "tool", "name": req.ToolChoice.Name}
	}
	if req.ToolChoice.NoParallel && len(req.Tools) > 0 {
		if out.ToolChoice == nil {
			out.ToolChoice = block{"type": "auto"}
		}
		out.ToolChoice["disable_parallel_tool_use"] = true
	}
	budget := req.ThinkingBudget
	if budget == 0 && req.Reasoning != "" {
		budget = effortBudget(req.Reasoning)
	}
	forced := req.ToolChoice.Mode == choiceAny || req.ToolChoice.Mode == choiceTool
	if budget > 0 && !forced && !unthoughtCall {
		// Anthropic thinks at least 1024 tokens and within max_tokens;
		// a budget the caller's limit leaves no room for is fitted
		// to half of it. It refuses a temperature or top_k with
		// thinking on.
		budget = max(budget, 1024)
		if budget >= out.MaxTokens {
			budget = max(1024, out.MaxTokens/2)
		}
		if budget < out.MaxTokens {
			out.Thinking = block{"type": "enabled", "budget_tokens": budget}
			out.Temperature, out.TopK = nil, nil
		}
	}
	return marshal(out), nil
}

// schemaField names the field in which the caller asked for JSON output.
func schemaField(req *xRequest) string {
	if req.SchemaField != "" {
		return req.SchemaField
	}
	return "response_format"
}

type anthropicResponse struct {
	ID           string             `json:"id"`
	Model        string             `json:"model"`
	Content      []anthropicContent `json:"content"`
	StopReason   string             `json:"stop_reason"`
	StopSequence string             `json:"stop_sequence"`
	Usage        anthropicXUsage    `json:"usage"`
}

type anthropicXUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// apply sets the counts u reports in x: a message_delta's usage repeats
// or updates what message_start said.
func (u *anthropicXUsage) apply(x *xUsage) {
	if u.InputTokens != nil {
		x.Input = *u.InputTokens
	}
	if u.OutputTokens != nil {
		x.Output = *u.OutputTokens
	}
	if u.CacheCreationInputTokens != nil {
		x.CacheWrite = *u.CacheCreationInputTokens
	}
	if u.CacheReadInputTokens != nil {
		x.CacheRead = *u.CacheReadInputTokens
	}
}

func anthropicStop(reason string) string {
	switch reason {
	case "max_tokens", "model_context_window_exceeded":
		return stopMax
	case "tool_use":
		return stopTool
	case "stop_sequence":
		return stopSequence
	case "refusal":
		return stopFilter
	}
	return stopEnd
}

func anthropicStopReason(stop string) string {
	switch stop {
	case stopMax:
		return "max_tokens"
	case stopTool:
		return "tool_use"
	case stopSequence:
		return "stop_sequence"
	case stopFilter:
		return "refusal"
	}
	return "end_turn"
}

func (anthropicFormat) decodeResponse(body []byte) (*xResponse, error) {
	var in anthropicResponse
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("read anthropic answer: %w", err)
	}
	r := &xResponse{ID: in.ID, Model: in.Model, Stop: anthropicStop(in.StopReason), StopSequence: in.StopSequence}
	in.Usage.apply(&r.Usage)
	for _, b := range in.Content {
		switch b.Type {
		case "text":
			r.Parts = append(r.Parts, xPart{Kind: partText, Text: b.Text})
		case "thinking":
			r.Parts = append(r.Parts, xPart{Kind: partThinking, Text: b.Thinking, Signature: b.Signature})
		case "tool_use":
			r.Parts = append(r.Parts, xPart{Kind: partToolCall, CallID: b.ID, Name: b.Name, Args: rawOr(b.Input, "{}")})
		}
	}
	return r, nil
}

func (anthropicFormat) decodeError(status int, body []byte) xError {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(body, &e)
	return errorFromStatus("anthropic", status, anthropicKind(e.Error.Type), e.Error.Message)
}

// anthropicKind is an Anthropic error type as an OpenAI-style kind.
func anthropicKind(t string) errKind {
	switch t {
	case "rate_limit_error":
		return kindProviderRateLimit
	case "overloaded_error", "api_error":
		return kindProviderError
	case "billing_error":
		return kindProviderBilling
	}
	return errKind(t)
}

// anthropicUsageJSON is usage as Anthropic reports it: input_tokens
// counts neither cache reads nor cache writes.
func anthropicUsageJSON(u xUsage) map[string]int64 {
	return map[string]int64{
		"input_tokens":                u.Input,
		"cache_creation_input_tokens": u.CacheWrite,
		"cache_read_input_tokens":     u.CacheRead,
		"output_tokens":               u.Output,
	}
}

func anthropicMessageID(id string) string {
	if id == "" {
		return "msg_" + NewID(time.Now())
	}
	return id
}

func (anthropicFormat) encodeResponse(req *xRequest, r *xResponse) []byte {
	content := []map[string]any{}
	for _, p := range r.Parts {
		switch p.Kind {
		case partText:
			content = append(content, map[string]any{"type": "text", "text": p.Text})
		case partThinking:
			content = append(content, map[string]any{"type": "thinking", "thinking": p.Text, "signature": p.Signature})
		case partToolCall:
			content = append(content, map[string]any{"type": "tool_use", "id": p.CallID, "name": p.Name, "input": rawOr(p.Args, "{}")})
		}
	}
	var seq any
	if r.StopSequence != "" {
		seq = r.StopSequence
	}
	return marshal(map[string]any{
		"id": anthropicMessageID(r.ID), "type": "message", "role": "assistant", "model": r.Model,
		"content": content, "stop_reason": anthropicStopReason(r.Stop), "stop_sequence": seq,
		"usage": anthropicUsageJSON(r.Usage),
	})
}

// anthropicStreamEvent is the part of a Messages stream event
// translation reads.
type anthropicStreamEvent struct {
	Type    string `json:"type"`
	Index   int    `json:"index"`
	Message *struct {
		ID    string          `json:"id"`
		Model string          `json:"model"`
		Usage anthropicXUsage `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"content_block"`
	Delta *struct {
		Type         string `json:"type"`
		Text         string `json:"text"`
		PartialJSON  string `json:"partial_json"`
		Thinking     string `json:"thinking"`
		Signature    string `json:"signature"`
		StopReason   string `json:"stop_reason"`
		StopSequence string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *anthropicXUsage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func (anthropicFormat) newStreamDecoder() streamDecoder { return &anthropicDecoder{} }

// anthropicDecoder reads a Messages stream. Its block indexes are
// Anthropic's own.
type anthropicDecoder struct {
	// bare is the index of a tool_use block no argument text has come
	// for, while bareOpen: Claude streams a call of a tool without
	// parameters with no text, and an OpenAI caller must get "{}".
	bare     int
	bareOpen bool
	usage    xUsage
	stop     string
	stopSeq  string
	finished bool
}

func (d *anthropicDecoder) decode(ev streamEvent, out []xEvent) []xEvent {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 || d.finished {
		return out
	}
	if idx, text, ok := anthropicTextDelta(data); ok {
		return append(out, xEvent{Kind: evText, Index: idx, Text: text})
	}
	var e anthropicStreamEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return out
	}
	switch e.Type {
	case "message_start":
		if e.Message != nil {
			e.Message.Usage.apply(&d.usage)
			out = append(out, xEvent{Kind: evStart, ID: e.Message.ID, Name: e.Message.Model, Usage: d.usage})
		}
	case "content_block_start":
		if b := e.ContentBlock; b != nil {
			switch b.Type {
			case "tool_use":
				out = append(out, xEvent{Kind: evToolStart, Index: e.Index, ID: b.ID, Name: b.Name})
				d.bare, d.bareOpen = e.Index, true
			case "text":
				if b.Text != "" {
					out = append(out, xEvent{Kind: evText, Index: e.Index, Text: b.Text})
				}
			}
		}
	case "content_block_delta":
		if dl := e.Delta; dl != nil {
			switch dl.Type {
			case "text_delta":
				out = append(out, xEvent{Kind: evText, Index: e.Index, Text: dl.Text})
			case "input_json_delta":
				if dl.PartialJSON != "" {
					out = append(out, xEvent{Kind: evToolArgs, Index: e.Index, Text: dl.PartialJSON})
					if d.bareOpen && d.bare == e.Index {
						d.bareOpen = false
					}
				}
			case "thinking_delta":
				out = append(out, xEvent{Kind: evThinking, Index: e.Index, Text: dl.Thinking})
			case "signature_delta":
				out = append(out, xEvent{Kind: evThinking, Index: e.Index, Signature: dl.Signature})
			}
		}
	case "content_block_stop":
		if d.bareOpen && d.bare == e.Index {
			d.bareOpen = false
			out = append(out, xEvent{Kind: evToolArgs, Index: e.Index, Text: "{}"})
		}
	case "message_delta":
		if e.Delta != nil {
			d.stop, d.stopSeq = anthropicStop(e.Delta.StopReason), e.Delta.StopSequence
		}
		if e.Usage != nil {
			e.Usage.apply(&d.usage)
		}
	case "message_stop":
		return d.end(out)
	case "error":
		d.finished = true
		var x xError
		if e.Error != nil {
			x = errorFromStatus("anthropic", 500, anthropicKind(e.Error.Type), e.Error.Message)
		} else {
			x = errorFromStatus("anthropic", 500, "", "")
		}
		out = append(out, xEvent{Kind: evError, Err: &x})
	}
	return out
}

// anthropicTextDelta reads an event that adds text to a block, most of a
// stream, without encoding/json.
func anthropicTextDelta(data []byte) (index int, text string, ok bool) {
	if !bytes.Contains(data, []byte(`"text_delta"`)) {
		return 0, "", false
	}
	if t, found := jsonMember(data, "type"); !found || string(t) != `"content_block_delta"` {
		return 0, "", false
	}
	dl, found := jsonMember(data, "delta")
	if !found {
		return 0, "", false
	}
	if t, found := jsonMember(dl, "type"); !found || string(t) != `"text_delta"` {
		return 0, "", false
	}
	raw, found := jsonMember(dl, "text")
	if !found {
		return 0, "", false
	}
	if text, ok = jsonStringValue(raw); !ok {
		return 0, "", false
	}
	ix, found := jsonMember(data, "index")
	if !found {
		return 0, "", false
	}
	n, err := strconv.Atoi(string(ix))
	if err != nil {
		return 0, "", false
	}
	return n, text, true
}

func (d *anthropicDecoder) end(out []xEvent) []xEvent {
	if d.finished || d.stop == "" {
		return out
	}
	d.finished = true
	if d.bareOpen {
		d.bareOpen = false
		out = append(out, xEvent{Kind: evToolArgs, Index: d.bare, Text: "{}"})
	}
	return append(out, xEvent{Kind: evFinish, Stop: d.stop, StopSeq: d.stopSeq, Usage: d.usage})
}

func (anthropicFormat) newStreamEncoder(req *xRequest) streamEncoder {
	return &anthropicEncoder{model: req.Model, open: -1}
}

// anthropicEncoder writes a Messages stream, numbering its own blocks.
type anthropicEncoder struct {
	model   string
	started bool
	done    bool
	open    int       // the block (source index) open, -1 for none
	kind    eventKind // its kind
	n       int       // blocks written
}

func (e *anthropicEncoder) finished() bool { return e.done }

func (e *anthropicEncoder) start(out []byte, ev *xEvent) []byte {
	if e.started {
		return out
	}
	e.started = true
	id, model, u := "", e.model, xUsage{}
	if ev.Kind == evStart {
		id, u = ev.ID, ev.Usage
		if ev.Name != "" {
			model = ev.Name
		}
	}
	u.Output = 0
	msg := map[string]any{"id": anthropicMessageID(id), "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": anthropicUsageJSON(u)}
	return sseEvent(out, "message_start", marshal(map[string]any{"type": "message_start", "message": msg}))
}

func (e *anthropicEncoder) closeBlock(out []byte) []byte {
	if e.open < 0 {
		return out
	}
	out = append(out, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	out = appendInt(out, int64(e.n-1))
	e.open, e.kind = -1, 0
	return append(out, "}\n\n"...)
}

// openBlock starts block index of kind unless it is the one open.
func (e *anthropicEncoder) openBlock(out []byte, ev *xEvent, kind eventKind) []byte {
	if e.open == ev.Index && e.kind == kind {
		return out
	}
	out = e.closeBlock(out)
	var cb string
	switch kind {
	case evText:
		cb = `{"type":"text","text":""}`
	case evThinking:
		cb = `{"type":"thinking","thinking":"","signature":""}`
	case evToolStart:
		b := appendJSONString([]byte(`{"type":"tool_use","id":`), ev.ID)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, ev.Name)
		cb = string(append(b, `,"input":{}}`...))
	}
	out = append(out, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	out = appendInt(out, int64(e.n))
	out = append(out, `,"content_block":`...)
	out = append(out, cb...)
	out = append(out, "}\n\n"...)
	e.open, e.kind = ev.Index, kind
	e.n++
	return out
}

func (e *anthropicEncoder) delta(out []byte, typ, field, value string) []byte {
	out = append(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	out = appendInt(out, int64(e.n-1))
	out = append(out, `,"delta":{"type":"`...)
	out = append(out, typ...)
	out = append(out, `","`...)
	out = append(out, field...)
	out = append(out, `":`...)
	out = appendJSONString(out, value)
	return append(out, "}}\n\n"...)
}

func (e *anthropicEncoder) encode(ev *xEvent, out []byte) []byte {
	if ev.Kind == evError {
		e.done = true
		return append(out, anthropicDialect{}.cutEvent(route{Name: routeAnthropicMessages}, ev.Err.Kind, ev.Err.Message, 0)...)
	}
	out = e.start(out, ev)
	switch ev.Kind {
	case evText:
		out = e.openBlock(out, ev, evText)
		out = e.delta(out, "text_delta", "text", ev.Text)
	case evThinking:
		out = e.openBlock(out, ev, evThinking)
		if ev.Signature != "" {
			out = e.delta(out, "signature_delta", "signature", ev.Signature)
		} else {
			out = e.delta(out, "thinking_delta", "thinking", ev.Text)
		}
	case evToolStart:
		out = e.openBlock(out, ev, evToolStart)
	case evToolArgs:
		if e.open == ev.Index && e.kind == evToolStart {
			out = e.delta(out, "input_json_delta", "partial_json", ev.Text)
		}
	case evFinish:
		e.done = true
		out = e.closeBlock(out)
		var seq any
		if ev.StopSeq != "" {
			seq = ev.StopSeq
		}
		out = sseEvent(out, "message_delta", marshal(map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": anthropicStopReason(ev.Stop), "stop_sequence": seq},
			"usage": anthropicUsageJSON(ev.Usage)}))
		out = append(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
	}
	return out
}

// Anthropic's dialect translates: Messages requests can go to any
// provider, and Anthropic is called by its Messages API.

func (anthropicDialect) callerFormat(rt route, q url.Values) callerFormat {
	if rt.Name == routeAnthropicMessages {
		return anthropicFormat{}
	}
	return nil
}

func (anthropicDialect) targetFormat(Provider) targetFormat { return anthropicFormat{} }

func (anthropicDialect) targetPath(model string, stream bool) (string, url.Values) {
	return "/v1/messages", url.Values{}
}

// anthropicVersion is the API version Sluice asks for when the caller,
// speaking another format, named none.
const anthropicVersion = "2023-06-01"

func (anthropicDialect) targetHeaders(h http.Header) {
	if h.Get("Anthropic-Version") == "" {
		h.Set("Anthropic-Version", anthropicVersion)
	}
}
