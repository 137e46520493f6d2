package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Gemini's generateContent API as a translation format, both ways. Gemini
// reads its JSON in camelCase or snake_case alike; so does Sluice.
type geminiFormat struct {
	// array: the caller asked for a stream without alt=sse, which Gemini
	// answers as one JSON array, element by element.
	array bool
}

func (geminiFormat) dialect() dialect { return geminiDialect{} }

// gobj is a JSON object read member by member, each name in either case.
type gobj map[string]json.RawMessage

func (o gobj) get(camel string) json.RawMessage {
	if v, ok := o[camel]; ok {
		return v
	}
	return o[snakeCase(camel)]
}

func (o gobj) has(camel string) bool { return isPresent(o.get(camel)) }

func (o gobj) into(camel string, v any) error {
	raw := o.get(camel)
	if !isPresent(raw) {
		return nil
	}
	return json.Unmarshal(raw, v)
}

func (o gobj) str(camel string) string {
	var s string
	o.into(camel, &s)
	return s
}

func (o gobj) obj(camel string) gobj {
	var m gobj
	o.into(camel, &m)
	return m
}

func (o gobj) list(camel string) []gobj {
	var l []gobj
	o.into(camel, &l)
	return l
}

func snakeCase(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (geminiFormat) decodeRequest(body []byte) (*xRequest, error) {
	var in gobj
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, notA("a generateContent", err)
	}
	if in.has("cachedContent") {
		return nil, refuseField("cachedContent", "content cached at Google cannot be sent to another provider")
	}
	req := &xRequest{IncludeUsage: true}
	if si := in.obj("systemInstruction"); si != nil {
		ps, err := geminiParts("systemInstruction", si.list("parts"), nil)
		if err != nil {
			return nil, err
		}
		req.System = ps
	}
	calls := &geminiCallIDs{pending: map[string][]string{}}
	for i, c := range in.list("contents") {
		field := fmt.Sprintf("contents[%d]", i)
		role := c.str("role")
		ps, err := geminiParts(field, c.list("parts"), calls)
		if err != nil {
			return nil, err
		}
		switch role {
		case "user", "", "function", "tool":
			req.Messages = append(req.Messages, xMessage{Role: roleUser, Parts: ps})
		case "model":
			req.Messages = append(req.Messages, xMessage{Role: roleAssistant, Parts: ps})
		default:
			return nil, refuseField(field+".role", "unknown role %q", role)
		}
	}
	req.Messages = mergeTurns(req.Messages)
	for i, t := range in.list("tools") {
		for name := range t {
			if name != "functionDeclarations" && name != "function_declarations" {
				return nil, refuseField(fmt.Sprintf("tools[%d].%s", i, name), "Gemini's built-in tool has no equivalent at another provider")
			}
		}
		for j, fd := range t.list("functionDeclarations") {
			schema := fd.get("parametersJsonSchema")
			if !isPresent(schema) {
				schema = fd.get("parameters")
				if isPresent(schema) {
					var err error
					if schema, err = openAPISchema(schema); err != nil {
						return nil, refuseField(fmt.Sprintf("tools[%d].functionDeclarations[%d].parameters", i, j), "not a schema")
					}
				}
			}
			if !isPresent(schema) {
				schema = nil
			}
			req.Tools = append(req.Tools, xTool{Name: fd.str("name"), Description: fd.str("description"), Schema: schema})
		}
	}
	if fc := in.obj("toolConfig").obj("functionCallingConfig"); fc != nil {
		var names []string
		fc.into("allowedFunctionNames", &names)
		switch mode := fc.str("mode"); mode {
		case "AUTO", "":
			req.ToolChoice.Mode = choiceAuto
		case "NONE":
			req.ToolChoice.Mode = choiceNone
		case "ANY", "VALIDATED":
			req.ToolChoice.Mode = choiceAny
			if len(names) == 1 {
				req.ToolChoice.Mode, req.ToolChoice.Name = choiceTool, names[0]
			}
		default:
			return nil, refuseField("toolConfig.functionCallingConfig.mode", "unknown mode %q", mode)
		}
		if len(names) > 1 {
			return nil, refuseField("toolConfig.functionCallingConfig.allowedFunctionNames", "a choice among some functions has no equivalent at another provider: send only those tools")
		}
	}
	gc := in.obj("generationConfig")
	if gc != nil {
		var n int64
		gc.into("candidateCount", &n)
		if n > 1 {
			return nil, refuseField("generationConfig.candidateCount", "only one candidate can be asked of another provider's model")
		}
		var mods []string
		gc.into("responseModalities", &mods)
		for _, m := range mods {
			if !strings.EqualFold(m, "TEXT") {
				return nil, refuseField("generationConfig.responseModalities", "%s output cannot be asked of another provider's model", m)
			}
		}
		if gc.has("speechConfig") {
			return nil, refuseField("generationConfig.speechConfig", "speech output cannot be asked of another provider's model")
		}
		if gc.has("responseLogprobs") {
			var b bool
			gc.into("responseLogprobs", &b)
			if b {
				return nil, refuseField("generationConfig.responseLogprobs", "other providers' models give no log probabilities")
			}
		}
		gc.into("maxOutputTokens", &req.MaxTokens)
		gc.into("temperature", &req.Temperature)
		gc.into("topP", &req.TopP)
		gc.into("topK", &req.TopK)
		gc.into("stopSequences", &req.Stop)
		if s := gc.get("responseJsonSchema"); isPresent(s) {
			req.JSONSchema = s
		} else if s := gc.get("responseSchema"); isPresent(s) {
			js, err := openAPISchema(s)
			if err != nil {
				return nil, refuseField("generationConfig.responseSchema", "not a schema")
			}
			req.JSONSchema = js
		} else if gc.str("responseMimeType") == "application/json" {
			req.JSONMode = true
		}
		if req.JSONSchema != nil || req.JSONMode {
			req.SchemaField = "generationConfig.responseMimeType"
		}
		if tc := gc.obj("thinkingConfig"); tc != nil {
			tc.into("thinkingBudget", &req.ThinkingBudget)
			if lvl := tc.str("thinkingLevel"); lvl != "" {
				req.Reasoning = strings.ToLower(lvl)
			}
			if req.ThinkingBudget < 0 {
				// -1: as the model sees fit.
				req.ThinkingBudget, req.Reasoning = 0, "medium"
			}
		}
	}
	return req, nil
}

