package gateway

import (
	"slices"
	"testing"
)

func TestModelBases(t *testing.T) {
	tests := []struct {
		id   string
		want []string
	}{
		{"gpt-4o-2024-11-20", []string{"gpt-4o-2024-11-20", "gpt-4o"}},
		{"gpt-4o-latest", []string{"gpt-4o-latest", "gpt-4o"}},
		{"claude-sonnet-4-5-20250929", []string{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"}},
		{"claude-sonnet-4@20250514", []string{"claude-sonnet-4@20250514", "claude-sonnet-4"}},
		{"gemini-2.5-flash-preview-05-20", []string{"gemini-2.5-flash-preview-05-20", "gemini-2.5-flash-preview"}},
		{"gemini-2.5-flash-preview-09-2025", []string{"gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash-preview"}},
		{"gemini-2.0-flash-001", []string{"gemini-2.0-flash-001", "gemini-2.0-flash"}},
		{"gpt-4-0613", []string{"gpt-4-0613", "gpt-4"}},
		{"mistral-large-2407", []string{"mistral-large-2407", "mistral-large"}},
		{"minimax-m2.5-20260211", []string{"minimax-m2.5-20260211", "minimax-m2.5"}},
		{"claude-3-5-haiku-20241022-latest", []string{"claude-3-5-haiku-20241022-latest", "claude-3-5-haiku-20241022", "claude-3-5-haiku"}},
		// Minor versions are never snapshots.
		{"claude-opus-5-5", []string{"claude-opus-5-5"}},
		{"claude-opus-4-10", []string{"claude-opus-4-10"}},
		{"claude-opus-4-1", []string{"claude-opus-4-1"}},
		{"gpt-5", []string{"gpt-5"}},
		{"gemini-2.0-flash-12", []string{"gemini-2.0-flash-12"}},
		{"model-2025", []string{"model-2025"}},
		{"model-13-40", []string{"model-13-40"}},
		{"latest", []string{"latest"}},
	}
	for _, tt := range tests {
		if got := modelBases(tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("ModelBases(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestModelID(t *testing.T) {
	tests := []struct{ provider, model, want string }{
		{"openai", " GPT-4o ", "gpt-4o"},
		{"openai", "openai/gpt-4o", "gpt-4o"},
		{"groq", "openai/gpt-oss-120b", "openai/gpt-oss-120b"},
		{"gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"fireworks", "accounts/fireworks/models/gpt-oss-120b", "gpt-oss-120b"},
		{"openrouter", "anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4.5"},
	}
	for _, tt := range tests {
		if got := modelID(tt.provider, tt.model); got != tt.want {
			t.Errorf("ModelID(%q, %q) = %q, want %q", tt.provider, tt.model, got, tt.want)
		}
	}
}

func TestModelCovers(t *testing.T) {
	tests := []struct {
		pattern, provider, model string
		want                     bool
	}{
		{"gpt-4o", "openai", "gpt-4o", true},
		{"gpt-4o", "openai", "gpt-4o-2024-11-20", true},
		{"gpt-4o", "openai", "gpt-4o-latest", true},
		{"gpt-4o", "openai", "GPT-4o", true},
		{"gpt-4o", "openai", " gpt-4o", true},
		{"gpt-4o", "openai", "openai/gpt-4o", true},
		{"GPT-4o", "openai", "gpt-4o-2024-08-06", true},
		{"openai/gpt-4o", "openai", "gpt-4o", true},
		{"gpt-4o", "openai", "gpt-4o-mini", false},
		{"gpt-4o", "openai", "gpt-4o-mini-2024-07-18", false},
		{"claude-opus-*", "anthropic", "Claude-Opus-4-1-20250805", true},
		{"claude-opus-5", "anthropic", "claude-opus-5-5", false},
		{"claude-opus-4-1", "anthropic", "claude-opus-4-10", false},
		{"claude-opus-4-1", "anthropic", "claude-opus-4-1@20250805", true},
		{"gemini-2.5-flash", "gemini", "models/gemini-2.5-flash", true},
	}
	for _, tt := range tests {
		if got := ModelCovers(tt.pattern, tt.provider, tt.model); got != tt.want {
			t.Errorf("ModelCovers(%q, %q, %q) = %v, want %v", tt.pattern, tt.provider, tt.model, got, tt.want)
		}
	}
}

// TestLookupSnapshotRules checks the price table's use of the snapshot
// rules: a snapshot is priced as its model, a minor version never as
// another, and a model the table lacks is unpriced.
func TestLookupSnapshotRules(t *testing.T) {
	table := NewPrices([]Price{
		{Provider: "anthropic", Model: "claude-opus-5", Match: []string{"claude-opus-5*"}, Input: 5, Output: 25},
		{Provider: "anthropic", Model: "claude-opus-4-1", Match: []string{"claude-opus-4-1*", "claude-opus-4.1*"}, Input: 15, Output: 75},
		{Provider: "openai", Model: "gpt-4o", Input: 2, Output: 10},
		{Provider: "gemini", Model: "gemini-2.5-pro", Match: []string{"gemini-2.5-pro*"}, Input: 1, Output: 10},
	})
	tests := []struct{ provider, model, want string }{
		{"anthropic", "claude-opus-5", "claude-opus-5"},
		{"anthropic", "claude-opus-5-20260101", "claude-opus-5"},
		{"anthropic", "claude-opus-5@20260101", "claude-opus-5"},
		{"anthropic", "claude-opus-5-latest", "claude-opus-5"},
		{"anthropic", "CLAUDE-OPUS-5 ", "claude-opus-5"},
		{"anthropic", "anthropic/claude-opus-5", "claude-opus-5"},
		{"anthropic", "claude-opus-5-5", ""},
		{"anthropic", "claude-opus-5-5-20260101", ""},
		{"anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"anthropic", "claude-opus-4-10", ""},
		{"anthropic", "claude-opus-4-10-20270101", ""},
		{"openai", "gpt-4o-2024-11-20", "gpt-4o"},
		{"openai", "gpt-4o-latest", "gpt-4o"},
		{"openai", "gpt-4o-mini", ""},
		{"gemini", "gemini-2.5-pro-preview-06-05", "gemini-2.5-pro"},
		{"gemini", "gemini-2.5-pro-001", "gemini-2.5-pro"},
	}
	for _, tt := range tests {
		p, ok := table.Lookup(tt.provider, tt.model)
		switch {
		case tt.want == "" && ok:
			t.Errorf("Lookup(%q, %q) = %s, want no price (the unpriced policy applies)", tt.provider, tt.model, p.Ref())
		case tt.want != "" && (!ok || p.Model != tt.want):
			t.Errorf("Lookup(%q, %q) = %s, %v, want %s", tt.provider, tt.model, p.Ref(), ok, tt.want)
		}
	}
	// And in the table Sluice ships.
	for _, m := range []string{"claude-opus-5-5", "claude-opus-4-10"} {
		if p, ok := DefaultPrices().Lookup("anthropic", m); ok && p.Model != m {
			t.Errorf("DefaultPrices().Lookup(anthropic, %q) = %s: priced as another model", m, p.Ref())
		}
	}
}
