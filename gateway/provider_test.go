package gateway

import (
	"slices"
	"strings"
	"testing"
)

func TestKeyEnvVars(t *testing.T) {
	tests := []struct {
		provider string
		want     []string
	}{
		{"openai", []string{"OPENAI_API_KEY"}},
		{"anthropic", []string{"ANTHROPIC_API_KEY"}},
		{"gemini", []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"}},
		{"mistral", []string{"MISTRAL_API_KEY"}},
		{"groq", []string{"GROQ_API_KEY"}},
		{"deepseek", []string{"DEEPSEEK_API_KEY"}},
		{"xai", []string{"XAI_API_KEY"}},
		{"openrouter", []string{"OPENROUTER_API_KEY"}},
		{"together", []string{"TOGETHER_API_KEY"}},
		{"fireworks", []string{"FIREWORKS_API_KEY"}},
		{"my-vllm.local", []string{"MY_VLLM_LOCAL_API_KEY"}},
		{"", nil},
		{"a b", nil},
		{"x=y", nil},
	}
	for _, tt := range tests {
		if got := KeyEnvVars(tt.provider); !slices.Equal(got, tt.want) {
			t.Errorf("KeyEnvVars(%q) = %q, want %q", tt.provider, got, tt.want)
		}
	}
	// The table's own list is not the caller's to change.
	KeyEnvVars("gemini")[0] = "X"
	if got := KeyEnvVars("gemini")[0]; got != "GEMINI_API_KEY" {
		t.Errorf("KeyEnvVars(gemini)[0] after a caller's change = %q", got)
	}
}

func TestKeyPrefix(t *testing.T) {
	tests := []struct{ key, want string }{
		{"sk-proj-abc", "sk-proj-"},
		{"sk-ant-api03-abc", "sk-ant-"},
		{"sk-or-v1-abc", "sk-or-"}, // OpenRouter's, not a shorter match
		{"AIzaSyA", "AIza"},
		{"gsk_x", "gsk_"},
		{"sk-abc", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := KeyPrefix(tt.key); got != tt.want {
			t.Errorf("KeyPrefix(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	// Every prefix a provider documents is one KeyPrefix finds.
	for _, p := range DefaultProviders() {
		for _, pre := range p.KeyPrefixes {
			if got := KeyPrefix(pre + strings.Repeat("x", 40)); got != pre {
				t.Errorf("KeyPrefix of a %s key %q… = %q", p.Name, pre, got)
			}
		}
	}
}

// TestTogetherKeys: Together's keys are known by their prefix; its older
// 64-hex keys still go to it, and a self-hosted server's token of that
// shape still goes to that server.
func TestTogetherKeys(t *testing.T) {
	ps, err := WithUpstreams(DefaultProviders(), map[string]string{"my-server": "http://127.0.0.1:8000/v1"})
	if err != nil {
		t.Fatal(err)
	}
	hex := strings.Repeat("0123456789abcdef", 4)
	if got := keyIssuer("tgp_v1_abcdefghijklmnopqrstuvwxyz", ps); got != "together" {
		t.Errorf("keyIssuer(tgp_v1_...) = %q, want together", got)
	}
	for _, tc := range []struct {
		key, to string
		ok      bool
	}{
		{"tgp_v1_abcdefghijklmnopqrstuvwxyz", "together", true},
		{hex, "together", true},
		{hex, "my-server", true},
		{"tgp_v1_abcdefghijklmnopqrstuvwxyz", "my-server", false},
		{"plain-key-of-no-shape", "together", false},
	} {
		if why := foreignKey(tc.key, ps[tc.to], ps); (why == "") != tc.ok {
			t.Errorf("foreignKey(%.12s…, %s) = %q, want allowed %v", tc.key, tc.to, why, tc.ok)
		}
	}
	if got := Redact("key " + hex); got != "key [redacted]" {
		t.Errorf("Redact(a Together key of the older shape) = %q", got)
	}
}
