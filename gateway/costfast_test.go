package gateway

import (
	"reflect"
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

// TestWorstCostMatchesUsages: worstCost, which makes each usage and each
// alternative row as it prices it, is the dearest cost of every usage
// the request's tokens can split into (refWorstUsages) at every
// alternative of the row, for every row of the table, billings that take
// every variant, and bounds that take every tier.
func TestWorstCostMatchesUsages(t *testing.T) {
	bills := []billing{
		{}, {audioIn: true}, {audioOut: true}, {imageOut: true},
		{audioIn: true, audioOut: true, imageOut: true},
		{audioIn: true, imageOut: true, tier: "priority", webSearch: 7, codeExec: true},
		{tier: "flex", geo: "us", speed: "fast"}, {geo: "mars", webSearch: 1},
	}
	infos := []requestInfo{
		{InputBound: 1000, MaxOutput: 100, Choices: 1},
		{InputBound: 300_000, MaxOutput: 0, Choices: 3},
		{InputBound: 10, InputUnbounded: true, MaxOutput: 1 << 40, Choices: 1},
	}
	routes := []route{{Name: routeOpenAIChat}, {Name: routeOpenAIEmbeddings, embeds: true}}
	when := []time.Time{time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 17, 30, 0, 0, time.UTC)}
	// Rows where each way of splitting the tokens is the dearest, at its
	// date, before it or in a time-of-day window.
	m := perMillion
	rows := append(DefaultPrices().All(),
		Price{Model: "reasoning-dearest", Input: m(1), Output: m(2), Reasoning: m(90), OutputAudio: m(3), OutputImage: m(4)},
		Price{Model: "image-dearest", Input: m(1), Output: m(2), Reasoning: m(3), OutputAudio: m(4), OutputImage: m(90)},
		Price{Model: "audio-out-dearest", Input: m(1), Output: m(2), Reasoning: m(3), OutputAudio: m(90), OutputImage: m(4)},
		Price{Model: "1h-write-dearest", Input: m(1), Output: m(2), CacheWrite: m(5), CacheWrite1h: m(90), InputAudio: m(3)},
		Price{Model: "write-dearest", Input: m(1), Output: m(2), CacheWrite: m(90), CacheWrite1h: m(5), InputAudio: m(3)},
		Price{Model: "audio-in-dearest", Input: m(1), Output: m(2), CacheWrite: m(5), CacheWrite1h: m(6), InputAudio: m(90)},
		Price{Model: "windows", Input: m(1), Output: m(2), CacheWrite: m(5), ContextWindow: 500_000, MaxOutput: 8000,
			Earlier: []DatedRates{{Until: "2025-01-01", Rates: Rates{Input: m(7), Output: m(8), Reasoning: m(70)}}},
			Windows: []WindowRates{
				{From: "16:00", To: "18:00", Rates: Rates{Input: m(1), Output: m(1), OutputImage: m(200)}},
				{From: "02:00", To: "04:00", Rates: Rates{Input: m(3), Output: m(3), InputAudio: m(300), CacheWrite1h: m(100)}},
			}},
	)
	n := 0
	for _, row := range rows {
		for _, at := range when {
			for _, b := range bills {
				for _, info := range infos {
					for _, rt := range routes {
						got, gotOut := worstCost(&row, at, &info, &b, &rt)
						want, wantOut := refWorstCost(row, at, info, b, rt)
						if got != want || gotOut != wantOut {
							t.Fatalf("worstCost(%s at %v, %+v, %+v, %s) = %d, %d; every usage's dearest %d, %d",
								row.Ref(), at, info, b, rt.Name, got, gotOut, want, wantOut)
						}
						n++
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no rows")
	}
}

// refWorstCost is worstCost as the dearest Cost of refWorstUsages at
// each of the row's alternatives.
func refWorstCost(row Price, t time.Time, info requestInfo, b billing, rt route) (Money, int64) {
	out := info.MaxOutput
	if out <= 0 || (row.MaxOutput > 0 && out > row.MaxOutput) {
		out = row.MaxOutput
	}
	if out <= 0 {
		out = defaultMaxOutput
	}
	out *= max(info.Choices, 1)
	if rt.embeds {
		out = 0
	}
	in := info.InputBound
	if info.InputUnbounded && row.ContextWindow > in {
		in = row.ContextWindow
	}
	var worst Money
	for _, alt := range row.alternatives(t) {
		for _, u := range refWorstUsages(b, in, out) {
			worst = max(worst, alt.Cost(u))
		}
	}
	return worst, out
}

// refWorstUsages are the usages whose dearest cost bounds a request with
// in input and out output tokens: every input token at each input rate
// that can apply, every output token at each output rate, and the tool
// calls and tier the request asks for; each way of splitting them
// doubles the usages.
func refWorstUsages(b billing, in, out int64) []Usage {
	base := Usage{InputTokens: in, OutputTokens: out, ServiceTier: b.tier, InferenceGeo: b.geo, Speed: b.speed, WebSearchCalls: b.webSearch}
	if b.codeExec {
		base.CodeExecutionCalls = 1
	}
	us := []Usage{base}
	add := func(f func(u *Usage)) {
		for _, u := range us {
			f(&u)
			us = append(us, u)
		}
	}
	add(func(u *Usage) { u.CacheWriteTokens = in })
	add(func(u *Usage) { u.CacheWriteTokens, u.CacheWrite1hTokens = in, in })
	if b.audioIn {
		add(func(u *Usage) { u.InputAudioTokens = in - u.CacheWriteTokens })
	}
	add(func(u *Usage) { u.ReasoningTokens = out })
	if b.audioOut {
		add(func(u *Usage) { u.ReasoningTokens, u.OutputAudioTokens = 0, out })
	}
	if b.imageOut {
		add(func(u *Usage) { u.ReasoningTokens, u.OutputImageTokens = 0, out })
	}
	return us
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
	info, bill, err := inspectRequest(builtinDialects, rt.dialect, rt, body, nil)
	if err != nil {
		b.Fatal(err)
	}
	pr, _ := p.Prices().Lookup("openai", "gpt-4o-mini")
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if c, _ := worstCost(&pr, at, &info, &bill, &rt); c <= 0 {
			b.Fatal("no cost")
		}
	}
}

// The Ref lookupShared gives with a row is the row's own, for every row
// of the table by its model, a model only a Match or a prefix finds, a
// provider's catch-all row, a reseller's fallback and a local model.
func TestLookupSharedRef(t *testing.T) {
	table := DefaultPrices()
	catchAll := NewPrices([]Price{{Provider: "acme", Model: "any", Match: []string{"*"}, Updated: "2026-01-02"},
		{Provider: "acme", Model: "fam", Match: []string{"fam-*"}, Updated: "2026-01-03"}})
	type q struct {
		t               *Prices
		provider, model string
	}
	var qs []q
	for _, r := range table.All() {
		qs = append(qs, q{table, r.Provider, r.Model}, q{table, r.Provider, r.Model + "-2099-01-01"})
	}
	qs = append(qs, q{catchAll, "acme", "whatever-1"}, q{catchAll, "ACME", "fam-7"}, q{catchAll, "acme", "any"},
		q{table, "openrouter", "openai/gpt-4o-mini"}, q{table, "ollama", "llama3.2"})
	n := 0
	for _, c := range qs {
		p, ref, _, ok := c.t.lookupShared(c.provider, c.model)
		if !ok {
			continue
		}
		n++
		if want := p.Ref(); ref != want {
			t.Errorf("lookupShared(%q, %q) ref %q, its row's Ref %q", c.provider, c.model, ref, want)
		}
	}
	if n < len(table.All())+4 {
		t.Fatalf("only %d lookups found a row", n)
	}
}

// A record's rates are its row's as it stands, without the Match list:
// for a row with neither dated rates nor time-of-day windows, one Price
// shared by every record charged at it; for one with either, the rates
// in force, the record's own.
func TestRecordRatesShared(t *testing.T) {
	p := &Proxy{}
	table := p.Prices()
	now := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	u := Usage{InputTokens: 1000, OutputTokens: 100}
	shared, own := 0, 0
	for _, r := range table.All() {
		charge := func() *Price {
			x := &exchange{provider: Provider{Name: r.Provider}, priced: true, start: now}
			var ok bool
			x.row, x.priceRef, x.rates, ok = table.lookupShared(r.Provider, r.Model)
			if !ok {
				t.Fatalf("lookupShared(%q, %q) found no row", r.Provider, r.Model)
			}
			x.price = x.row.At(now)
			p.setCost(x, now, OutcomeOK, u)
			want := x.price
			want.Match = nil
			if !reflect.DeepEqual(*x.rec.Rates, want) {
				t.Fatalf("%s/%s: record's rates %+v, want %+v", r.Provider, r.Model, *x.rec.Rates, want)
			}
			if x.rec.Rates.Cost(u) != x.rec.Cost {
				t.Fatalf("%s/%s: rates cost %d, record %d", r.Provider, r.Model, x.rec.Rates.Cost(u), x.rec.Cost)
			}
			return x.rec.Rates
		}
		a, b := charge(), charge()
		if len(r.Earlier) == 0 && len(r.Windows) == 0 {
			shared++
			if a != b {
				t.Errorf("%s/%s: two records charged at the row have rates of their own", r.Provider, r.Model)
			}
		} else {
			own++
			if a == b {
				t.Errorf("%s/%s, dated or windowed: two records share rates", r.Provider, r.Model)
			}
		}
	}
	if shared == 0 || own == 0 {
		t.Fatalf("%d rows shared their rates and %d did not: the table should have both", shared, own)
	}
}
