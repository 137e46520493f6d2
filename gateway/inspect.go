package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// requestInfo is what a request body says about routing and worst-case
// cost.
type requestInfo struct {
	// Model is the body's "model". Gemini requests name the model in the
	// path, so it is empty for them.
	Model string
	// Stream is the body's "stream": true; for Gemini, whether the route
	// is streamGenerateContent.
	Stream bool
	// MaxOutput bounds the output tokens of one completion: the largest
	// max-tokens field the provider honours. The request's output is at
	// most MaxOutput × Choices. It is 0 when the body sets no maximum: the
	// caller then uses the model's own maximum (and should clamp MaxOutput
	// to it in any case). Routes that produce no output (embeddings, token
	// counting) report 0 and need no bound.
	//
	// The fields read: OpenAI chat max_tokens and max_completion_tokens
	// (plus the length of a predicted output, whose rejected tokens are
	// billed as output); completions max_tokens; Responses
	// max_output_tokens; Anthropic max_tokens and thinking.budget_tokens
	// (which interleaved thinking lets exceed max_tokens); Gemini
	// generationConfig.maxOutputTokens and thinkingConfig.thinkingBudget
	// (Gemini counts thoughts against maxOutputTokens, but its
	// documentation has said otherwise, so the larger is taken).
	MaxOutput int64
	// InputBound bounds the input tokens of what the body holds (see
	// InputUnbounded for what it cannot hold). It is computed as:
	//
	//	the body's length in bytes
	//	− the bytes of base64 payloads (images, documents, audio)
	//	+ the dialect's bound on one image's tokens, for every image
	//	+ a fixed overhead per request, and per built-in tool
	//
	// It is an upper bound because every tokenizer the providers use
	// spends at least one byte of UTF-8 text per token, and every byte of
	// text, whether in a message, a system prompt or a tool definition,
	// appears in the body at least once (JSON escapes only lengthen it);
	// the JSON around each message ({"role":"user","content":""}, 26
	// bytes and more) exceeds the few tokens a chat template adds per
	// message. What the body does not spell out is added: each image's
	// tokens, which follow from its pixels rather than its bytes; the
	// request's reply priming; Anthropic's tool-use system prompt (under
	// 600 tokens) and the hidden definitions of its built-in client tools
	// (computer, bash, text editor: under 1,300 tokens each).
	InputBound int64
	// InputUnbounded is set when the request draws input the body does
	// not hold, or holds in a form whose token count cannot be told from
	// its size: a previous response or stored conversation or prompt
	// (Responses API), cached content (Gemini), an MCP server or
	// container (Anthropic), documents, audio and video (inline or by
	// file id or URL), and server-side tools such as web search, file
	// search and code execution, whose results are read back as input.
	// The caller should then hold for the model's whole context window.
	// Server-side tools may run several model passes, each billed for its
	// input, so even that is a bound only for a single pass.
	InputUnbounded bool
	// Choices is how many completions the provider generates and bills:
	// n (and best_of for completions), or candidateCount; at least 1, at
	// most 1,024 (no provider accepts more: OpenAI allows n up to 128,
	// best_of 20, Gemini 8 candidates).
	Choices int64
	// IncludeUsage is set when an OpenAI-style request already asks for
	// usage in its stream (stream_options.include_usage).
	IncludeUsage bool
	// Background is set for a Responses API request run in the
	// background ("background": true): its usage is known only when the
	// response is read back.
	Background bool
}

// maxChoices caps requestInfo.Choices.
const maxChoices = 1024

// requestOverhead covers reply priming and template tokens no message's
// JSON pays for.
const requestOverhead = 256

// errBadBody is returned for a request body that is not a JSON object;
// the caller answers 400.
var errBadBody = errors.New("request body is not a JSON object")

