package store

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func TestEncodersKnowTheShapes(t *testing.T) {
	if !recordFast {
		t.Errorf("gateway.Record is now\n%s\nappendRecord and recordShape were written for\n%s\nBring them up to date (json.Marshal encodes records meanwhile, slower).",
			shape(reflect.TypeFor[gateway.Record]()), recordShape)
	}
	if !holdFast {
		t.Errorf("gateway.Hold is now\n%s\nencodeHold and holdShape were written for\n%s", shape(reflect.TypeFor[gateway.Hold]()), holdShape)
	}
}

// encStrings take every branch of appendJSONString.
var encStrings = []string{"", "plain", `quote " and \ back`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f nul\x00 bel\x07 us\x1f del\x7f",
	"é ü 日本 😀", "bad \xff\xfe utf-8 \xc3", "line\u2028para\u2029", "sk-…"}

// randomFill sets every field of the struct v points to, at any depth of
// embedding, to a random value of its kind.
func randomFill(rng *rand.Rand, v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		if rng.IntN(4) == 0 && f.Kind() != reflect.Struct {
			f.SetZero() // omitempty's other side
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString(encStrings[rng.IntN(len(encStrings))])
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			if f.Type() == reflect.TypeFor[time.Duration]() {
				f.SetInt(rng.Int64N(1e12))
				continue
			}
			vals := []int64{1, -1, 42, math.MaxInt64, math.MinInt64, rng.Int64(), -rng.Int64N(1e15)}
			f.SetInt(vals[rng.IntN(len(vals))])
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.String {
				n := rng.IntN(3)
				s := make([]string, n) // n == 0: empty, not nil
				for j := range s {
					s[j] = encStrings[rng.IntN(len(encStrings))]
				}
				f.Set(reflect.ValueOf(s))
			}
		case reflect.Pointer:
			switch f.Type() {
			case reflect.TypeFor[*gateway.Money]():
				m := gateway.Money(rng.Int64N(1e15) - 5e14)
				f.Set(reflect.ValueOf(&m))
			case reflect.TypeFor[*gateway.Price]():
				rows := gateway.DefaultPrices().All()
				p := rows[rng.IntN(len(rows))]
				f.Set(reflect.ValueOf(&p))
			}
		case reflect.Struct:
			if f.Type() == reflect.TypeFor[time.Time]() {
				zones := []*time.Location{time.UTC, time.FixedZone("x", -(3*3600 + 30*60)), time.FixedZone("y", 14*3600)}
				tm := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
				if rng.IntN(3) == 0 {
					tm = tm.Truncate(time.Second)
				}
				f.Set(reflect.ValueOf(tm))
				continue
			}
			randomFill(rng, f)
		}
	}
}

// TestEncodersMatchMarshal: the fast encoders write exactly json.Marshal's
// bytes, for records and holds with every field set or left empty.
func TestEncodersMatchMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var r gateway.Record
		randomFill(rng, reflect.ValueOf(&r).Elem())
		if i == 0 {
			r = gateway.Record{}
		}
		want, werr := json.Marshal(r)
		got, gerr := appendRecord(nil, &r)
		if werr != nil || gerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s, %v\nwant %s, %v", i, got, gerr, want, werr)
		}
		var h gateway.Hold
		randomFill(rng, reflect.ValueOf(&h).Elem())
		want, werr = json.Marshal(h)
		got, gerr = encodeHold(h)
		if werr != nil || gerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("hold %d:\n got %s, %v\nwant %s, %v", i, got, gerr, want, werr)
		}
	}
	// A time json.Marshal refuses is refused, not written.
	if _, err := encodeRecord(gateway.Record{ID: "x", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Errorf("encodeRecord(year 10000) = nil error, want json.Marshal's")
	}
}

// BenchmarkEncodeRecord: a settled record with its price row, as the
// journal and the log keep it; "json" is json.Marshal, for comparison.
func BenchmarkEncodeRecord(b *testing.B) {
	pr, _ := gateway.DefaultPrices().Lookup("openai", "gpt-4o-mini")
	pr = pr.At(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	pr.Match = nil
	r := gateway.Record{ID: "01JABCDEFGHJKMNPQRSTVWXYZ0", Time: time.Now(), Token: "dev", Provider: "openai", Model: "gpt-4o-mini",
		Route: "openai.chat", Status: 200, Outcome: gateway.OutcomeOK, Usage: gateway.Usage{InputTokens: 24, OutputTokens: 20, ServiceTier: "default"},
		Cost: 1234, Priced: true, Held: gateway.Dollar / 10, PriceRef: pr.Ref(), Rates: &pr, UpstreamID: "req_123"}
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeRecord(r)
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(r)
		}
	})
}