// geminiCallIDs gives Gemini function calls that carry no id one, and
// their responses, in order, the same id.
type geminiCallIDs struct {
	n       int
	pending map[string][]string // tool name → ids of calls not yet answered
}

func (c *geminiCallIDs) call(name, id string) string {
	if id == "" {
		c.n++
		id = fmt.Sprintf("call_%d_%s", c.n, name)
	}
	c.pending[name] = append(c.pending[name], id)
	return id
}

func (c *geminiCallIDs) response(name, id string) string {
	q := c.pending[name]
	if id != "" {
		for i, v := range q {
			if v == id {
				c.pending[name] = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		return id
	}
	if len(q) == 0 {
		c.n++
		return fmt.Sprintf("call_%d_%s", c.n, name)
	}
	c.pending[name] = q[1:]
	return q[0]
}

func geminiParts(field string, parts []gobj, calls *geminiCallIDs) ([]xPart, error) {
	var out []xPart
	for j, p := range parts {
		pf := fmt.Sprintf("%s.parts[%d]", field, j)
		switch {
		case p.has("text"):
			var thought bool
			p.into("thought", &thought)
			if thought {
				// The model's own thought summaries: no other model reads them.
				continue
			}
			out = append(out, xPart{Kind: partText, Text: p.str("text")})
		case p.has("inlineData"):
			d := p.obj("inlineData")
			mt := d.str("mimeType")
			if !strings.HasPrefix(mt, "image/") {
				return nil, refuseField(pf+".inlineData.mimeType", "%s data cannot be sent to another provider; only images", mt)
			}
			out = append(out, xPart{Kind: partImage, MediaType: mt, Data: d.str("data")})
		case p.has("fileData"):
			d := p.obj("fileData")
			if !strings.HasPrefix(d.str("mimeType"), "image/") || strings.Contains(d.str("fileUri"), "generativelanguage.googleapis.com") {
				return nil, refuseField(pf+".fileData", "files stored at Google cannot be sent to another provider; send the image inline")
			}
			out = append(out, xPart{Kind: partImage, URL: d.str("fileUri"), MediaType: d.str("mimeType")})
		case p.has("functionCall") && calls != nil:
			fc := p.obj("functionCall")
			name := fc.str("name")
			out = append(out, xPart{Kind: partToolCall, CallID: calls.call(name, fc.str("id")), Name: name, Args: rawOr(fc.get("args"), "{}")})
		case p.has("functionResponse") && calls != nil:
			fr := p.obj("functionResponse")
			name := fr.str("name")
			out = append(out, xPart{Kind: partToolResult, CallID: calls.response(name, fr.str("id")), Name: name,
				Result: []xPart{{Kind: partText, Text: functionResponseText(fr.get("response"))}}})
		case p.has("thoughtSignature") && len(p) == 1:
			// A signature alone: Gemini's own, nothing to carry.
		default:
			for name := range p {
				if name != "thoughtSignature" && name != "thought_signature" {
					return nil, refuseField(pf+"."+name, "a part of this kind cannot be sent to another provider")
				}
			}
		}
	}
	return out, nil
}

// functionResponseText is a function's response as tool result text: the
// value of a lone "output", "result" or "content" member as it is, else
// the whole object as JSON.
func functionResponseText(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil && len(m) == 1 {
		for k, v := range m {
			if k == "output" || k == "result" || k == "content" {
				var s string
				if json.Unmarshal(v, &s) == nil {
					return s
				}
				return string(v)
			}
		}
	}
	return string(raw)
}

// openAPISchema turns a Gemini (OpenAPI 3.0 subset) schema into JSON
// Schema: its types are upper case ("OBJECT") where JSON Schema's are
// lower, and "nullable" is a type of its own.
func openAPISchema(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var walk func(v any) any
	walk = func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, val := range m {
			switch k {
			case "type":
				if s, ok := val.(string); ok {
					val = strings.ToLower(s)
				}
			case "properties":
				if ps, ok := val.(map[string]any); ok {
					np := make(map[string]any, len(ps))
					for name, s := range ps {
						np[name] = walk(s)
					}
					val = np
				}
			case "items", "additionalProperties":
				val = walk(val)
			case "anyOf", "any_of", "oneOf", "allOf":
				if l, ok := val.([]any); ok {
					nl := make([]any, len(l))
					for i, s := range l {
						nl[i] = walk(s)
					}
					val = nl
				}
				if k == "any_of" {
					k = "anyOf"
				}
			case "nullable", "propertyOrdering", "property_ordering":
				continue
			}
			out[k] = val
		}
		if b, _ := m["nullable"].(bool); b {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		return out
	}
	return json.Marshal(walk(v))
}

// geminiMaxThinking is the thinking budget every Gemini model that thinks
// accepts.
const geminiMaxThinking = 24576

func (geminiFormat) encodeRequest(req *xRequest) ([]byte, error) {
	type part map[string]any
	type content struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	out := struct {
		SystemInstruction *content       `json:"systemInstruction,omitempty"`
		Contents          []content      `json:"contents"`
		Tools             []any          `json:"tools,omitempty"`
		ToolConfig        any            `json:"toolConfig,omitempty"`
		GenerationConfig  map[string]any `json:"generationConfig,omitempty"`
	}{}
	system, turns := systemParts(req)
	if len(system) > 0 {
		out.SystemInstruction = &content{Role: "user", Parts: []part{{"text": joinText(system)}}}
	}
	names := map[string]string{} // call id → tool name
	// calls numbers the last model turn's calls by id: Gemini pairs
	// function responses with calls by order, so responses a caller
	// sends in another order are put in the calls'.
	calls := map[string]int{}
	// Gemini 3 and later refuse a model turn whose first function call
	// has no thought signature.
	signed, turnSigned := geminiSignsCalls(req.Model), false
	image := func(field string, p xPart) (part, error) {
		if p.URL != "" {
			return nil, refuseField(field, "Gemini reads images by URL only from its own file store; send the image inline (base64, or a data: URL)")
		}
		return part{"inlineData": map[string]string{"mimeType": p.MediaType, "data": p.Data}}, nil
	}
	for i, m := range mergeTurns(turns) {
		c := content{Role: "user"}
		if m.Role == roleAssistant {
			c.Role = "model"
		}
		var images []part // tool result images, after the responses
		var responses []callResponse
		if c.Role == "model" {
			calls, turnSigned = map[string]int{}, false
		}
		for j, p := range m.Parts {
			field := fmt.Sprintf("messages[%d].content[%d]", i, j)
			switch p.Kind {
			case partText:
				if p.Text != "" {
					c.Parts = append(c.Parts, part{"text": p.Text})
				}
			case partImage:
				ip, err := image(field, p)
				if err != nil {
					return nil, err
				}
				c.Parts = append(c.Parts, ip)
			case partToolCall:
				names[p.CallID] = p.Name
				calls[p.CallID] = len(calls)
				fc := part{"functionCall": map[string]any{"name": p.Name, "args": rawOr(p.Args, "{}")}}
				if sig := callSignature(p.CallID); sig != "" {
					fc["thoughtSignature"] = sig
				} else if signed && !turnSigned {
					// A call Gemini did not make (another model's, or
					// a caller's own history): the value Google
					// documents for a signature it did not give.
					fc["thoughtSignature"] = "skip_thought_signature_validator"
				}
				turnSigned = true
				c.Parts = append(c.Parts, fc)
			case partToolResult:
				name := p.Name
				if name == "" {
					name = names[p.CallID]
				}
				if name == "" {
					return nil, refuseField(field+".tool_call_id", "no earlier tool call has id %q; Gemini needs the tool's name", p.CallID)
				}
				key := "result"
				if p.IsError {
					key = "error"
				}
				if n, ok := calls[p.CallID]; ok {
					responses = append(responses, callResponse{n, len(c.Parts)})
				}
				c.Parts = append(c.Parts, part{"functionResponse": map[string]any{"name": name, "response": map[string]any{key: joinText(p.Result)}}})
				for _, r := range p.Result {
					if r.Kind == partImage {
						ip, err := image(field, r)
						if err != nil {
							return nil, err
						}
						images = append(images, ip)
					}
				}
			}
		}
		c.Parts = append(c.Parts, images...)
		inCallOrder(c.Parts, responses)
		if len(c.Parts) > 0 {
			out.Contents = append(out.Contents, c)
		}
	}
	if len(req.Tools) > 0 {
		var fds []map[string]any
		for _, t := range req.Tools {
			fd := map[string]any{"name": t.Name}
			if t.Description != "" {
				fd["description"] = t.Description
			}
			if t.Schema != nil {
				fd["parametersJsonSchema"] = t.Schema
			}
			fds = append(fds, fd)
		}
		out.Tools = []any{map[string]any{"functionDeclarations": fds}}
	}
	switch req.ToolChoice.Mode {
	case choiceAuto:
		out.ToolConfig = map[string]any{"functionCallingConfig": map[string]any{"mode": "AUTO"}}
	case choiceNone:
		out.ToolConfig = map[string]any{"functionCallingConfig": map[string]any{"mode": "NONE"}}
	case choiceAny:
		out.ToolConfig = map[string]any{"functionCallingConfig": map[string]any{"mode": "ANY"}}
	case choiceTool:
		out.ToolConfig = map[string]any{"functionCallingConfig": map[string]any{"mode": "ANY", "allowedFunctionNames": []string{req.ToolChoice.Name}}}
	}
	gc := map[string]any{}
	if req.MaxTokens > 0 {
		gc["maxOutputTokens"] = req.MaxTokens
	}
	if req.Temperature != nil {
		gc["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		gc["topP"] = *req.TopP
	}
	if req.TopK != nil {
		gc["topK"] = *req.TopK
	}
	if len(req.Stop) > 0 {
		gc["stopSequences"] = req.Stop
	}
	switch {
	case req.JSONSchema != nil:
		gc["responseMimeType"] = "application/json"
		gc["responseJsonSchema"] = req.JSONSchema
	case req.JSONMode:
		gc["responseMimeType"] = "application/json"
	}
	budget := req.ThinkingBudget
	if budget == 0 && req.Reasoning != "" {
		budget = effortBudget(req.Reasoning)
	}
	if budget > 0 {
		// The most any Gemini model thinks (2.5 Flash: 24,576; Pro:
		// 32,768); a larger budget is refused.
		budget = min(budget, geminiMaxThinking)
		gc["thinkingConfig"] = map[string]any{"thinkingBudget": budget, "includeThoughts": true}
	}
	if len(gc) > 0 {
		out.GenerationConfig = gc
	}
	return marshal(out), nil
}

// geminiChunk is a GenerateContentResponse as translation reads it.
type geminiChunk struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text         *string `json:"text"`
				Thought      bool    `json:"thought"`
				FunctionCall *struct {
					ID   string          `json:"id"`
					Name string          `json:"name"`
					Args json.RawMessage `json:"args"`
				} `json:"functionCall"`
				ThoughtSignature string `json:"thoughtSignature"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *struct {
		PromptTokenCount        int64 `json:"promptTokenCount"`
		CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
		CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
		ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
		ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string          `json:"modelVersion"`
	ResponseID   string          `json:"responseId"`
	Error        json.RawMessage `json:"error"`
}

func (c *geminiChunk) usage() (xUsage, bool) {
	m := c.UsageMetadata
	if m == nil {
		return xUsage{}, false
	}
	// promptTokenCount counts the cached tokens; candidatesTokenCount
	// does not count thoughts.
	return xUsage{
		Input:     max(m.PromptTokenCount+m.ToolUsePromptTokenCount-m.CachedContentTokenCount, 0),
		CacheRead: m.CachedContentTokenCount,
		Output:    m.CandidatesTokenCount + m.ThoughtsTokenCount,
		Reasoning: m.ThoughtsTokenCount,
	}, true
}

func geminiStop(reason string, calls bool) string {
	switch reason {
	case "MAX_TOKENS":
		return stopMax
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return stopFilter
	}
	if calls {
		return stopTool
	}
	return stopEnd
}

func geminiFinishReason(stop string) string {
	switch stop {
	case stopMax:
		return "MAX_TOKENS"
	case stopFilter:
		return "SAFETY"
	}
	return "STOP"
}

// geminiCallID names a function call Gemini gave no id.
func geminiCallID(responseID string, n int) string {
	if responseID == "" {
		responseID = NewID(time.Now())
	}
	return fmt.Sprintf("call_%s_%d", responseID, n)
}

func (geminiFormat) decodeResponse(body []byte) (*xResponse, error) {
	var c geminiChunk
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("read gemini answer: %w", err)
	}
	r := &xResponse{ID: c.ResponseID, Model: c.ModelVersion, Stop: stopEnd}
	r.Usage, _ = c.usage()
	calls := 0
	if len(c.Candidates) > 0 {
		cand := c.Candidates[0]
		for _, p := range cand.Content.Parts {
			switch {
			case p.FunctionCall != nil:
				id := p.FunctionCall.ID
				if id == "" {
					id = geminiCallID(c.ResponseID, calls)
				}
				calls++
				r.Parts = append(r.Parts, xPart{Kind: partToolCall, CallID: signedCallID(id, p.ThoughtSignature), Name: p.FunctionCall.Name, Args: rawOr(p.FunctionCall.Args, "{}")})
			case p.Text != nil && p.Thought:
				r.Parts = append(r.Parts, xPart{Kind: partThinking, Text: *p.Text})
			case p.Text != nil:
				r.Parts = append(r.Parts, xPart{Kind: partText, Text: *p.Text})
			}
		}
		r.Stop = geminiStop(cand.FinishReason, calls > 0)
	} else if c.PromptFeedback != nil && c.PromptFeedback.BlockReason != "" {
		r.Stop = stopFilter
	}
	return r, nil
}

func (geminiFormat) decodeError(status int, body []byte) xError {
	// A stream's error may come as a one-element array.
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var l []json.RawMessage
		if json.Unmarshal(body, &l) == nil && len(l) > 0 {
			body = l[0]
		}
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	json.Unmarshal(body, &e)
	return errorFromStatus("gemini", status, geminiKind(e.Error.Status), e.Error.Message)
}

// geminiKind is a google.rpc status as an OpenAI-style kind.
func geminiKind(status string) errKind {
	switch status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return kindInvalid
	case "UNAUTHENTICATED":
		return kindAuth
	case "PERMISSION_DENIED":
		return kindPermission
	case "NOT_FOUND":
		return kindNotFound
	case "RESOURCE_EXHAUSTED":
		return kindProviderRateLimit
	case "":
		return ""
	}
	return kindProviderError
}

// geminiUsageJSON is usage as Gemini reports it: promptTokenCount counts
// cached input, candidatesTokenCount does not count thoughts.
func geminiUsageJSON(u xUsage) map[string]int64 {
	m := map[string]int64{
		"promptTokenCount":     u.promptTokens(),
		"candidatesTokenCount": u.Output - u.Reasoning,
		"totalTokenCount":      u.promptTokens() + u.Output,
	}
	if u.CacheRead > 0 {
		m["cachedContentTokenCount"] = u.CacheRead
	}
	if u.Reasoning > 0 {
		m["thoughtsTokenCount"] = u.Reasoning
	}
	return m
}

func geminiAnswerJSON(parts []map[string]any, finish string, usage *xUsage, model, id string) map[string]any {
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
	if finish != "" {
		cand["finishReason"] = finish
	}
	r := map[string]any{"candidates": []any{cand}, "modelVersion": model, "responseId": id}
	if usage != nil {
		r["usageMetadata"] = geminiUsageJSON(*usage)
	}
	return r
}

func geminiPart(p xPart) map[string]any {
	switch p.Kind {
	case partText:
		return map[string]any{"text": p.Text}
	case partThinking:
		return map[string]any{"text": p.Text, "thought": true}
	case partToolCall:
		return map[string]any{"functionCall": map[string]any{"id": p.CallID, "name": p.Name, "args": rawOr(p.Args, "{}")}}
	}
	return nil
}

func (geminiFormat) encodeResponse(req *xRequest, r *xResponse) []byte {
	parts := []map[string]any{}
	for _, p := range r.Parts {
		if gp := geminiPart(p); gp != nil {
			parts = append(parts, gp)
		}
	}
	u := r.Usage
	return marshal(geminiAnswerJSON(parts, geminiFinishReason(r.Stop), &u, r.Model, r.ID))
}

func (geminiFormat) newStreamDecoder() streamDecoder { return &geminiDecoder{block: -1} }

// geminiDecoder reads a streamGenerateContent?alt=sse stream: each event
// a GenerateContentResponse, usage so far in each. A function call comes
// whole, in one part.
type geminiDecoder struct {
	started  bool
	block    int
	text     bool // the block open is text (thinking otherwise)
	thinking bool
	calls    int
	id       string
	stop     string
	usage    xUsage
	finished bool
}

func (d *geminiDecoder) decode(ev streamEvent, out []xEvent) []xEvent {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 || d.finished {
		return out
	}
	if d.started {
		if text, u, ok := geminiTextChunk(data); ok {
			if u != nil {
				d.usage = *u
			}
			if !d.text {
				d.block++
				d.text, d.thinking = true, false
			}
			return append(out, xEvent{Kind: evText, Index: d.block, Text: text})
		}
	}
	var c geminiChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return out
	}
	if isPresent(c.Error) {
		d.finished = true
		e := geminiFormat{}.decodeError(500, data)
		return append(out, xEvent{Kind: evError, Err: &e})
	}
	if !d.started {
		d.started = true
		d.id = c.ResponseID
		out = append(out, xEvent{Kind: evStart, ID: c.ResponseID, Name: c.ModelVersion})
	}
	if u, ok := c.usage(); ok {
		d.usage = u
	}
	if len(c.Candidates) == 0 {
		if c.PromptFeedback != nil && c.PromptFeedback.BlockReason != "" {
			d.stop = stopFilter
		}
		return out
	}
	cand := c.Candidates[0]
	for _, p := range cand.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			d.block++
			d.text, d.thinking = false, false
			id := p.FunctionCall.ID
			if id == "" {
				id = geminiCallID(d.id, d.calls)
			}
			d.calls++
			out = append(out, xEvent{Kind: evToolStart, Index: d.block, ID: signedCallID(id, p.ThoughtSignature), Name: p.FunctionCall.Name},
				xEvent{Kind: evToolArgs, Index: d.block, Text: string(rawOr(p.FunctionCall.Args, "{}"))})
		case p.Text != nil && p.Thought:
			if !d.thinking {
				d.block++
				d.thinking, d.text = true, false
			}
			out = append(out, xEvent{Kind: evThinking, Index: d.block, Text: *p.Text})
		case p.Text != nil && *p.Text != "":
			if !d.text {
				d.block++
				d.text, d.thinking = true, false
			}
			out = append(out, xEvent{Kind: evText, Index: d.block, Text: *p.Text})
		}
	}
	if cand.FinishReason != "" {
		d.stop = geminiStop(cand.FinishReason, d.calls > 0)
	}
	return out
}

// geminiTextChunk reads a chunk that only adds text, most of a stream,
// without encoding/json: one candidate with one text part, no thought, no
// function call, no finish reason, no error; and its usage so far, if it
// reports any.
func geminiTextChunk(data []byte) (string, *xUsage, bool) {
	for _, s := range []string{`"functionCall"`, `"finishReason"`, `"error"`, `"promptFeedback"`} {
		if bytes.Contains(data, []byte(s)) {
			return "", nil, false
		}
	}
	cands, found := jsonMember(data, "candidates")
	if !found {
		return "", nil, false
	}
	cand, ok := onlyElement(cands)
	if !ok {
		return "", nil, false
	}
	content, found := jsonMember(cand, "content")
	if !found {
		return "", nil, false
	}
	parts, found := jsonMember(content, "parts")
	if !found {
		return "", nil, false
	}
	part, ok := onlyElement(parts)
	if !ok {
		return "", nil, false
	}
	if th, found := jsonMember(part, "thought"); found && string(th) != "false" {
		return "", nil, false
	}
	raw, found := jsonMember(part, "text")
	if !found {
		return "", nil, false
	}
	text, ok := jsonStringValue(raw)
	if !ok || text == "" {
		return "", nil, false
	}
	um, found := jsonMember(data, "usageMetadata")
	if isNull(um, found) {
		return text, nil, true
	}
	count := func(name string) (int64, bool) {
		v, found := jsonMember(um, name)
		if !found {
			return 0, true
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	var m [5]int64
	for i, name := range []string{"promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount"} {
		if m[i], ok = count(name); !ok {
			return "", nil, false
		}
	}
	u := xUsage{Input: max(m[0]+m[4]-m[2], 0), CacheRead: m[2], Output: m[1] + m[3], Reasoning: m[3]}
	return text, &u, true
}

// onlyElement returns the one element of a raw JSON array that holds
// exactly one object.
func onlyElement(arr []byte) ([]byte, bool) {
	if len(arr) < 2 || arr[0] != '[' {
		return nil, false
	}
	i := skipSpace(arr, 1)
	if i >= len(arr) || arr[i] != '{' {
		return nil, false
	}
	e := skipValue(arr, i)
	if e < 0 || skipSpace(arr, e) != len(arr)-1 {
		return nil, false
	}
	return arr[i:e], true
}

func (d *geminiDecoder) end(out []xEvent) []xEvent {
	if d.finished || d.stop == "" {
		return out
	}
	d.finished = true
	return append(out, xEvent{Kind: evFinish, Stop: d.stop, Usage: d.usage})
}

func (f geminiFormat) newStreamEncoder(req *xRequest) streamEncoder {
	return &geminiEncoder{model: req.Model, array: f.array, open: -1}
}

// geminiEncoder writes a Gemini stream: a GenerateContentResponse per
// event, framed as Gemini frames them (CRLF), or as the elements of one
// JSON array. A function call is written whole, when its arguments are.
type geminiEncoder struct {
	model, id string
	array     bool
	started   bool
	chunks    int
	done      bool
	open      int // the tool call being gathered, -1 for none
	call      xPart
	args      []byte
}

func (e *geminiEncoder) finished() bool { return e.done }

// contentType: a stream asked for without alt=sse is one JSON array.
func (e *geminiEncoder) contentType() string {
	if e.array {
		return "application/json; charset=UTF-8"
	}
	return "text/event-stream"
}

func (e *geminiEncoder) frame(out, data []byte) []byte {
	if e.array {
		if e.chunks == 0 {
			out = append(out, '[')
		} else {
			out = append(out, ",\r\n"...)
		}
		e.chunks++
		return append(out, data...)
	}
	e.chunks++
	out = append(out, "data: "...)
	out = append(out, data...)
	return append(out, "\r\n\r\n"...)
}

// textChunk writes a chunk of one text part without reflection.
func (e *geminiEncoder) textChunk(out []byte, text string, thought bool) []byte {
	b := append([]byte(nil), `{"candidates":[{"content":{"parts":[{"text":`...)
	b = appendJSONString(b, text)
	if thought {
		b = append(b, `,"thought":true`...)
	}
	b = append(b, `}],"role":"model"},"index":0}],"modelVersion":`...)
	b = appendJSONString(b, e.model)
	b = append(b, `,"responseId":`...)
	b = appendJSONString(b, e.id)
	b = append(b, '}')
	return e.frame(out, b)
}

func (e *geminiEncoder) flushCall(out []byte) []byte {
	if e.open < 0 {
		return out
	}
	e.call.Args = rawOr(json.RawMessage(e.args), "{}")
	if !json.Valid(e.call.Args) {
		e.call.Args = json.RawMessage("{}")
	}
	e.open = -1
	return e.frame(out, marshal(geminiAnswerJSON([]map[string]any{geminiPart(e.call)}, "", nil, e.model, e.id)))
}

func (e *geminiEncoder) encode(ev *xEvent, out []byte) []byte {
	if !e.started {
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
	}
	if ev.Kind != evToolArgs {
		out = e.flushCall(out)
	}
	switch ev.Kind {
	case evError:
		e.done = true
		code, status := geminiCutStatus(geminiRPCStatus(ev.Err))
		b := marshal(map[string]any{"error": map[string]any{"code": code, "message": ev.Err.Message, "status": status}})
		out = e.frame(out, b)
		if e.array {
			out = append(out, ']')
		}
	case evText:
		out = e.textChunk(out, ev.Text, false)
	case evThinking:
		if ev.Text != "" {
			out = e.textChunk(out, ev.Text, true)
		}
	case evToolStart:
		e.open = ev.Index
		e.call = xPart{Kind: partToolCall, CallID: ev.ID, Name: ev.Name}
		e.args = e.args[:0]
	case evToolArgs:
		if e.open == ev.Index {
			e.args = append(e.args, ev.Text...)
		}
	case evFinish:
		e.done = true
		u := ev.Usage
		out = e.frame(out, marshal(geminiAnswerJSON([]map[string]any{{"text": ""}}, geminiFinishReason(ev.Stop), &u, e.model, e.id)))
		if e.array {
			out = append(out, ']')
		}
	}
	return out
}

// geminiRPCStatus is the google.rpc status of an error, for
// geminiCutStatus.
func geminiRPCStatus(e *xError) errKind {
	switch e.Kind {
	case kindBudget, kindUnpriced, kindTimeout, kindUpstream:
		return e.Kind
	}
	return errKind(geminiStatus(e.Status))
}

// Gemini's dialect translates: generateContent requests can go to any
// provider, and Gemini is called by generateContent, streams as SSE.

func (geminiDialect) callerFormat(rt route, q url.Values) callerFormat {
	switch rt.Name {
	case routeGeminiGenerate:
		return geminiFormat{}
	case routeGeminiStream:
		return geminiFormat{array: q.Get("alt") != "sse"}
	}
	return nil
}

func (geminiDialect) targetFormat(Provider) targetFormat { return geminiFormat{} }

func (geminiDialect) targetPath(model string, stream bool) (string, url.Values) {
	// A model may be named by its resource name, "models/gemini-…".
	model = strings.TrimPrefix(model, "models/")
	if stream {
		return "/v1beta/models/" + model + ":streamGenerateContent", url.Values{"alt": {"sse"}}
	}
	return "/v1beta/models/" + model + ":generateContent", url.Values{}
}

func (geminiDialect) targetHeaders(h http.Header) {}

// A callResponse is a function response at index at of a content's
// parts, to the call numbered call of the model turn before.
type callResponse struct{ call, at int }

// inCallOrder reorders the function responses rs among the places they
// hold in parts into the order of their calls.
func inCallOrder[P any](parts []P, rs []callResponse) {
	if sort.SliceIsSorted(rs, func(i, j int) bool { return rs[i].call < rs[j].call }) {
		return
	}
	at := make([]int, len(rs))
	moved := make([]P, len(rs))
	for i, r := range rs {
		at[i] = r.at
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].call < rs[j].call })
	for i, r := range rs {
		moved[i] = parts[r.at]
	}
	for i := range rs {
		parts[at[i]] = moved[i]
	}
}

// geminiSignsCalls reports whether model is a Gemini of generation 3 or
// later ("gemini-3-pro-preview", "gemini-3.5-flash"), which refuses a
// function call in history without the thought signature it gave.
func geminiSignsCalls(model string) bool {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(strings.ToLower(model), "models/"), "gemini-")
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	major, err := strconv.Atoi(rest[:n])
	return err == nil && major >= 3
}

// Gemini's thought signature on a function call travels to a caller of
// another format inside the call's id, as a caller sends that id back
// with the call in its history: id + thoughtMark + the signature in
// URL-safe base64 (ids Anthropic accepts are letters, digits, _ and -).
const thoughtMark = "__thought__"

// signedCallID returns id carrying Gemini's thought signature sig
// (standard base64); id itself when there is none or it is not base64.
func signedCallID(id, sig string) string {
	if sig == "" {
		return id
	}
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return id
	}
	return id + thoughtMark + base64.RawURLEncoding.EncodeToString(b)
}

// callSignature returns the thought signature a call id made by
// signedCallID carries, as Gemini gave it; "" for none.
func callSignature(id string) string {
	_, enc, ok := strings.Cut(id, thoughtMark)
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
