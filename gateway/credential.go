package gateway

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// credentialHeaders are headers SDKs and tools carry keys in, besides
// each dialect's own (dialect.keyHeaders). None of them goes upstream as
// the caller sent it: the outbound request gets only the one credential
// its provider reads.
var credentialHeaders = []string{
	"Authorization", "Proxy-Authorization",
	"X-Auth-Token", "X-Access-Token", "X-Key", "Ocp-Apim-Subscription-Key", "Cookie",
}

// credentialParams are the query parameters keys travel in, besides each
// dialect's own (dialect.keyParams), compared without regard to case.
// None of them goes upstream, whatever the dialect: the outbound request
// gets only the one credential its provider reads.
var credentialParams = []string{"key", "api_key", "api-key", "apikey", "access_token", "token", "auth", "x-api-key"}

// credential returns the key the caller sent, wherever the SDK of any of
// the dialects ds puts it, and whether it came in the Authorization
// header.
func credential(r *http.Request, ds []dialect) (key string, bearer bool) {
	if a := headerValue(r.Header, "Authorization"); a != "" {
		if scheme, k, ok := strings.Cut(strings.TrimSpace(a), " "); ok && strings.EqualFold(scheme, "Bearer") {
			if k = strings.TrimSpace(k); k != "" {
				return k, true
			}
		}
	}
	for _, d := range ds {
		for _, h := range d.info().keyHeaders {
			if k := strings.TrimSpace(headerValue(r.Header, h)); k != "" {
				return k, false
			}
		}
	}
	q := requestQuery(r)
	for _, d := range ds {
		if k := queryKey(q, d.info().keyParams); k != "" {
			return k, false
		}
	}
	return queryKey(q, credentialParams), false
}

// requestQuery is r's query, nil when it has none: parsing an empty
// query still makes a map, on every request.
func requestQuery(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}

// queryKey is the first non-empty value in q of the parameters names, in
// their order, compared without regard to case.
func queryKey(q url.Values, names []string) string {
	for _, p := range names {
		for name, vs := range q {
			if !strings.EqualFold(name, p) {
				continue
			}
			for _, v := range vs {
				if v = strings.TrimSpace(v); v != "" {
					return v
				}
			}
		}
	}
	return ""
}

// isCredentialParam reports whether name is a query parameter a key
// travels in: a shared one, or one of the dialects ds.
func isCredentialParam(name string, ds []dialect) bool {
	for _, p := range credentialParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	for _, d := range ds {
		for _, p := range d.info().keyParams {
			if strings.EqualFold(name, p) {
				return true
			}
		}
	}
	return false
}

// LocalTokenPrefix starts every local token: the secret a caller sends
// wherever its SDK puts a key, which Sluice swaps for the provider's.
const LocalTokenPrefix = "sk-sluice-"

// IsLocalToken reports whether s is a local token rather than a provider
// key: a key that must never be sent upstream nor kept as a provider's.
func IsLocalToken(s string) bool { return strings.HasPrefix(s, LocalTokenPrefix) }

// NewLocalToken returns a fresh local token: LocalTokenPrefix followed by
// 40 random base62 characters (about 238 bits).
func NewLocalToken() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	const n = 40
	out := make([]byte, 0, len(LocalTokenPrefix)+n)
	out = append(out, LocalTokenPrefix...)
	buf := make([]byte, n*2)
	for len(out) < cap(out) {
		rand.Read(buf) // never returns an error (crypto/rand, Go 1.24+)
		for _, c := range buf {
			// 248 is the largest multiple of 62 that fits a byte: taking
			// only bytes below it keeps every character equally likely.
			if c < 248 && len(out) < cap(out) {
				out = append(out, alphabet[c%62])
			}
		}
	}
	return string(out)
}

