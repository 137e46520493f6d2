package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// A settled record is encoded once per request, for its journal entry and
// the log (which keep the same bytes). encoding/json walks gateway.Record
// and its price row by reflection and allocates a buffer per amount
// (Money.MarshalText); appendRecord writes the fields directly, byte for
// byte what json.Marshal writes, the price row and its lists of rates
// (tiers, service tiers, regions, dated and time-of-day rates) included.
//
// The encoder knows the shapes of the types it writes (each field's name,
// JSON tag and type, in order: recordShape, priceShape, rateShapes).
// When any of them changes, every record goes through json.Marshal
// instead (nothing is lost, only the speed), and TestRecordEncoderKnowsShapes
// fails until the encoder and the shapes are brought up to date.

// recordShape is gateway.Record as appendRecord writes it.
var recordShape = []string{
	`ID "id" string`,
	`Time "time" time.Time`,
	`Token "token" string`,
	`Provider "provider" string`,
	`Model "model" string`,
	`Route "route" string`,
	`Prompt "prompt,omitempty" string`,
	`Stream "stream" bool`,
	`Status "status" int`,
	`Outcome "outcome" gateway.Outcome`,
	`InputTokens "input_tokens" int64`,
	`OutputTokens "output_tokens" int64`,
	`CachedInputTokens "cached_input_tokens" int64`,
	`CacheWriteTokens "cache_write_tokens" int64`,
	`CacheWrite1hTokens "cache_write_1h_tokens,omitempty" int64`,
	`ReasoningTokens "reasoning_tokens" int64`,
	`InputAudioTokens "input_audio_tokens,omitempty" int64`,
	`InputImageTokens "input_image_tokens,omitempty" int64`,
	`InputVideoTokens "input_video_tokens,omitempty" int64`,
	`CachedAudioTokens "cached_audio_tokens,omitempty" int64`,
	`OutputAudioTokens "output_audio_tokens,omitempty" int64`,
	`OutputImageTokens "output_image_tokens,omitempty" int64`,
	`OutputVideoTokens "output_video_tokens,omitempty" int64`,
	`WebSearchCalls "web_search_calls,omitempty" int64`,
	`WebFetchCalls "web_fetch_calls,omitempty" int64`,
	`CodeExecutionCalls "code_execution_calls,omitempty" int64`,
	`ServiceTier "service_tier,omitempty" string`,
	`InferenceGeo "inference_geo,omitempty" string`,
	`Speed "speed,omitempty" string`,
	`Cost "cost_usd" gateway.Money`,
	`Priced "priced" bool`,
	`Estimated "estimated,omitempty" bool`,
	`Unpriced "unpriced,omitempty" []string`,
	`LatencyMS "latency_ms" int64`,
	`TTFBMS "ttfb_ms" int64`,
	`UpstreamID "upstream_request_id,omitempty" string`,
	`Held "held_usd" gateway.Money`,
	`Error "error,omitempty" string`,
	`Reason "reason,omitempty" string`,
	`Budget "budget,omitempty" string`,
	`Remaining "remaining_usd,omitempty" *gateway.Money`,
	`PriceRef "price,omitempty" string`,
	`Rates "rates,omitempty" *gateway.Price`,
	`Alias "alias,omitempty" string`,
	`Routed "routed,omitempty" string`,
	`RouteNote "route_note,omitempty" string`,
	`Attempt "attempt,omitempty" int`,
	`After "after,omitempty" string`,
	`CallerRoute "caller_route,omitempty" string`,
	`AskedModel "asked_model,omitempty" string`,
	`RequestBody "request_body,omitempty" string`,
	`ResponseBody "response_body,omitempty" string`,
}

