package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"strings"
	"unicode/utf8"
)

// openAIDialect is OpenAI's API, spoken by OpenAI and by every
// OpenAI-compatible provider (Mistral, Groq, DeepSeek, xAI, OpenRouter,
// Together, Fireworks, Ollama...), and by Anthropic's and Gemini's
// OpenAI-compatible endpoints (Provider.OpenAIPath). Its SDKs take base
// URL /v1 and send the key as a bearer token.
type openAIDialect struct{}

// dialectOpenAI names OpenAI's format in Provider.Dialect.
const dialectOpenAI = "openai"

// OpenAI's metered routes.
const (
	routeOpenAIChat             routeName = "openai.chat"
	routeOpenAIResponses        routeName = "openai.responses"
	routeOpenAIResponsesCompact routeName = "openai.responses.compact"
	routeOpenAICompletions      routeName = "openai.completions"
	routeOpenAIEmbeddings       routeName = "openai.embeddings"
)

// openAIEndpoints are the OpenAI API's paths, under /v1, that Sluice
// forwards. Everything else under an OpenAI-style prefix is a 404 that
// never reaches a provider.
var openAIEndpoints = []endpoint{
	{method: "POST", pattern: "/chat/completions", name: routeOpenAIChat, max: "max_tokens", events: true},
	// A provider without the Responses API gets it translated into
	// Chat Completions.
	{method: "POST", pattern: "/responses", name: routeOpenAIResponses, max: "max_output_tokens", events: true, needsResponses: true},
	{method: "POST", pattern: "/responses/compact", name: routeOpenAIResponsesCompact},
	{method: "POST", pattern: "/completions", name: routeOpenAICompletions, max: "max_tokens", events: true},
	{method: "POST", pattern: "/embeddings", name: routeOpenAIEmbeddings, embeds: true},
	// Free: relayed, not metered.
	{method: "POST", pattern: "/moderations", free: true},
	{method: "POST", pattern: "/responses/input_tokens", free: true},
	// Reading back, listing and deleting: no tokens are spent. A
	// read-back of a background response settles it (background.go).
	{method: "GET", pattern: "/models"},
	{method: "GET", pattern: "/models/{id}"},
	{method: "GET", pattern: "/responses/{id}", op: opGet, answers: routeOpenAIResponses},
	{method: "DELETE", pattern: "/responses/{id}", op: opDelete, answers: routeOpenAIResponses},
	{method: "POST", pattern: "/responses/{id}/cancel", op: opCancel, answers: routeOpenAIResponses},
	{method: "GET", pattern: "/responses/{id}/input_items"},
	{method: "GET", pattern: "/chat/completions"},
	{method: "GET", pattern: "/chat/completions/{id}"},
	{method: "POST", pattern: "/chat/completions/{id}"}, // update metadata
	{method: "DELETE", pattern: "/chat/completions/{id}"},
	{method: "GET", pattern: "/chat/completions/{id}/messages"},
	{method: "GET", pattern: "/files"},
	{method: "POST", pattern: "/files", upload: true},
	{method: "GET", pattern: "/files/{id}"},
	{method: "DELETE", pattern: "/files/{id}"},
	{method: "GET", pattern: "/files/{id}/content"},
}

// openAIInfo is OpenAI's format as data. Its SDKs take base URL /v1, so
// the base of an OpenAI-style provider ends in /v1 or its equivalent;
// /mistral/chat/completions is as good as /mistral/v1/chat/completions.
// Azure-style clients send the key in api-key. The billing words are
// OpenAI's and the compatible providers'.
var openAIInfo = dialectInfo{
	name:            dialectOpenAI,
	provider:        "openai",
	endpoints:       openAIEndpoints,
	versions:        []string{"v1"},
	versionOptional: true,
	baseHasVersion:  true,
	compat:          true,
	baseURLHint:     "OpenAI SDKs take base URL /v1 (OPENAI_BASE_URL=http://127.0.0.1:4020/v1)",
	keyHeaders:      []string{"Api-Key"},
	keyCheck:        "/models",
	keyRefused:      []int{http.StatusUnauthorized, http.StatusForbidden},

	billingCodes: []string{"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"},
	limitCodes:   []string{"rate_limit_exceeded", "tokens", "requests"},
	billingWords: []string{
		"insufficient_quota",   // OpenAI's code, as a stream's error text carries it
		"insufficient credits", // OpenRouter
		"insufficient balance", // DeepSeek
	},
	conversation: []string{"messages", "input", "prompt"},
	textMembers:  []string{"content", "text", "input"},

	requestIDHeaders: []string{"X-Request-Id"},
	modelMember:      "model",
	// A chat or completions chunk's choices; a Responses *.delta event.
	output: shownSpec{deltaSuffix: "delta", member: "choices", skip: newNameSet("type", "id", "item_id",
		"role", "obfuscation", "model", "object", "finish_reason", "logprobs", "index")},
}

func (openAIDialect) info() *dialectInfo { return &openAIInfo }