// holdsLocalToken reports whether s carries a local token.
func holdsLocalToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			// Lower-casing may turn a rune into ASCII (the Kelvin
			// sign into k).
			return strings.Contains(strings.ToLower(s), LocalTokenPrefix)
		}
	}
	// ASCII: compared without lower-casing a copy of every header value.
	const pre = LocalTokenPrefix // lower case
	for i := 0; i+len(pre) <= len(s); i++ {
		j := 0
		for j < len(pre) && lowerASCII(s[i+j]) == pre[j] {
			j++
		}
		if j == len(pre) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// stripRequestHeaders removes from h, a copy of the caller's headers,
// every header that must not go upstream: those its Connection header
// names, strippedRequestHeaders, and every header that carries a key
// (the known credential headers, those of the dialects ds, and any other
// whose value holds a local token). It looks at each header of h once,
// rather than deleting each name of the lists from h: a request has a
// few headers, and deleting the 30-odd names, each hashed, was a
// measurable part of a request.
func stripRequestHeaders(h http.Header, ds []dialect) {
	removeConnectionHeaders(h)
	for k, vs := range h {
		if requestStripped[k] || isKeyHeader(k, ds) {
			delete(h, k)
			continue
		}
		for _, v := range vs {
			if holdsLocalToken(v) {
				delete(h, k)
				break
			}
		}
	}
}

// requestStripped holds the names of strippedRequestHeaders and
// credentialHeaders, canonical as h's keys are.
var requestStripped = headerSet(strippedRequestHeaders, credentialHeaders)

// headerSet is the set of the names in lists.
func headerSet(lists ...[]string) map[string]bool {
	s := make(map[string]bool)
	for _, l := range lists {
		for _, k := range l {
			s[k] = true
		}
	}
	return s
}

// isKeyHeader reports whether k is a header one of the dialects ds reads
// a key from.
func isKeyHeader(k string, ds []dialect) bool {
	for _, d := range ds {
		for _, kh := range d.info().keyHeaders {
			if k == kh {
				return true
			}
		}
	}
	return false
}

// outboundQuery is the caller's query without a credential of any kind,
// in the words of any of the dialects ds.
func outboundQuery(q url.Values, ds []dialect) url.Values {
	if len(q) == 0 {
		return nil
	}
	out := url.Values{}
	for k, vs := range q {
		if isCredentialParam(k, ds) || holdsLocalToken(k) {
			continue
		}
		for _, v := range vs {
			if !holdsLocalToken(v) {
				out.Add(k, v)
			}
		}
	}
	return out
}

// keyIssuer names the provider that issued key, told by the key prefixes
// providers document, or "" when none says. The longest prefix wins
// ("sk-or-" is OpenRouter's, "sk-ant-" Anthropic's); a key with no
// provider's prefix is the provider's whose KeyPattern it matches.
func keyIssuer(key string, providers map[string]Provider) string {
	best, bestLen := "", 0
	for _, p := range providers {
		for _, pre := range p.KeyPrefixes {
			if strings.HasPrefix(key, pre) && len(pre) > bestLen {
				best, bestLen = p.Name, len(pre)
			}
		}
	}
	if best != "" {
		return best
	}
	for _, p := range providers {
		if p.KeyPattern != nil && p.KeyPattern.MatchString(key) {
			return p.Name
		}
	}
	return ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// knownKeyShape reports whether the provider's keys have a documented
// shape, so that a key without it cannot be the provider's.
func knownKeyShape(p Provider) bool {
	return len(p.KeyPrefixes) > 0 || p.KeyPattern != nil
}

// foreignKey says why the caller's own key must not go to p, or "" when
// it may: a key goes only to the provider that issued it, and to a
// provider whose keys have a documented shape only a key of that shape.
func foreignKey(key string, p Provider, providers map[string]Provider) string {
	issuer := keyIssuer(key, providers)
	switch {
	case issuer == p.Name:
		return ""
	case issuer != "":
		return "this request carries what looks like a " + issuer + " key (by its prefix), and it goes to " + p.Name +
			": Sluice sends a provider key only to the provider that issued it. Use a local token (`sluice token new NAME`), or a " + p.Name + " key"
	case knownKeyShape(p) && (p.LooseKeyPattern == nil || !p.LooseKeyPattern.MatchString(key)):
		return "Sluice cannot tell which provider issued this key (it has none of the prefixes " + p.Name +
			" keys have), so it does not send it to " + p.Name + ". Use a local token (`sluice token new NAME`), or a " + p.Name + " key"
	}
	return ""
}

// unservableKey says why the caller's own key cannot be served on rt,
// told from the headers and the query alone, before a byte of the body is read; or ""
// when it may be. On a route that names its provider, the key must be one
// foreignKey lets go there (or the provider is keyless: the key goes
// nowhere). On a route whose provider the body's model chooses, the key
// must carry the documented prefix of a provider the route can reach: a
// key Sluice cannot place does not get its body read. (A provider whose
// keys have no documented prefix takes them under its own path prefix.)
func unservableKey(key string, rt route, providers map[string]Provider) string {
	if rt.Provider != "" {
		prov, ok := providers[rt.Provider]
		if !ok || prov.Keyless {
			return ""
		}
		return foreignKey(key, prov, providers)
	}
	issuer := keyIssuer(key, providers)
	if prov, ok := providers[issuer]; ok && !prov.Keyless && (prov.Dialect == rt.dialect.info().name || rt.dialect.info().compatPath(prov) != "") {
		return ""
	}
	if issuer != "" {
		return "this request carries what looks like a " + issuer + " key (by its prefix), and " + issuer +
			" is not served on this path: Sluice sends a provider key only to the provider that issued it. Use a local token (`sluice token new NAME`)"
	}
	return "Sluice cannot tell which provider issued this key (it has no provider's documented prefix), so it does not read the request. " +
		"Use a local token (`sluice token new NAME`); a provider whose keys have no prefix takes its own key under its own path (/mistral/v1, /together/v1), " +
		"and a keyless local server under its own, with no key (/ollama/v1)"
}
