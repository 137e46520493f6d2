package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestRecordEncoderKnowsShapes fails when gateway.Record or gateway.Price
// gains, loses or changes a field: appendRecord (and recordShape or
// priceShape) must learn it. Until then records go through json.Marshal.
func TestRecordEncoderKnowsShapes(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  reflect.Type
		want []string
	}{
		{"gateway.Record", reflect.TypeFor[gateway.Record](), recordShape},
		{"gateway.Price", reflect.TypeFor[gateway.Price](), priceShape},
	} {
		if got := shapeOf(c.typ); !slices.Equal(got, c.want) {
			t.Errorf("%s is\n%q\nthe record encoder writes\n%q\nteach appendRecord the difference", c.name, got, c.want)
		}
	}
	for typ, want := range rateShapes {
		if got := shapeOf(typ); !slices.Equal(got, want) {
			t.Errorf("%s is\n%q\nthe record encoder writes\n%q\nteach appendPrice the difference", typ, got, want)
		}
	}
	if !recordShapesKnown() {
		t.Error("recordShapesKnown() = false, want true")
	}
}

// encodeStrings are strings encoding/json writes in each of its ways:
// plain, escaped, HTML-escaped, with invalid UTF-8 or line separators.
var encodeStrings = []string{"", "a", "gpt-4o-mini", `q"uote\back`, "<b>&amp;</b>", "tab\there\n", "\x00\x1f\x7f",
	"modèle ✓", "bad-\xff\xfe-utf8", "\u2028\u2029", "日本語", "emoji 🙂"}

// fillRandom sets every field of v (a struct, recursively) to a value
// drawn from r: zero or not, so that omitempty is taken both ways.
func fillRandom(t *testing.T, r *rand.Rand, v reflect.Value, depth int) {
	t.Helper()
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		zones := []*time.Location{time.UTC, time.Local, time.FixedZone("x", 3600), time.FixedZone("y", -9000),
			time.FixedZone("lmt", 3600+17), time.FixedZone("far", 24*3600), time.FixedZone("farw", -25*3600)}
		tm := time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
		if r.IntN(20) == 0 {
			tm = time.Date(10000+r.IntN(5), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		v.Set(reflect.ValueOf(tm))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(t, r, v.Field(i), depth)
			}
		}
	case reflect.String:
		v.SetString(encodeStrings[r.IntN(len(encodeStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch r.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(r.Int64N(1000))
		case 2:
			v.SetInt(-r.Int64N(1 << 40))
		default:
			v.SetInt(r.Int64() >> r.IntN(63))
		}
	case reflect.Float64, reflect.Float32:
		v.SetFloat(r.Float64() * 10)
	case reflect.Pointer:
		if depth > 2 || r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(t, r, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		n := r.IntN(4) - 1 // nil, empty, one or two
		if n < 0 || depth > 4 {
			v.SetZero()
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fillRandom(t, r, s.Index(i), depth+1)
		}
		v.Set(s)
	default:
		t.Fatalf("fillRandom: a %s field: teach it (and the record encoder) that kind", v.Type())
	}
}

// checkEncodeRecord compares encodeRecord and encodeRecordEntry with
// json.Marshal for rec.
func checkEncodeRecord(t *testing.T, rec gateway.Record) {
	t.Helper()
	want, wantErr := json.Marshal(rec)
	got, err := encodeRecord(rec)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("encodeRecord(%+v) =\n%s, %v; want\n%s, %v", rec, got, err, want, wantErr)
	}
	// Through prices too, twice: the second time its price row, if it
	// has one, is known (and a row with the same name but other rates,
	// from an earlier call, is told apart).
	for _, prices := range []*priceJSONs{nil, &checkPrices, &checkPrices} {
		entry, data, err := encodeRecordEntry(&rec, prices)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("encodeRecordEntry(%+v) = %s, nil; want an error", rec, entry)
			}
			return
		}
		if err != nil || entry[0] != recordEntry || !bytes.Equal(entry[1:], want) || !bytes.Equal(data, want) {
			t.Fatalf("encodeRecordEntry(%+v) = %q, %q, %v; want %q", rec, entry, data, err, append([]byte{recordEntry}, want...))
		}
	}
}

// checkPrices is the price rows checkEncodeRecord has written, kept
// from one record to the next as a DB keeps them.
var checkPrices priceJSONs

// TestSamePrice changes each field of random price rows, one at a time,
// down to the rates of their nested lists, and checks that samePrice
// tells the row apart from its copy: a field it missed would have a
// record carry the JSON of another row's rates.
func TestSamePrice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var p gateway.Price
		fillRandom(t, r, reflect.ValueOf(&p).Elem(), 0)
		c := clonePrice(&p)
		if !samePrice(&p, &c) || !reflect.DeepEqual(p, c) {
			t.Fatalf("clonePrice(%+v) = %+v, not the same", p, c)
		}
		changeEach(t, reflect.ValueOf(&c).Elem(), "Price", func(field string) {
			if samePrice(&p, &c) {
				t.Fatalf("samePrice says a row whose %s changed is the same: teach it that field", field)
			}
		})
		if !samePrice(&p, &c) {
			t.Fatalf("samePrice(%+v, its copy changed and changed back) = false", p)
		}
	}
	// A nil list and an empty one are written alike.
	a, b := gateway.Price{Tiers: []gateway.Tier{}}, gateway.Price{}
	if !samePrice(&a, &b) {
		t.Error("samePrice(empty tiers, nil tiers) = false, want true: both are written without tiers")
	}
}

