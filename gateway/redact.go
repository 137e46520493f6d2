package gateway

import (
	"regexp"
	"strings"
)

// MaxLoggedBody is how much of a request or response body a record keeps
// when body logging is on.
const MaxLoggedBody = 64 << 10

// secretPatterns match what must never reach the log: provider keys and
// local tokens wherever they stand, bearer credentials, and the values of
// members named like keys.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`sk-[A-Za-z0-9_\-]{8,}`),
	regexp.MustCompile(`AIza[0-9A-Za-z_\-]{20,}`),
	regexp.MustCompile(`(?:gsk|xai|fw|pplx)_[A-Za-z0-9]{16,}`),
	regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/\-]{8,}=*`),
	regexp.MustCompile(`(?i)("(?:api[_-]?key|apikey|key|token|secret|password|authorization)"\s*:\s*")[^"]*(")`),
}

// Redact replaces secrets in s with [redacted].
func Redact(s string) string {
	for i, re := range secretPatterns {
		if i == len(secretPatterns)-1 {
			s = re.ReplaceAllString(s, `${1}[redacted]${2}`)
			continue
		}
		s = re.ReplaceAllString(s, "[redacted]")
	}
	return s
}

// LoggedBody is b as a record keeps it: cut at MaxLoggedBody (on a
// character boundary, marked), secrets redacted.
func LoggedBody(b []byte) string {
	cut := false
	if len(b) > MaxLoggedBody {
		b, cut = b[:MaxLoggedBody], true
	}
	s := Redact(strings.ToValidUTF8(string(b), ""))
	if cut {
		s += "\n[cut at 64 KiB]"
	}
	return s
}