// claim takes every /v1 path no other dialect claimed; the model of a
// metered request chooses its provider, the rest (listing models, files)
// are OpenAI's own.
func (openAIDialect) claim(method, path string, h http.Header) (string, bool, bool) {
	first, rest, _ := cutSegment(path)
	return openAIInfo.provider, true, first == "v1" && rest != ""
}

func (openAIDialect) owns(path string) bool {
	first, rest, _ := cutSegment(path)
	return first == "v1" && (strings.HasPrefix(rest, "/chat/") || strings.HasPrefix(rest, "/responses") ||
		rest == "/completions" || rest == "/embeddings")
}

// inspect reads chat max_tokens and max_completion_tokens (plus the
// length of a predicted output, whose rejected tokens are billed as
// output), completions max_tokens, n and best_of, Responses
// max_output_tokens and background.
func (openAIDialect) inspect(rt route, obj jsonObject) (info requestInfo, s inputScan) {
	info.Model = obj.get("model").str()
	info.Stream = obj.get("stream").isTrue()
	info.IncludeUsage = obj.get("stream_options").get("include_usage").isTrue()
	switch rt.Name {
	case routeOpenAIResponses:
		info.Background = obj.get("background").isTrue()
		info.MaxOutput = count(obj.get("max_output_tokens"))
	case routeOpenAICompletions:
		info.MaxOutput = count(obj.get("max_tokens"))
		info.Choices = max(count(obj.get("n")), count(obj.get("best_of")))
	case routeOpenAIEmbeddings:
	default:
		info.MaxOutput = max(count(obj.get("max_tokens")), count(obj.get("max_completion_tokens")))
		info.Choices = count(obj.get("n"))
		if info.MaxOutput > 0 {
			info.MaxOutput = addTokens(info.MaxOutput, textBytes(obj.get("prediction").get("content")))
		}
	}

	if rt.Name == routeOpenAIResponses {
		// ("prompt" is the text itself on completions.)
		for _, k := range [...]string{"previous_response_id", "conversation", "prompt"} {
			if v := obj.get(k); !v.null() && string(v) != `""` {
				s.unbound()
			}
		}
	}
	if !obj.get("web_search_options").null() {
		s.unbound() // search models read their results as input
	}
	obj.get("tools").elems(func(t jsonValue) {
		switch typ, _ := t.get("type").text(); string(typ) {
		case "function", "custom":
		default:
			s.unbound() // web_search, file_search, mcp, code_interpreter...
		}
	})
	return info, s
}

// imageTokens: gpt-4o-mini bills an image as 2,833 tokens plus 5,667 per
// 512-pixel tile, at most 8 tiles: 48,169. Every other OpenAI model costs
// far less (gpt-4o at most 1,445; the patch-based gpt-4.1-nano at most
// 1,536 patches × 2.46 = 3,779), and the largest documented by an
// OpenAI-compatible provider is Qwen-VL's 16,384 at its maximum
// resolution: 16,400 covers them.
func (openAIDialect) imageTokens(model string) int64 {
	if strings.Contains(strings.ToLower(model), "gpt-4o-mini") {
		return 48_200
	}
	return 16_400
}

// openAIFeeMembers are the members OpenAI's fees beyond tokens sit in:
// the output modalities (audio), the service tier and the built-in
// tools. An audio part in the input is a markInputAudio.
var openAIFeeMembers = []string{"modalities", "service_tier", "tools", "web_search_options"}

// billing reads audio in (a part {"type":"input_audio"}: markInputAudio,
// which as JSON structure text that mentions it does not make), audio
// out, the service tier and the built-in tools billed per call.
func (openAIDialect) billing(in feeInput, outBound int64) billing {
	var b billing
	b.audioIn = in.marks&markInputAudio != 0
	top := in.top
	if !top.hasAny(openAIFeeMembers) {
		return b
	}
	var ms []string
	_ = json.Unmarshal(top.get("modalities"), &ms)
	for _, m := range ms {
		if m == "audio" {
			b.audioOut = true
		}
	}
	b.tier = jsonStr(json.RawMessage(top.get("service_tier")))
	var maxCalls tokens
	_ = json.Unmarshal(top.get("max_tool_calls"), &maxCalls)
	for _, t := range objects(json.RawMessage(top.get("tools"))) {
		switch typ := jsonStr(t["type"]); {
		case strings.HasPrefix(typ, "web_search"):
			b.webSearch = searchBound(int64(maxCalls), outBound)
		case typ == "code_interpreter":
			b.codeExec = true
		}
	}
	// Chat Completions search models search once per request.
	if top.get("web_search_options") != nil && b.webSearch == 0 {
		b.webSearch = 1
	}
	return b
}

// prepare: chat and completions streams report usage only when asked
// (stream_options.include_usage).
func (openAIDialect) prepare(rt route, info requestInfo, body []byte) ([]byte, bool) {
	if !info.Stream || info.IncludeUsage || rt.Name != routeOpenAIChat && rt.Name != routeOpenAICompletions {
		return body, false
	}
	nb, err := addStreamUsage(body)
	if err != nil {
		return body, false
	}
	return nb, true
}

