package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
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
//
// It reads the body with the scanner (jsonscan.go) in one walk, which
// checks it is JSON as it goes, building nothing but the list of the
// members of the objects it is inside: what encoding/json would have
// decoded into maps is read in place.
//
// The same walk gives the body's billing (dialect.billing): the members
// its fees sit in are read from the top-level members the walk keeps,
// without searching the body again.
//
// With canon, the walk writes the body's canonical form for its loop
// fingerprint there, as fpCanon.value would (see fpCanon.sum).
func inspectRequest(ds []dialect, d dialect, rt route, body []byte, canon *fpCanon) (requestInfo, billing, error) {
	start := spaceEnd(body, 0)
	if start >= len(body) || body[start] != '{' {
		return requestInfo{}, billing{}, bodyError(body)
	}
	w := walks.Get().(*bodyWalk)
	defer w.release()
	w.ds = partReaders(ds, d)
	w.canon = canon
	if end := w.object(body, start, 0); end < 0 || spaceEnd(body, end) != len(body) {
		return requestInfo{}, billing{}, bodyError(body)
	}
	top := jsonObject(w.ms)
	info, s := d.inspect(rt, top)
	bill := d.billing(feeInput{top: top, marks: w.marks, body: body}, info.MaxOutput)
	s.add(w.parts)
	info.Choices = min(max(info.Choices, 1), maxChoices)

	bound := int64(len(body)) - s.binary
	bound = max(bound, 0)
	bound = addTokens(bound, mulTokens(s.images, d.imageTokens(info.Model)))
	bound = addTokens(bound, requestOverhead+s.overhead)
	info.InputBound = bound
	info.InputUnbounded = s.unbounded > 0
	return info, bill, nil
}

// bodyError says why body is not one JSON object, in encoding/json's
// words.
func bodyError(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return fmt.Errorf("%w: the body is empty", errBadBody)
		}
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", errBadBody)
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("%w: the body is JSON but not an object", errBadBody)
	}
	return fmt.Errorf("%w: the body is not valid JSON", errBadBody)
}

// plainCount reads b when it is a plain count: 1 to 18 decimal digits
// and nothing else (no sign, fraction or exponent), which no int64
// overflows.
func plainCount(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := int64(0)
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// count reads a JSON number as a token count: rounded up, at least 0, at
// most maxTokens; anything else is 0.
func count(v jsonValue) int64 {
	if len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0
	}
	// A plain integer, as nearly every count is: no string to parse.
	if n, ok := plainCount(v); ok {
		return min(n, maxTokens)
	}
	c, _ := parseCount(string(v))
	return c
}

