package gateway

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxLoggedBody is how much of a request or response body a record keeps
// when body logging is on.
const maxLoggedBody = 64 << 10

// redacted stands where a secret was.
const redacted = "[redacted]"

// Redact replaces the secrets in s with [redacted]: the API keys of every
// provider Sluice supports and local tokens (sk-sluice-...), wherever they
// stand, JSON-escaped or not; bearer credentials; and the values of JSON
// members, headers and query parameters named like keys. It is the one
// redactor: request and response bodies, error texts, notices and exports
// all go through it.
//
// Key formats: OpenAI sk-, sk-proj-, sk-svcacct-, sk-admin-; Anthropic
// sk-ant-; DeepSeek sk- (32 hex); OpenRouter sk-or-v1-; Gemini AIza; xAI
// xai-; Groq gsk_; Fireworks fw_; Together tgp_v1_ and the older 64 hex
// digits; Mistral's 32 letters and digits, which have no prefix, when they
// mix upper case, lower case and digits.
func Redact(s string) string {
	return replaceSpans(s, secretSpans(s), len(s))
}

// loggedBody is b as a record keeps it: cut at maxLoggedBody (on a
// character boundary, marked; never inside a secret), secrets redacted.
func loggedBody(b []byte) string {
	s, cut := redactPrefix(b, maxLoggedBody)
	if cut {
		s += "\n[cut at 64 KiB]"
	}
	return s
}

// redactPrefix returns at most the first n bytes of b, as valid UTF-8 with
// its secrets redacted, and whether it cut b. A secret the cut would halve
// is left out whole.
func redactPrefix(b []byte, n int) (string, bool) {
	if len(b) <= n {
		return Redact(strings.ToValidUTF8(string(b), "")), false
	}
	// Look a little past the cut, so that a key the cut would halve is
	// still seen whole, and cut before it.
	w := strings.ToValidUTF8(string(b[:min(len(b), n+1024)]), "")
	cut := min(n, len(w))
	for cut > 0 && cut < len(w) && !utf8.RuneStart(w[cut]) {
		cut--
	}
	spans := secretSpans(w)
	for _, sp := range spans {
		if sp[0] < cut && sp[1] > cut {
			cut = sp[0]
		}
	}
	return replaceSpans(w, spans, cut), true
}

// replaceSpans returns s[:end] with each span (sorted, disjoint) replaced.
func replaceSpans(s string, spans [][2]int, end int) string {
	if len(spans) == 0 {
		return s[:end]
	}
	var out strings.Builder
	out.Grow(end)
	at := 0
	for _, sp := range spans {
		if sp[0] >= end {
			break
		}
		out.WriteString(s[at:sp[0]])
		out.WriteString(redacted)
		at = min(sp[1], end)
	}
	out.WriteString(s[at:end])
	return out.String()
}

// secretSpans returns the byte ranges of s that are secrets, sorted and
// merged.
func secretSpans(s string) [][2]int {
	if s == "" {
		return nil
	}
	lower := s
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			// A copy only for a string that has upper case.
			b := []byte(s)
			for j, c := range b[i:] {
				if c >= 'A' && c <= 'Z' {
					b[i+j] = c + 'a' - 'A'
				}
			}
			lower = string(b)
			break
		}
	}
	var spans [][2]int
	for _, m := range matchers {
		spans = append(spans, m(s, lower)...)
	}
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp[0] <= last[1] {
			last[1] = max(last[1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// A matcher finds spans of secrets in a string; lower is s with ASCII
// letters in lower case, to look for names cheaply.
type matcher func(s, lower string) [][2]int

// group returns a matcher of submatch n of re, run only when lower holds
// one of the words re needs.
func group(re *regexp.Regexp, n int, words ...string) matcher {
	return func(s, lower string) [][2]int {
		found := len(words) == 0
		for _, w := range words {
			if strings.Contains(lower, w) {
				found = true
				break
			}
		}
		if !found {
			return nil
		}
		var out [][2]int
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			if m[2*n] >= 0 && m[2*n+1] > m[2*n] {
				out = append(out, [2]int{m[2*n], m[2*n+1]})
			}
		}
		return out
	}
}

// escaped spells a literal as JSON may: each character as itself or as a
// \u00XX escape.
func escaped(lit string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for _, c := range []byte(lit) {
		hi, lo := string(hex[c>>4]), string(hex[c&15])
		b.WriteString(`(?:` + regexp.QuoteMeta(string(c)) + `|\\u00[` + hi + strings.ToUpper(hi) + `][` + lo + strings.ToUpper(lo) + `])`)
	}
	return b.String()
}

// keyPrefixes are the documented prefixes of provider keys, each with the
// fewest characters that follow it in a key.
var keyPrefixes = []struct {
	prefix string
	min    int
}{
	{"sk-", 16}, // OpenAI (every kind), Anthropic, DeepSeek, OpenRouter, sk-sluice- tokens
	{"AIza", 20},
	{"xai-", 20},
	{"gsk_", 20},
	{"fw_", 16},
	{"tgp_v1_", 16},
}

// prefixedKeys finds keys by their prefixes, plain; keys with JSON escapes
// in them are escapedKeys'.
func prefixedKeys(s, _ string) [][2]int {
	var out [][2]int
	for _, kp := range keyPrefixes {
		for at := 0; ; {
			i := strings.Index(s[at:], kp.prefix)
			if i < 0 {
				break
			}
			start := at + i
			end := start + len(kp.prefix)
			at = end
			// A prefix inside a longer word ("disk-...") is not a key's;
			// one after an underscore is (an id such as req_sk-proj-...).
			if start > 0 && isKeyByte(s[start-1]) && s[start-1] != '_' && !afterEscape(s, start) {
				continue
			}
			n := 0
			for end < len(s) {
				if isKeyByte(s[end]) {
					end++
				} else if w := escapeWidth(s, end); w > 0 {
					end += w
				} else {
					break
				}
				n++
			}
			if n >= kp.min {
				out = append(out, [2]int{start, end})
				at = end
			}
		}
	}
	return out
}

// escapedPrefixed matches keys whose prefix is spelled with JSON escapes.
var escapedPrefixed = func() []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, kp := range keyPrefixes {
		res = append(res, regexp.MustCompile(escaped(kp.prefix)+`(?:[A-Za-z0-9_\-]|\\u00[0-9a-fA-F]{2}){`+strconv.Itoa(kp.min)+`,}`))
	}
	return res
}()

// escapedKeys finds keys written with \u00XX escapes (some JSON encoders
// escape more than they must): with a prefix, or without one.
func escapedKeys(s, _ string) [][2]int {
	if !strings.Contains(s, `\u00`) {
		return nil
	}
	var out [][2]int
	for _, re := range escapedPrefixed {
		for _, m := range re.FindAllStringIndex(s, -1) {
			out = append(out, [2]int{m[0], m[1]})
		}
	}
	// Runs of letters and digits, some of them escaped: decoded, they may
	// be a key without a prefix.
	for i := 0; i < len(s); {
		start, escapes := i, 0
		var dec []byte
		for i < len(s) {
			if isAlnum(s[i]) {
				dec = append(dec, s[i])
				i++
			} else if w := escapeWidth(s, i); w > 0 && isAlnum(unhex(s[i+4:i+6])) {
				dec = append(dec, unhex(s[i+4:i+6]))
				i += w
				escapes++
			} else {
				break
			}
		}
		if escapes > 0 && unprefixedKey(string(dec)) {
			out = append(out, [2]int{start, i})
		}
		if i == start {
			i++
		}
	}
	return out
}

// escapeWidth is the length of the \u00XX escape at s[i:], or 0.
func escapeWidth(s string, i int) int {
	if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' && s[i+2] == '0' && s[i+3] == '0' && isHex(s[i+4:i+6]) {
		return 6
	}
	return 0
}