// priceShape is gateway.Price as appendPrice writes it.
var priceShape = []string{
	`Provider "provider" string`,
	`Model "model" string`,
	`Match "match,omitempty" []string`,
	`Input "input" gateway.Money`,
	`Output "output" gateway.Money`,
	`CachedInput "cached_input,omitempty" gateway.Money`,
	`CacheWrite "cache_write,omitempty" gateway.Money`,
	`CacheWrite1h "cache_write_1h,omitempty" gateway.Money`,
	`InputAudio "input_audio,omitempty" gateway.Money`,
	`CachedInputAudio "cached_input_audio,omitempty" gateway.Money`,
	`InputImage "input_image,omitempty" gateway.Money`,
	`InputVideo "input_video,omitempty" gateway.Money`,
	`OutputAudio "output_audio,omitempty" gateway.Money`,
	`OutputImage "output_image,omitempty" gateway.Money`,
	`OutputVideo "output_video,omitempty" gateway.Money`,
	`Reasoning "reasoning,omitempty" gateway.Money`,
	`Tiers "tiers,omitempty" []gateway.Tier`,
	`WebSearch "web_search,omitempty" gateway.Money`,
	`WebSearchPerRequest "web_search_per_request,omitempty" bool`,
	`ServiceTiers "service_tiers,omitempty" []gateway.ServiceTier`,
	`Regions "regions,omitempty" []gateway.Region`,
	`Earlier "earlier,omitempty" []gateway.DatedRates`,
	`Windows "windows,omitempty" []gateway.WindowRates`,
	`Applied "applied,omitempty" string`,
	`ContextWindow "context_window,omitempty" int64`,
	`MaxOutput "max_output,omitempty" int64`,
	`Source "source" string`,
	`Updated "updated" string`,
}

// ratesShape is gateway.Rates as appendRates writes it; gateway.Price
// has the same fields from Input to Tiers.
var ratesShape = []string{
	`Input "input" gateway.Money`,
	`Output "output" gateway.Money`,
	`CachedInput "cached_input,omitempty" gateway.Money`,
	`CacheWrite "cache_write,omitempty" gateway.Money`,
	`CacheWrite1h "cache_write_1h,omitempty" gateway.Money`,
	`InputAudio "input_audio,omitempty" gateway.Money`,
	`CachedInputAudio "cached_input_audio,omitempty" gateway.Money`,
	`InputImage "input_image,omitempty" gateway.Money`,
	`InputVideo "input_video,omitempty" gateway.Money`,
	`OutputAudio "output_audio,omitempty" gateway.Money`,
	`OutputImage "output_image,omitempty" gateway.Money`,
	`OutputVideo "output_video,omitempty" gateway.Money`,
	`Reasoning "reasoning,omitempty" gateway.Money`,
	`Tiers "tiers,omitempty" []gateway.Tier`,
}

// rateShapes are the price row's lists' element types as the encoder
// writes them.
var rateShapes = map[reflect.Type][]string{
	reflect.TypeFor[gateway.Rates](): ratesShape,
	reflect.TypeFor[gateway.Tier](): {
		`AboveInputTokens "above_input_tokens" int64`,
		`Input "input,omitempty" gateway.Money`,
		`Output "output,omitempty" gateway.Money`,
		`CachedInput "cached_input,omitempty" gateway.Money`,
		`CacheWrite "cache_write,omitempty" gateway.Money`,
		`CacheWrite1h "cache_write_1h,omitempty" gateway.Money`,
		`InputAudio "input_audio,omitempty" gateway.Money`,
		`CachedInputAudio "cached_input_audio,omitempty" gateway.Money`,
	},
	reflect.TypeFor[gateway.ServiceTier](): append([]string{`Name "name" string`}, ratesShape...),
	reflect.TypeFor[gateway.Region](): {
		`Name "name" string`,
		`Multiplier "multiplier" string`,
	},
	reflect.TypeFor[gateway.DatedRates]():  append([]string{`Until "until" string`}, ratesShape...),
	reflect.TypeFor[gateway.WindowRates](): append([]string{`From "from" string`, `To "to" string`, `Name "name,omitempty" string`}, ratesShape...),
}

// shapeOf lists t's fields as `Name "json tag" type`, in order, with the
// fields of an untagged embedded struct in its place.
func shapeOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, shapeOf(f.Type)...)
			continue
		}
		out = append(out, fmt.Sprintf("%s %q %s", f.Name, tag, f.Type))
	}
	return out
}

// recordShapesKnown reports whether gateway.Record and gateway.Price are
// the shapes appendRecord was written for.
var recordShapesKnown = sync.OnceValue(func() bool {
	if !slices.Equal(shapeOf(reflect.TypeFor[gateway.Record]()), recordShape) ||
		!slices.Equal(shapeOf(reflect.TypeFor[gateway.Price]()), priceShape) {
		return false
	}
	for t, shape := range rateShapes {
		if !slices.Equal(shapeOf(t), shape) {
			return false
		}
	}
	return true
})

// encodeRecord is r as the log keeps it: what json.Marshal writes.
func encodeRecord(r gateway.Record) ([]byte, error) {
	return appendRecordJSON(make([]byte, 0, recordSizeHint(&r)), &r, nil)
}

