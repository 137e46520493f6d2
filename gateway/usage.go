package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// The dialects read the usage each provider reports, from a whole JSON
// response body or event by event from a stream, and normalise it into a
// Usage (see record.go for what each count includes):
//
//   - OpenAI and OpenAI-compatible: usage.prompt_tokens includes cached
//     tokens and completion_tokens includes reasoning tokens, as Usage
//     wants. The Responses API says input_tokens and output_tokens for
//     the same things. A few compatible providers leave reasoning out of
//     completion_tokens; they are told apart by total_tokens.
//   - Anthropic: input_tokens excludes cache reads and cache writes, so
//     InputTokens is their sum; output_tokens includes thinking.
//   - Gemini: promptTokenCount includes cachedContentTokenCount;
//     toolUsePromptTokenCount (results of search and other built-in
//     tools) is input too; candidatesTokenCount excludes
//     thoughtsTokenCount, so OutputTokens is their sum.

// tokens is a token count as a provider reports it. It decodes leniently:
// a number with a fraction is rounded up, a number in a string (as proto
// JSON writes 64-bit integers) is read, and anything negative, not a
// number, or absurdly large is clamped, so no count is ever negative and
// sums of counts cannot overflow.
type tokens int64

// maxTokens bounds every count: some two billion, far above any context
// window, and low enough that a count times a choice count times a
// per-token price in picodollars stays well inside an int64.
const maxTokens = 1 << 31

