package gateway

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func readPriceFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/prices/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func priceRows(rows []Price) map[string]Price {
	m := map[string]Price{}
	for _, p := range rows {
		m[p.Provider+"/"+p.Model] = p
	}
	return m
}

func TestParsePricesGenAI(t *testing.T) {
	rows, format, err := ParsePrices(readPriceFixture(t, "genai-prices.json"))
	if err != nil {
		t.Fatalf("ParsePrices(genai-prices.json): %v", err)
	}
	if format != FormatGenAIPrices {
		t.Errorf("ParsePrices(genai-prices.json) format = %q, want %q", format, FormatGenAIPrices)
	}
	got := priceRows(rows)
	want := map[string]Price{
		"openai/gpt-4o-mini": {
			Provider: "openai", Model: "gpt-4o-mini",
			Match: []string{"gpt-4o-mini-2024-07-18", "gpt-4o-mini-search-preview", "gpt-4o-mini-search-preview-2025-03-11"},
			Input: 150_000, Output: 600_000, CachedInput: 75_000, ContextWindow: 128_000, Source: FormatGenAIPrices,
		},
		// Conditional prices: the newest start date is the row's own,
		// the older ones apply until it.
		"openai/o3": {
			Provider: "openai", Model: "o3", Match: []string{"o3-2025-04-16"},
			Input: 2_000_000, Output: 8_000_000, CachedInput: 500_000, Source: FormatGenAIPrices,
			Earlier: []DatedRates{{Until: "2025-06-10", Rates: Rates{Input: 10_000_000, Output: 40_000_000, CachedInput: 500_000}}},
		},
		"openai/text-embedding-3-small": {
			Provider: "openai", Model: "text-embedding-3-small", Input: 20_000, ContextWindow: 8192, Source: FormatGenAIPrices,
		},
		// Tiered prices become a Tier.
		"anthropic/claude-sonnet-4-5": {
			Provider: "anthropic", Model: "claude-sonnet-4-5", Match: []string{"claude-sonnet-4-5*", "claude-sonnet-4.5*"},
			Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000,
			Tiers:         []Tier{{AboveInputTokens: 200_000, Input: 6_000_000, Output: 22_500_000, CachedInput: 600_000, CacheWrite: 7_500_000}},
			ContextWindow: 1_000_000, Source: FormatGenAIPrices,
		},
		// Its tiers ended on 2026-03-13; the newest prices are flat.
		"anthropic/claude-opus-4-6": {
			Provider: "anthropic", Model: "claude-opus-4-6",
			Match: []string{"claude-opus-4-6*", "claude-opus-4.6*", "claude-4-6-opus*", "claude-4.6-opus*"},
			Input: 5_000_000, Output: 25_000_000, CachedInput: 500_000, CacheWrite: 6_250_000, ContextWindow: 200_000, Source: FormatGenAIPrices,
			Earlier: []DatedRates{{Until: "2026-03-13", Rates: Rates{Input: 5_000_000, Output: 25_000_000, CachedInput: 500_000, CacheWrite: 6_250_000,
				Tiers: []Tier{{AboveInputTokens: 200_000, Input: 10_000_000, Output: 37_500_000, CachedInput: 1_000_000, CacheWrite: 12_500_000}}}}},
		},
		// "google" is gemini; audio input has its own rates.
		"gemini/gemini-2.5-flash": {
			Provider: "gemini", Model: "gemini-2.5-flash", Match: []string{"gemini-2.5-flash-latest", "gemini-2.5-flash-preview-09-2025"},
			Input: 300_000, Output: 2_500_000, CachedInput: 30_000, InputAudio: 1_000_000, CachedInputAudio: 100_000, Source: FormatGenAIPrices,
		},
		"gemini/gemini-2.5-pro": {
			Provider: "gemini", Model: "gemini-2.5-pro", Match: []string{"gemini-2.5-pro*"},
			Input: 1_250_000, Output: 10_000_000, CachedInput: 125_000,
			Tiers:  []Tier{{AboveInputTokens: 200_000, Input: 2_500_000, Output: 15_000_000, CachedInput: 250_000}},
			Source: FormatGenAIPrices,
		},
		// "x-ai" is xai; regular expressions are dropped.
		"xai/grok-4.3": {
			Provider: "xai", Model: "grok-4.3", Match: []string{"x-ai/grok-4.3", "grok-4.3-latest"},
			Input: 1_250_000, Output: 2_500_000, CachedInput: 200_000, ContextWindow: 1_000_000, Source: FormatGenAIPrices,
		},
		// Fireworks' resource path is normalised away.
		"fireworks/gpt-oss-120b": {
			Provider: "fireworks", Model: "gpt-oss-120b",
			Input: 150_000, Output: 600_000, CachedInput: 70_000, ContextWindow: 131_072, Source: FormatGenAIPrices,
		},
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("ParsePrices(genai-prices.json): no row %s", k)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("ParsePrices(genai-prices.json) %s =\n%+v\nwant\n%+v", k, g, w)
		}
	}
	for _, k := range []string{
		"openai/gpt-4o-mini-tts", "openai/moderation", "gemini/claude-3-5-haiku",
		"gemini/gemini-2.5-flash-image", "openrouter/deepseek/deepseek-r1:free", "aws/amazon.nova-pro-v1:0",
	} {
		if p, ok := got[k]; ok {
			t.Errorf("ParsePrices(genai-prices.json) has %s, want it skipped", p.Ref())
		}
	}
	if len(rows) != 14 {
		t.Errorf("ParsePrices(genai-prices.json) = %d rows, want 14", len(rows))
	}
	// DeepSeek's price changes with the time of day: the peak rate stands.
	if p := got["deepseek/deepseek-chat"]; p.Input != perMillion(0.27) || p.Output != perMillion(1.1) {
		t.Errorf("ParsePrices(genai-prices.json) deepseek-chat = %v in, %v out; want the peak $0.27/$1.10", p.Input, p.Output)
	}
}