// encodeRecordEntry is r as a journal entry: recordEntry, then r as the
// log keeps it (JSON), which it returns too, sharing the entry's bytes.
// prices, if not nil, gives the JSON of a price row written before.
func encodeRecordEntry(r *gateway.Record, prices *priceJSONs) (entry, data []byte, err error) {
	return appendRecordEntry(nil, r, prices)
}

// appendRecordEntry is encodeRecordEntry writing into b's array, if it
// has room for about the whole entry.
func appendRecordEntry(b []byte, r *gateway.Record, prices *priceJSONs) (entry, data []byte, err error) {
	if n := 1 + recordSizeHint(r); cap(b) < n {
		b = make([]byte, 0, n)
	}
	b = append(b[:0], recordEntry)
	if entry, err = appendRecordJSON(b, r, prices); err != nil {
		return nil, nil, err
	}
	return entry, entry[1:], nil
}

// recordSizeHint is about the length of r's JSON, so that it is written
// into one buffer that does not grow.
func recordSizeHint(r *gateway.Record) int {
	n := 640 + len(r.Error) + len(r.RequestBody) + len(r.ResponseBody) + len(r.RouteNote)
	if p := r.Rates; p != nil {
		n += 320 + 64*len(p.Match) + 192*(len(p.Tiers)+len(p.ServiceTiers)+len(p.Regions)+len(p.Earlier)+len(p.Windows))
	}
	for _, s := range r.Unpriced {
		n += len(s) + 3
	}
	return n
}

// appendRecordJSON appends r as json.Marshal writes it, taking its price
// row's JSON from prices where it can (prices may be nil).
func appendRecordJSON(b []byte, r *gateway.Record, prices *priceJSONs) ([]byte, error) {
	if !recordShapesKnown() || !plainTime(r.Time) {
		data, err := json.Marshal(*r) // a copy: r itself does not escape
		return append(b, data...), err
	}
	return appendRecord(b, r, prices), nil
}