// addStreamUsage returns body with stream_options.include_usage set to
// true, for an OpenAI-style chat or completions stream whose usage Sluice
// must meter. Every other byte of the body is kept as it was: member
// order, unknown members, number spellings. A body that is not a JSON
// object is an error wrapping errBadBody.
//
// When the caller had not asked for usage itself (requestInfo.IncludeUsage
// false), relay the stream through a streamMeter with HideUsage set.
func addStreamUsage(body []byte) ([]byte, error) {
	if !json.Valid(body) {
		return nil, bodyError(body)
	}
	ms, open, _, ok := objectMembers(body)
	if !ok {
		return nil, fmt.Errorf("%w: the body is JSON but not an object", errBadBody)
	}
	const member = `"stream_options":{"include_usage":true}`
	i := lastMember(ms, "stream_options")
	if i < 0 {
		if len(ms) == 0 {
			return splice(body, open+1, open+1, member), nil
		}
		end := ms[len(ms)-1].valEnd
		return splice(body, end, end, ","+member), nil
	}
	opts := body[ms[i].valStart:ms[i].valEnd]
	inner, iopen, _, ok := objectMembers(opts)
	if !ok {
		// null, or not an object at all: replace it.
		return splice(body, ms[i].valStart, ms[i].valEnd, `{"include_usage":true}`), nil
	}
	base := ms[i].valStart
	if j := lastMember(inner, "include_usage"); j >= 0 {
		return splice(body, base+inner[j].valStart, base+inner[j].valEnd, "true"), nil
	}
	if len(inner) == 0 {
		return splice(body, base+iopen+1, base+iopen+1, `"include_usage":true`), nil
	}
	end := base + inner[len(inner)-1].valEnd
	return splice(body, end, end, `,"include_usage":true`), nil
}

// usage reads a Chat Completions, Completions, Embeddings or Responses
// answer; Groq's x_groq usage stands in when usage is missing.
func (openAIDialect) usage(rt route, body []byte) (Usage, []byte, bool) {
	var a openAIAnswer
	if !a.read(body) {
		return Usage{}, nil, false
	}
	var u Usage
	ok := false
	if a.usageSet {
		u, ok = a.usage.usage()
	}
	if !ok && a.groqSet && a.groq.usageSet {
		u, ok = a.groq.usage.usage()
	}
	u.ServiceTier = a.tier
	a.output.each(func(kind int64) {
		switch kind {
		case outputWebSearch:
			u.WebSearchCalls++
		case outputCodeInterpreter:
			u.CodeExecutionCalls++
		}
	})
	return u, a.model, ok
}

// openAIAnswer is what metering reads of a whole OpenAI-style answer: its
// model, usage (or Groq's x_groq.usage), service tier and the kinds of a
// Responses answer's output items.
type openAIAnswer struct {
	model    []byte // raw
	tier     string
	usage    openAIUsage
	usageSet bool
	groq     openAIGroq
	groqSet  bool
	output   slots // outputWebSearch, outputCodeInterpreter or 0, per item
}

var openAIAnswerFields = []string{"model", "usage", "x_groq", "service_tier", "output"}

// read reads body, one JSON object; it reports false for anything else,
// which has no usage to read.
func (a *openAIAnswer) read(body []byte) bool {
	return scanObject(body, func(key, val []byte) bool {
		switch fieldIndex(key, openAIAnswerFields) {
		case 0:
			readRaw(val, &a.model)
		case 1:
			if openPtr(&a.usageSet, &a.usage, val) {
				a.usage.read(val)
			}
		case 2:
			if openPtr(&a.groqSet, &a.groq, val) {
				a.groq.read(val)
			}
		case 3:
			readTier(val, &a.tier)
		case 4:
			a.output.read(val, readOutputKind)
		}
		return true
	}) == nil
}

// serviceTiers are the service tiers OpenAI's answers name.
var serviceTiers = []string{"default", "auto", "flex", "scale", "priority"}

// readTier is readString for a service tier: one of serviceTiers, as
// nearly every answer names, is the table's string, not a copy.
func readTier(val []byte, s *string) {
	if len(val) > 2 && val[0] == '"' {
		for _, t := range serviceTiers {
			if string(val[1:len(val)-1]) == t {
				*s = t
				return
			}
		}
	}
	readString(val, s)
}

// openAIGroq is Groq's x_groq member, as far as its usage.
type openAIGroq struct {
	usage    openAIUsage
	usageSet bool
}

var usageField = []string{"usage"}

func (g *openAIGroq) read(val []byte) {
	members(val, func(key, val []byte) {
		if fieldIndex(key, usageField) == 0 && openPtr(&g.usageSet, &g.usage, val) {
			g.usage.read(val)
		}
	})
}

// openAIMeter reads an OpenAI-style stream. It keeps no state of its own
// (the service tier a chunk reports is the meter's tier), so a stream
// costs no allocation for it.
type openAIMeter struct{}

func (openAIDialect) meter(route) eventMeter { return openAIMeter{} }

