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
