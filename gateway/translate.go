package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Translation between wire formats.
//
// A caller may speak one API (OpenAI Chat Completions or Responses,
// Anthropic Messages, Gemini generateContent) and name a model whose
// provider speaks another. The request is decoded from the caller's format
// into the common form below (xRequest), encoded in the provider's, and
// the answer comes back the same way: a body through xResponse, a stream
// event by event through xEvent, an error through xError. Each format
// lives in its own file (openai_translate.go, anthropic_translate.go,
// gemini_translate.go) as a callerFormat, which decodes requests and
// writes answers, and, where Sluice calls that format upstream, a
// targetFormat, which writes requests and decodes answers.
//
// What one format can say and another cannot is dropped only where the
// answer cannot change because of it (a sampling seed, a safety setting, a
// cache breakpoint for a provider that caches on its own); anything else
// is refused before a byte goes upstream with a 400 naming the field
// (*translateError).
//
// Metering never goes through this form: usage is read from the
// provider's own bytes by its own dialect, as for any other request.

// partKind is what a content part is.
type partKind uint8

const (
	partText partKind = iota + 1
	partImage
	partToolCall
	partToolResult
	partThinking
)

// xPart is one piece of a message's content.
type xPart struct {
	Kind partKind
	// Text is the text of a text or thinking part.
	Text string
	// An image is Data (base64) of MediaType, or a URL.
	MediaType, Data, URL string
	// CallID ties a tool call to its result; Name is the tool's.
	CallID, Name string
	// Args are a tool call's arguments, a JSON object.
	Args json.RawMessage
	// Result is a tool result's content: text and image parts.
	Result  []xPart
	IsError bool
	// Signature is an Anthropic thinking block's signature: only a block
	// that has one can be sent back to Anthropic.
	Signature string
	// Cache is an Anthropic cache_control, kept for Anthropic.
	Cache json.RawMessage
}

// Roles of xMessage. Tool results travel in user messages, as Anthropic
// and Gemini send them. A system message in the conversation (Claude Code
// sends them between turns) stays where it is for a format that has them
// (Chat Completions) and joins the system prompt for one that does not.
const (
	roleUser      = "user"
	roleAssistant = "assistant"
	roleSystem    = "system"
)

type xMessage struct {
	Role  string
	Parts []xPart
}

type xTool struct {
	Name, Description string
	// Schema is the parameters' JSON Schema; nil for none.
	Schema json.RawMessage
	Cache  json.RawMessage
}

// Tool choice modes.
const (
	choiceAuto = "auto"
	choiceNone = "none"
	choiceAny  = "any"  // some tool must be called
	choiceTool = "tool" // the tool named Name must be called
)

type xToolChoice struct {
	Mode       string // "" when the caller said nothing
	Name       string
	NoParallel bool // at most one tool call per turn
}

// xRequest is a request for a model's answer, in no format in particular.
type xRequest struct {
	Model      string
	System     []xPart // text parts
	Messages   []xMessage
	Tools      []xTool
	ToolChoice xToolChoice
	// MaxTokens is the output limit; 0 when the caller set none.
	MaxTokens   int64
	Temperature *float64
	TopP        *float64
	TopK        *int64
	Stop        []string
	Stream      bool
	// IncludeUsage: an OpenAI Chat caller asked for usage in its stream.
	IncludeUsage bool
	// JSON output: JSONSchema for a schema, JSONMode for any object.
	JSONSchema json.RawMessage
	SchemaName string
	JSONMode   bool
	// SchemaField names the field that asked for JSON, as the caller
	// spelled it, for a refusal.
	SchemaField string
	// Reasoning is an effort ("minimal", "low", "medium", "high");
	// ThinkingBudget a number of tokens. Zero values: not asked.
	Reasoning      string
	ThinkingBudget int64
}

// Stop reasons.
const (
	stopEnd      = "end"
	stopMax      = "max_tokens"
	stopTool     = "tool_use"
	stopSequence = "stop_sequence"
	stopFilter   = "content_filter"
)