// cutEvent: the openai SDKs raise APIError on a chunk with an "error"
// member (Python) or on an "error" event (Node; a Responses error event
// also carries a nested "error" object, which the Python SDK needs).
func (openAIDialect) cutEvent(rt route, kind errKind, message string, seq int64) []byte {
	errType := string(kind)
	if errType == "" {
		errType = "server_error"
	}
	type openAIError struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	e := openAIError{Message: message, Type: errType, Code: errType}
	var b bytes.Buffer
	if rt.Name == routeOpenAIResponses {
		v := struct {
			Type     string      `json:"type"`
			Code     string      `json:"code"`
			Message  string      `json:"message"`
			Param    *string     `json:"param"`
			Sequence int64       `json:"sequence_number"`
			Error    openAIError `json:"error"`
		}{Type: "error", Code: errType, Message: message, Sequence: seq, Error: e}
		b.WriteString("event: error\ndata: ")
		b.Write(mustJSON(v))
	} else {
		b.WriteString("data: ")
		b.Write(mustJSON(struct {
			Error openAIError `json:"error"`
		}{e}))
	}
	b.WriteString("\n\n")
	return b.Bytes()
}

func (openAIDialect) errorBody(status int, kind errKind, msg string) []byte {
	var code any
	switch {
	case kind == kindBudget, kind == kindUnpriced, kind == kindPaused, kind == kindLoop, kind == kindRateLimit:
		code = kind
	case status == http.StatusNotFound:
		code = "not_found"
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
	}
	return mustJSON(map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": code}})
}

// promptRequest is a Chat Completions request.
func (openAIDialect) promptRequest(prov Provider, model string, pr Prompt, system, user string, stream bool) (string, string, http.Header, map[string]any) {
	var msgs []map[string]string
	if system != "" {
		msgs = append(msgs, map[string]string{"role": "system", "content": system})
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": user})
	req := map[string]any{"model": model, "messages": msgs}
	if pr.MaxTokens > 0 {
		if prov.Name == openAIInfo.provider {
			// OpenAI's own reasoning models refuse max_tokens; the
			// compatible providers may not know its successor.
			req["max_completion_tokens"] = pr.MaxTokens
		} else {
			req["max_tokens"] = pr.MaxTokens
		}
	}
	if pr.Temperature != nil {
		req["temperature"] = *pr.Temperature
	}
	if len(pr.Schema) > 0 {
		req["response_format"] = map[string]any{"type": "json_schema",
			"json_schema": map[string]any{"name": schemaName(pr.Name), "schema": json.RawMessage(pr.Schema)}}
	}
	if stream {
		req["stream"] = true
		req["stream_options"] = map[string]any{"include_usage": true}
	}
	return "/v1/chat/completions", "", http.Header{}, req
}

func (openAIDialect) outputText(body []byte) (string, error) {
	var doc struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal *string `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("the provider's answer is not JSON: %v", err)
	}
	if len(doc.Choices) == 0 {
		return "", errors.New("the provider answered with no choices")
	}
	m := doc.Choices[0].Message
	if m.Content == nil {
		if m.Refusal != nil {
			return "", errors.New("the model refused: " + *m.Refusal)
		}
		return "", errors.New("the model answered with no text (finish reason " + doc.Choices[0].FinishReason + ")")
	}
	return *m.Content, nil
}

func (openAIDialect) deltaText(ev streamEvent) string {
	var c struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal(ev.Data, &c) == nil && len(c.Choices) > 0 {
		return c.Choices[0].Delta.Content
	}
	return ""
}

// openAIUsage is the usage object of OpenAI's Chat Completions,
// Completions, Embeddings and Responses APIs, and of compatible providers:
// the members of each name below, read as encoding/json reads them into
// pointers (an optTokens, or set for a details object) and plain counts.
type openAIUsage struct {
	promptTokens      optTokens // prompt_tokens
	completionTokens  optTokens // completion_tokens
	totalTokens       tokens    // total_tokens
	promptDetails     openAIInputDetails
	promptDetailsSet  bool // prompt_tokens_details
	completionDetails openAIOutputDetails
	completionDetSet  bool // completion_tokens_details
	// DeepSeek reports cache hits here rather than in
	// prompt_tokens_details.
	promptCacheHitTokens tokens // prompt_cache_hit_tokens

	// The Responses API's names.
	inputTokens      optTokens // input_tokens
	outputTokens     optTokens // output_tokens
	inputDetails     openAIInputDetails
	inputDetailsSet  bool // input_tokens_details
	outputDetails    openAIOutputDetails
	outputDetailsSet bool // output_tokens_details
}

var openAIUsageFields = []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
	"completion_tokens_details", "prompt_cache_hit_tokens", "input_tokens", "output_tokens",
	"input_tokens_details", "output_tokens_details"}

// read decodes the usage object val into u, merging into what u holds.
func (u *openAIUsage) read(val []byte) {
	members(val, func(key, val []byte) {
		switch fieldIndex(key, openAIUsageFields) {
		case 0:
			u.promptTokens.read(val)
		case 1:
			u.completionTokens.read(val)
		case 2:
			u.totalTokens.read(val)
		case 3:
			if openPtr(&u.promptDetailsSet, &u.promptDetails, val) {
				u.promptDetails.read(val)
			}
		case 4:
			if openPtr(&u.completionDetSet, &u.completionDetails, val) {
				u.completionDetails.read(val)
			}
		case 5:
			u.promptCacheHitTokens.read(val)
		case 6:
			u.inputTokens.read(val)
		case 7:
			u.outputTokens.read(val)
		case 8:
			if openPtr(&u.inputDetailsSet, &u.inputDetails, val) {
				u.inputDetails.read(val)
			}
		case 9:
			if openPtr(&u.outputDetailsSet, &u.outputDetails, val) {
				u.outputDetails.read(val)
			}
		}
	})
}

// UnmarshalJSON lets encoding/json decode an openAIUsage where a chunk
// that the scanner leaves to it holds one.
func (u *openAIUsage) UnmarshalJSON(b []byte) error {
	u.read(bytes.TrimSpace(b))
	return nil
}

// openAIInputDetails splits the input count: Chat Completions'
// prompt_tokens_details and the Responses API's input_tokens_details.
// Newer models report cache writes (cache_write_tokens), billed at their
// own rate; audio models report audio input (audio_tokens) and, in
// cached_tokens_details, the cached part of it.
type openAIInputDetails struct {
	cachedTokens     tokens // cached_tokens
	cacheWriteTokens tokens // cache_write_tokens
	audioTokens      tokens // audio_tokens
	imageTokens      tokens // image_tokens
	// cached_tokens_details: its audio_tokens and image_tokens.
	cachedAudio, cachedImage tokens
}

var openAIInputDetailsFields = []string{"cached_tokens", "cache_write_tokens", "audio_tokens", "image_tokens", "cached_tokens_details"}

var audioImageFields = []string{"audio_tokens", "image_tokens"}

func (d *openAIInputDetails) read(val []byte) {
	members(val, func(key, val []byte) {
		switch fieldIndex(key, openAIInputDetailsFields) {
		case 0:
			d.cachedTokens.read(val)
		case 1:
			d.cacheWriteTokens.read(val)
		case 2:
			d.audioTokens.read(val)
		case 3:
			d.imageTokens.read(val)
		case 4:
			// A pointer whose absence reads as zero counts: null
			// empties it, an object is merged into it.
			if val[0] == 'n' {
				d.cachedAudio, d.cachedImage = 0, 0
			}
			members(val, func(key, val []byte) {
				switch fieldIndex(key, audioImageFields) {
				case 0:
					d.cachedAudio.read(val)
				case 1:
					d.cachedImage.read(val)
				}
			})
		}
	})
}

// openAIOutputDetails splits the output count: reasoning, audio and image
// tokens are parts of it.
type openAIOutputDetails struct {
	reasoningTokens tokens // reasoning_tokens
	audioTokens     tokens // audio_tokens
	imageTokens     tokens // image_tokens
}

var openAIOutputDetailsFields = []string{"reasoning_tokens", "audio_tokens", "image_tokens"}

func (d *openAIOutputDetails) read(val []byte) {
	members(val, func(key, val []byte) {
		switch fieldIndex(key, openAIOutputDetailsFields) {
		case 0:
			d.reasoningTokens.read(val)
		case 1:
			d.audioTokens.read(val)
		case 2:
			d.imageTokens.read(val)
		}
	})
}

// usage converts u; ok is false when it holds no token counts.
func (u *openAIUsage) usage() (Usage, bool) {
	if u == nil {
		return Usage{}, false
	}
	var in, out, cached, reasoning int64
	ok := false
	if u.promptTokens.set || u.completionTokens.set {
		ok = true
		in, out = u.promptTokens.get(), u.completionTokens.get()
	}
	if u.inputTokens.set || u.outputTokens.set {
		ok = true
		in, out = u.inputTokens.get(), u.outputTokens.get()
	}
	if !ok {
		return Usage{}, false
	}
	// A details object that is absent reads as zero counts.
	d := u.promptDetails
	if d.cachedTokens == 0 && d.cacheWriteTokens == 0 && d.audioTokens == 0 && d.imageTokens == 0 && u.inputDetailsSet {
		d = u.inputDetails
	}
	od := u.completionDetails
	if od.reasoningTokens == 0 && od.audioTokens == 0 && od.imageTokens == 0 && u.outputDetailsSet {
		od = u.outputDetails
	}
	cached = int64(d.cachedTokens)
	if cached == 0 {
		cached = int64(u.promptCacheHitTokens)
	}
	reasoning = int64(od.reasoningTokens)
	// OpenAI counts reasoning inside completion_tokens. Some compatible
	// providers (xAI among them) count it beside: their total then adds
	// up only with reasoning added.
	if reasoning > 0 && int64(u.totalTokens) == in+out+reasoning {
		out += reasoning
	}
	got := Usage{InputTokens: in, OutputTokens: out, CachedInputTokens: cached, ReasoningTokens: reasoning,
		CacheWriteTokens: int64(d.cacheWriteTokens), OutputAudioTokens: int64(od.audioTokens), OutputImageTokens: int64(od.imageTokens)}
	// audio_tokens and image_tokens count every input token of the
	// modality, cached ones included.
	cachedAudio, cachedImage := int64(d.cachedAudio), int64(d.cachedImage)
	got.CachedAudioTokens = cachedAudio
	got.InputAudioTokens = max(int64(d.audioTokens)-cachedAudio, 0)
	got.InputImageTokens = max(int64(d.imageTokens)-cachedImage, 0)
	return got.normalize(), true
}

// openAIOutput is an output item of a Responses API response.
type openAIOutput struct {
	Type string `json:"type"`
}

// openAIToolCalls counts the built-in tool calls among a response's output
// items that are billed per call: web searches and code interpreter runs.
func openAIToolCalls(items []openAIOutput) (webSearch, codeExec int64) {
	for _, it := range items {
		switch it.Type {
		case "web_search_call":
			webSearch++
		case "code_interpreter_call":
			codeExec++
		}
	}
	return webSearch, codeExec
}

// The kinds of output item billed per call, as a slot of
// openAIAnswer.output holds them.
const (
	outputOther = iota
	outputWebSearch
	outputCodeInterpreter
)

var typeField = []string{"type"}

// readOutputKind decodes one output item into its slot: its type's kind,
// kept from before when the item says no type.
func readOutputKind(e []byte, slot *int64) {
	members(e, func(key, val []byte) {
		if fieldIndex(key, typeField) != 0 || val[0] != '"' {
			return
		}
		switch t, _ := jsonValue(val).text(); string(t) {
		case "web_search_call":
			*slot = outputWebSearch
		case "code_interpreter_call":
			*slot = outputCodeInterpreter
		default:
			*slot = outputOther
		}
	})
}

var usageNull = []byte(`"usage":null`)

// plainChunk reports whether an OpenAI-style chunk can carry nothing the
// meter reads once the stream's id and model are known: no usage (or
// only "usage":null), no error, no Groq extension, no Responses event
// type. It looks at bytes, so a string in the chunk that happens to hold
// one of those names makes it answer false; false only means the chunk is
// decoded in full.
//
// It is one pass over the chunk that stops at each quote, eight bytes at
// a time between them: the same answer as searching for "error",
// "x_groq", "type" and counting "usage" (and "usage":null) one search
// each, at a fifth of the cost.
func plainChunk(data []byte) bool {
	var c chunkNames
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:]) ^ '"'*ones
		// A high bit for each byte that may be a quote (a byte above a
		// quote can be flagged too, so each is checked).
		for m := (x - ones) & ^x & highs; m != 0; m &= m - 1 {
			q := i + bits.TrailingZeros64(m)/8
			if data[q] == '"' && q+1 < len(data) && nameStart[data[q+1]] && !c.quote(data, q) {
				return false
			}
		}
	}
	for ; i < len(data); i++ {
		if data[i] == '"' && i+1 < len(data) && nameStart[data[i+1]] && !c.quote(data, i) {
			return false
		}
	}
	return c.usages == 0 || c.usages == 1 && c.null
}

// nameStart marks the first letters of the names plainChunk looks for.
var nameStart = [256]bool{'e': true, 'x': true, 't': true, 'u': true}

// chunkNames is what plainChunk found so far.
type chunkNames struct {
	usages   int  // "usage" found, those overlapping one counted left out
	usageEnd int  // past the last "usage" counted
	null     bool // "usage":null found
}

// quote notes what follows the quote at data[q]; it reports false for
// a name that makes a chunk worth reading in any case.
func (c *chunkNames) quote(data []byte, q int) bool {
	rest := data[q+1:]
	if len(rest) < 5 {
		return true
	}
	switch rest[0] {
	case 'e':
		return !hasPrefix(rest, `error"`)
	case 'x':
		return !hasPrefix(rest, `x_groq"`)
	case 't':
		return !hasPrefix(rest, `type"`)
	case 'u':
		if hasPrefix(rest, `usage"`) {
			if q >= c.usageEnd {
				c.usages++
				c.usageEnd = q + len(`"usage"`)
			}
			c.null = c.null || hasPrefix(rest, `usage":null`)
		}
	}
	return true
}

// openAIChunk is a Chat Completions or Completions chunk, or a Responses
// API event, as far as metering reads it, by encoding/json's rules
// (usageread.go): strings raw, as the last string value of their member;
// choices, usage, error and code raw, whatever their value.
type openAIChunk struct {
	id, model, tier []byte // id, model, service_tier
	choices, usage  []byte
	err             []byte // error
	groq            openAIGroq
	groqSet         bool // x_groq

	// Responses API events.
	typ         []byte // type
	seq         tokens // sequence_number
	response    openAIResponse
	responseSet bool
	code        []byte
	message     []byte
}

// openAIResponse is a Responses API event's response.
type openAIResponse struct {
	id, model, tier []byte // id, model, service_tier
	usage           openAIUsage
	usageSet        bool
	err             []byte // error
	output          slots  // as openAIAnswer's
}

var (
	openAIChunkFields = []string{"id", "model", "service_tier", "choices", "usage", "error", "x_groq",
		"type", "sequence_number", "response", "code", "message"}
	openAIResponseFields = []string{"id", "model", "service_tier", "usage", "error", "output"}
)

// read takes one member of a chunk; it is scanObject's callback.
func (c *openAIChunk) read(key, val []byte) bool {
	switch fieldIndex(key, openAIChunkFields) {
	case 0:
		readRaw(val, &c.id)
	case 1:
		readRaw(val, &c.model)
	case 2:
		readRaw(val, &c.tier)
	case 3:
		c.choices = val
	case 4:
		c.usage = val
	case 5:
		c.err = val
	case 6:
		if openPtr(&c.groqSet, &c.groq, val) {
			c.groq.read(val)
		}
	case 7:
		readRaw(val, &c.typ)
	case 8:
		c.seq.read(val)
	case 9:
		if !openPtr(&c.responseSet, &c.response, val) {
			return true
		}
		r := &c.response
		members(val, func(key, val []byte) {
			switch fieldIndex(key, openAIResponseFields) {
			case 0:
				readRaw(val, &r.id)
			case 1:
				readRaw(val, &r.model)
			case 2:
				readRaw(val, &r.tier)
			case 3:
				if openPtr(&r.usageSet, &r.usage, val) {
					r.usage.read(val)
				}
			case 4:
				r.err = val
			case 5:
				r.output.read(val, readOutputKind)
			}
		})
	case 10:
		c.code = val
	case 11:
		readRaw(val, &c.message)
	}
	return true
}

// readRaw keeps val in *s when it is a string, as encoding/json sets a
// string field: anything else leaves *s.
func readRaw(val []byte, s *[]byte) {
	if val[0] == '"' {
		*s = val
	}
}

// text is the decoded text of a raw string kept by readRaw, nil when
// there is none; it is the raw bytes themselves unless the string has
// escapes or bytes that are not UTF-8.
func text(raw []byte) []byte {
	if len(raw) < 2 {
		return nil
	}
	return rawText(raw)
}

func (o openAIMeter) event(m *streamMeter, ev streamEvent) []byte {
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, []byte("[DONE]")) {
		m.Done = true
		return ev.Raw
	}
	if len(data) == 0 || data[0] != '{' {
		return ev.Raw
	}
	if m.UpstreamID != "" && m.Model != "" && plainChunk(data) {
		// A content delta like the hundreds before it: nothing to read,
		// so nothing to decode (or allocate) for it.
		if m.HideUsage && bytes.Contains(data, usageNull) {
			return m.stripUsage(ev)
		}
		return ev.Raw
	}
	var c openAIChunk
	if scanObject(data, c.read) != nil {
		return ev.Raw
	}
	if t := text(c.typ); hasPrefix(t, "response.") || string(t) == "error" {
		o.responsesEvent(m, &c, t)
		return ev.Raw
	}
	if m.UpstreamID == "" && m.Model == "" && m.tier == "" && setFirstTexts(m, &c) {
		// The first chunk: its id, model and tier kept in one string.
	} else {
		if len(c.id) > 2 && m.UpstreamID == "" {
			setText(&m.UpstreamID, c.id)
		}
		if len(c.model) > 2 {
			setText(&m.Model, c.model)
		}
		if len(c.tier) > 2 {
			setText(&m.tier, c.tier)
		}
	}
	if isPresent(c.err) {
		m.ErrorMessage = openAIError(c.err).text()
	}
	usageSet := isPresent(c.usage)
	if usageSet {
		var u openAIUsage
		u.read(c.usage)
		if got, ok := u.usage(); ok {
			m.Usage = got
		}
	} else if c.groqSet && c.groq.usageSet {
		if got, ok := c.groq.usage.usage(); ok {
			m.Usage = got
		}
	}
	if !m.Usage.IsZero() {
		m.Usage.ServiceTier = m.tier
	}
	if !m.HideUsage {
		return ev.Raw
	}
	if usageSet && jsonValue(c.choices).isArray() && jsonValue(c.choices).empty() {
		return nil // the usage-only chunk the caller did not ask for
	}
	if c.usage != nil && !usageSet {
		return m.stripUsage(ev)
	}
	return ev.Raw
}