func TestImportPricesGenAISkipped(t *testing.T) {
	imp, err := ImportPrices(readPriceFixture(t, "genai-prices.json"))
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range imp.Skipped {
		reasons[s.Provider+"/"+s.Model] = s.Reason
	}
	for k, want := range map[string]string{
		"openai/gpt-4o-mini-tts":               "audio",
		"openai/moderation":                    "no price",
		"gemini/claude-3-5-haiku":              "Vertex AI",
		"gemini/gemini-2.5-flash-image":        "image",
		"openrouter/deepseek/deepseek-r1:free": "no price",
	} {
		if !strings.Contains(reasons[k], want) {
			t.Errorf("ImportPrices(genai-prices.json): %s skipped for %q, want a reason mentioning %q", k, reasons[k], want)
		}
	}
	if _, ok := reasons["aws/amazon.nova-pro-v1:0"]; ok {
		t.Error("ImportPrices(genai-prices.json) lists a provider Sluice does not serve as skipped")
	}
}

func TestParsePricesLiteLLM(t *testing.T) {
	imp, err := ImportPrices(readPriceFixture(t, "litellm.json"))
	if err != nil {
		t.Fatalf("ImportPrices(litellm.json): %v", err)
	}
	if imp.Format != FormatLiteLLM {
		t.Errorf("ImportPrices(litellm.json).Format = %q, want %q", imp.Format, FormatLiteLLM)
	}
	got := priceRows(imp.Prices)
	want := map[string]Price{
		"openai/gpt-4o-mini": {
			Provider: "openai", Model: "gpt-4o-mini", Input: 150_000, Output: 600_000, CachedInput: 75_000,
			// Service-tier rates, by the service_tier value.
			ServiceTiers: []ServiceTier{
				{Name: "batch", Rates: Rates{Input: 75_000, Output: 300_000}},
				{Name: "priority", Rates: Rates{Input: 250_000, Output: 1_000_000, CachedInput: 125_000}},
			},
			ContextWindow: 128_000, MaxOutput: 16_384, Source: FormatLiteLLM,
		},
		// One-hour writes and long-context rates, one-hour ones included.
		"anthropic/claude-sonnet-4-5": {
			Provider: "anthropic", Model: "claude-sonnet-4-5",
			Input: 3_000_000, Output: 15_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, CacheWrite1h: 6_000_000,
			Tiers: []Tier{{AboveInputTokens: 200_000, Input: 6_000_000, Output: 22_500_000, CachedInput: 600_000,
				CacheWrite: 7_500_000, CacheWrite1h: 12_000_000}},
			// search_context_cost_per_query: $0.01 per search.
			WebSearch:     10_000_000_000,
			ContextWindow: 200_000, MaxOutput: 64_000, Source: FormatLiteLLM,
		},
		// A Vertex AI row counts for gemini...
		"gemini/gemini-2.5-pro": {
			Provider: "gemini", Model: "gemini-2.5-pro", Input: 1_250_000, Output: 10_000_000, CachedInput: 125_000,
			Tiers: []Tier{{AboveInputTokens: 200_000, Input: 2_500_000, Output: 15_000_000, CachedInput: 250_000, CacheWrite: 250_000}},
			// Gemini 2.x grounding: $35 per thousand grounded prompts.
			WebSearch: 35_000_000_000, WebSearchPerRequest: true,
			ContextWindow: 1_048_576, MaxOutput: 65_535, Source: FormatLiteLLM,
		},
		// ...but the "gemini/" row wins over the Vertex one.
		"gemini/gemini-2.5-flash": {
			Provider: "gemini", Model: "gemini-2.5-flash", Input: 300_000, Output: 2_500_000, CachedInput: 30_000,
			InputAudio: 1_000_000, WebSearch: 35_000_000_000, WebSearchPerRequest: true,
			ContextWindow: 1_048_576, MaxOutput: 65_535, Source: FormatLiteLLM,
		},
		"together/meta-llama/Llama-3.3-70B-Instruct-Turbo": {
			Provider: "together", Model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", Input: 880_000, Output: 880_000,
			ContextWindow: 131_072, Source: FormatLiteLLM,
		},
		"openrouter/anthropic/claude-3.5-sonnet": {
			Provider: "openrouter", Model: "anthropic/claude-3.5-sonnet", Input: 3_000_000, Output: 15_000_000, Source: FormatLiteLLM,
		},
		"fireworks/accounts/fireworks/models/gpt-oss-120b": {
			Provider: "fireworks", Model: "accounts/fireworks/models/gpt-oss-120b", Input: 150_000, Output: 600_000, Source: FormatLiteLLM,
		},
		"openai/text-embedding-3-large": {
			Provider: "openai", Model: "text-embedding-3-large", Input: 130_000, ContextWindow: 8191, Source: FormatLiteLLM,
		},
		"deepseek/deepseek-chat": {
			Provider: "deepseek", Model: "deepseek-chat", Input: 280_000, Output: 420_000, CachedInput: 28_000,
			ContextWindow: 131_072, MaxOutput: 8192, Source: FormatLiteLLM,
		},
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("ImportPrices(litellm.json): no row %s", k)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("ImportPrices(litellm.json) %s =\n%+v\nwant\n%+v", k, g, w)
		}
	}
	if len(imp.Prices) != len(want)+1 { // and xai/grok-4.3
		t.Errorf("ImportPrices(litellm.json) = %d rows, want %d", len(imp.Prices), len(want)+1)
	}
	reasons := map[string]string{}
	for _, s := range imp.Skipped {
		reasons[s.Provider+"/"+s.Model] = s.Reason
	}
	for k, want := range map[string]string{
		"openai/gpt-4o-mini-tts":        "audio_speech",
		"gemini/gemini-3.1-pro-preview": "output_cost_per_image",
	} {
		if !strings.Contains(reasons[k], want) {
			t.Errorf("ImportPrices(litellm.json): %s skipped for %q, want a reason mentioning %q", k, reasons[k], want)
		}
	}
	for _, k := range []string{"ollama/llama3", "bedrock/claude-sonnet-4-5-20250929-v1:0"} {
		if _, ok := got[k]; ok {
			t.Errorf("ImportPrices(litellm.json) has %s", k)
		}
	}
}