// xUsage counts tokens the Anthropic way: Input is input neither read
// from nor written to a cache; Output includes Reasoning.
type xUsage struct {
	Input, CacheRead, CacheWrite, Output, Reasoning int64
}

// promptTokens is every input token, as OpenAI and Gemini count them.
func (u xUsage) promptTokens() int64 { return u.Input + u.CacheRead + u.CacheWrite }

// xResponse is a model's whole answer.
type xResponse struct {
	ID, Model    string
	Parts        []xPart // text, thinking and tool calls
	Stop         string
	StopSequence string
	Usage        xUsage
}

// eventKind is what a stream event says.
type eventKind uint8

const (
	evStart     eventKind = iota + 1 // the answer begins: ID, Model, Usage so far
	evText                           // Text appended to block Index
	evThinking                       // Text (or Signature) appended to thinking block Index
	evToolStart                      // block Index is a call of tool Name, CallID
	evToolArgs                       // Text appended to block Index's arguments
	evFinish                         // the answer ends: Stop, Usage
	evError                          // the stream failed: Err
)

// xEvent is one step of a streamed answer. Blocks are numbered from 0 in
// the order they start; a block ends when another starts or the answer
// finishes.
type xEvent struct {
	Kind      eventKind
	Index     int
	Text      string
	Signature string
	ID, Name  string // evStart: answer id and model; evToolStart: call id and tool
	Stop      string
	StopSeq   string
	Usage     xUsage
	Err       *xError
}

// xError is an error answer from a provider, or a stream's error event.
type xError struct {
	Status  int
	Kind    errKind
	Message string
}

// Kinds of provider errors, as OpenAI names them.
const (
	kindProviderRateLimit errKind = "rate_limit_error"
	kindProviderError     errKind = "server_error"
	kindProviderBilling   errKind = "insufficient_quota"
)

// translateError is a request that cannot be said in the provider's
// format. It is answered 400, naming the field.
type translateError struct {
	Field string // as the caller spelled it: "messages[2].content[0].type"
	Msg   string
}

func (e *translateError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func refuseField(field, format string, args ...any) *translateError {
	return &translateError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// notA is the refusal of a body that is not a request of the API named
// (err from encoding/json): a member of the wrong type is named, in the
// caller's words rather than Go's.
func notA(api string, err error) *translateError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := "a JSON " + te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64, reflect.Float32:
			want = "a number"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Slice, reflect.Array:
			want = "a list"
		case reflect.Map, reflect.Struct, reflect.Pointer:
			want = "an object"
		}
		return refuseField(te.Field, "must be %s, not %s", want, te.Value)
	}
	return refuseField("", "the body is not %s request: %v", api, err)
}

// A callerFormat reads requests in its API and writes answers in it.
type callerFormat interface {
	// decodeRequest reads a request body. It returns a *translateError
	// for what it cannot carry.
	decodeRequest(body []byte) (*xRequest, error)
	encodeResponse(req *xRequest, r *xResponse) []byte
	newStreamEncoder(req *xRequest) streamEncoder
	// dialect is the caller's dialect, in whose words Sluice answers.
	dialect() dialect
}

// A targetFormat writes requests in its API and reads its answers.
type targetFormat interface {
	// encodeRequest writes req for the provider. It returns a
	// *translateError for what the format cannot carry.
	encodeRequest(req *xRequest) ([]byte, error)
	decodeResponse(body []byte) (*xResponse, error)
	newStreamDecoder() streamDecoder
	decodeError(status int, body []byte) xError
}

// A streamDecoder turns a provider's stream events into xEvents. It is
// not safe for concurrent use.
type streamDecoder interface {
	// decode appends the events ev carries to out.
	decode(ev streamEvent, out []xEvent) []xEvent
	// end appends what the end of the stream implies: a finish held back
	// until its usage came.
	end(out []xEvent) []xEvent
}

// A streamEncoder writes xEvents as a caller's stream events. It is not
// safe for concurrent use.
type streamEncoder interface {
	// encode appends e's bytes on the wire to out.
	encode(e *xEvent, out []byte) []byte
	// finished reports whether the answer's last event has been written.
	finished() bool
}

