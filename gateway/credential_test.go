package gateway

import (
	"strings"
	"testing"
)

func TestNewLocalToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := NewLocalToken()
		rest, ok := strings.CutPrefix(tok, LocalTokenPrefix)
		if !ok || len(rest) != 40 || strings.Trim(rest, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("NewLocalToken() = %q, want %s and 40 base62 characters", tok, LocalTokenPrefix)
		}
		if !IsLocalToken(tok) || seen[tok] {
			t.Fatalf("NewLocalToken() = %q: not a local token, or made twice", tok)
		}
		seen[tok] = true
	}
}

// holdsLocalToken finds a local token in any case, as lower-casing the
// value and searching it does.
func TestHoldsLocalToken(t *testing.T) {
	for _, s := range []string{
		"", "sk-sluice-", "Bearer sk-sluice-abc", "Bearer SK-SLUICE-ABC", "Bearer Sk-Sluice-x", "sk-sluic", "xsk-sluice",
		"Bearer sk-sluice", "sk-slui-sk-sluice-", "s\u212a-sluice-abc", "é sk-sluice-1", "Bearer sk-proj-abc", "ss-sluice-",
	} {
		if got, want := holdsLocalToken(s), strings.Contains(strings.ToLower(s), LocalTokenPrefix); got != want {
			t.Errorf("holdsLocalToken(%q) = %v, want %v", s, got, want)
		}
	}
}