func TestParsePricesSluice(t *testing.T) {
	rows := []Price{sonnet45, gpt4oMini, {Provider: "ollama", Model: "*", Match: []string{"*"}, Source: "local, free", Updated: "2026-08-21"}}
	b, err := json.Marshal(PriceFile{Format: FormatSluice, Version: "2026-08-21", Prices: rows})
	if err != nil {
		t.Fatal(err)
	}
	got, format, err := ParsePrices(b)
	if err != nil {
		t.Fatalf("ParsePrices(sluice file): %v", err)
	}
	if format != FormatSluice || !reflect.DeepEqual(got, rows) {
		t.Errorf("ParsePrices(sluice file) = %+v, %q, want %+v, %q", got, format, rows, FormatSluice)
	}
}

func TestParsePricesJunk(t *testing.T) {
	tests := []struct {
		name, in   string
		wantFormat bool // the error wraps ErrPriceFormat
	}{
		{"empty", "", true},
		{"spaces", " \n", true},
		{"text", "model,input,output\ngpt-4o,2.5,10\n", true},
		{"number", "42", true},
		{"empty array", "[]", true},
		{"array of numbers", "[1, 2]", true},
		{"array of other objects", `[{"name": "x"}]`, true},
		{"object", `{"name": "sluice", "version": "1.0.0"}`, true},
		{"other format name", `{"format": "sluice-prices/9", "prices": []}`, true},
		{"costs without litellm_provider", `{"gpt-4o": {"input_cost_per_token": 1e-6}}`, true},
		{"truncated", `{"gpt-4o": {"litellm_provider": "openai"`, true},
		{"genai bad price", `[{"id": "openai", "models": [{"id": "gpt-4o", "match": {"equals": "gpt-4o"}, "prices": {"input_mtok": "cheap"}}]}]`, false},
		{"genai negative price", `[{"id": "openai", "models": [{"id": "gpt-4o", "match": {"equals": "gpt-4o"}, "prices": {"input_mtok": -1}}]}]`, false},
		{"litellm bad cost", `{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "x"}}`, false},
		{"sluice negative rate", `{"format": "sluice-prices", "prices": [{"provider": "openai", "model": "gpt-4o", "input": "-1", "output": "0"}]}`, false},
		{"sluice row without model", `{"format": "sluice-prices", "prices": [{"provider": "openai", "input": "1", "output": "0"}]}`, false},
		{"sluice bad money", `{"format": "sluice-prices", "prices": [{"provider": "openai", "model": "m", "input": "1e-6", "output": "0"}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, format, err := ParsePrices([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParsePrices(%q) = %d rows, %q, want an error", tt.in, len(rows), format)
			}
			if got := errors.Is(err, ErrPriceFormat); got != tt.wantFormat {
				t.Errorf("ParsePrices(%q) = %v; errors.Is(ErrPriceFormat) = %v, want %v", tt.in, err, got, tt.wantFormat)
			}
		})
	}
}

func TestDecimalRatePrice(t *testing.T) {
	tests := []struct {
		in   string
		per  int64
		want Money
	}{
		{"0.0375", 1_000_000, 37_500},
		{"0.15", 1_000_000, 150_000},
		{"3", 1_000_000, 3_000_000},
		{"1.5e-07", 1, 150_000},
		{"3e-07", 1, 300_000},
		{"2.8e-09", 1, 2_800},
		{"0.08333333333333334", 1_000_000, 83_333}, // rounded to the picodollar
		{"0.0000005", 1_000_000, 1},                // half a picodollar rounds up
		{"0", 1, 0},
	}
	for _, tt := range tests {
		got, err := decimalRate(tt.in, tt.per)
		if err != nil || got != tt.want {
			t.Errorf("decimalRate(%q, %d) = %d, %v, want %d", tt.in, tt.per, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-1", "x", "1e30"} {
		if got, err := decimalRate(bad, 1); err == nil {
			t.Errorf("decimalRate(%q, 1) = %d, want an error", bad, got)
		}
	}
}
