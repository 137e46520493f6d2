package gateway

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"messages":[{"content":"my key is sk-proj-abcdefghijklmnop123"}]}`, `{"messages":[{"content":"my key is [redacted]"}]}`},
		{`Authorization: Bearer eyJhbGciOi.xyz.abc`, `Authorization: [redacted]`},
		{`{"api_key":"hunter2","model":"x"}`, `{"api_key":"[redacted]","model":"x"}`},
		{`key=AIzaSyA1234567890abcdefghijklmn`, `key=[redacted]`},
		{`token sk-sluice-abcdefghijklmnopqrstuv`, `token [redacted]`},
		{`{"model":"gpt-4o","max_tokens":10}`, `{"model":"gpt-4o","max_tokens":10}`},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoggedBodyCuts(t *testing.T) {
	big := strings.Repeat("é", MaxLoggedBody)
	got := LoggedBody([]byte(big))
	if len(got) > MaxLoggedBody+40 || !strings.HasSuffix(got, "[cut at 64 KiB]") || !strings.HasPrefix(got, "é") {
		t.Errorf("LoggedBody(%d bytes) = %d bytes, want it cut and marked", len(big), len(got))
	}
}
