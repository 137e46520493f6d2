package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// anthropicDialect is Anthropic's Messages API. Its SDKs and Claude Code
// take the bare address as base URL, send the key in x-api-key (or a
// Claude subscription's OAuth token as a bearer token) and say
// anthropic-version.
type anthropicDialect struct{}

// dialectAnthropic names Anthropic's format in Provider.Dialect.
const dialectAnthropic = "anthropic"

// Anthropic's metered routes.
const (
	routeAnthropicMessages    routeName = "anthropic.messages"
	routeAnthropicCountTokens routeName = "anthropic.count_tokens"
)

// anthropicEndpoints are the Anthropic API's paths, under /v1.
var anthropicEndpoints = []endpoint{
	{method: "POST", pattern: "/messages", name: routeAnthropicMessages, max: "max_tokens", events: true},
	{method: "POST", pattern: "/messages/count_tokens", name: routeAnthropicCountTokens, free: true},
	{method: "GET", pattern: "/models"},
	{method: "GET", pattern: "/models/{id}"},
}

// anthropicInfo is Anthropic's format as data. /anthropic/messages is
// as good as /anthropic/v1/messages, and clients whose Anthropic base URL
// ends in /v1 by default (the AI SDK's) given the bare address call
// /messages. A Claude subscription's OAuth token (Claude Code signed in)
// stays in Authorization, where Anthropic reads it.
var anthropicInfo = dialectInfo{
	name:            dialectAnthropic,
	provider:        "anthropic",
	endpoints:       anthropicEndpoints,
	versions:        []string{"v1"},
	versionOptional: true,
	baseURLHint:     "Anthropic SDKs and Claude Code take the bare address as base URL (ANTHROPIC_BASE_URL=http://127.0.0.1:4020, no /v1)",
	sdkHeaders:      []string{"Anthropic-Version", "X-Api-Key"},
	keyHeaders:      []string{"X-Api-Key"},
	keyHeader:       "X-Api-Key",
	bearerKeys:      []string{"sk-ant-oat"},
	keyCheck:        "/v1/models?limit=1",
	keyCheckHeader:  http.Header{"Anthropic-Version": {"2023-06-01"}},
	keyRefused:      []int{http.StatusUnauthorized, http.StatusForbidden},

	billingCodes:  []string{"billing_error"},
	limitCodes:    []string{"rate_limit_error", "overloaded_error"},
	billingWords:  []string{"credit balance is too low", "billing_error"},
	openingEvents: []string{"message_start", "ping"},
	conversation:  []string{"messages"},
	textMembers:   []string{"content", "text"},

	requestIDHeaders: []string{"Request-Id"},
	modelMember:      "model",
	// content_block_delta (and message_delta, which carries none).
	output: shownSpec{deltaSuffix: "delta", skip: newNameSet("type", "index", "signature", "stop_reason")},
}

func (anthropicDialect) info() *dialectInfo { return &anthropicInfo }

// claim takes /messages and /v1/messages..., and listing models when the
// headers are an Anthropic SDK's.
func (d anthropicDialect) claim(method, path string, h http.Header) (string, bool, bool) {
	first, rest, _ := cutSegment(path)
	switch {
	case d.owns(path):
		return anthropicInfo.provider, false, true
	case first == "v1" && method == http.MethodGet && (rest == "/models" || strings.HasPrefix(rest, "/models/")) && anthropicInfo.fromSDK(h):
		return anthropicInfo.provider, false, true
	}
	return "", false, false
}

func (anthropicDialect) owns(path string) bool {
	first, rest, _ := cutSegment(path)
	return first == "messages" || first == "v1" && (rest == "/messages" || strings.HasPrefix(rest, "/messages/"))
}

// Token bounds of what an Anthropic body holds but does not spell out.
const (
	// anthropicToolsOverhead covers the system prompt Anthropic adds when
	// a request has tools: 313 to 530 tokens depending on model and
	// tool_choice.
	anthropicToolsOverhead = 1_000
	// anthropicBuiltinToolBound covers the hidden definition of one of
	// Anthropic's client-side built-in tools: computer use adds about
	// 1,200 tokens, the text editor 700, bash 245.
	anthropicBuiltinToolBound = 2_000
)

