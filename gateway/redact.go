package gateway

import (
	"regexp"
	"regexp/syntax"
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

// Redact replaces the secrets in s with [redacted]: the API keys of the
// built-in providers (DefaultProviders) and local tokens (sk-sluice-...),
// wherever they stand, JSON-escaped or not; bearer credentials; and the
// values of JSON members, headers and query parameters named like keys. A
// Proxy redacts what it records with the provider table it serves, so the
// keys of rows it was given are redacted too; Redact is for texts outside
// a Proxy (notices, exports).
//
// Which keys are known comes from the provider table alone: each row's
// KeyPrefixes and the literal start of its KeyPattern and LooseKeyPattern
// (a key is such a prefix and at least minKeyTail letters, digits, dashes
// or underscores), and a pattern with no literal start, matched against
// every word. One
// shape stands apart: Mistral's keys, which its row does not constrain (a
// caller's key of any shape is forwarded to Mistral), are 32 letters and
// digits and are redacted when they mix upper case, lower case and digits.
func Redact(s string) string {
	return builtinRedactor.redact(s)
}

// A redactor finds the secrets of one provider table. It is built once
// per table (newRedactor) and is safe for concurrent use.
type redactor struct {
	// prefixes are the key prefixes, none a prefix of another (the
	// shorter one finds every key the longer one would).
	prefixes []string
	// escaped match keys whose prefix is spelled with JSON escapes.
	escaped []*regexp.Regexp
	// shapes are the key patterns with no literal start; shortest is the
	// fewest bytes one of them matches (at least 8: a shorter key is not
	// told from a word).
	shapes   []shape
	shortest int
}

// A shape is a key pattern with no literal start, and the shortest and
// longest texts it can match (-1: no longest), so that a word it cannot
// match costs no regular expression.
type shape struct {
	re       *regexp.Regexp
	min, max int
}

// minKeyTail is the fewest characters that follow a prefix in a key.
const minKeyTail = 16

var builtinRedactor = newRedactor(defaultProviders)

// newRedactor returns the redactor of the keys of ps and local tokens.
func newRedactor(ps map[string]Provider) *redactor {
	all := []string{LocalTokenPrefix}
	r := &redactor{}
	for _, n := range ProviderNames(ps) {
		p := ps[n]
		all = append(all, p.KeyPrefixes...)
		for _, re := range []*regexp.Regexp{p.KeyPattern, p.LooseKeyPattern} {
			if re == nil {
				continue
			}
			if pre := literalStart(re); pre != "" {
				all = append(all, pre)
				continue
			}
			sh := newShape(re)
			r.shapes = append(r.shapes, sh)
			if r.shortest == 0 || sh.min < r.shortest {
				r.shortest = max(sh.min, 8)
			}
		}
	}
	sort.Strings(all) // a prefix sorts before every string it begins
	for _, pre := range all {
		if pre == "" || len(r.prefixes) > 0 && strings.HasPrefix(pre, r.prefixes[len(r.prefixes)-1]) {
			continue
		}
		r.prefixes = append(r.prefixes, pre)
		r.escaped = append(r.escaped, regexp.MustCompile(escaped(pre)+`(?:[A-Za-z0-9_\-]|\\u00[0-9a-fA-F]{2}){`+strconv.Itoa(minKeyTail)+`,}`))
	}
	return r
}

// literalStart returns the literal text every match of re begins with,
// after a leading ^: "sk-" for ^sk-[0-9a-f]{32}$.
func literalStart(re *regexp.Regexp) string {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return ""
	}
	subs := []*syntax.Regexp{t}
	if t.Op == syntax.OpConcat {
		subs = t.Sub
	}
	var b strings.Builder
	for _, sub := range subs {
		switch {
		case sub.Op == syntax.OpBeginText || sub.Op == syntax.OpBeginLine:
			if b.Len() > 0 {
				return b.String()
			}
		case sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0:
			b.WriteString(string(sub.Rune))
		default:
			return b.String()
		}
	}
	return b.String()
}