// setFirstTexts keeps the id, model and service tier of the first chunk
// of a stream, the meter holding none yet, in one allocation: what
// setText keeps of each, when each is a string whose text is its bytes
// (no escape, valid UTF-8) or absent. It reports false, keeping nothing,
// otherwise.
func setFirstTexts(m *streamMeter, c *openAIChunk) bool {
	n := 0
	for _, v := range [...][]byte{c.id, c.model, c.tier} {
		if len(v) == 0 {
			continue
		}
		in := v[1 : len(v)-1]
		if containsByte(in, '\\') || !utf8.Valid(in) {
			return false
		}
		n += len(in)
	}
	if n == 0 {
		return true
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range [...][]byte{c.id, c.model, c.tier} {
		if len(v) > 2 {
			b.Write(v[1 : len(v)-1])
		}
	}
	all := b.String()
	take := func(v []byte) string {
		if len(v) <= 2 {
			return ""
		}
		s := all[:len(v)-2]
		all = all[len(v)-2:]
		return s
	}
	m.UpstreamID, m.Model, m.tier = take(c.id), take(c.model), take(c.tier)
	return true
}

// stripUsage returns ev without the "usage":null member HideUsage hides.
func (m *streamMeter) stripUsage(ev streamEvent) []byte {
	out, ok := stripNullMember(ev.Data, ev.Raw, ev.Name, "usage", m.edited)
	if !ok {
		return ev.Raw
	}
	m.edited = out
	return out
}

// responsesEvent notes a Responses API event of type typ.
func (o openAIMeter) responsesEvent(m *streamMeter, c *openAIChunk, typ []byte) {
	m.seq = max(m.seq, int64(c.seq))
	r := &c.response
	if c.responseSet {
		if len(r.id) > 2 {
			setText(&m.UpstreamID, r.id)
		}
		if len(r.model) > 2 {
			setText(&m.Model, r.model)
		}
	}
	switch string(typ) {
	case "response.completed", "response.incomplete", "response.failed":
		m.Done = true
		if !c.responseSet {
			return
		}
		if r.usageSet {
			if u, ok := r.usage.usage(); ok {
				m.Usage = u
				m.Usage.ServiceTier = unquoteOrEmpty(r.tier)
				r.output.each(func(kind int64) {
					switch kind {
					case outputWebSearch:
						m.Usage.WebSearchCalls++
					case outputCodeInterpreter:
						m.Usage.CodeExecutionCalls++
					}
				})
			}
		}
		if string(typ) == "response.failed" {
			m.ErrorMessage = "response failed"
			if isPresent(r.err) {
				m.ErrorMessage = openAIError(r.err).text()
			}
		}
	case "error":
		switch {
		case isPresent(c.err):
			m.ErrorMessage = openAIError(c.err).text()
		default:
			m.ErrorMessage = joinError(jsonString(c.code), unquoteOrEmpty(c.message))
		}
	}
}

// part notes OpenAI's (Chat Completions and Responses) image, file,
// audio and video parts, and Responses' references to stored items.
func (openAIDialect) part(typ []byte, m jsonObject, s *inputScan) {
	switch string(typ) {
	case "image_url": // Chat: {"image_url":{"url":...}}
		s.images++
		s.dropDataURL(m.get("image_url"))
	case "input_image": // Responses: {"image_url":"data:..."} or {"file_id":...}
		s.images++
		s.dropDataURL(m.get("image_url"))
	case "file": // Chat: {"file":{"file_data":"data:...","file_id":...}}
		s.unbound()
		s.dropDataURL(m.get("file").get("file_data"))
	case "input_file": // Responses
		s.unbound()
		s.dropDataURL(m.get("file_data"))
	case "input_audio": // Chat: {"input_audio":{"data":base64,"format":"wav"}}
		s.unbound()
		s.dropString(m.get("input_audio").get("data"))
	case "audio", "video", "audio_url", "video_url", "input_video":
		// Spellings of OpenAI-compatible providers.
		s.unbound()
		s.dropDataURL(m.get(string(typ)))
	case "item_reference": // Responses: an item stored upstream
		s.unbound()
	}
}

// openAIError reads an error member: {"message", "type", "param",
// "code"}, or a bare string (some compatible providers). Gemini's
// OpenAI-compatible endpoint answers in google.rpc's shape ({"code":
// 429, "message", "status"}), so a status is read too.
func openAIError(raw json.RawMessage) apiError {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return apiError{Message: s}
	}
	var e struct {
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Status  string          `json:"status"`
		Message string          `json:"message"`
	}
	if !decodeJSON(raw, &e) {
		return apiError{}
	}
	return apiError{Type: e.Type, Code: jsonString(e.Code), Status: e.Status, Message: e.Message}
}

