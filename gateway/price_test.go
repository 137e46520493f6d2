package gateway

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// perMillion returns the per-token price of usd dollars per million tokens,
// rounded to the nearest picodollar: the tables below read like the
// providers' price pages.
func perMillion(usd float64) Money { return Money(math.Round(usd * 1e6)) }

// Rates as the source tables list them, in dollars per million tokens.
var (
	gpt4oMini = Price{
		Provider: "openai", Model: "gpt-4o-mini",
		Input: perMillion(0.15), Output: perMillion(0.60), CachedInput: perMillion(0.075),
		Source: "test", Updated: "2026-08-21",
	}
	sonnet45 = Price{
		Provider: "anthropic", Model: "claude-sonnet-4-5",
		Input: perMillion(3), Output: perMillion(15), CachedInput: perMillion(0.30),
		CacheWrite: perMillion(3.75), CacheWrite1h: perMillion(6),
		Tiers: []Tier{{
			AboveInputTokens: 200_000,
			Input:            perMillion(6), Output: perMillion(22.5), CachedInput: perMillion(0.60),
			CacheWrite: perMillion(7.5), CacheWrite1h: perMillion(12),
		}},
		Source: "test", Updated: "2026-08-21",
	}
	gemini25Pro = Price{
		Provider: "gemini", Model: "gemini-2.5-pro",
		Input: perMillion(1.25), Output: perMillion(10), CachedInput: perMillion(0.125),
		Tiers:  []Tier{{AboveInputTokens: 200_000, Input: perMillion(2.5), Output: perMillion(15), CachedInput: perMillion(0.25)}},
		Source: "test", Updated: "2026-08-21",
	}
)

func TestPriceCost(t *testing.T) {
	tests := []struct {
		name  string
		price Price
		u     Usage
		want  Money
	}{
		{"zero usage", gpt4oMini, Usage{}, 0},
		// 1000×150,000 + 500×600,000
		{"input and output", gpt4oMini, Usage{InputTokens: 1000, OutputTokens: 500}, 450_000_000},
		// 600×150,000 + 400×75,000 + 100×600,000
		{"cached input", gpt4oMini, Usage{InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 100}, 180_000_000},
		// Reasoning tokens are part of OutputTokens: 1000×600,000, not 1800×.
		{"reasoning", gpt4oMini, Usage{InputTokens: 0, OutputTokens: 1000, ReasoningTokens: 800}, 600_000_000},
		// 5000×3e6 + 2000×3e5 + 2000×3.75e6 + 1000×6e6 + 500×15e6
		{"cache read, 5m and 1h writes", sonnet45,
			Usage{InputTokens: 10_000, CachedInputTokens: 2000, CacheWriteTokens: 3000, CacheWrite1hTokens: 1000, OutputTokens: 500},
			36_600_000_000},
		// Exactly 200,000 input tokens is not above the tier:
		// 200,000×1.25e6 + 1000×10e6.
		{"at tier threshold", gemini25Pro, Usage{InputTokens: 200_000, OutputTokens: 1000}, 260_000_000_000},
		// One more and every token moves to the tier:
		// 200,001×2.5e6 + 1000×15e6.
		{"tier crossing", gemini25Pro, Usage{InputTokens: 200_001, OutputTokens: 1000}, 515_002_500_000},
		// 100,000×2.5e6 + 100,001×0.25e6 + 10×15e6
		{"tier with cached input", gemini25Pro, Usage{InputTokens: 200_001, CachedInputTokens: 100_001, OutputTokens: 10}, 275_150_250_000},
		// 190,000×6e6 + 10,000×7.5e6 + 10,001×12e6 + 100×22.5e6
		{"tier with cache writes", sonnet45,
			Usage{InputTokens: 210_001, CacheWriteTokens: 20_001, CacheWrite1hTokens: 10_001, OutputTokens: 100},
			1_140_000_000_000 + 75_000_000_000 + 120_012_000_000 + 2_250_000_000},
		// No cache rates: cached tokens at Input (never less than the
		// bill); cache writes, whose rate is above Input, are left
		// unpriced rather than charged at Input: 90×1e6 + 1×2e6.
		{"no cache rates", Price{Input: perMillion(1), Output: perMillion(2)},
			Usage{InputTokens: 100, CachedInputTokens: 40, CacheWriteTokens: 10, CacheWrite1hTokens: 5, OutputTokens: 1},
			90*1_000_000 + 2_000_000},
		// No one-hour rate: one-hour writes are unpriced, not charged
		// at the five-minute rate.
		{"no 1h rate", Price{Input: perMillion(3), CacheWrite: perMillion(3.75)},
			Usage{InputTokens: 100, CacheWriteTokens: 100, CacheWrite1hTokens: 100}, 0},
		// A one-hour count without the write count it belongs to is
		// still charged.
		{"1h without writes", sonnet45, Usage{InputTokens: 10, CacheWrite1hTokens: 10}, 60_000_000},
		// More cached tokens than input tokens: charged as reported.
		{"cached above input", gpt4oMini, Usage{InputTokens: 10, CachedInputTokens: 20}, 1_500_000},
		{"negative counts", gpt4oMini, Usage{InputTokens: -5, OutputTokens: -1}, 0},
		{"embedding", Price{Input: perMillion(0.02)}, Usage{InputTokens: 1_000_000}, 20_000_000_000},
		{"overflow saturates", Price{Input: perMillion(1000)}, Usage{InputTokens: math.MaxInt64 / 2}, math.MaxInt64},
		// Of two tiers, the higher one below the input applies, and its
		// zero fields keep the base rate.
		{"highest tier, zero field", Price{Input: 10, Output: 100, Tiers: []Tier{
			{AboveInputTokens: 1000, Input: 20, Output: 200},
			{AboveInputTokens: 100, Input: 15},
			{AboveInputTokens: 5000, Input: 40},
		}}, Usage{InputTokens: 2000, OutputTokens: 1}, 2000*20 + 200},
		{"lower tier keeps base output", Price{Input: 10, Output: 100, Tiers: []Tier{
			{AboveInputTokens: 100, Input: 15},
		}}, Usage{InputTokens: 200, OutputTokens: 1}, 200*15 + 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.price.Cost(tt.u); got != tt.want {
				t.Errorf("Cost(%+v) = %d, want %d", tt.u, got, tt.want)
			}
		})
	}
}