// streamTranslator turns a provider's stream into a caller's, one event
// at a time: what an event says is written as soon as it comes.
type streamTranslator struct {
	dec streamDecoder
	enc streamEncoder
	evs []xEvent
}

func newStreamTranslator(from targetFormat, to callerFormat, req *xRequest) *streamTranslator {
	return &streamTranslator{dec: from.newStreamDecoder(), enc: to.newStreamEncoder(req)}
}

// contentType is the media type of the caller's stream.
func (t *streamTranslator) contentType() string {
	if c, ok := t.enc.(interface{ contentType() string }); ok {
		return c.contentType()
	}
	return "text/event-stream; charset=utf-8"
}

// translate appends the caller's bytes for the provider's event ev to out.
func (t *streamTranslator) translate(ev streamEvent, out []byte) []byte {
	t.evs = t.dec.decode(ev, t.evs[:0])
	return t.encodeAll(out)
}

// end appends the caller's bytes for the end of the provider's stream.
func (t *streamTranslator) end(out []byte) []byte {
	t.evs = t.dec.end(t.evs[:0])
	return t.encodeAll(out)
}

// fail appends a stream error event in the caller's format, unless the
// answer has finished.
func (t *streamTranslator) fail(e xError, out []byte) []byte {
	if t.enc.finished() {
		return out
	}
	return t.enc.encode(&xEvent{Kind: evError, Err: &e}, out)
}

func (t *streamTranslator) encodeAll(out []byte) []byte {
	for i := range t.evs {
		if t.enc.finished() {
			break
		}
		out = t.enc.encode(&t.evs[i], out)
	}
	return out
}

// translateBody turns a provider's whole answer into the caller's.
func translateBody(from targetFormat, to callerFormat, req *xRequest, body []byte) ([]byte, error) {
	r, err := from.decodeResponse(body)
	if err != nil {
		return nil, err
	}
	return to.encodeResponse(req, r), nil
}

// translateError turns a provider's error answer into the caller's:
// status and body.
func translateErrorBody(from targetFormat, to callerFormat, status int, body []byte) (int, []byte) {
	e := from.decodeError(status, body)
	return e.Status, to.dialect().errorBody(e.Status, e.Kind, e.Message)
}