func (openAIDialect) errorOf(body []byte) (apiError, bool) {
	raw, ok := objectMember(body, "error")
	if !ok {
		return apiError{}, false
	}
	return openAIError(raw), true
}

// The Responses API's read-backs of a background response.
const (
	opGet    readOp = "get"
	opCancel readOp = "cancel"
	opDelete readOp = "delete"
)

// queued reads a Responses API answer to a "background": true request:
// the response's id while it is still queued or running.
func (openAIDialect) queued(body []byte) string {
	id, st := responseState(body)
	if id == "" || terminalResponse(st) {
		return ""
	}
	return id
}

// readBack reads the answer to a read-back of a background response: a
// cancel or a delete ends it; a GET reports it done once its status is
// terminal, and ended when that status is "cancelled".
func (openAIDialect) readBack(op readOp, body []byte) (done, ended bool) {
	switch op {
	case opCancel, opDelete:
		return true, true
	case opGet:
		_, st := responseState(body)
		return terminalResponse(st), st == "cancelled"
	}
	return false, false
}

// responseState reads a Responses API response object's id and status.
func responseState(body []byte) (id, status string) {
	var doc struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Object != "response" {
		return "", ""
	}
	return doc.ID, doc.Status
}

// terminalResponse reports whether a response in status will change no
// more.
func terminalResponse(status string) bool {
	switch status {
	case "completed", "incomplete", "failed", "cancelled":
		return true
	}
	return false
}