// inspectRequest reads what a request body of dialect d on route rt says
// about its model, streaming and worst-case token counts, looking for the
// content parts of each of ds, the formats served (partReaders). A body
// that is not a well-formed JSON object is an error wrapping errBadBody.
func inspectRequest(ds []dialect, d dialect, rt route, body []byte) (requestInfo, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return requestInfo{}, err
	}
	info, s := d.inspect(rt, obj)
	s.walk(obj, partReaders(ds, d))
	info.Choices = min(max(info.Choices, 1), maxChoices)

	bound := int64(len(body)) - s.binary
	bound = max(bound, 0)
	bound = addTokens(bound, mulTokens(s.images, d.imageTokens(info.Model)))
	bound = addTokens(bound, requestOverhead+s.overhead)
	info.InputBound = bound
	info.InputUnbounded = s.unbounded
	return info, nil
}

// decodeObject decodes body, which must hold exactly one JSON object.
// Numbers stay json.Number.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the body is empty", errBadBody)
		}
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errBadBody)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the body is JSON but not an object", errBadBody)
	}
	return obj, nil
}

// field returns the first of names present in v, if v is an object.
func field(v any, names ...string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for _, n := range names {
		if x, ok := m[n]; ok {
			return x
		}
	}
	return nil
}

// count reads a JSON number as a token count: rounded up, at least 0, at
// most maxTokens; anything else is 0.
func count(v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	c, _ := parseCount(n.String())
	return c
}

// protoCount is count for Gemini, whose proto JSON parser also takes a
// number written as a string. (Other providers refuse one, so for them a
// string counts as no value, and the caller's larger default applies.)
func protoCount(v any) int64 {
	if s, ok := v.(string); ok {
		c, _ := parseCount(strings.TrimSpace(s))
		return c
	}
	return count(v)
}

// addTokens and mulTokens saturate at maxTokens.
func addTokens(a, b int64) int64 { return min(a+b, maxTokens) }

func mulTokens(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > maxTokens/b {
		return maxTokens
	}
	return a * b
}

// textBytes is the length of the text in v: a string, or the text parts
// of an array of content parts.
func textBytes(v any) int64 {
	switch t := v.(type) {
	case string:
		return int64(len(t))
	case []any:
		var n int64
		for _, p := range t {
			if s, ok := field(p, "text").(string); ok {
				n += int64(len(s))
			}
		}
		return n
	}
	return 0
}

// inputScan walks a request body for what its length does not tell.
type inputScan struct {
	binary    int64 // bytes of base64 payloads, not text
	images    int64
	overhead  int64 // tokens the body does not spell out, besides images
	unbounded bool
}

// walk visits every object in v, asking each of ds whether it is one of
// its content parts.
func (s *inputScan) walk(v any, ds []dialect) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			s.walk(e, ds)
		}
	case map[string]any:
		typ, _ := t["type"].(string)
		for _, d := range ds {
			d.part(typ, t, s)
		}
		for _, e := range t {
			s.walk(e, ds)
		}
	}
}

// partReaders are the formats whose content parts a body of format d is
// scanned for: every one of ds, the formats served, and d. A provider's
// compatible endpoint may take another format's parts, and a part missed
// is a document or an image held as text, so every spelling is looked
// for.
func partReaders(ds []dialect, d dialect) []dialect {
	for _, b := range ds {
		if b == d {
			return ds
		}
	}
	return append(slices.Clip(ds), d)
}

// dropDataURL discounts a data: URL, given as a string or as {"url":...}.
func (s *inputScan) dropDataURL(v any) {
	if m, ok := v.(map[string]any); ok {
		v = m["url"]
	}
	if u, ok := v.(string); ok && strings.HasPrefix(u, "data:") {
		s.binary += int64(len(u)) + 2 // and its quotes
	}
}

// dropSource discounts an Anthropic base64 source.
func (s *inputScan) dropSource(v any) {
	if t, _ := field(v, "type").(string); t == "base64" {
		s.dropString(field(v, "data"))
	}
}

func (s *inputScan) dropString(v any) {
	if d, ok := v.(string); ok {
		s.binary += int64(len(d)) + 2
	}
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
		if _, err := decodeObject(body); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: the body is not valid JSON", errBadBody)
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

// splice returns a copy of b with b[from:to] replaced by s.
func splice(b []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(s))
	out = append(out, b[:from]...)
	out = append(out, s...)
	return append(out, b[to:]...)
}