func unhex(h string) byte {
	v := func(c byte) byte {
		switch {
		case c >= 'a':
			return c - 'a' + 10
		case c >= 'A':
			return c - 'A' + 10
		}
		return c - '0'
	}
	return v(h[0])<<4 | v(h[1])
}

// afterEscape reports whether s[i] follows a JSON escape (\n, \t, \u0020)
// that ran into it.
func afterEscape(s string, i int) bool {
	if i >= 2 && s[i-2] == '\\' && strings.IndexByte("nrtbf", s[i-1]) >= 0 {
		return true
	}
	return i >= 6 && escapeWidth(s, i-6) == 6
}

func isKeyByte(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

var (
	bearer = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/\-]{8,}=*`)
	// A JSON member named like a key, in plain or escaped JSON
	// (\"api_key\":\"...\" inside a JSON string).
	keyMember = regexp.MustCompile(`(?i)\\*"(?:api[_-]?key|apikey|x-api-key|x-goog-api-key|api-key|key|token|access_token|secret|client_secret|password|authorization)\\*"\s*:\s*\\*"((?:[^"\\]|\\[^"])*)`)
	// A header line or form field named like a key.
	header = regexp.MustCompile(`(?im)(?:^|[\s{,;])(?:x-api-key|x-goog-api-key|api-key|authorization)\s*[:=]\s*([^\s",;}]+)`)
	// A query parameter named like a key.
	query = regexp.MustCompile(`(?i)[?&](?:key|api_key|apikey|token|access_token)=([^&\s"'#<>]+)`)
)

var matchers = []matcher{
	prefixedKeys,
	escapedKeys,
	unprefixed,
	group(bearer, 0, "bearer"),
	group(keyMember, 1, `key\"`, `key"`, `token`, `secret`, `password`, `authorization`),
	group(header, 1, "api-key", "authorization"),
	group(query, 1, "key=", "token="),
}

// unprefixed finds the keys that have no prefix: Mistral's (32 letters and
// digits, mixing upper case, lower case and digits) and Together's older
// ones (64 hex digits). A run inside base64 (next to + or /) or a longer
// word is not one.
func unprefixed(s, _ string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && isAlnum(s[i]) {
			i++
		}
		end := i
		if end-start < 32 {
			continue
		}
		if start > 0 && strings.IndexByte(`+/_-`, s[start-1]) >= 0 || end < len(s) && strings.IndexByte(`+/_-=`, s[end]) >= 0 {
			continue
		}
		// A JSON escape just before the key (\n, \t, \u0020) ran into it.
		if start > 0 && s[start-1] == '\\' {
			switch {
			case end-start > 5 && s[start] == 'u' && isHex(s[start+1:start+5]):
				start += 5
			case strings.IndexByte("nrtbf", s[start]) >= 0:
				start++
			}
		}
		if unprefixedKey(s[start:end]) {
			out = append(out, [2]int{start, end})
		}
	}
	return out
}

// unprefixedKey reports whether run, all letters and digits, looks like a
// key that has no prefix.
func unprefixedKey(run string) bool {
	return len(run) == 32 && mixed(run) || len(run) == 64 && isLowerHex(run)
}

func mixed(s string) bool {
	var upper, lower, digit bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
