package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/gateway"
)

// encodeRecord is r as the log keeps it: exactly the bytes json.Marshal
// makes of it. Every settlement encodes one, and json.Marshal spent most
// of its time there on reflection and on a fresh buffer for every amount;
// appendRecord writes the fields directly. It is used only while
// gateway.Record has the fields it was written for (recordShape): a
// record with other fields is encoded by json.Marshal, which knows them.
func encodeRecord(r gateway.Record) ([]byte, error) {
	if !recordFast || r.Time.Year() < 0 || r.Time.Year() > 9999 {
		return json.Marshal(r)
	}
	size := 512
	if r.Rates != nil {
		size = 1536
	}
	return appendRecord(make([]byte, 0, size+len(r.RequestBody)+len(r.ResponseBody)), &r)
}

// encodeHold is h as the journal and the holds bucket keep it, as
// json.Marshal makes it.
func encodeHold(h gateway.Hold) ([]byte, error) {
	if !holdFast || h.Time.Year() < 0 || h.Time.Year() > 9999 {
		return json.Marshal(h)
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"ID":`...)
	b = appendJSONString(b, h.ID)
	b = append(b, `,"Time":"`...)
	b = h.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","Token":`...)
	b = appendJSONString(b, h.Token)
	b = append(b, `,"Provider":`...)
	b = appendJSONString(b, h.Provider)
	b = append(b, `,"Model":`...)
	b = appendJSONString(b, h.Model)
	b = append(b, `,"Route":`...)
	b = appendJSONString(b, h.Route)
	if h.Prompt != "" {
		b = append(b, `,"Prompt":`...)
		b = appendJSONString(b, h.Prompt)
	}
	b = append(b, `,"Stream":`...)
	b = strconv.AppendBool(b, h.Stream)
	b = append(b, `,"Amount":`...)
	b = appendMoney(b, h.Amount)
	b = append(b, `,"Estimated":`...)
	b = strconv.AppendBool(b, h.Estimated)
	return append(b, '}'), nil
}

// recordShape and holdShape are the fields appendRecord and encodeHold
// write, as shape describes a struct. When gateway's types change, the
// fast encoders step aside until they are brought up to date (and
// TestEncodersKnowTheShapes says so).
const (
	recordShape = "ID string id|Time time.Time time|Token string token|Provider string provider|Model string model|" +
		"Route string route|Prompt string prompt,omitempty|Stream bool stream|Status int status|Outcome gateway.Outcome outcome|" +
		"Usage gateway.Usage {InputTokens int64 input_tokens|OutputTokens int64 output_tokens|" +
		"CachedInputTokens int64 cached_input_tokens|CacheWriteTokens int64 cache_write_tokens|" +
		"CacheWrite1hTokens int64 cache_write_1h_tokens,omitempty|ReasoningTokens int64 reasoning_tokens|" +
		"InputAudioTokens int64 input_audio_tokens,omitempty|InputImageTokens int64 input_image_tokens,omitempty|" +
		"InputVideoTokens int64 input_video_tokens,omitempty|CachedAudioTokens int64 cached_audio_tokens,omitempty|" +
		"OutputAudioTokens int64 output_audio_tokens,omitempty|OutputImageTokens int64 output_image_tokens,omitempty|" +
		"OutputVideoTokens int64 output_video_tokens,omitempty|WebSearchCalls int64 web_search_calls,omitempty|" +
		"WebFetchCalls int64 web_fetch_calls,omitempty|CodeExecutionCalls int64 code_execution_calls,omitempty|" +
		"ServiceTier string service_tier,omitempty|InferenceGeo string inference_geo,omitempty|Speed string speed,omitempty}|" +
		"Cost gateway.Money cost_usd|Priced bool priced|Estimated bool estimated,omitempty|Unpriced []string unpriced,omitempty|" +
		"LatencyMS int64 latency_ms|TTFBMS int64 ttfb_ms|UpstreamID string upstream_request_id,omitempty|Held gateway.Money held_usd|" +
		"Error string error,omitempty|Reason string reason,omitempty|Budget string budget,omitempty|" +
		"Remaining *gateway.Money remaining_usd,omitempty|PriceRef string price,omitempty|Rates *gateway.Price rates,omitempty|" +
		"Alias string alias,omitempty|Routed string routed,omitempty|RouteNote string route_note,omitempty|" +
		"Attempt int attempt,omitempty|After string after,omitempty|RequestBody string request_body,omitempty|" +
		"ResponseBody string response_body,omitempty"
	holdShape = "ID string |Time time.Time |Token string |Provider string |Model string |Route string |" +
		"Prompt string ,omitempty|Stream bool |Amount gateway.Money |Estimated bool "
)

var (
	recordFast = shape(reflect.TypeFor[gateway.Record]()) == recordShape
	holdFast   = shape(reflect.TypeFor[gateway.Hold]()) == holdShape
)

// shape describes struct type t: each field's name, type and JSON tag,
// an embedded struct's fields in braces after it.
func shape(t reflect.Type) string {
	var parts []string
	for i := range t.NumField() {
		f := t.Field(i)
		p := f.Name + " " + f.Type.String() + " " + f.Tag.Get("json")
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			p = f.Name + " " + f.Type.String() + " {" + shape(f.Type) + "}"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "|")
}

// appendRecord appends r as json.Marshal encodes it.
func appendRecord(b []byte, r *gateway.Record) ([]byte, error) {
	str := func(name, s string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendJSONString(b, s)
	}
	optStr := func(name, s string) {
		if s != "" {
			str(name, s)
		}
	}
	num := func(name string, n int64) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, n, 10)
	}
	optNum := func(name string, n int64) {
		if n != 0 {
			num(name, n)
		}
	}
	flag := func(name string, v bool) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = strconv.AppendBool(b, v)
	}
	money := func(name string, m gateway.Money) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendMoney(b, m)
	}

	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	str("token", r.Token)
	str("provider", r.Provider)
	str("model", r.Model)
	str("route", r.Route)
	optStr("prompt", r.Prompt)
	flag("stream", r.Stream)
	num("status", int64(r.Status))
	str("outcome", string(r.Outcome))
	u := &r.Usage
	num("input_tokens", u.InputTokens)
	num("output_tokens", u.OutputTokens)
	num("cached_input_tokens", u.CachedInputTokens)
	num("cache_write_tokens", u.CacheWriteTokens)
	optNum("cache_write_1h_tokens", u.CacheWrite1hTokens)
	num("reasoning_tokens", u.ReasoningTokens)
	optNum("input_audio_tokens", u.InputAudioTokens)
	optNum("input_image_tokens", u.InputImageTokens)
	optNum("input_video_tokens", u.InputVideoTokens)
	optNum("cached_audio_tokens", u.CachedAudioTokens)
	optNum("output_audio_tokens", u.OutputAudioTokens)
	optNum("output_image_tokens", u.OutputImageTokens)
	optNum("output_video_tokens", u.OutputVideoTokens)
	optNum("web_search_calls", u.WebSearchCalls)
	optNum("web_fetch_calls", u.WebFetchCalls)
	optNum("code_execution_calls", u.CodeExecutionCalls)
	optStr("service_tier", u.ServiceTier)
	optStr("inference_geo", u.InferenceGeo)
	optStr("speed", u.Speed)
	money("cost_usd", r.Cost)
	flag("priced", r.Priced)
	if r.Estimated {
		flag("estimated", true)
	}
	if len(r.Unpriced) > 0 {
		b = append(b, `,"unpriced":[`...)
		for i, s := range r.Unpriced {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	num("latency_ms", r.LatencyMS)
	num("ttfb_ms", r.TTFBMS)
	optStr("upstream_request_id", r.UpstreamID)
	money("held_usd", r.Held)
	optStr("error", r.Error)
	optStr("reason", r.Reason)
	optStr("budget", r.Budget)
	if r.Remaining != nil {
		money("remaining_usd", *r.Remaining)
	}
	optStr("price", r.PriceRef)
	if r.Rates != nil {
		// A price row's shape is the price table's business: the
		// standard encoder, which knows it, writes it.
		rates, err := json.Marshal(r.Rates)
		if err != nil {
			return nil, fmt.Errorf("encode record %s: %w", r.ID, err)
		}
		b = append(b, `,"rates":`...)
		b = append(b, rates...)
	}
	optStr("alias", r.Alias)
	optStr("routed", r.Routed)
	optStr("route_note", r.RouteNote)
	optNum("attempt", int64(r.Attempt))
	optStr("after", r.After)
	optStr("request_body", r.RequestBody)
	optStr("response_body", r.ResponseBody)
	return append(b, '}'), nil
}

// appendMoney appends m as its JSON string.
func appendMoney(b []byte, m gateway.Money) []byte {
	b = append(b, '"')
	b, _ = m.AppendText(b)
	return append(b, '"')
}

// appendJSONString appends s as encoding/json writes a string: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