// errorFromStatus fills in what a provider's error body did not say.
func errorFromStatus(provider string, status int, kind errKind, msg string) xError {
	if kind == "" {
		kind = kindForStatus(status)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if status == 529 {
		// Anthropic's "overloaded": only its own SDKs know the code.
		status = http.StatusServiceUnavailable
	}
	return xError{Status: status, Kind: kind, Message: provider + ": " + msg}
}

func kindForStatus(status int) errKind {
	switch {
	case status == http.StatusUnauthorized:
		return kindAuth
	case status == http.StatusForbidden:
		return kindPermission
	case status == http.StatusNotFound:
		return kindNotFound
	case status == http.StatusRequestEntityTooLarge:
		return kindTooLarge
	case status == http.StatusTooManyRequests:
		return kindProviderRateLimit
	case status >= 500:
		return kindProviderError
	}
	return kindInvalid
}

// mergeTurns joins consecutive messages of the same role, as Anthropic
// and Gemini want them alternating, and puts a user message's tool
// results before its other parts.
func mergeTurns(ms []xMessage) []xMessage {
	var out []xMessage
	for _, m := range ms {
		if len(m.Parts) == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Role == m.Role {
			out[n-1].Parts = append(out[n-1].Parts, m.Parts...)
			continue
		}
		out = append(out, xMessage{Role: m.Role, Parts: append([]xPart(nil), m.Parts...)})
	}
	for i := range out {
		if out[i].Role != roleUser {
			continue
		}
		ps := out[i].Parts
		var results, rest []xPart
		for _, p := range ps {
			if p.Kind == partToolResult {
				results = append(results, p)
			} else {
				rest = append(rest, p)
			}
		}
		if len(results) > 0 && len(rest) > 0 {
			out[i].Parts = append(results, rest...)
		}
	}
	return out
}

// parseDataURL splits "data:image/png;base64,AAAA" into its media type
// and base64 data.
func parseDataURL(u string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	mediaType, enc, _ := strings.Cut(meta, ";")
	if enc != "base64" {
		return "", "", false
	}
	return mediaType, data, true
}

// systemParts is the system prompt and the text of the conversation's
// system messages, for a format that has only a system prompt; turns are
// the other messages.
func systemParts(req *xRequest) (system []xPart, turns []xMessage) {
	system = req.System
	for _, m := range req.Messages {
		if m.Role == roleSystem {
			system = append(append([]xPart(nil), system...), m.Parts...)
			continue
		}
		turns = append(turns, m)
	}
	return system, turns
}

// joinText joins the text of text parts.
func joinText(ps []xPart) string {
	if len(ps) == 1 && ps[0].Kind == partText {
		return ps[0].Text
	}
	var b strings.Builder
	for _, p := range ps {
		if p.Kind == partText {
			if b.Len() > 0 && len(ps) > 1 {
				b.WriteString("\n")
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// argsObject returns a tool call's arguments as a JSON object: "{}" for
// none. A caller's arguments that are no JSON object are refused.
func argsObject(field, s string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(s)) || s[0] != '{' {
		return nil, refuseField(field, "tool call arguments must be a JSON object to be sent to another provider")
	}
	return json.RawMessage(s), nil
}

// rawOr returns r, or def when r is empty.
func rawOr(r json.RawMessage, def string) json.RawMessage {
	if len(bytes.TrimSpace(r)) == 0 {
		return json.RawMessage(def)
	}
	return r
}

// effortBudget is the thinking budget an effort asks of a provider that
// counts thinking in tokens.
func effortBudget(effort string) int64 {
	switch effort {
	case "minimal", "none":
		return 0
	case "low":
		return 1024
	case "high":
		return 16384
	}
	return 4096
}

// budgetEffort is the effort nearest a thinking budget.
func budgetEffort(budget int64) string {
	switch {
	case budget <= 0:
		return ""
	case budget < 2048:
		return "low"
	case budget < 12288:
		return "medium"
	}
	return "high"
}

// appendJSONString appends s as a JSON string. Stream encoders use it to
// write the text of each event without reflection.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c < 0x80 {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigit = "0123456789abcdef"

// appendInt appends n in decimal.
func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// marshal is json.Marshal for values that cannot fail to marshal (no
// channels, funcs or invalid raw JSON), without HTML escaping.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("gateway: marshal translated message: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// sseEvent appends a server-sent event with an optional name.
func sseEvent(out []byte, name string, data []byte) []byte {
	if name != "" {
		out = append(out, "event: "...)
		out = append(out, name...)
		out = append(out, '\n')
	}
	out = append(out, "data: "...)
	out = append(out, data...)
	return append(out, '\n', '\n')
}

// jsonMember returns the value of the top-level member key of the JSON
// object b, as raw bytes, without decoding the rest: stream decoders read
// the events that carry only a text delta (most of a stream) with it,
// rather than with encoding/json. Of duplicate members the last counts,
// as for encoding/json. A key spelled with escapes is not found.
func jsonMember(b []byte, key string) ([]byte, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	var val []byte
	found := false
	for i < len(b) && b[i] == '"' {
		ke := skipString(b, i)
		if ke < 0 {
			return nil, false
		}
		j := skipSpace(b, ke)
		if j >= len(b) || b[j] != ':' {
			return nil, false
		}
		vs := skipSpace(b, j+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return nil, false
		}
		if string(b[i+1:ke-1]) == key {
			val, found = b[vs:ve], true
		}
		i = skipSpace(b, ve)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i = skipSpace(b, i+1)
	}
	return val, found
}

// jsonStringValue decodes a raw JSON string value.
func jsonStringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		s := raw[1 : len(raw)-1]
		if utf8.Valid(s) {
			return string(s), true
		}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// isNull reports whether a raw member is absent or null.
func isNull(raw []byte, found bool) bool { return !found || string(raw) == "null" }