func appendRecord(b []byte, r *gateway.Record, prices *priceJSONs) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","token":`...)
	b = appendJSONString(b, r.Token)
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, r.Provider)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, r.Model)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, r.Route)
	b = appendOmitString(b, `,"prompt":`, r.Prompt)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, r.Stream)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, string(r.Outcome))

	u := &r.Usage
	b = append(b, `,"input_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, u.OutputTokens, 10)
	b = append(b, `,"cached_input_tokens":`...)
	b = strconv.AppendInt(b, u.CachedInputTokens, 10)
	b = append(b, `,"cache_write_tokens":`...)
	b = strconv.AppendInt(b, u.CacheWriteTokens, 10)
	b = appendOmitInt(b, `,"cache_write_1h_tokens":`, u.CacheWrite1hTokens)
	b = append(b, `,"reasoning_tokens":`...)
	b = strconv.AppendInt(b, u.ReasoningTokens, 10)
	b = appendOmitInt(b, `,"input_audio_tokens":`, u.InputAudioTokens)
	b = appendOmitInt(b, `,"input_image_tokens":`, u.InputImageTokens)
	b = appendOmitInt(b, `,"input_video_tokens":`, u.InputVideoTokens)
	b = appendOmitInt(b, `,"cached_audio_tokens":`, u.CachedAudioTokens)
	b = appendOmitInt(b, `,"output_audio_tokens":`, u.OutputAudioTokens)
	b = appendOmitInt(b, `,"output_image_tokens":`, u.OutputImageTokens)
	b = appendOmitInt(b, `,"output_video_tokens":`, u.OutputVideoTokens)
	b = appendOmitInt(b, `,"web_search_calls":`, u.WebSearchCalls)
	b = appendOmitInt(b, `,"web_fetch_calls":`, u.WebFetchCalls)
	b = appendOmitInt(b, `,"code_execution_calls":`, u.CodeExecutionCalls)
	b = appendOmitString(b, `,"service_tier":`, u.ServiceTier)
	b = appendOmitString(b, `,"inference_geo":`, u.InferenceGeo)
	b = appendOmitString(b, `,"speed":`, u.Speed)

	b = append(b, `,"cost_usd":`...)
	b = appendMoney(b, r.Cost)
	b = append(b, `,"priced":`...)
	b = strconv.AppendBool(b, r.Priced)
	if r.Estimated {
		b = append(b, `,"estimated":true`...)
	}
	if len(r.Unpriced) > 0 {
		b = append(b, `,"unpriced":`...)
		b = appendStrings(b, r.Unpriced)
	}
	b = append(b, `,"latency_ms":`...)
	b = strconv.AppendInt(b, r.LatencyMS, 10)
	b = append(b, `,"ttfb_ms":`...)
	b = strconv.AppendInt(b, r.TTFBMS, 10)
	b = appendOmitString(b, `,"upstream_request_id":`, r.UpstreamID)
	b = append(b, `,"held_usd":`...)
	b = appendMoney(b, r.Held)
	b = appendOmitString(b, `,"error":`, r.Error)
	b = appendOmitString(b, `,"reason":`, r.Reason)
	b = appendOmitString(b, `,"budget":`, r.Budget)
	if r.Remaining != nil {
		b = append(b, `,"remaining_usd":`...)
		b = appendMoney(b, *r.Remaining)
	}
	b = appendOmitString(b, `,"price":`, r.PriceRef)
	if r.Rates != nil {
		b = append(b, `,"rates":`...)
		b = prices.append(b, r.Rates)
	}
	b = appendOmitString(b, `,"alias":`, r.Alias)
	b = appendOmitString(b, `,"routed":`, r.Routed)
	b = appendOmitString(b, `,"route_note":`, r.RouteNote)
	b = appendOmitInt(b, `,"attempt":`, int64(r.Attempt))
	b = appendOmitString(b, `,"after":`, r.After)
	b = appendOmitString(b, `,"caller_route":`, r.CallerRoute)
	b = appendOmitString(b, `,"asked_model":`, r.AskedModel)
	b = appendOmitString(b, `,"request_body":`, r.RequestBody)
	b = appendOmitString(b, `,"response_body":`, r.ResponseBody)
	return append(b, '}')
}

// priceJSONs remembers the JSON of the price rows records were written
// with. Every priced record carries its row, and nearly every request is
// priced by one of a few rows: writing the row's JSON again, with its
// lists of tiers, was some 40% of the cost of encoding a record; finding
// the row written before and comparing it costs a fraction of that.
//
// Only appendRecord uses it, so only for the shapes it knows
// (recordShapesKnown), whose every field samePrice compares. The zero
// value is ready; a priceJSONs is safe for concurrent use.
type priceJSONs struct {
	mu   sync.Mutex // guards rows
	rows map[priceKey]*priceJSON
}

// priceKey names a price row; samePrice says whether it is the same.
type priceKey struct{ provider, model, applied string }

// priceJSON is a price row and its JSON. Neither changes once made: p is
// a deep copy, which no caller holds.
type priceJSON struct {
	p    gateway.Price
	json []byte
}

// maxPriceJSONs bounds the rows remembered; past it they are forgotten
// all at once.
const maxPriceJSONs = 256

// append appends p as appendPrice does; c may be nil.
func (c *priceJSONs) append(b []byte, p *gateway.Price) []byte {
	if c == nil {
		return appendPrice(b, p)
	}
	k := priceKey{p.Provider, p.Model, p.Applied}
	c.mu.Lock()
	known := c.rows[k]
	c.mu.Unlock()
	if known != nil && samePrice(&known.p, p) {
		return append(b, known.json...)
	}
	n := len(b)
	b = appendPrice(b, p)
	known = &priceJSON{p: clonePrice(p), json: slices.Clone(b[n:])}
	c.mu.Lock()
	if c.rows == nil || len(c.rows) >= maxPriceJSONs {
		c.rows = make(map[priceKey]*priceJSON)
	}
	c.rows[k] = known
	c.mu.Unlock()
	return b
}

// samePrice reports whether a and b are written alike: every field
// equal, a nil list and an empty one alike (omitempty drops both).
func samePrice(a, b *gateway.Price) bool {
	return a.Provider == b.Provider && a.Model == b.Model && slices.Equal(a.Match, b.Match) &&
		a.Input == b.Input && a.Output == b.Output && a.CachedInput == b.CachedInput &&
		a.CacheWrite == b.CacheWrite && a.CacheWrite1h == b.CacheWrite1h &&
		a.InputAudio == b.InputAudio && a.CachedInputAudio == b.CachedInputAudio &&
		a.InputImage == b.InputImage && a.InputVideo == b.InputVideo &&
		a.OutputAudio == b.OutputAudio && a.OutputImage == b.OutputImage && a.OutputVideo == b.OutputVideo &&
		a.Reasoning == b.Reasoning && slices.Equal(a.Tiers, b.Tiers) &&
		a.WebSearch == b.WebSearch && a.WebSearchPerRequest == b.WebSearchPerRequest &&
		slices.EqualFunc(a.ServiceTiers, b.ServiceTiers, func(x, y gateway.ServiceTier) bool {
			return x.Name == y.Name && sameRates(&x.Rates, &y.Rates)
		}) &&
		slices.Equal(a.Regions, b.Regions) &&
		slices.EqualFunc(a.Earlier, b.Earlier, func(x, y gateway.DatedRates) bool {
			return x.Until == y.Until && sameRates(&x.Rates, &y.Rates)
		}) &&
		slices.EqualFunc(a.Windows, b.Windows, func(x, y gateway.WindowRates) bool {
			return x.From == y.From && x.To == y.To && x.Name == y.Name && sameRates(&x.Rates, &y.Rates)
		}) &&
		a.Applied == b.Applied && a.ContextWindow == b.ContextWindow && a.MaxOutput == b.MaxOutput &&
		a.Source == b.Source && a.Updated == b.Updated
}

// sameRates is samePrice for gateway.Rates.
func sameRates(a, b *gateway.Rates) bool {
	return a.Input == b.Input && a.Output == b.Output && a.CachedInput == b.CachedInput &&
		a.CacheWrite == b.CacheWrite && a.CacheWrite1h == b.CacheWrite1h &&
		a.InputAudio == b.InputAudio && a.CachedInputAudio == b.CachedInputAudio &&
		a.InputImage == b.InputImage && a.InputVideo == b.InputVideo &&
		a.OutputAudio == b.OutputAudio && a.OutputImage == b.OutputImage && a.OutputVideo == b.OutputVideo &&
		a.Reasoning == b.Reasoning && slices.Equal(a.Tiers, b.Tiers)
}

// clonePrice is a copy of *p that shares no list with it.
func clonePrice(p *gateway.Price) gateway.Price {
	c := *p
	c.Match = slices.Clone(p.Match)
	c.Tiers = slices.Clone(p.Tiers)
	c.ServiceTiers = slices.Clone(p.ServiceTiers)
	for i := range c.ServiceTiers {
		c.ServiceTiers[i].Tiers = slices.Clone(c.ServiceTiers[i].Tiers)
	}
	c.Regions = slices.Clone(p.Regions)
	c.Earlier = slices.Clone(p.Earlier)
	for i := range c.Earlier {
		c.Earlier[i].Tiers = slices.Clone(c.Earlier[i].Tiers)
	}
	c.Windows = slices.Clone(p.Windows)
	for i := range c.Windows {
		c.Windows[i].Tiers = slices.Clone(c.Windows[i].Tiers)
	}
	return c
}

// appendPrice appends p as json.Marshal writes it.
func appendPrice(b []byte, p *gateway.Price) []byte {
	b = append(b, `{"provider":`...)
	b = appendJSONString(b, p.Provider)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, p.Model)
	if len(p.Match) > 0 {
		b = append(b, `,"match":`...)
		b = appendStrings(b, p.Match)
	}
	// Input to Tiers are gateway.Rates' fields (ratesShape).
	b = appendRates(b, &gateway.Rates{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput, CacheWrite: p.CacheWrite,
		CacheWrite1h: p.CacheWrite1h, InputAudio: p.InputAudio, CachedInputAudio: p.CachedInputAudio,
		InputImage: p.InputImage, InputVideo: p.InputVideo, OutputAudio: p.OutputAudio, OutputImage: p.OutputImage,
		OutputVideo: p.OutputVideo, Reasoning: p.Reasoning, Tiers: p.Tiers})
	b = appendOmitMoney(b, `,"web_search":`, p.WebSearch)
	if p.WebSearchPerRequest {
		b = append(b, `,"web_search_per_request":true`...)
	}
	b = appendList(b, `,"service_tiers":[`, p.ServiceTiers, func(b []byte, st *gateway.ServiceTier) []byte {
		b = append(b, `"name":`...)
		b = appendJSONString(b, st.Name)
		return appendRates(b, &st.Rates)
	})
	b = appendList(b, `,"regions":[`, p.Regions, func(b []byte, r *gateway.Region) []byte {
		b = append(b, `"name":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, `,"multiplier":`...)
		return appendJSONString(b, r.Multiplier)
	})
	b = appendList(b, `,"earlier":[`, p.Earlier, func(b []byte, d *gateway.DatedRates) []byte {
		b = append(b, `"until":`...)
		b = appendJSONString(b, d.Until)
		return appendRates(b, &d.Rates)
	})
	b = appendList(b, `,"windows":[`, p.Windows, func(b []byte, w *gateway.WindowRates) []byte {
		b = append(b, `"from":`...)
		b = appendJSONString(b, w.From)
		b = append(b, `,"to":`...)
		b = appendJSONString(b, w.To)
		b = appendOmitString(b, `,"name":`, w.Name)
		return appendRates(b, &w.Rates)
	})
	b = appendOmitString(b, `,"applied":`, p.Applied)
	b = appendOmitInt(b, `,"context_window":`, p.ContextWindow)
	b = appendOmitInt(b, `,"max_output":`, p.MaxOutput)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, p.Source)
	b = append(b, `,"updated":`...)
	b = appendJSONString(b, p.Updated)
	return append(b, '}')
}

