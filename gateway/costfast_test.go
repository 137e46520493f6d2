package gateway

import (
	"testing"
	"time"
)

// TestCostMatchesParts: Cost, which resolves rates without their notes
// and sums without building lines, is the sum of the known lines of
// costParts, for every row of the table (at every alternative of its
// dates and windows) and usages that take every branch of the rates.
func TestCostMatchesParts(t *testing.T) {
	usages := []Usage{
		{},
		{InputTokens: 1000, OutputTokens: 500},
		{InputTokens: 300_000, OutputTokens: 70_000, CachedInputTokens: 100_000, CacheWriteTokens: 50_000, CacheWrite1hTokens: 20_000, ReasoningTokens: 30_000},
		{InputTokens: 5000, OutputTokens: 4000, InputAudioTokens: 1000, InputImageTokens: 1000, InputVideoTokens: 1000, CachedInputTokens: 1500, CachedAudioTokens: 500,
			OutputAudioTokens: 1000, OutputImageTokens: 1000, OutputVideoTokens: 500, ReasoningTokens: 1000},
		{InputTokens: 1000, OutputTokens: 100, WebSearchCalls: 3, WebFetchCalls: 2, CodeExecutionCalls: 1},
		{InputTokens: 250_000, OutputTokens: 100, ServiceTier: "priority"},
		{InputTokens: 1000, OutputTokens: 100, ServiceTier: " Flex "},
		{InputTokens: 1000, OutputTokens: 100, ServiceTier: "batch"},
		{InputTokens: 1000, OutputTokens: 100, ServiceTier: "nonesuch"},
		{InputTokens: 1000, OutputTokens: 100, InferenceGeo: "us"},
		{InputTokens: 1000, OutputTokens: 100, InferenceGeo: "mars"},
		{InputTokens: 1000, OutputTokens: 100, Speed: "fast"},
		{InputTokens: -5, OutputTokens: -1, CachedInputTokens: 9, ReasoningTokens: 7},
		{InputTokens: 1 << 62, OutputTokens: 1 << 62},
	}
	when := []time.Time{time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 17, 30, 0, 0, time.UTC)}
	n := 0
	for _, row := range DefaultPrices().All() {
		for _, at := range when {
			for _, alt := range row.alternatives(at) {
				for _, u := range usages {
					var want Money
					for _, c := range alt.costParts(u) {
						if c.known {
							want = addMoney(want, c.amount)
						}
					}
					if got := alt.Cost(u); got != want {
						t.Fatalf("%s at %v, usage %+v: Cost %d, parts add up to %d", alt.Ref(), at, u, got, want)
					}
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no rows")
	}
}

// TestPricesAllMatchesExplain: the short cut Unpriced takes agrees with
// Explain's lines, for every row of the table and usages that take every
// branch of the rates (those of TestCostMatchesParts and more).
func TestPricesAllMatchesExplain(t *testing.T) {
	usages := []Usage{
		{},
		{InputTokens: 1000, OutputTokens: 500},
		{InputTokens: 1000, OutputTokens: 500, ServiceTier: "default"},
		{InputTokens: 300_000, OutputTokens: 70_000, CachedInputTokens: 100_000, CacheWriteTokens: 50_000, CacheWrite1hTokens: 20_000, ReasoningTokens: 30_000},
		{InputTokens: 5000, OutputTokens: 4000, InputAudioTokens: 1000, InputImageTokens: 1000, InputVideoTokens: 1000, CachedInputTokens: 1500, CachedAudioTokens: 500,
			OutputAudioTokens: 1000, OutputImageTokens: 1000, OutputVideoTokens: 500, ReasoningTokens: 1000},
		{InputTokens: 1000, OutputTokens: 100, WebSearchCalls: 3},
		{InputTokens: 1000, OutputTokens: 100, WebFetchCalls: 2},
		{InputTokens: 1000, OutputTokens: 100, CodeExecutionCalls: 1},
		{InputTokens: 250_000, OutputTokens: 100, ServiceTier: "priority"},
		{InputTokens: 1000, OutputTokens: 100, ServiceTier: " Flex "},
		{InputTokens: 1000, OutputTokens: 100, ServiceTier: "batch"},
		{InputTokens: 1000, OutputTokens: 100, ServiceTier: "nonesuch"},
		{InputTokens: 1000, OutputTokens: 100, InferenceGeo: "us"},
		{InputTokens: 1000, OutputTokens: 100, InferenceGeo: "mars"},
		{InputTokens: 1000, OutputTokens: 100, Speed: "fast"},
		{InputTokens: 1000, OutputTokens: 100, Speed: "Standard"},
		{InputTokens: 1000, CacheWriteTokens: 200},
		{InputTokens: 1000, InputAudioTokens: 300, OutputTokens: 10, OutputAudioTokens: 5},
		{InputTokens: -5, OutputTokens: -1, CachedInputTokens: 9, ReasoningTokens: 7},
	}
	when := []time.Time{time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 17, 30, 0, 0, time.UTC)}
	var fast, slow int
	for _, row := range DefaultPrices().All() {
		for _, at := range when {
			for _, alt := range row.alternatives(at) {
				for _, u := range usages {
					unpriced := false
					for _, l := range alt.Explain(u) {
						unpriced = unpriced || l.Unpriced
					}
					if got := alt.pricesAll(u); got == unpriced {
						t.Fatalf("%s at %v, usage %+v: pricesAll = %v, Explain has an unpriced line: %v", alt.Ref(), at, u, got, unpriced)
					}
					if unpriced {
						slow++
					} else {
						fast++
					}
				}
			}
		}
	}
	if fast == 0 || slow == 0 {
		t.Fatalf("%d usages priced whole and %d not: the table no longer tries both", fast, slow)
	}
}

// BenchmarkUnpriced: asking whether a plain usage is priced whole, as
// every settlement does.
func BenchmarkUnpriced(b *testing.B) {
	pr, _ := DefaultPrices().Lookup("openai", "gpt-4o-mini")
	u := Usage{InputTokens: 24, OutputTokens: 20, ServiceTier: "default"}
	b.ReportAllocs()
	for b.Loop() {
		if pr.Unpriced(u) != nil {
			b.Fatal("unpriced")
		}
	}
}

// BenchmarkCost: pricing one usage at one row.
func BenchmarkCost(b *testing.B) {
	pr, _ := DefaultPrices().Lookup("openai", "gpt-4o-mini")
	u := Usage{InputTokens: 1200, OutputTokens: 300, CachedInputTokens: 200}
	b.ReportAllocs()
	for b.Loop() {
		if pr.Cost(u) <= 0 {
			b.Fatal("no cost")
		}
	}
}

// BenchmarkWorstCost: the hold estimate of a chat request, its body
// already read.
func BenchmarkWorstCost(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":256,"messages":[{"role":"user","content":"Say hello."}]}`)
	p := &Proxy{}
	rt, _ := parseRoute("POST", "/v1/chat/completions", nil, p.providerTable(), builtinDialects)
	info, bill, err := inspectRequest(builtinDialects, rt.dialect, rt, body)
	if err != nil {
		b.Fatal(err)
	}
	pr, _ := p.Prices().Lookup("openai", "gpt-4o-mini")
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if c, _ := worstCost(pr, at, info, bill, rt); c <= 0 {
			b.Fatal("no cost")
		}
	}
}