// protoCount is count for Gemini, whose proto JSON parser also takes a
// number written as a string. (Other providers refuse one, so for them a
// string counts as no value, and the caller's larger default applies.)
func protoCount(v jsonValue) int64 {
	if t, ok := v.text(); ok {
		c, _ := parseCount(strings.TrimSpace(string(t)))
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
func textBytes(v jsonValue) int64 {
	if n := v.textLen(); n >= 0 {
		return n
	}
	var n int64
	v.elems(func(p jsonValue) {
		n += max(p.get("text").textLen(), 0)
	})
	return n
}

// inputScan is what a request body holds without spelling it out, or
// draws from outside itself.
type inputScan struct {
	binary   int64 // bytes of base64 payloads, not text
	images   int64
	overhead int64 // tokens the body does not spell out, besides images
	// unbounded counts what draws input the body does not hold; any
	// makes the input unbounded. (A count, not a flag, so that what a
	// member overridden by a later one of the same name noted can be
	// taken back.)
	unbounded int64
}

// unbound notes input drawn from outside the body.
func (s *inputScan) unbound() { s.unbounded++ }

func (s *inputScan) add(t inputScan) {
	s.binary += t.binary
	s.images += t.images
	s.overhead += t.overhead
	s.unbounded += t.unbounded
}

func (s inputScan) minus(t inputScan) inputScan {
	return inputScan{s.binary - t.binary, s.images - t.images, s.overhead - t.overhead, s.unbounded - t.unbounded}
}

// bodyWalk walks a body for the content parts of every object in it, as
// inputScan.walk did over the decoded maps: each object is offered to
// each of ds's part methods, with its members.
type bodyWalk struct {
	ds    []dialect
	parts inputScan
	// ms are the members read of the objects the walk is inside, the
	// outermost first; each object's own are the last ones while its
	// parts are read.
	ms []bodyMember
	// noted is, for each of ms, what the parts inside its value noted:
	// taken back when a later member of the same name overrides it.
	noted []inputScan
	// marks are the string values seen that billing looks for.
	marks bodyMarks
	// canon, when set, is written the canonical form of the body for its
	// loop fingerprint as the walk goes (the bytes fpCanon.value writes);
	// nil while the walk is inside a member the fingerprint leaves out.
	canon *fpCanon
}

// bodyMarks are what a walk saw among a body's member values that billing
// reads (feeInput): audio parts, as the formats spell them. Every member
// counts, wherever it is and whether or not a later one overrides it.
type bodyMarks uint8

const (
	// markInputAudio: a member whose value is the string "input_audio",
	// written without escapes (OpenAI's audio part).
	markInputAudio bodyMarks = 1 << iota
	// markAudioMIME: a member whose value is a string starting "audio/,
	// written without escapes (a MIME type: Gemini's audio parts).
	markAudioMIME
)

// mark notes what the member value v (well-formed JSON) is of bodyMarks.
func (w *bodyWalk) mark(v []byte) {
	switch {
	case len(v) < 8 || v[0] != '"':
	case string(v) == `"input_audio"`:
		w.marks |= markInputAudio
	case string(v[:7]) == `"audio/`:
		w.marks |= markAudioMIME
	}
}

var walks = sync.Pool{New: func() any { return new(bodyWalk) }}

func (w *bodyWalk) release() {
	clear(w.ms[:cap(w.ms)]) // they point into the body
	*w = bodyWalk{ms: w.ms[:0], noted: w.noted[:0]}
	walks.Put(w)
}

// value walks the value at b[i], nested depth deep, and returns its end,
// or -1 when it is not well-formed JSON (valueEnd's test, as valueEnd
// would make it, to the same nesting limit). A walk that finds a fault
// stops there: what it noted is not read.
func (w *bodyWalk) value(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '{':
		n := len(w.ms)
		end := w.object(b, i, depth)
		w.ms, w.noted = w.ms[:n], w.noted[:n]
		return end
	case '[':
		if depth >= maxScanDepth {
			return -1
		}
		if w.canon != nil {
			w.canon.punct('[')
		}
		i = spaceEnd(b, i+1)
		if i < len(b) && b[i] == ']' {
			i++
		} else {
			for {
				if i = w.value(b, i, depth+1); i < 0 {
					return -1
				}
				if i = spaceEnd(b, i); i >= len(b) {
					return -1
				}
				if b[i] == ']' {
					i++
					break
				}
				if b[i] != ',' {
					return -1
				}
				i = spaceEnd(b, i+1)
			}
		}
		if w.canon != nil {
			w.canon.punct(']')
		}
		return i
	}
	end, err := valueEnd(b, i) // a string, number or literal
	if err != nil {
		return -1
	}
	if w.canon != nil {
		w.canon.scalar(b[i:end])
	}
	return end
}

// object walks the object at b[i], nested depth deep, leaving its
// members as the last of w.ms, and returns its end, or -1 when it is not
// well-formed (see value). Each member's value is walked as it is read,
// so a body is read once, however deep it nests.
func (w *bodyWalk) object(b []byte, i, depth int) int {
	if depth >= maxScanDepth {
		return -1
	}
	base := len(w.ms)
	var names map[string]int // for an object of many members
	c := w.canon
	var cbase, cfrom int
	if c != nil {
		cbase, cfrom = c.open()
	}
	i = spaceEnd(b, i+1)
	for i >= len(b) || b[i] != '}' {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		ke, err := stringEnd(b, i)
		if err != nil {
			return -1
		}
		name := rawText(b[i:ke])
		colon := spaceEnd(b, ke)
		if colon >= len(b) || b[colon] != ':' {
			return -1
		}
		vs := spaceEnd(b, colon+1)
		before := w.parts
		var ve int
		if c != nil && !perCallMember(string(name)) {
			start := c.name(name)
			ve = w.value(b, vs, depth+1)
			c.member(name, start)
		} else {
			// A member the fingerprint leaves out is walked for its
			// parts all the same.
			w.canon = nil
			ve = w.value(b, vs, depth+1)
			w.canon = c
		}
		if ve < 0 {
			return -1
		}
		w.mark(b[vs:ve])
		noted := w.parts.minus(before)
		// A later member overrides an earlier one of its name: what
		// the earlier one's value noted is taken back.
		prev := -1
		if k := len(w.ms) - base; k < 16 {
			for j := base; j < len(w.ms); j++ {
				if bytes.Equal(w.ms[j].name, name) {
					prev = j
				}
			}
		} else {
			if names == nil {
				names = make(map[string]int, 2*k)
				for j := base; j < len(w.ms); j++ {
					names[string(w.ms[j].name)] = j
				}
			}
			if j, ok := names[string(name)]; ok {
				prev = j
			}
			names[string(name)] = len(w.ms)
		}
		if prev >= 0 {
			w.parts = w.parts.minus(w.noted[prev])
			w.noted[prev] = inputScan{}
		}
		w.ms = append(w.ms, bodyMember{name: name, val: b[vs:ve]})
		w.noted = append(w.noted, noted)
		if i = spaceEnd(b, ve); i >= len(b) {
			return -1
		}
		if b[i] == ',' {
			if i = spaceEnd(b, i+1); i >= len(b) || b[i] != '"' {
				return -1 // a member must follow
			}
		} else if b[i] != '}' {
			return -1
		}
	}
	m := jsonObject(w.ms[base:])
	typ, _ := m.get("type").text()
	for _, d := range w.ds {
		d.part(typ, m, &w.parts)
	}
	if c != nil {
		c.close(cbase, cfrom)
	}
	return i + 1
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
func (s *inputScan) dropDataURL(v jsonValue) {
	if len(v) > 0 && v[0] == '{' {
		v = v.get("url")
	}
	if u, ok := v.text(); ok && bytes.HasPrefix(u, []byte("data:")) {
		s.binary += int64(len(u)) + 2 // and its quotes
	}
}

func (s *inputScan) dropString(v jsonValue) {
	if n := v.textLen(); n >= 0 {
		s.binary += n + 2
	}
}

// splice returns a copy of b with b[from:to] replaced by s.
func splice(b []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(s))
	out = append(out, b[:from]...)
	out = append(out, s...)
	return append(out, b[to:]...)
}
