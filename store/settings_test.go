package store

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/gateway"
)

func TestSettingsRoundTrip(t *testing.T) {
	db, path := openTest(t, Options{})
	got, err := db.Settings()
	if err != nil || !reflect.DeepEqual(got, defaultSettings()) {
		t.Fatalf("Settings() on a new file = %+v, %v, want the defaults %+v", got, err, defaultSettings())
	}
	s := Settings{
		Upstreams:      map[string]string{"openai": "https://proxy.example.com/v1", "local": "http://127.0.0.1:8000/v1"},
		UnpricedPolicy: gateway.UnpricedEstimate,
		UnpricedHold:   gateway.Dollar / 4,
		TimeZone:       "Europe/Berlin",
		AllowedOrigins: []string{"http://localhost:5173"},
		LogBodies:      true,
		RetentionDays:  30,
	}
	if err := db.PutSettings(s); err != nil {
		t.Fatalf("PutSettings(%+v) = %v", s, err)
	}
	db.Close()
	db = openAt(t, path, Options{})
	got, err = db.Settings()
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Errorf("Settings() = %+v, %v, want %+v", got, err, s)
	}

	// An empty policy is the default; everything else must be valid.
	if err := db.PutSettings(Settings{}); err != nil {
		t.Errorf("PutSettings(zero) = %v", err)
	}
	if got, _ := db.Settings(); got.UnpricedPolicy != gateway.UnpricedRefuse {
		t.Errorf("policy after PutSettings(zero) = %q, want refuse", got.UnpricedPolicy)
	}
	bad := []Settings{
		{UnpricedPolicy: "guess"},
		{UnpricedPolicy: gateway.UnpricedEstimate},
		{UnpricedHold: -1},
		{TimeZone: "Mars/Olympus_Mons"},
		{Upstreams: map[string]string{"openai": "ftp://x"}},
		{Upstreams: map[string]string{"openai": "api.openai.com"}},
		{Upstreams: map[string]string{"": "https://x"}},
		{Upstreams: map[string]string{"my_server": "https://x"}}, // the gateway's name rule
		{AllowedOrigins: []string{"localhost:5173"}},
		{AllowedOrigins: []string{"http://localhost:5173/app"}},
		{RetentionDays: -1},
		// The gateway's policy rules (gateway.Policy.Check).
		{StreamSliceTokens: -1},
		{BackgroundHoldHours: -1},
		{LoopLimit: 10001},
		{LoopWindowSeconds: 86401},
		{LoopWindowSeconds: math.MaxInt},
		{TokenRPM: map[string]int{"ci": -1}},
	}
	for _, s := range bad {
		if err := db.PutSettings(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutSettings(%+v) = %v, want ErrInvalid", s, err)
		}
	}
	// The JSON is what the app's API will carry.
	b, _ := json.Marshal(defaultSettings())
	if want := `{"unpriced_policy":"refuse","unpriced_hold_usd":"0.5","log_bodies":false,"retention_days":0,"close_action":"hide"}`; string(b) != want {
		t.Errorf("json(defaultSettings()) = %s, want %s", b, want)
	}
}

func TestPriceOverrides(t *testing.T) {
	db, path := openTest(t, Options{})
	got, err := db.PriceOverrides()
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("PriceOverrides() on a new file = %v, %v, want [], nil", got, err)
	}
	prices := []gateway.Price{
		{Provider: "openai", Model: "gpt-4o", Input: 5 * gateway.Microdollar / 2, Output: 10 * gateway.Microdollar, CachedInput: 5 * gateway.Microdollar / 4,
			ContextWindow: 128000, MaxOutput: 16384, Source: "my contract", Updated: "2025-03-01"},
		{Provider: "gemini", Model: "gemini-2.5-pro", Input: 5 * gateway.Microdollar / 4, Output: 10 * gateway.Microdollar,
			Tiers: []gateway.Tier{{AboveInputTokens: 200000, Input: 5 * gateway.Microdollar / 2, Output: 15 * gateway.Microdollar}}},
	}
	if err := db.PutPriceOverrides(prices); err != nil {
		t.Fatalf("PutPriceOverrides = %v", err)
	}
	db.Close()
	db = openAt(t, path, Options{})
	got, err = db.PriceOverrides()
	if err != nil || !reflect.DeepEqual(got, prices) {
		t.Errorf("PriceOverrides() = %+v, %v, want %+v", got, err, prices)
	}
	for _, bad := range [][]gateway.Price{
		{{Provider: "openai"}},
		{{Model: "gpt-4o"}},
		{{Provider: "openai", Model: "gpt-4o", Input: -1}},
		{{Provider: "openai", Model: "gpt-4o"}, {Provider: "openai", Model: "GPT-4o"}},
		{{Provider: "openai", Model: "gpt-4o", Tiers: []gateway.Tier{{AboveInputTokens: 1, Output: -1}}}},
	} {
		if err := db.PutPriceOverrides(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutPriceOverrides(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if got, _ := db.PriceOverrides(); len(got) != 2 {
		t.Errorf("refused overrides replaced the stored ones: %+v", got)
	}
	if err := db.PutPriceOverrides(nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.PriceOverrides(); len(got) != 0 {
		t.Errorf("PriceOverrides() after clearing = %+v, want none", got)
	}
}