// newShape returns the shape of a prefix-less KeyPattern.
func newShape(re *regexp.Regexp) shape {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return shape{re: re, max: -1}
	}
	lo, hi := matchLen(t.Simplify())
	return shape{re: re, min: lo, max: hi}
}

// matchLen returns the fewest and most bytes a match of t can hold; most
// is -1 when there is no bound.
func matchLen(t *syntax.Regexp) (lo, hi int) {
	switch t.Op {
	case syntax.OpLiteral:
		n := len(string(t.Rune))
		return n, n
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return 1, utf8.UTFMax
	case syntax.OpCapture:
		return matchLen(t.Sub[0])
	case syntax.OpStar:
		return 0, -1
	case syntax.OpPlus:
		lo, _ := matchLen(t.Sub[0])
		return lo, -1
	case syntax.OpQuest:
		_, hi := matchLen(t.Sub[0])
		return 0, hi
	case syntax.OpConcat:
		for _, sub := range t.Sub {
			l, h := matchLen(sub)
			lo += l
			if hi >= 0 && h >= 0 {
				hi += h
			} else {
				hi = -1
			}
		}
		return lo, hi
	case syntax.OpAlternate:
		lo = -1
		for _, sub := range t.Sub {
			l, h := matchLen(sub)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return max(lo, 0), hi
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0, 0
	}
	return 0, -1 // OpRepeat is gone after Simplify; anything else: no bounds
}

// redact is Redact with r's keys.
func (r *redactor) redact(s string) string {
	return replaceSpans(s, r.secretSpans(s), len(s))
}

// loggedBody is b as a record keeps it: cut at maxLoggedBody (on a
// character boundary, marked; never inside a secret), secrets redacted.
func (r *redactor) loggedBody(b []byte) string {
	s, cut := r.redactPrefix(b, maxLoggedBody)
	if cut {
		s += "\n[cut at 64 KiB]"
	}
	return s
}

// redactPrefix returns at most the first n bytes of b, as valid UTF-8 with
// its secrets redacted, and whether it cut b. A secret the cut would halve
// is left out whole.
func (r *redactor) redactPrefix(b []byte, n int) (string, bool) {
	if len(b) <= n {
		return r.redact(strings.ToValidUTF8(string(b), "")), false
	}
	// Look a little past the cut, so that a key the cut would halve is
	// still seen whole, and cut before it.
	w := strings.ToValidUTF8(string(b[:min(len(b), n+1024)]), "")
	cut := min(n, len(w))
	for cut > 0 && cut < len(w) && !utf8.RuneStart(w[cut]) {
		cut--
	}
	spans := r.secretSpans(w)
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
func (r *redactor) secretSpans(s string) [][2]int {
	if s == "" {
		return nil
	}
	if isKeyWord(s) {
		// An id, a model name, a key alone: no JSON escape, and none
		// of what matchers look for (a bearer's space, a member's
		// quote, a header's ':' or '=', a query's '?'): only keys.
		return mergeSpans(append(r.prefixedKeys(s), r.unprefixed(s)...))
	}
	return r.allSpans(s)
}

// allSpans is secretSpans, every kind of secret looked for.
func (r *redactor) allSpans(s string) [][2]int {
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
	spans := r.prefixedKeys(s)
	spans = append(spans, r.escapedKeys(s)...)
	spans = append(spans, r.unprefixed(s)...)
	for _, m := range matchers {
		spans = append(spans, m(s, lower)...)
	}
	return mergeSpans(spans)
}

// isKeyWord reports whether s is all letters, digits, '-', '_' and '.'.
func isKeyWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !shapeBytes[s[i]] {
			return false
		}
	}
	return true
}

