package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// oldMoneyString is how Money.String was written before appendText: the
// reference the faster one must match byte for byte.
func oldMoneyString(m Money) string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = uint64(-m)
	}
	whole := u / uint64(Dollar)
	frac := u % uint64(Dollar)
	s := fmt.Sprintf("%d", whole)
	if frac != 0 {
		f := strings.TrimRight(fmt.Sprintf("%012d", frac), "0")
		s += "." + f
	}
	if neg {
		s = "-" + s
	}
	return s
}

func TestMoneyStringMatchesFmt(t *testing.T) {
	vals := []Money{0, 1, -1, 9, 10, 100, Microdollar, Dollar, -Dollar, Dollar + 1, 5*Dollar + Dollar/2, 123456789012,
		999999999999, 1000000000001, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, perMillion(0.15), perMillion(3.75)}
	rng := rand.New(rand.NewSource(1))
	for range 100000 {
		vals = append(vals, Money(rng.Int63()>>uint(rng.Intn(63))), -Money(rng.Int63()>>uint(rng.Intn(63))))
	}
	for _, m := range vals {
		want := oldMoneyString(m)
		if got := m.String(); got != want {
			t.Fatalf("Money(%d).String() = %q, want %q", int64(m), got, want)
		}
		if b, _ := m.MarshalText(); string(b) != want {
			t.Fatalf("Money(%d).MarshalText() = %q, want %q", int64(m), b, want)
		}
	}
}

// BenchmarkEncodeRecord: a settled record as the ledger stores it, its
// price row included.
func BenchmarkEncodeRecord(b *testing.B) {
	pr, ok := DefaultPrices().Lookup("anthropic", "claude-sonnet-4-5")
	if !ok {
		b.Fatal("no price")
	}
	pr = pr.At(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	pr.Match = nil
	r := Record{ID: "01JABCDEFGHJKMNPQRSTVWXYZ0", Time: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Token: "dev",
		Provider: "anthropic", Model: "claude-sonnet-4-5", Route: "anthropic.messages", Status: 200, Outcome: OutcomeOK,
		Usage: Usage{InputTokens: 1200, OutputTokens: 300, CachedInputTokens: 200}, Cost: pr.Cost(Usage{InputTokens: 1200, OutputTokens: 300, CachedInputTokens: 200}),
		Priced: true, Held: Dollar / 10, PriceRef: pr.Ref(), Rates: &pr}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}