func TestPriceExplain(t *testing.T) {
	u := Usage{InputTokens: 210_001, CachedInputTokens: 1, CacheWriteTokens: 20_000, CacheWrite1hTokens: 10_000, OutputTokens: 300, ReasoningTokens: 200}
	got := sonnet45.Explain(u)
	tier := "long-context rate: more than 200000 input tokens"
	want := []CostLine{
		{Kind: CostInput, Modality: ModalityText, Tokens: 190_000, PerMillion: "6", Amount: 190_000 * 6_000_000, Note: tier},
		{Kind: CostCachedInput, Modality: ModalityText, Tokens: 1, PerMillion: "0.6", Amount: 600_000, Note: tier},
		{Kind: CostCacheWrite, Tokens: 10_000, PerMillion: "7.5", Amount: 10_000 * 7_500_000, Note: tier},
		{Kind: CostCacheWrite1h, Tokens: 10_000, PerMillion: "12", Amount: 10_000 * 12_000_000, Note: tier},
		{Kind: CostOutput, Modality: ModalityText, Tokens: 100, PerMillion: "22.5", Amount: 100 * 22_500_000, Note: tier},
		{Kind: CostReasoning, Tokens: 200, PerMillion: "22.5", Amount: 200 * 22_500_000, Note: tier},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Explain(%+v) =\n%+v\nwant\n%+v", u, got, want)
	}
	var sum Money
	for _, l := range got {
		sum += l.Amount
	}
	if c := sonnet45.Cost(u); sum != c {
		t.Errorf("Explain(%+v) adds up to %d, Cost = %d", u, sum, c)
	}

	fallback := Price{Input: perMillion(0.5), Output: perMillion(1.5)}
	u = Usage{InputTokens: 10, CachedInputTokens: 4, OutputTokens: 2}
	got = fallback.Explain(u)
	want = []CostLine{
		{Kind: CostInput, Modality: ModalityText, Tokens: 6, PerMillion: "0.5", Amount: 3_000_000},
		{Kind: CostCachedInput, Modality: ModalityText, Tokens: 4, PerMillion: "0.5", Amount: 2_000_000, Note: "no cached-input rate listed: charged as input"},
		{Kind: CostOutput, Modality: ModalityText, Tokens: 2, PerMillion: "1.5", Amount: 3_000_000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Explain(%+v) =\n%+v\nwant\n%+v", u, got, want)
	}
	if got := gpt4oMini.Explain(Usage{}); got != nil {
		t.Errorf("Explain(zero) = %+v, want nil", got)
	}
}

func TestPriceRef(t *testing.T) {
	if got, want := sonnet45.Ref(), "anthropic/claude-sonnet-4-5@2026-08-21"; got != want {
		t.Errorf("Ref() = %q, want %q", got, want)
	}
	if got, want := (Price{Provider: "ollama", Model: "llama3.2"}).Ref(), "ollama/llama3.2"; got != want {
		t.Errorf("Ref() = %q, want %q", got, want)
	}
}

func TestPriceJSON(t *testing.T) {
	b, err := json.Marshal(gpt4oMini)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"provider":"openai","model":"gpt-4o-mini","input":"0.00000015","output":"0.0000006","cached_input":"0.000000075","source":"test","updated":"2026-08-21"}`
	if string(b) != want {
		t.Errorf("json.Marshal(gpt-4o-mini) = %s, want %s", b, want)
	}
	var back Price
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, gpt4oMini) {
		t.Errorf("json round trip = %+v, want %+v", back, gpt4oMini)
	}
}

// lookupTable is a small table shaped like the embedded one.
func lookupTable() *Prices {
	return NewPrices([]Price{
		{Provider: "openai", Model: "gpt-4o", Match: []string{"gpt-4o-2024-05-13"}, Input: 2_500_000, Output: 10_000_000, Source: "test"},
		{Provider: "openai", Model: "gpt-4o-mini", Match: []string{"gpt-4o-mini-2024-07-18"}, Input: 150_000, Output: 600_000, Source: "test"},
		{Provider: "openai", Model: "ft:gpt-4o", Match: []string{"ft:gpt-4o-2024-*"}, Input: 3_750_000, Output: 15_000_000, Source: "test"},
		{Provider: "anthropic", Model: "claude-sonnet-4-5", Match: []string{"claude-sonnet-4-5*", "claude-sonnet-4.5*"}, Input: 3_000_000, Output: 15_000_000, Source: "test"},
		{Provider: "anthropic", Model: "claude-sonnet-4-0", Match: []string{"claude-sonnet-4", "claude-sonnet-4-0*", "claude-sonnet-4@*"}, Input: 3_000_000, Output: 15_000_000, Source: "test"},
		{Provider: "anthropic", Model: "claude-3-5-haiku-latest", Match: []string{"claude-3-5-haiku*", "claude-3.5-haiku*"}, Input: 800_000, Output: 4_000_000, Source: "test"},
		{Provider: "anthropic", Model: "claude-opus-4-1", Match: []string{"claude-opus-4-1*"}, Input: 15_000_000, Output: 75_000_000, Source: "test"},
		{Provider: "gemini", Model: "gemini-2.5-flash", Input: 300_000, Output: 2_500_000, Source: "test"},
		{Provider: "gemini", Model: "gemini-2.5-pro", Match: []string{"gemini-2.5-pro*"}, Input: 1_250_000, Output: 10_000_000, Source: "test"},
		{Provider: "gemini", Model: "gemini-2.0-flash", Input: 100_000, Output: 400_000, Source: "test"},
		{Provider: "openrouter", Model: "anthropic/claude-sonnet-4.5", Input: 3_000_000, Output: 15_000_000, Source: "openrouter test"},
		{Provider: "together", Model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", Input: 880_000, Output: 880_000, Source: "test"},
		{Provider: "groq", Model: "llama-3.3-70b-versatile", Input: 590_000, Output: 790_000, Source: "test"},
		{Provider: "fireworks", Model: "gpt-oss-120b", Input: 150_000, Output: 600_000, Source: "test"},
		{Provider: "xai", Model: "grok-4.3", Input: 1_250_000, Output: 2_500_000, Source: "test"},
		{Provider: "deepseek", Model: "deepseek-v4-flash", Match: []string{"deepseek-v4-flash*"}, Input: 140_000, Output: 280_000, Source: "test"},
		{Provider: "mistral", Model: "mistral-large", Match: []string{"mistral-large-latest"}, Input: 2_000_000, Output: 6_000_000, Source: "test"},
		{Provider: "mistral", Model: "mistral-large-2512", Input: 500_000, Output: 1_500_000, Source: "test"},
	})
}

func TestLookup(t *testing.T) {
	table := lookupTable()
	tests := []struct {
		provider, model   string
		wantProv, wantRow string // "" for not found
	}{
		// Exact ids and Match entries, in any case.
		{"openai", "gpt-4o", "openai", "gpt-4o"},
		{"openai", "GPT-4o-Mini", "openai", "gpt-4o-mini"},
		{"OpenAI", "gpt-4o-2024-05-13", "openai", "gpt-4o"},
		{"openai", " gpt-4o ", "openai", "gpt-4o"},
		// Dated snapshots find their family...
		{"openai", "gpt-4o-2024-08-06", "openai", "gpt-4o"},
		{"openai", "gpt-4o-mini-2025-01-01", "openai", "gpt-4o-mini"},
		{"anthropic", "claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5"},
		{"anthropic", "claude-sonnet-4.5", "anthropic", "claude-sonnet-4-5"},
		{"anthropic", "claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"},
		{"anthropic", "claude-3-5-haiku-20241022", "anthropic", "claude-3-5-haiku-latest"},
		{"anthropic", "claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4-0"},
		{"anthropic", "claude-sonnet-4@20250514", "anthropic", "claude-sonnet-4-0"},
		{"gemini", "gemini-2.5-pro-preview-06-05", "gemini", "gemini-2.5-pro"},
		{"gemini", "gemini-2.0-flash-001", "gemini", "gemini-2.0-flash"},
		{"mistral", "mistral-large-latest", "mistral", "mistral-large"},
		{"mistral", "mistral-large-2512", "mistral", "mistral-large-2512"},
		{"mistral", "mistral-large-2411", "mistral", "mistral-large"},
		{"openai", "ft:gpt-4o-2024-08-06:acme::abc123", "openai", "ft:gpt-4o"},
		// ...but a different model never does.
		{"openai", "gpt-4o-mini-tts", "", ""},
		{"openai", "gpt-4o-audio-preview", "", ""},
		{"gemini", "gemini-2.5-pro-preview-tts", "", ""},
		{"gemini", "gemini-2.5-pro-image", "", ""},
		{"anthropic", "claude-opus-4-10", "", ""},
		{"anthropic", "claude-sonnet-4-50", "", ""},
		{"openai", "gpt-5", "", ""},
		// Gemini's resource names.
		{"gemini", "models/gemini-2.5-flash", "gemini", "gemini-2.5-flash"},
		{"gemini", "publishers/google/models/gemini-2.5-pro", "gemini", "gemini-2.5-pro"},
		// OpenRouter: its own row first, then the vendor's.
		{"openrouter", "anthropic/claude-sonnet-4.5", "openrouter", "anthropic/claude-sonnet-4.5"},
		{"openrouter", "openai/gpt-4o", "openai", "gpt-4o"},
		{"openrouter", "openai/gpt-4o-2024-08-06", "openai", "gpt-4o"},
		{"openrouter", "google/gemini-2.5-flash", "gemini", "gemini-2.5-flash"},
		{"openrouter", "x-ai/grok-4.3", "xai", "grok-4.3"},
		{"openrouter", "mistralai/mistral-large-2512", "mistral", "mistral-large-2512"},
		{"openrouter", "deepseek/deepseek-v4-flash", "deepseek", "deepseek-v4-flash"},
		{"openrouter", "anthropic/claude-3.5-haiku", "anthropic", "claude-3-5-haiku-latest"},
		{"openrouter", "openai/gpt-4o:extended", "", ""},
		{"openrouter", "deepseek/deepseek-v4-flash:free", "", ""},
		{"openrouter", "meta-llama/llama-3.3-70b-instruct", "", ""},
		{"openrouter", "openrouter/auto", "", ""},
		{"openrouter", "gpt-4o", "", ""},
		// Other compatible providers use their own rows only.
		{"together", "meta-llama/llama-3.3-70b-instruct-turbo", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"},
		{"groq", "llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"},
		{"groq", "openai/gpt-4o", "", ""},
		{"fireworks", "accounts/fireworks/models/gpt-oss-120b", "fireworks", "gpt-oss-120b"},
		{"fireworks", "gpt-oss-120b", "fireworks", "gpt-oss-120b"},
		{"xai", "grok-4.3-20260101", "xai", "grok-4.3"},
		{"deepseek", "deepseek-v4-flash", "deepseek", "deepseek-v4-flash"},
		// Unknown.
		{"acme", "gpt-4o", "", ""},
		{"openai", "", "", ""},
		{"", "gpt-4o", "", ""},
	}
	for _, tt := range tests {
		p, ok := table.Lookup(tt.provider, tt.model)
		if tt.wantRow == "" {
			if ok {
				t.Errorf("Lookup(%q, %q) = %s, want no price", tt.provider, tt.model, p.Ref())
			}
			continue
		}
		if !ok || p.Provider != tt.wantProv || p.Model != tt.wantRow {
			t.Errorf("Lookup(%q, %q) = %s, %v, want %s/%s", tt.provider, tt.model, p.Ref(), ok, tt.wantProv, tt.wantRow)
		}
	}
}

func TestLookupOpenRouterFallbackSource(t *testing.T) {
	p, ok := lookupTable().Lookup("openrouter", "openai/gpt-4o")
	if !ok {
		t.Fatal(`Lookup("openrouter", "openai/gpt-4o") found nothing`)
	}
	if want := "test (openai's own price; no openrouter row)"; p.Source != want {
		t.Errorf("Lookup(openrouter, openai/gpt-4o).Source = %q, want %q", p.Source, want)
	}
	if p.Input != 2_500_000 {
		t.Errorf("Lookup(openrouter, openai/gpt-4o).Input = %d, want 2500000", p.Input)
	}
}

func TestLookupNeverFamilyOfOtherModel(t *testing.T) {
	// With no gpt-4o-mini row, gpt-4o-mini must not be priced as gpt-4o.
	table := NewPrices([]Price{{Provider: "openai", Model: "gpt-4o", Match: []string{"gpt-4o-2024-08-06"}, Input: 1, Output: 1}})
	for _, m := range []string{"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o-realtime-preview", "gpt-4o1"} {
		if p, ok := table.Lookup("openai", m); ok {
			t.Errorf("Lookup(openai, %q) = %s, want no price", m, p.Ref())
		}
	}
}

func TestLookupPrecedence(t *testing.T) {
	table := NewPrices([]Price{
		// b claims "x-1" by Match, but row "x-1" is its own model.
		{Provider: "p", Model: "b", Match: []string{"x-1", "x*"}, Input: 2},
		{Provider: "p", Model: "x-1", Input: 1},
		{Provider: "p", Model: "c", Match: []string{"x-2*"}, Input: 3},
		// Two rows claim "y" by Match: the first in model order wins.
		{Provider: "p", Model: "e", Match: []string{"y"}, Input: 5},
		{Provider: "p", Model: "d", Match: []string{"y"}, Input: 4},
	})
	for _, tt := range []struct {
		model string
		want  Money
	}{
		{"x-1", 1},
		{"x-2-2025", 3},  // longest prefix
		{"x-preview", 2}, // ("x-3" would be a minor version: no price)
		{"y", 4},
	} {
		if p, ok := table.Lookup("p", tt.model); !ok || p.Input != tt.want {
			t.Errorf("Lookup(p, %q) = %s (input %d), %v, want input %d", tt.model, p.Ref(), p.Input, ok, tt.want)
		}
	}
}

func TestLookupOllama(t *testing.T) {
	for _, table := range []*Prices{NewPrices(nil), DefaultPrices()} {
		p, ok := table.Lookup("ollama", "Llama3.2:3b")
		if !ok {
			t.Fatal(`Lookup("ollama", "Llama3.2:3b") found nothing`)
		}
		if p.Provider != "ollama" || p.Model != "llama3.2:3b" || p.Source != "local, free" || p.Cost(Usage{InputTokens: 1e6, OutputTokens: 1e6}) != 0 {
			t.Errorf(`Lookup("ollama", "Llama3.2:3b") = %+v, want a free row for llama3.2:3b`, p)
		}
	}
	// A row of its own wins over the free catch-all.
	table := DefaultPrices().With([]Price{{Provider: "ollama", Model: "big", Input: 1, Output: 1}})
	if p, _ := table.Lookup("ollama", "big"); p.Input != 1 {
		t.Errorf("Lookup(ollama, big) = %+v, want the override", p)
	}
	if p, ok := table.Lookup("ollama", "small"); !ok || p.Input != 0 || p.Model != "small" {
		t.Errorf("Lookup(ollama, small) = %+v, %v, want free", p, ok)
	}
}

func TestPricesWith(t *testing.T) {
	base := lookupTable()
	over := base.With([]Price{
		{Provider: "OpenAI", Model: "gpt-4o", Input: 1, Output: 2, Updated: "2026-11-01"},
		{Provider: "openai", Model: "gpt-next", Input: 3, Output: 4, Source: "my guess"},
	})
	p, ok := over.Lookup("openai", "gpt-4o-2024-05-13")
	if !ok || p.Input != 1 || p.Source != "override" || !reflect.DeepEqual(p.Match, []string{"gpt-4o-2024-05-13"}) {
		t.Errorf("With: Lookup(openai, gpt-4o-2024-05-13) = %+v, %v, want the override, keeping Match", p, ok)
	}
	if p, ok := over.Lookup("openai", "gpt-next"); !ok || p.Output != 4 || p.Source != "my guess" {
		t.Errorf("With: Lookup(openai, gpt-next) = %+v, %v, want the added row", p, ok)
	}
	if p, _ := base.Lookup("openai", "gpt-4o"); p.Input != 2_500_000 {
		t.Errorf("With changed the base table: Lookup(openai, gpt-4o).Input = %d", p.Input)
	}
	if _, ok := base.Lookup("openai", "gpt-next"); ok {
		t.Error("With added gpt-next to the base table")
	}
	if got, want := over.Version(), "2026-11-01"; got != want {
		t.Errorf("With: Version() = %q, want %q", got, want)
	}
	if got, want := len(over.All()), len(base.All())+1; got != want {
		t.Errorf("With: len(All()) = %d, want %d", got, want)
	}
}

// TestMergePrices: an override replaces the row of the same provider and
// model, compared as a table compares them, whichever path saves it.
func TestMergePrices(t *testing.T) {
	over := []Price{
		{Provider: "openai", Model: "gpt-4o", Input: 1, Output: 2},
		{Provider: "anthropic", Model: "claude-x", Input: 5, Output: 6},
	}
	got := MergePrices(over, []Price{
		{Provider: "OpenAI", Model: "GPT-4o", Input: 3, Output: 4},
		{Provider: "gemini", Model: "gemini-y", Input: 7, Output: 8},
	})
	want := []Price{
		{Provider: "OpenAI", Model: "GPT-4o", Input: 3, Output: 4},
		{Provider: "anthropic", Model: "claude-x", Input: 5, Output: 6},
		{Provider: "gemini", Model: "gemini-y", Input: 7, Output: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergePrices = %+v, want %+v", got, want)
	}
	if over[0].Input != 1 || len(over) != 2 {
		t.Errorf("MergePrices changed its argument: %+v", over)
	}
	if err := CheckPrices(got); err != nil {
		t.Errorf("CheckPrices(merged) = %v, want nil: a merge never gives a row twice", err)
	}
}

// TestCheckPrices: the one rule set for a price row, whether it comes in
// a file, from the Prices page or from the saved overrides.
func TestCheckPrices(t *testing.T) {
	good := Price{Provider: "openai", Model: "gpt-4o", Input: 1, Output: 2}
	for i, bad := range [][]Price{
		{{Provider: "openai"}},
		{{Model: "gpt-4o"}},
		{{Provider: "openai", Model: "gpt-4o", Input: -1}},
		{good, {Provider: "OpenAI", Model: "GPT-4o"}},
		{{Provider: "openai", Model: "gpt-4o", Tiers: []Tier{{AboveInputTokens: 1, Output: -1}}}},
		{{Provider: "openai", Model: "gpt-4o", ServiceTiers: []ServiceTier{{Name: "flex", Rates: Rates{Input: -1}}}}},
		{{Provider: "openai", Model: "gpt-4o", Earlier: []DatedRates{{Until: "soon"}}}},
		{{Provider: "openai", Model: "gpt-4o", WebSearch: -1}},
	} {
		if err := CheckPrices(bad); !errors.Is(err, ErrInvalidPrice) {
			t.Errorf("case %d: CheckPrices(%+v) = %v, want ErrInvalidPrice", i, bad, err)
		}
	}
	if err := CheckPrices([]Price{good, {Provider: "openai", Model: "gpt-4o-mini"}}); err != nil {
		t.Errorf("CheckPrices(good rows) = %v", err)
	}
}

func TestPricesAll(t *testing.T) {
	table := NewPrices([]Price{
		{Provider: "openai", Model: "b", Input: 1, Match: []string{"b-1"}},
		{Provider: "anthropic", Model: "z", Input: 1},
		{Provider: "openai", Model: "A", Input: 1},
		{Provider: "openai", Model: "b", Input: 2}, // the later row wins
		{Provider: "", Model: "nameless", Input: 1},
	})
	all := table.All()
	var got []string
	for _, p := range all {
		got = append(got, p.Provider+"/"+p.Model)
	}
	if want := []string{"anthropic/z", "openai/A", "openai/b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("All() = %v, want %v", got, want)
	}
	if all[2].Input != 2 {
		t.Errorf("All()[2].Input = %d, want the later row's 2", all[2].Input)
	}
	// The result is a copy.
	all[0].Input = 99
	all[0].Match = append(all[0].Match, "zz")
	if p, _ := table.Lookup("anthropic", "z"); p.Input != 1 || len(p.Match) != 0 {
		t.Errorf("changing All()'s result changed the table: %+v", p)
	}
	if p, _ := table.Lookup("anthropic", "zz"); p.Model != "" {
		t.Errorf("changing All()'s result changed the table: Lookup(anthropic, zz) = %+v", p)
	}
}

func TestLookupConcurrent(t *testing.T) {
	table := DefaultPrices()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				p, ok := table.Lookup("openai", "gpt-4o-mini-2024-07-18")
				if !ok {
					t.Error("Lookup(openai, gpt-4o-mini-2024-07-18) found nothing")
					return
				}
				p.Match = append(p.Match, "x")
				_ = DefaultPrices().All()
				_ = p.Cost(Usage{InputTokens: 10, OutputTokens: 10})
			}
		}()
	}
	wg.Wait()
}

// sluiceProviders are the providers the embedded table must cover.
var sluiceProviders = []string{"openai", "anthropic", "gemini", "mistral", "groq", "deepseek", "xai", "openrouter", "together", "fireworks", "ollama"}

func TestDefaultPricesEmbedded(t *testing.T) {
	table, err := loadEmbeddedPrices()
	if err != nil {
		t.Fatalf("embedded prices.json: %v", err)
	}
	if got, want := table.Version(), "2026-08-21"; got != want {
		t.Errorf("Version() = %q, want %q", got, want)
	}
	rows := map[string]int{}
	for _, p := range table.All() {
		rows[p.Provider]++
		if p.Provider != "ollama" && p.Input == 0 && p.Output == 0 {
			t.Errorf("%s: zero input and output price", p.Ref())
		}
		if p.Source == "" || p.Updated == "" {
			t.Errorf("%s: source %q, updated %q: want both", p.Ref(), p.Source, p.Updated)
		}
		if err := checkPrice(p); err != nil {
			t.Error(err)
		}
	}
	for _, prov := range sluiceProviders {
		if rows[prov] == 0 {
			t.Errorf("no rows for provider %s", prov)
		}
	}
	if n := len(table.All()); n > 500 {
		t.Errorf("embedded table has %d rows; keep it to a few hundred", n)
	}
}

// TestDefaultPricesWellKnown checks rates read off the source files
// (genai-prices @47df840a, LiteLLM @f9ff1473).
func TestDefaultPricesWellKnown(t *testing.T) {
	table := DefaultPrices()
	type rates struct{ in, out, cached, write, write1h float64 }
	tests := []struct {
		provider, model string
		row             string // canonical model the lookup lands on
		want            rates
		tier            *Tier
	}{
		{"openai", "gpt-4o-mini", "gpt-4o-mini", rates{0.15, 0.60, 0.075, 0, 0}, nil},
		{"openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini", rates{0.15, 0.60, 0.075, 0, 0}, nil},
		{"openai", "gpt-4o-2024-08-06", "gpt-4o", rates{2.5, 10, 1.25, 0, 0}, nil},
		{"openai", "gpt-4.1", "gpt-4.1", rates{2, 8, 0.5, 0, 0}, nil},
		{"openai", "gpt-5", "gpt-5", rates{1.25, 10, 0.125, 0, 0}, nil},
		{"openai", "gpt-5-mini-2025-08-07", "gpt-5-mini", rates{0.25, 2, 0.025, 0, 0}, nil},
		// o3 was cut to $2/$8 on 2025-06-10: the newest price applies.
		{"openai", "o3", "o3", rates{2, 8, 0.5, 0, 0}, nil},
		{"openai", "o4-mini", "o4-mini", rates{1.1, 4.4, 0.275, 0, 0}, nil},
		{"openai", "text-embedding-3-small", "text-embedding-3-small", rates{0.02, 0, 0, 0, 0}, nil},
		{"openai", "text-embedding-3-large", "text-embedding-3-large", rates{0.13, 0, 0, 0, 0}, nil},
		{"anthropic", "claude-sonnet-4", "claude-sonnet-4-0", rates{3, 15, 0.30, 3.75, 6},
			// Anthropic's rule fills the one-hour rate: twice the input.
			&Tier{AboveInputTokens: 200_000, Input: perMillion(6), Output: perMillion(22.5), CachedInput: perMillion(0.6), CacheWrite: perMillion(7.5), CacheWrite1h: perMillion(12)}},
		{"anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-0", rates{3, 15, 0.30, 3.75, 6}, nil},
		{"anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", rates{3, 15, 0.30, 3.75, 6},
			&Tier{AboveInputTokens: 200_000, Input: perMillion(6), Output: perMillion(22.5), CachedInput: perMillion(0.6), CacheWrite: perMillion(7.5), CacheWrite1h: perMillion(12)}},
		{"anthropic", "claude-haiku-4-5", "claude-haiku-4-5", rates{1, 5, 0.1, 1.25, 2}, nil},
		{"anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1", rates{15, 75, 1.5, 18.75, 30}, nil},
		{"anthropic", "claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest", rates{3, 15, 0.3, 3.75, 6}, nil},
		{"anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku-latest", rates{0.8, 4, 0.08, 1, 1.6}, nil},
		{"gemini", "models/gemini-2.5-pro", "gemini-2.5-pro", rates{1.25, 10, 0.125, 0, 0},
			// Gemini Pro bills audio input as text input.
			&Tier{AboveInputTokens: 200_000, Input: perMillion(2.5), Output: perMillion(15), CachedInput: perMillion(0.25),
				InputAudio: perMillion(2.5), CachedInputAudio: perMillion(0.25)}},
		{"gemini", "gemini-2.5-flash", "gemini-2.5-flash", rates{0.3, 2.5, 0.03, 0, 0}, nil},
		{"gemini", "gemini-2.5-flash-lite", "gemini-2.5-flash-lite", rates{0.1, 0.4, 0.01, 0, 0}, nil},
		{"gemini", "gemini-2.0-flash-001", "gemini-2.0-flash", rates{0.1, 0.4, 0.025, 0, 0}, nil},
		{"gemini", "gemini-embedding-001", "gemini-embedding-001", rates{0.15, 0, 0, 0, 0}, nil},
		{"mistral", "mistral-large-latest", "mistral-large", rates{2, 6, 0, 0, 0}, nil},
		{"groq", "llama-3.3-70b-versatile", "llama-3.3-70b-versatile", rates{0.59, 0.79, 0, 0, 0}, nil},
		{"deepseek", "deepseek-v4-flash", "deepseek-v4-flash", rates{0.14, 0.28, 0.0028, 0, 0}, nil},
		{"xai", "grok-4", "grok-4-0709", rates{3, 15, 0.75, 0, 0}, nil},
		{"together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "meta-llama/Llama-3.3-70B-Instruct-Turbo", rates{0.88, 0.88, 0, 0, 0}, nil},
		{"fireworks", "accounts/fireworks/models/gpt-oss-120b", "gpt-oss-120b", rates{0.15, 0.6, 0.07, 0, 0}, nil},
		{"openrouter", "google/gemini-2.5-pro", "google/gemini-2.5-pro", rates{1.25, 10, 0.31, 1.625, 0}, nil},
		{"openrouter", "qwen/qwen3-coder", "qwen/qwen3-coder", rates{0.22, 1.8, 0, 0, 0}, nil},
	}
	for _, tt := range tests {
		p, ok := table.Lookup(tt.provider, tt.model)
		if !ok {
			t.Errorf("Lookup(%q, %q) found nothing, want %s", tt.provider, tt.model, tt.row)
			continue
		}
		got := rates{
			float64(p.Input) / 1e6, float64(p.Output) / 1e6, float64(p.CachedInput) / 1e6,
			float64(p.CacheWrite) / 1e6, float64(p.CacheWrite1h) / 1e6,
		}
		if p.Model != tt.row || got != tt.want {
			t.Errorf("Lookup(%q, %q) = %s at %+v per M, want %s at %+v", tt.provider, tt.model, p.Ref(), got, tt.row, tt.want)
		}
		if tt.tier != nil && (len(p.Tiers) != 1 || p.Tiers[0] != *tt.tier) {
			t.Errorf("Lookup(%q, %q).Tiers = %+v, want [%+v]", tt.provider, tt.model, p.Tiers, *tt.tier)
		}
	}

	// Models the sources price in ways Sluice cannot meter stay unpriced.
	for _, m := range [][2]string{
		{"openai", "gpt-4o-mini-tts"},        // audio output
		{"openai", "gpt-realtime"},           // audio
		{"openai", "gpt-image-1"},            // per image
		{"gemini", "claude-3-5-haiku"},       // a Vertex AI model
		{"openai", "omni-moderation-latest"}, // no price listed
		{"gemini", "gemini-2.5-pro-preview-tts"},
		{"gemini", "gemini-2.0-flash-exp-image-generation"},
	} {
		if p, ok := table.Lookup(m[0], m[1]); ok {
			t.Errorf("Lookup(%q, %q) = %s, want no price", m[0], m[1], p.Ref())
		}
	}
	// OpenRouter models of direct vendors priced the same are found
	// through the vendor.
	if p, ok := table.Lookup("openrouter", "openai/gpt-4o-mini"); !ok || p.Provider != "openai" || p.Model != "gpt-4o-mini" || !strings.Contains(p.Source, "openai's own price") {
		t.Errorf("Lookup(openrouter, openai/gpt-4o-mini) = %+v, %v, want openai's gpt-4o-mini", p, ok)
	}
}

// TestPricesJSONUpToDate regenerates the embedded table from its sources
// and fails if prices.json differs, so the committed file cannot drift
// from its generator.
func TestPricesJSONUpToDate(t *testing.T) {
	for _, src := range []string{"../../shared/data/genai-prices.json", "../../shared/data/litellm-model-prices.json"} {
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			t.Skipf("source data %s not present", src)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			t.Skip("go tool not found")
		}
	}
	out, err := exec.Command(goTool, "run", "./internal/pricegen", "-check").CombinedOutput()
	if err != nil {
		t.Errorf("go run ./internal/pricegen -check: %v\n%s", err, out)
	}
}