// appendRates appends r's fields, each after a comma, as json.Marshal
// writes them inside the object r is part of.
func appendRates(b []byte, r *gateway.Rates) []byte {
	b = append(b, `,"input":`...)
	b = appendMoney(b, r.Input)
	b = append(b, `,"output":`...)
	b = appendMoney(b, r.Output)
	b = appendOmitMoney(b, `,"cached_input":`, r.CachedInput)
	b = appendOmitMoney(b, `,"cache_write":`, r.CacheWrite)
	b = appendOmitMoney(b, `,"cache_write_1h":`, r.CacheWrite1h)
	b = appendOmitMoney(b, `,"input_audio":`, r.InputAudio)
	b = appendOmitMoney(b, `,"cached_input_audio":`, r.CachedInputAudio)
	b = appendOmitMoney(b, `,"input_image":`, r.InputImage)
	b = appendOmitMoney(b, `,"input_video":`, r.InputVideo)
	b = appendOmitMoney(b, `,"output_audio":`, r.OutputAudio)
	b = appendOmitMoney(b, `,"output_image":`, r.OutputImage)
	b = appendOmitMoney(b, `,"output_video":`, r.OutputVideo)
	b = appendOmitMoney(b, `,"reasoning":`, r.Reasoning)
	return appendList(b, `,"tiers":[`, r.Tiers, func(b []byte, t *gateway.Tier) []byte {
		b = append(b, `"above_input_tokens":`...)
		b = strconv.AppendInt(b, t.AboveInputTokens, 10)
		b = appendOmitMoney(b, `,"input":`, t.Input)
		b = appendOmitMoney(b, `,"output":`, t.Output)
		b = appendOmitMoney(b, `,"cached_input":`, t.CachedInput)
		b = appendOmitMoney(b, `,"cache_write":`, t.CacheWrite)
		b = appendOmitMoney(b, `,"cache_write_1h":`, t.CacheWrite1h)
		b = appendOmitMoney(b, `,"input_audio":`, t.InputAudio)
		return appendOmitMoney(b, `,"cached_input_audio":`, t.CachedInputAudio)
	})
}

// appendList appends a non-empty list of objects s as json.Marshal
// writes it under omitempty: open (the member's name and '['), then each
// element's members as one writes them, in braces, commas between;
// nothing for an empty list.
func appendList[T any](b []byte, open string, s []T, one func([]byte, *T) []byte) []byte {
	if len(s) == 0 {
		return b
	}
	b = append(b, open...)
	for i := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(one(append(b, '{'), &s[i]), '}')
	}
	return append(b, ']')
}

// appendMoney appends m as its MarshalText, quoted (digits, '-' and '.',
// which JSON never escapes).
func appendMoney(b []byte, m gateway.Money) []byte {
	b = append(b, '"')
	b, _ = m.AppendText(b)
	return append(b, '"')
}

func appendOmitMoney(b []byte, key string, m gateway.Money) []byte {
	if m == 0 {
		return b
	}
	b = append(b, key...)
	return appendMoney(b, m)
}

func appendOmitInt(b []byte, key string, n int64) []byte {
	if n == 0 {
		return b
	}
	b = append(b, key...)
	return strconv.AppendInt(b, n, 10)
}

func appendOmitString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, s)
}

// appendStrings appends ss as a JSON array (ss not nil).
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}