// inspect reads max_tokens and thinking.budget_tokens (which interleaved
// thinking lets exceed max_tokens), and the tools, MCP servers and
// container that draw input from outside the body.
func (anthropicDialect) inspect(rt route, obj jsonObject) (info requestInfo, s inputScan) {
	info.Model = obj.get("model").str()
	info.Stream = obj.get("stream").isTrue()
	info.MaxOutput = max(count(obj.get("max_tokens")), count(obj.get("thinking").get("budget_tokens")))

	tools := obj.get("tools")
	if tools.isArray() && !tools.empty() {
		s.overhead += anthropicToolsOverhead
	}
	tools.elems(func(t jsonValue) {
		typ, _ := t.get("type").text()
		switch {
		case len(typ) == 0 || string(typ) == "custom":
		case hasPrefix(typ, "web_search"), hasPrefix(typ, "web_fetch"),
			hasPrefix(typ, "code_execution"), hasPrefix(typ, "tool_search"),
			hasPrefix(typ, "mcp"):
			s.unbound() // server-side: its results are input
		default:
			s.overhead += anthropicBuiltinToolBound // computer, bash, text editor, memory
		}
	})
	if v := obj.get("mcp_servers"); v.isArray() && !v.empty() {
		s.unbound()
	}
	if !obj.get("container").null() {
		s.unbound()
	}
	return info, s
}

// imageTokens: Anthropic resizes any image over about 1,600 tokens (width
// × height / 750, long edge 1,568 pixels); 5,000 leaves room for a model
// reading images at a higher resolution.
func (anthropicDialect) imageTokens(string) int64 { return 5_000 }

// anthropicFeeMembers are the members Anthropic's fees beyond tokens sit
// in: the region, the output speed and server-side tools.
var anthropicFeeMembers = []string{"inference_geo", "speed", "tools"}

func (anthropicDialect) billing(in feeInput, outBound int64) billing {
	var b billing
	top := in.top
	if !top.hasAny(anthropicFeeMembers) {
		return b
	}
	b.geo = jsonStr(json.RawMessage(top.get("inference_geo")))
	b.speed = jsonStr(json.RawMessage(top.get("speed")))
	for _, t := range objects(json.RawMessage(top.get("tools"))) {
		typ := jsonStr(t["type"])
		switch {
		case strings.HasPrefix(typ, "web_search_"):
			var maxUses tokens
			_ = json.Unmarshal(t["max_uses"], &maxUses)
			b.webSearch += searchBound(int64(maxUses), outBound)
		case strings.HasPrefix(typ, "code_execution_"):
			b.codeExec = true
		}
	}
	return b
}

func (anthropicDialect) prepare(rt route, info requestInfo, body []byte) ([]byte, bool) {
	return body, false
}

// usage reads a Messages answer; counting tokens is free.
func (anthropicDialect) usage(rt route, body []byte) (Usage, []byte, bool) {
	var a anthropicAnswer
	if !a.read(body) {
		return Usage{}, nil, false
	}
	if rt.Free {
		return Usage{}, nil, true
	}
	var c anthropicCounts
	if a.usageSet {
		c.apply(&a.usage)
	}
	a.content.each(func(kind int64) {
		if kind == blockCodeExecution {
			c.codeBlocks++
		}
	})
	return c.usage(), a.model, c.seen
}

// anthropicAnswer is what metering reads of a whole Messages answer: its
// model, usage, and which of its content blocks ran code.
type anthropicAnswer struct {
	model    []byte // raw
	usage    anthropicUsage
	usageSet bool
	content  slots // per block, blockServerTool and blockCodeName set as it says
}

var anthropicAnswerFields = []string{"model", "usage", "content"}