// mergeSpans sorts spans and merges those that overlap.
func mergeSpans(spans [][2]int) [][2]int {
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

// prefixedKeys finds keys by their prefixes, plain; keys with JSON escapes
// in them are escapedKeys'.
func (r *redactor) prefixedKeys(s string) [][2]int {
	var out [][2]int
	for _, pre := range r.prefixes {
		for at := 0; ; {
			i := strings.Index(s[at:], pre)
			if i < 0 {
				break
			}
			start := at + i
			end := start + len(pre)
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
			if n >= minKeyTail {
				out = append(out, [2]int{start, end})
				at = end
			}
		}
	}
	return out
}

// escapedKeys finds keys written with \u00XX escapes (some JSON encoders
// escape more than they must): with a prefix, or without one.
func (r *redactor) escapedKeys(s string) [][2]int {
	if !strings.Contains(s, `\u00`) {
		return nil
	}
	var out [][2]int
	for _, re := range r.escaped {
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
		if escapes > 0 && r.unprefixedKey(string(dec)) {
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

// matchers find the secrets that are the same in every table.
var matchers = []matcher{
	group(bearer, 0, "bearer"),
	group(keyMember, 1, `key\"`, `key"`, `token`, `secret`, `password`, `authorization`),
	group(header, 1, "api-key", "authorization"),
	group(query, 1, "key=", "token="),
}

// unprefixed finds the keys that have no prefix: words the table's
// prefix-less key patterns match (Together's older 64 hex digits), and
// Mistral's 32 letters and digits that mix upper case, lower case and
// digits. A word inside base64 (next to + or /) or inside a longer word
// is not one. Words are tried twice: as runs of letters and digits, and,
// for the key patterns, as runs that also hold '.', '-' and '_' (a pattern
// may spell those).
func (r *redactor) unprefixed(s string) [][2]int {
	out := words(s, &alnumBytes, `+/_-`, `+/_-=`, 32, r.unprefixedKey)
	if len(r.shapes) > 0 && len(s) >= r.shortest {
		out = append(out, words(s, &shapeBytes, `+/`, `+/=`, r.shortest, r.shaped)...)
	}
	return out
}

// words returns the spans of the runs of bytes of s that are in the set,
// at least min long and not next to a byte of notAfter (before the run)
// or notBefore (after it), that key reports as keys. A JSON escape that
// ran into a run (\n, \t, \u0020) is not part of it, nor are the dots
// that end it.
func words(s string, in *[256]bool, notAfter, notBefore string, min int, key func(string) bool) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !in[s[i]] {
			i++
			continue
		}
		start := i
		for i < len(s) && in[s[i]] {
			i++
		}
		end := i
		for end > start && s[end-1] == '.' {
			end--
		}
		if end-start < min {
			continue
		}
		if start > 0 && strings.IndexByte(notAfter, s[start-1]) >= 0 || i < len(s) && strings.IndexByte(notBefore, s[i]) >= 0 {
			continue
		}
		if start > 0 && s[start-1] == '\\' {
			switch {
			case end-start > 5 && s[start] == 'u' && isHex(s[start+1:start+5]):
				start += 5
			case strings.IndexByte("nrtbf", s[start]) >= 0:
				start++
			}
		}
		if key(s[start:end]) {
			out = append(out, [2]int{start, end})
		}
	}
	return out
}

// alnumBytes are the letters and digits; shapeBytes add what a key
// pattern may spell besides.
var alnumBytes, shapeBytes = func() (a, sh [256]bool) {
	for c := 0; c < 256; c++ {
		a[c] = isAlnum(byte(c))
		sh[c] = isKeyByte(byte(c)) || c == '.'
	}
	return a, sh
}()

// unprefixedKey reports whether run, all letters and digits, looks like a
// key that has no prefix.
func (r *redactor) unprefixedKey(run string) bool {
	return len(run) == 32 && mixed(run) || r.shaped(run)
}

// shaped reports whether word is a key by a prefix-less KeyPattern.
func (r *redactor) shaped(word string) bool {
	for _, sh := range r.shapes {
		if len(word) >= sh.min && (sh.max < 0 || len(word) <= sh.max) && sh.re.MatchString(word) {
			return true
		}
	}
	return false
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