func (t *tokens) UnmarshalJSON(b []byte) error {
	s := bytes.TrimSpace(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if n, ok := parseCount(string(s)); ok {
		*t = tokens(n)
	}
	return nil
}

// parseCount reads a non-negative count, clamped to maxTokens.
func parseCount(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return clampCount(float64(n)), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsNaN(f) {
		return 0, false
	}
	return clampCount(math.Ceil(f)), true
}

func clampCount(f float64) int64 {
	switch {
	case f <= 0:
		return 0
	case f >= maxTokens:
		return maxTokens
	}
	return int64(f)
}

// normalize makes the parts of u fit inside their totals, whatever a
// provider reported, so a price computed from "input minus cached" can
// never go negative.
func (u Usage) normalize() Usage {
	u.InputTokens = max(u.InputTokens, 0)
	u.OutputTokens = max(u.OutputTokens, 0)
	u.CachedInputTokens = min(max(u.CachedInputTokens, 0), u.InputTokens)
	u.CacheWriteTokens = min(max(u.CacheWriteTokens, 0), u.InputTokens-u.CachedInputTokens)
	u.CacheWrite1hTokens = min(max(u.CacheWrite1hTokens, 0), u.CacheWriteTokens)
	u.ReasoningTokens = min(max(u.ReasoningTokens, 0), u.OutputTokens)
	u.CachedAudioTokens = min(max(u.CachedAudioTokens, 0), u.CachedInputTokens)
	in := u.InputTokens - u.CachedInputTokens - u.CacheWriteTokens
	u.InputAudioTokens = min(max(u.InputAudioTokens, 0), in)
	u.InputImageTokens = min(max(u.InputImageTokens, 0), in-u.InputAudioTokens)
	u.InputVideoTokens = min(max(u.InputVideoTokens, 0), in-u.InputAudioTokens-u.InputImageTokens)
	out := u.OutputTokens - u.ReasoningTokens
	u.OutputAudioTokens = min(max(u.OutputAudioTokens, 0), out)
	u.OutputImageTokens = min(max(u.OutputImageTokens, 0), out-u.OutputAudioTokens)
	u.OutputVideoTokens = min(max(u.OutputVideoTokens, 0), out-u.OutputAudioTokens-u.OutputImageTokens)
	u.WebSearchCalls = max(u.WebSearchCalls, 0)
	u.WebFetchCalls = max(u.WebFetchCalls, 0)
	u.CodeExecutionCalls = max(u.CodeExecutionCalls, 0)
	return u
}

// decodeJSON decodes data into v as far as it can: a member of an
// unexpected type is left zero rather than failing the whole document
// (encoding/json skips it, decodes the rest and reports an
// UnmarshalTypeError). It reports false for data that is not JSON.
func decodeJSON(data []byte, v any) bool {
	err := json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	return err == nil || errors.As(err, &te)
}

func deref(t *tokens) int64 {
	if t == nil {
		return 0
	}
	return int64(*t)
}

// isObject reports whether b holds a JSON object (b is assumed valid).
func isObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{'
}

// streamMeter follows one server-sent event stream of a dialect, event by
// event, noting the usage, model and outcome the provider reports while
// handing each event on. Make one with newStreamMeter or makeStreamMeter.
// A streamMeter is not safe for concurrent use.
type streamMeter struct {
	d  dialect
	rt route
	em eventMeter // d's state for this stream

	// HideUsage is for an OpenAI-style chat or completions stream whose
	// request Sluice gave stream_options.include_usage (addStreamUsage)
	// though the caller had not asked for usage: relay then drops the
	// extra usage-only chunk and strips the "usage":null member from every
	// other chunk, so the caller sees what it would have seen direct.
	HideUsage bool

	// Usage is the usage reported so far: the provider's latest
	// cumulative counts, never added twice.
	Usage Usage
	// Model is the model the provider says answered.
	Model string
	// UpstreamID is the provider's id of the answer: chat completion,
	// message or response id.
	UpstreamID string
	// Done is set once the stream's proper terminal event has been seen:
	// OpenAI's data: [DONE]; the Responses API's response.completed,
	// response.incomplete or response.failed; Anthropic's message_stop;
	// Gemini's chunk carrying a finishReason (or a blocked prompt). A
	// stream that ends without it was cut short.
	Done bool
	// ErrorMessage is set when the provider sent an error in the stream:
	// an OpenAI {"error":...} chunk, a Responses error or
	// response.failed event, Anthropic's error event, a Gemini
	// {"error":...} chunk.
	ErrorMessage string
	// Relayed counts the bytes relay handed on.
	Relayed int64
	// seq is the last event number seen, where the dialect numbers its
	// events (the Responses API's sequence_number).
	seq int64
	// tier is the service tier the stream reported, where it reports it
	// apart from its usage.
	tier string
	// edited holds the last event HideUsage edited: what relay returns
	// is handed on before the next event, so one buffer serves them all.
	edited []byte
}

// newStreamMeter returns a meter for a stream in dialect d on route rt;
// hide sets HideUsage.
func newStreamMeter(d dialect, rt route, hide bool) *streamMeter {
	m := makeStreamMeter(d, rt, hide)
	return &m
}

// makeStreamMeter is newStreamMeter's meter, as a value.
func makeStreamMeter(d dialect, rt route, hide bool) streamMeter {
	return streamMeter{d: d, rt: rt, em: d.meter(rt), HideUsage: hide}
}

// relay notes ev and returns the bytes to pass to the client: ev.Raw, or
// with HideUsage an edited copy (good until the next call), or nil to
// drop the event.
func (m *streamMeter) relay(ev streamEvent) []byte {
	out := ev.Raw
	if len(ev.Data) > 0 {
		out = m.em.event(m, ev)
	}
	m.Relayed += int64(len(out))
	return out
}

// cut returns the terminal error event that ends m's stream early (a
// budget ran out mid-stream, or the upstream connection broke), in the
// dialect's own words, so the caller's SDK raises an error rather than
// taking the truncated answer for a whole one; it is numbered after the
// events relayed where the dialect numbers its events. It is not counted
// in Relayed.
func (m *streamMeter) cut(kind errKind, message string) []byte {
	return m.d.cutEvent(m.rt, kind, message, m.seq+1)
}

// maxErrorMessage bounds ErrorMessage: it is for a log line, and the
// stream it came from is untrusted.
const maxErrorMessage = 1000

// joinError renders an error's kind and message for a log line and a
// record.
func joinError(kind, msg string) string {
	switch {
	case kind != "" && msg != "":
		return truncate(kind + ": " + msg)
	case msg != "":
		return truncate(msg)
	case kind != "":
		return truncate(kind)
	}
	return "upstream sent an error"
}

func truncate(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxErrorMessage], "") + "…"
}

// jsonString returns raw as text: a string's contents, a number's digits,
// "" for anything else.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// objectMember returns the member name of body, a JSON object; ok is
// false when body is no object or the member is absent or null.
func objectMember(body []byte, name string) (raw json.RawMessage, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil, false
	}
	raw = m[name]
	return raw, isPresent(raw)
}