// read reads body, one JSON object; it reports false for anything else.
func (a *anthropicAnswer) read(body []byte) bool {
	return scanObject(body, func(key, val []byte) bool {
		switch fieldIndex(key, anthropicAnswerFields) {
		case 0:
			readRaw(val, &a.model)
		case 1:
			if openPtr(&a.usageSet, &a.usage, val) {
				a.usage.read(val)
			}
		case 2:
			a.content.read(val, readBlockKind)
		}
		return true
	}) == nil
}

// What a content block's slot holds: whether its type is
// server_tool_use, and whether its name names code execution; both make
// a block that runs code in Anthropic's sandbox (code_execution,
// bash_code_execution, text_editor_code_execution).
const (
	blockServerTool = 1 << iota
	blockCodeName

	blockCodeExecution = blockServerTool | blockCodeName
)

var typeNameFields = []string{"type", "name"}

// readBlockKind decodes one content block into its slot.
func readBlockKind(e []byte, slot *int64) {
	members(e, func(key, val []byte) {
		i := fieldIndex(key, typeNameFields)
		if i < 0 || val[0] != '"' {
			return
		}
		t, _ := jsonValue(val).text()
		bit, on := int64(blockServerTool), string(t) == "server_tool_use"
		if i == 1 {
			bit, on = blockCodeName, bytes.Contains(t, []byte("code_execution"))
		}
		if on {
			*slot |= bit
		} else {
			*slot &^= bit
		}
	})
}

// anthropicMeter is a Messages stream's state: its cumulative counts.
type anthropicMeter struct {
	counts     anthropicCounts
	codeBlocks int64 // code execution blocks started
}

func (anthropicDialect) meter(route) eventMeter { return &anthropicMeter{} }

// cutEvent: Anthropic's SDKs raise on event: error.
func (anthropicDialect) cutEvent(rt route, kind errKind, message string, seq int64) []byte {
	v := struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}{Type: "error"}
	v.Error.Type, v.Error.Message = anthropicCutType(kind), message
	var b bytes.Buffer
	b.WriteString("event: error\ndata: ")
	b.Write(mustJSON(v))
	b.WriteString("\n\n")
	return b.Bytes()
}

// anthropicCutType is kind in Anthropic's words, as its error responses
// put them; a word of Anthropic's own is used as it is.
func anthropicCutType(kind errKind) string {
	switch kind {
	case kindBudget, kindUnpriced:
		return "billing_error"
	case kindUpstream, "":
		return "api_error"
	case kindTimeout:
		return "timeout_error"
	}
	return string(kind)
}

func (anthropicDialect) errorBody(status int, kind errKind, msg string) []byte {
	var typ string
	switch {
	case status == http.StatusPaymentRequired:
		typ = "billing_error"
	case status == http.StatusUnauthorized:
		typ = "authentication_error"
	case status == http.StatusForbidden:
		typ = "permission_error"
	case status == http.StatusNotFound:
		typ = "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		typ = "request_too_large"
	case status == http.StatusGatewayTimeout:
		typ = "timeout_error"
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case status >= 500:
		typ = "api_error"
	default:
		typ = "invalid_request_error"
	}
	return mustJSON(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
}

// promptRequest is a Messages request; Anthropic requires max_tokens.
func (anthropicDialect) promptRequest(prov Provider, model string, pr Prompt, system, user string, stream bool) (string, string, http.Header, map[string]any) {
	h := http.Header{}
	h.Set("Anthropic-Version", "2023-06-01")
	maxTokens := pr.MaxTokens
	if maxTokens <= 0 {
		maxTokens = defaultPromptMaxTokens
	}
	req := map[string]any{"model": model, "max_tokens": maxTokens,
		"messages": []map[string]string{{"role": "user", "content": user}}}
	if system != "" {
		req["system"] = system
	}
	if pr.Temperature != nil {
		req["temperature"] = *pr.Temperature
	}
	if len(pr.Schema) > 0 {
		// Anthropic's structured outputs: the answer's text is JSON that
		// fits the schema.
		req["output_config"] = map[string]any{"format": map[string]any{"type": "json_schema", "schema": json.RawMessage(pr.Schema)}}
	}
	if stream {
		req["stream"] = true
	}
	return "/v1/messages", "", h, req
}

func (anthropicDialect) outputText(body []byte) (string, error) {
	var doc struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		StopReason string `json:"stop_reason"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("the provider's answer is not JSON: %v", err)
	}
	var b strings.Builder
	found := false
	for _, c := range doc.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
			found = true
		}
	}
	if !found {
		return "", errors.New("the model answered with no text (stop reason " + doc.StopReason + ")")
	}
	return b.String(), nil
}

func (anthropicDialect) deltaText(ev streamEvent) string {
	var e struct {
		Type  string `json:"type"`
		Delta struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"delta"`
	}
	if json.Unmarshal(ev.Data, &e) == nil && e.Type == "content_block_delta" && e.Delta.Type == "text_delta" {
		return e.Delta.Text
	}
	return ""
}