// changeEach changes each leaf of v in turn (in place, which v must
// own), calls check, and changes it back.
func changeEach(t *testing.T, v reflect.Value, path string, check func(string)) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				changeEach(t, v.Field(i), path+"."+v.Type().Field(i).Name, check)
			}
		}
		return
	case reflect.Slice:
		for i := range v.Len() {
			changeEach(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i), check)
		}
		if v.Len() > 0 {
			old := v.Interface()
			v.Set(v.Slice(0, v.Len()-1))
			check(path + " (one element fewer)")
			v.Set(reflect.ValueOf(old))
		}
		return
	}
	old := reflect.New(v.Type()).Elem()
	old.Set(v)
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	default:
		t.Fatalf("changeEach: a %s at %s: teach it that kind", v.Type(), path)
	}
	check(path)
	v.Set(old)
}

// TestEncodeRecordIsJSON checks that the record encoder writes what
// json.Marshal does, byte for byte, for random records with every field
// set or empty (the price row and its nested lists included), strings
// with every kind of escape, and times in odd zones or years.
func TestEncodeRecordIsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 5000
	if testing.Short() {
		n = 500
	}
	for range n {
		var rec gateway.Record
		fillRandom(t, r, reflect.ValueOf(&rec).Elem(), 0)
		checkEncodeRecord(t, rec)
	}
	rem := gateway.Money(42)
	checkEncodeRecord(t, gateway.Record{})
	for _, p := range gateway.DefaultPrices().All() {
		checkEncodeRecord(t, gateway.Record{ID: "priced", Time: time.Now(), Rates: &p})
	}
	checkEncodeRecord(t, gateway.Record{ID: "r<1>", Time: time.Date(2026, 11, 30, 1, 2, 3, 4, time.UTC), Token: "ci", Provider: "openai",
		Model: "gpt-4o-mini", Route: "openai.chat", Status: 200, Outcome: gateway.OutcomeOK,
		Usage: gateway.Usage{InputTokens: 24, OutputTokens: 20}, Cost: 3, Priced: true, Remaining: &rem,
		Rates: &gateway.Price{Provider: "openai", Model: "gpt-4o-mini", Input: 1, Output: 2}, Error: "a & b"})
}

// FuzzEncodeRecord compares the record encoder with json.Marshal for
// records made of fuzzed strings and numbers.
func FuzzEncodeRecord(f *testing.F) {
	f.Add("id", "gpt-4o-mini", "", int64(24), int64(20), int64(3), int64(1764464523), false)
	f.Add("q\"<>&", "mod\xffèle", "boom\n", int64(-1), int64(0), int64(-5), int64(-62135596800), true)
	f.Fuzz(func(t *testing.T, id, model, errText string, in, out, cost, unix int64, rates bool) {
		rec := gateway.Record{ID: id, Time: time.Unix(unix, in).In(time.FixedZone("z", int(out%50000))), Token: errText, Provider: model,
			Model: model, Route: id, Prompt: errText, Status: int(in), Outcome: gateway.Outcome(errText),
			Usage: gateway.Usage{InputTokens: in, OutputTokens: out, CacheWrite1hTokens: cost, ServiceTier: model},
			Cost:  gateway.Money(cost), Held: gateway.Money(in), Error: errText, Unpriced: []string{id, errText}, Attempt: int(out)}
		if rates {
			rec.Rates = &gateway.Price{Provider: id, Model: model, Match: []string{errText}, Input: gateway.Money(in),
				Output: gateway.Money(out), Reasoning: gateway.Money(cost), Source: errText, Updated: id,
				Tiers: []gateway.Tier{{AboveInputTokens: in, Input: gateway.Money(cost)}}}
			rem := gateway.Money(out)
			rec.Remaining = &rem
		}
		checkEncodeRecord(t, rec)
	})
}

// BenchmarkEncodeRecord measures encoding a settled record as its
// journal entry, with the price row the proxy sets on a priced record
// (the built-in table's, which lists service tiers).
//
//	go test -run '^$' -bench EncodeRecord -benchmem ./store
func BenchmarkEncodeRecord(b *testing.B) {
	rates, ok := gateway.DefaultPrices().Lookup("openai", "gpt-4o-mini")
	if !ok {
		b.Fatal("no built-in price for openai/gpt-4o-mini")
	}
	now := time.Now()
	r := gateway.Record{ID: "0187a1b2c3d4e5f600000001", Time: now, Token: "ci", Provider: "openai", Model: "gpt-4o-mini", Route: "openai.chat",
		Status: 200, Outcome: gateway.OutcomeOK, Usage: gateway.Usage{InputTokens: 24, OutputTokens: 20}, Cost: 1234567, Priced: true,
		LatencyMS: 1, UpstreamID: "req_bench", Held: 3_000_000_000, PriceRef: "openai/gpt-4o-mini@2026-11-30", Rates: &rates}
	// "first" writes the price row; "again" finds its JSON in prices, as
	// nearly every settlement does; "reused" does too, in a buffer used
	// again, as Settle encodes (entryBufs).
	var prices priceJSONs
	for _, c := range []struct {
		name   string
		prices *priceJSONs
		reuse  bool
	}{{"first", nil, false}, {"again", &prices, false}, {"reused", &prices, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				entry, _, err := appendRecordEntry(buf, &r, c.prices)
				if err != nil {
					b.Fatal(err)
				}
				if c.reuse {
					buf = entry[:0]
				}
			}
		})
	}
}