// isPresent reports whether a member was present and not null.
func isPresent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// stripNullMember writes over buf the event raw (whose data is data and
// whose name is name) without the last top-level member key of its JSON
// data, and the comma that joined it to a neighbour, keeping every other
// byte as it came. ok is false, and nothing written, when the data is no
// object or has no such member. A caller that hands each event on before
// the next can keep one buffer for a whole stream.
func stripNullMember(data, raw []byte, name, key string, buf []byte) (out []byte, ok bool) {
	from, to, ok := memberCut(data, key)
	if !ok {
		return nil, false
	}
	if at, end, one := dataLine(raw); one {
		out = append(buf[:0], raw[:at]...)
		out = append(append(out, data[:from]...), data[to:]...)
		return append(out, raw[end:]...), true
	}
	// The data came in several lines: it goes out in as many data
	// lines as the edited data has (a client joins them with newlines
	// again), rather than as one that a newline would cut short.
	out = buf[:0]
	if name != "" {
		out = append(append(append(out, "event: "...), name...), '\n')
	}
	out = append(out, "data: "...)
	for _, part := range [2][]byte{data[:from], data[to:]} {
		for {
			nl := bytes.IndexByte(part, '\n')
			if nl < 0 {
				out = append(out, part...)
				break
			}
			out = append(append(out, part[:nl]...), "\ndata: "...)
			part = part[nl+1:]
		}
	}
	return append(out, "\n\n"...), true
}

// memberCut finds the last top-level member named key of the JSON object
// in b and returns the bytes to cut to remove it: the member and the
// comma before it, or after it when it comes first. ok is false when b
// is no object or has no such member. It walks b as eachMember does: a
// chunk from the plain-chunk path is never decoded, and one with, say, a
// raw tab in a string is still stripped.
func memberCut(b []byte, key string) (from, to int, ok bool) {
	prevEnd := -1  // the end of the member before this one
	found := false // the last match so far is the member before this one
	_, _, whole := eachMember(b, func(ks, ke, vs, ve int) {
		if found {
			// The match was first: cut it up to this member's key.
			to, found = ks, false
		}
		if keyIs(b[ks:ke], key) {
			ok = true
			if prevEnd >= 0 {
				from, to = prevEnd, ve
			} else {
				from, to, found = ks, ve, true
			}
		}
		prevEnd = ve
	})
	return from, to, ok && whole
}

// dataLine returns where in raw the value of its one data line starts
// and ends; ok is false unless raw has exactly one.
func dataLine(raw []byte) (at, end int, ok bool) {
	n := 0
	for off := 0; off < len(raw); {
		eol := off
		for eol < len(raw) && raw[eol] != '\n' && raw[eol] != '\r' {
			eol++
		}
		if line := raw[off:eol]; len(line) > 0 {
			if name, value := splitField(line); string(name) == "data" {
				n++
				at, end = eol-len(value), eol
			}
		}
		// Step over the line ending.
		switch {
		case eol < len(raw) && raw[eol] == '\r' && eol+1 < len(raw) && raw[eol+1] == '\n':
			off = eol + 2
		case eol < len(raw):
			off = eol + 1
		default:
			off = eol
		}
	}
	return at, end, n == 1
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings and numbers go in: Marshal cannot fail.
		panic("gateway: marshal cut event: " + err.Error())
	}
	return b
}

// member is one member of a JSON object, by byte offsets into the
// document: its key's opening quote, and its value.
type member struct {
	key              []byte // decoded
	keyStart         int
	valStart, valEnd int
}

// objectMembers lists the top-level members of the JSON object in b, and
// the offsets of its opening and closing braces. It checks the structure
// it walks, not every value: pass it JSON already known to be valid.
func objectMembers(b []byte) (ms []member, open, close int, ok bool) {
	open, close, ok = eachMember(b, func(ks, ke, vs, ve int) {
		ms = append(ms, member{key: rawText(b[ks:ke]), keyStart: ks, valStart: vs, valEnd: ve})
	})
	if !ok {
		return nil, 0, 0, false
	}
	return ms, open, close, true
}

// eachMember calls fn with the offsets of each top-level member of the
// JSON object in b: where its key starts and ends (quotes included) and
// where its value does. It checks keys as encoding/json reads them, but
// steps over values only as far as finding their ends. It returns the
// offsets of the object's braces; ok is false when b is no object, fn
// having been called for the members before the fault.
func eachMember(b []byte, fn func(ks, ke, vs, ve int)) (open, close int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	open = i
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return open, i, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return 0, 0, false
		}
		ke, err := stringEnd(b, i)
		if err != nil {
			return 0, 0, false
		}
		j := skipSpace(b, ke)
		if j >= len(b) || b[j] != ':' {
			return 0, 0, false
		}
		vs := skipSpace(b, j+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return 0, 0, false
		}
		fn(i, ke, vs, ve)
		i = skipSpace(b, ve)
		if i >= len(b) {
			return 0, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return open, i, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// lastMember returns the index of the last member named key (JSON
// parsers keep the last of duplicates), or -1.
func lastMember(ms []member, key string) int {
	for i := len(ms) - 1; i >= 0; i-- {
		if string(ms[i].key) == key {
			return i
		}
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at b[i]
// (a '"'), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the offset just past the value starting at b[i], or
// -1 when it does not end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