// anthropicUsage is the usage object of Anthropic's Messages API, read
// as encoding/json reads it into pointers: every count may be absent,
// because a stream's message_delta repeats only some of them.
type anthropicUsage struct {
	inputTokens  optTokens // input_tokens
	cacheWrite   optTokens // cache_creation_input_tokens
	cacheRead    optTokens // cache_read_input_tokens
	outputTokens optTokens // output_tokens
	// cache_creation: ephemeral_5m_input_tokens and
	// ephemeral_1h_input_tokens.
	cacheCreation    [2]tokens
	cacheCreationSet bool
	// output_tokens_details: thinking_tokens.
	thinkingTokens   [1]tokens
	outputDetailsSet bool
	// server_tool_use counts the server-side tool calls billed per call:
	// web_search_requests, web_fetch_requests, code_execution_requests.
	serverToolUse    [3]tokens
	serverToolUseSet bool
	serviceTier      string // service_tier
	inferenceGeo     string // inference_geo
	speed            string // speed
}

var (
	anthropicUsageFields = []string{"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
		"output_tokens", "cache_creation", "output_tokens_details", "server_tool_use", "service_tier", "inference_geo", "speed"}
	cacheCreationFields = []string{"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}
	thinkingFields      = []string{"thinking_tokens"}
	serverToolUseFields = []string{"web_search_requests", "web_fetch_requests", "code_execution_requests"}
)

// read decodes the usage object val into u, merging into what u holds.
func (u *anthropicUsage) read(val []byte) {
	members(val, func(key, val []byte) {
		switch fieldIndex(key, anthropicUsageFields) {
		case 0:
			u.inputTokens.read(val)
		case 1:
			u.cacheWrite.read(val)
		case 2:
			u.cacheRead.read(val)
		case 3:
			u.outputTokens.read(val)
		case 4:
			if openPtr(&u.cacheCreationSet, &u.cacheCreation, val) {
				readCounts(val, cacheCreationFields, u.cacheCreation[:])
			}
		case 5:
			if openPtr(&u.outputDetailsSet, &u.thinkingTokens, val) {
				readCounts(val, thinkingFields, u.thinkingTokens[:])
			}
		case 6:
			if openPtr(&u.serverToolUseSet, &u.serverToolUse, val) {
				readCounts(val, serverToolUseFields, u.serverToolUse[:])
			}
		case 7:
			readString(val, &u.serviceTier)
		case 8:
			readString(val, &u.inferenceGeo)
		case 9:
			readString(val, &u.speed)
		}
	})
}

// readCounts decodes the object val into counts, one per name of names.
func readCounts(val []byte, names []string, counts []tokens) {
	members(val, func(key, val []byte) {
		if i := fieldIndex(key, names); i >= 0 {
			counts[i].read(val)
		}
	})
}

// UnmarshalJSON lets encoding/json decode an anthropicUsage inside a
// stream event.
func (u *anthropicUsage) UnmarshalJSON(b []byte) error {
	u.read(bytes.TrimSpace(b))
	return nil
}

// anthropicCounts are Anthropic's counts as it reports them, before
// normalisation.
type anthropicCounts struct {
	input, cacheRead, cacheWrite, cacheWrite5m, cacheWrite1h, output, thinking int64
	webSearch, webFetch, codeExec, codeBlocks                                  int64
	serviceTier, geo, speed                                                    string
	seen                                                                       bool
}

// apply takes every count u holds; Anthropic's counts are cumulative, so a
// later report replaces an earlier one.
func (c *anthropicCounts) apply(u *anthropicUsage) {
	if u == nil {
		return
	}
	set := func(dst *int64, t optTokens) {
		if t.set {
			*dst = t.get()
			c.seen = true
		}
	}
	set(&c.input, u.inputTokens)
	set(&c.cacheRead, u.cacheRead)
	set(&c.cacheWrite, u.cacheWrite)
	set(&c.output, u.outputTokens)
	if u.cacheCreationSet {
		c.cacheWrite5m = int64(u.cacheCreation[0])
		c.cacheWrite1h = int64(u.cacheCreation[1])
	}
	if u.outputDetailsSet {
		c.thinking = int64(u.thinkingTokens[0])
	}
	if s := u.serverToolUse; u.serverToolUseSet {
		c.webSearch = max(c.webSearch, int64(s[0]))
		c.webFetch = max(c.webFetch, int64(s[1]))
		c.codeExec = max(c.codeExec, int64(s[2]))
	}
	if u.serviceTier != "" {
		c.serviceTier = u.serviceTier
	}
	if u.inferenceGeo != "" {
		c.geo = u.inferenceGeo
	}
	if u.speed != "" {
		c.speed = u.speed
	}
}

func (c *anthropicCounts) usage() Usage {
	// cache_creation splits the writes by lifetime; their sum stands
	// when the total is missing.
	writes := max(c.cacheWrite, c.cacheWrite5m+c.cacheWrite1h)
	return Usage{
		InputTokens:        c.input + c.cacheRead + writes,
		OutputTokens:       c.output,
		CachedInputTokens:  c.cacheRead,
		CacheWriteTokens:   writes,
		CacheWrite1hTokens: c.cacheWrite1h,
		ReasoningTokens:    c.thinking,
		WebSearchCalls:     c.webSearch,
		WebFetchCalls:      c.webFetch,
		CodeExecutionCalls: max(c.codeExec, c.codeBlocks),
		ServiceTier:        c.serviceTier,
		InferenceGeo:       c.geo,
		Speed:              c.speed,
	}.normalize()
}

// event notes an Anthropic Messages stream event.
func (a *anthropicMeter) event(m *streamMeter, ev streamEvent) []byte {
	switch ev.Name {
	case "content_block_start":
		// Only a server-side code execution block is metered: Anthropic
		// bills it but counts it nowhere in usage.
		if bytes.Contains(ev.Data, []byte("code_execution")) {
			var block int64 // content_block, as readBlockKind reads it
			ok := readEventData(ev.Data, func(key, val []byte) bool {
				if fieldIndex(key, contentBlockField) == 0 {
					readBlockKind(val, &block)
				}
				return true
			})
			if ok && block == blockCodeExecution {
				a.codeBlocks++
				a.counts.codeBlocks = a.codeBlocks
				if a.counts.seen {
					m.Usage = a.counts.usage()
				}
			}
		}
		return ev.Raw
	case "content_block_delta", "content_block_stop", "ping":
		return ev.Raw // the bulk of a stream: nothing to meter
	}
	var e anthropicEvent
	if !readEventData(ev.Data, e.read) {
		return ev.Raw
	}
	switch string(e.typ) {
	case `"message_start"`:
		if !e.messageSet {
			return ev.Raw
		}
		if msg := &e.message; len(msg.id) > 2 {
			setText(&m.UpstreamID, msg.id)
		}
		if msg := &e.message; len(msg.model) > 2 {
			setText(&m.Model, msg.model)
		}
		if e.message.usageSet {
			a.counts.apply(&e.message.usage)
		}
		n := int64(0)
		e.message.content.each(func(kind int64) {
			if kind == blockCodeExecution {
				n++
			}
		})
		a.counts.codeBlocks = max(a.counts.codeBlocks, n)
	case `"message_delta"`:
		// Cumulative counts: output so far, and input again when
		// server tools made it grow.
		if e.usageSet {
			a.counts.apply(&e.usage)
		}
	case `"message_stop"`:
		m.Done = true
	case `"error"`:
		m.ErrorMessage = anthropicError(e.errorRaw).text()
	}
	if a.counts.seen {
		m.Usage = a.counts.usage()
	}
	return ev.Raw
}

var contentBlockField = []string{"content_block"}

// anthropicEvent is a Messages stream event, as far as metering reads
// it. Strings are kept raw (the last string value of their member).
type anthropicEvent struct {
	typ        []byte // type, only when it has no escapes (see read)
	message    anthropicStartMessage
	messageSet bool
	usage      anthropicUsage
	usageSet   bool
	errorRaw   []byte // error, any value
}

// anthropicStartMessage is message_start's message.
type anthropicStartMessage struct {
	id, model []byte
	usage     anthropicUsage
	usageSet  bool
	content   slots // as anthropicAnswer's
}

var (
	anthropicEventFields   = []string{"type", "message", "usage", "error"}
	anthropicMessageFields = []string{"id", "model", "usage", "content"}
)

// read takes one member of an event; it is scanObject's callback.
func (e *anthropicEvent) read(key, val []byte) bool {
	switch fieldIndex(key, anthropicEventFields) {
	case 0:
		if val[0] == '"' {
			e.typ = val
			if containsByte(val, '\\') {
				// Compared raw: the decoded text stands in.
				e.typ = []byte(strconv.Quote(unquote(val)))
			}
		}
	case 1:
		if !openPtr(&e.messageSet, &e.message, val) {
			return true
		}
		msg := &e.message
		members(val, func(key, val []byte) {
			switch fieldIndex(key, anthropicMessageFields) {
			case 0:
				if val[0] == '"' {
					msg.id = val
				}
			case 1:
				if val[0] == '"' {
					msg.model = val
				}
			case 2:
				if openPtr(&msg.usageSet, &msg.usage, val) {
					msg.usage.read(val)
				}
			case 3:
				msg.content.read(val, readBlockKind)
			}
		})
	case 2:
		if openPtr(&e.usageSet, &e.usage, val) {
			e.usage.read(val)
		}
	case 3:
		e.errorRaw = val
	}
	return true
}

// dropAnthropicSource discounts a base64 source ({"type":"base64",
// "data":...}) from s's bound.
func dropAnthropicSource(s *inputScan, v jsonValue) {
	if t, _ := v.get("type").text(); string(t) == "base64" {
		s.dropString(v.get("data"))
	}
}

// part notes Anthropic's image and document blocks and container uploads.
func (anthropicDialect) part(typ []byte, m jsonObject, s *inputScan) {
	switch string(typ) {
	case "image": // {"source":{"type":"base64","data":...}}
		s.images++
		dropAnthropicSource(s, m.get("source"))
	case "document":
		switch st, _ := m.get("source").get("type").text(); string(st) {
		case "text", "content":
			// Plain text in the body, counted with it.
		default:
			s.unbound()
			dropAnthropicSource(s, m.get("source"))
		}
	case "container_upload":
		s.unbound()
		s.dropDataURL(m.get("container_upload"))
	}
}

// anthropicError reads an error member: {"type", "message"}.
func anthropicError(raw json.RawMessage) apiError {
	var e struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if !decodeJSON(raw, &e) {
		return apiError{}
	}
	return apiError{Type: e.Type, Message: e.Message}
}

// errorOf reads {"type": "error", "error": {...}}.
func (anthropicDialect) errorOf(body []byte) (apiError, bool) {
	raw, ok := objectMember(body, "error")
	if !ok {
		return apiError{}, false
	}
	return anthropicError(raw), true
}
