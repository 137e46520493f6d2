package gateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"sync"
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
	big := strings.Repeat("é", maxLoggedBody)
	got := builtinRedactor.loggedBody([]byte(big))
	if len(got) > maxLoggedBody+40 || !strings.HasSuffix(got, "[cut at 64 KiB]") || !strings.HasPrefix(got, "é") {
		t.Errorf("LoggedBody(%d bytes) = %d bytes, want it cut and marked", len(big), len(got))
	}
}

// keyFormats make keys in the formats of every provider Sluice supports,
// and its own local tokens. Each takes a source of randomness.
var keyFormats = map[string]func(r *rand.Rand) string{
	"openai legacy":      func(r *rand.Rand) string { return "sk-" + randFrom(r, alnum, 48) },
	"openai project":     func(r *rand.Rand) string { return "sk-proj-" + randFrom(r, urlsafe, 156) },
	"openai svcacct":     func(r *rand.Rand) string { return "sk-svcacct-" + randFrom(r, urlsafe, 156) },
	"openai admin":       func(r *rand.Rand) string { return "sk-admin-" + randFrom(r, urlsafe, 120) },
	"anthropic":          func(r *rand.Rand) string { return "sk-ant-api03-" + randFrom(r, urlsafe, 93) + "AA" },
	"anthropic admin":    func(r *rand.Rand) string { return "sk-ant-admin01-" + randFrom(r, urlsafe, 93) + "AA" },
	"deepseek":           func(r *rand.Rand) string { return "sk-" + randFrom(r, lowerHex, 32) },
	"openrouter":         func(r *rand.Rand) string { return "sk-or-v1-" + randFrom(r, lowerHex, 64) },
	"gemini":             func(r *rand.Rand) string { return "AIza" + randFrom(r, urlsafe, 35) },
	"xai":                func(r *rand.Rand) string { return "xai-" + randFrom(r, alnum, 80) },
	"groq":               func(r *rand.Rand) string { return "gsk_" + randFrom(r, alnum, 52) },
	"fireworks":          func(r *rand.Rand) string { return "fw_" + randFrom(r, alnum, 24) },
	"together":           func(r *rand.Rand) string { return "tgp_v1_" + randFrom(r, urlsafe, 43) },
	"together legacy":    func(r *rand.Rand) string { return randFrom(r, lowerHex, 64) },
	"mistral":            mistralKey,
	"sluice local token": func(r *rand.Rand) string { return LocalTokenPrefix + randFrom(r, alnum, 40) },
}

const (
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	urlsafe  = alnum + "-_"
	lowerHex = "0123456789abcdef"
)

func randFrom(r *rand.Rand, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.Intn(len(set))]
	}
	return string(b)
}

// mistralKey is 32 letters and digits. The redactor knows a key with no
// prefix by its mix of upper case, lower case and digits, which all but
// about 1 in 250 random keys have: those are the keys made here.
func mistralKey(r *rand.Rand) string {
	for {
		if k := randFrom(r, alnum, 32); mixed(k) {
			return k
		}
	}
}

// positions put a key somewhere in a text, as the log, an error text or
// an export might hold it.
var positions = map[string]func(key string) string{
	"alone":            func(k string) string { return k },
	"start":            func(k string) string { return k + " is the key" },
	"middle":           func(k string) string { return "my key is " + k + ", keep it safe" },
	"end":              func(k string) string { return "the key: " + k },
	"parentheses":      func(k string) string { return "(" + k + ")" },
	"backticks":        func(k string) string { return "use `" + k + "` here" },
	"single quotes":    func(k string) string { return "api_key='" + k + "'" },
	"env line":         func(k string) string { return "export MISTRAL_API_KEY=" + k + "\n" },
	"two keys":         func(k string) string { return k + " " + k },
	"bearer header":    func(k string) string { return "Authorization: Bearer " + k },
	"x-api-key header": func(k string) string { return "x-api-key: " + k },
	"goog header":      func(k string) string { return "X-Goog-Api-Key: " + k },
	"query": func(k string) string {
		return "POST /v1beta/models/gemini-2.5-flash:generateContent?key=" + k + "&alt=sse"
	},
	"upstream error text": func(k string) string {
		return `upstream answered 401: {"error":{"message":"Incorrect API key provided: ` + k + `"}}`
	},
	"json content": func(k string) string {
		return jsonText(map[string]any{"model": "gpt-4o-mini", "messages": []any{map[string]any{"role": "user", "content": "my key is " + k}}})
	},
	"json after newline": func(k string) string {
		return jsonText(map[string]any{"content": "line one\n" + k + "\tline two"})
	},
	"json innocent member": func(k string) string { return jsonText(map[string]any{"config": k}) },
	"json key member":      func(k string) string { return jsonText(map[string]any{"api_key": k, "model": "x"}) },
	"json in json": func(k string) string {
		return jsonText(map[string]any{"arguments": jsonText(map[string]any{"api_key": k})})
	},
	"json in json content": func(k string) string {
		return jsonText(map[string]any{"arguments": jsonText(map[string]any{"note": "key " + k})})
	},
	"json unicode escapes": func(k string) string { return `{"content":"` + escapeSome(k, "-_") + `"}` },
	"json every char escaped": func(k string) string {
		return `{"content":"key: ` + escapeSome(k, alnum+"-_") + `"}`
	},
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// escapeSome writes the characters of s that are in which as \u00XX, as
// some JSON encoders do.
func escapeSome(s, which string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(which, c) {
			fmt.Fprintf(&b, `\u%04x`, c)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// leaks reports a piece of key that is still readable in out: any 10
// characters of it, plain or with JSON escapes undone.
func leaks(out, key string) string {
	views := []string{out}
	var s string
	if err := json.Unmarshal([]byte(`"`+strings.NewReplacer(`"`, `\"`).Replace(out)+`"`), &s); err == nil {
		views = append(views, s)
	}
	var v any
	if json.Unmarshal([]byte(out), &v) == nil {
		views = append(views, fmt.Sprint(v))
		if m, ok := v.(map[string]any); ok {
			for _, inner := range m {
				if str, ok := inner.(string); ok {
					var iv any
					if json.Unmarshal([]byte(str), &iv) == nil {
						views = append(views, fmt.Sprint(iv))
					}
				}
			}
		}
	}
	const n = 10
	for _, view := range views {
		for i := 0; i+n <= len(key); i++ {
			if strings.Contains(view, key[i:i+n]) {
				return key[i : i+n]
			}
		}
	}
	return ""
}

// TestRedactEveryFormatEverywhere feeds the redactor keys of every
// supported format in every position, many random keys each.
func TestRedactEveryFormatEverywhere(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for fname, format := range keyFormats {
		for pname, pos := range positions {
			for i := 0; i < 20; i++ {
				key := format(r)
				in := pos(key)
				out := Redact(in)
				if piece := leaks(out, key); piece != "" {
					t.Errorf("%s key in %s: Redact(%q) = %q, which still shows %q", fname, pname, in, out, piece)
					break
				}
				if !strings.Contains(out, redacted) {
					t.Errorf("%s key in %s: Redact(%q) = %q, with no [redacted]", fname, pname, in, out)
					break
				}
			}
		}
	}
}

// TestLoggedBodyNeverHalvesAKey: a key across the 64 KiB cut is not left
// half readable.
func TestLoggedBodyNeverHalvesAKey(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for fname, format := range keyFormats {
		key := format(r)
		for _, back := range []int{1, 5, len(key) / 2, len(key) - 1} {
			pad := strings.Repeat("a ", maxLoggedBody/2)[:maxLoggedBody-back-1] + " "
			body := pad + key + " and more text after it"
			out := builtinRedactor.loggedBody([]byte(body))
			if piece := leaks(out[len(pad)-10:], key); piece != "" && len(key[:back]) >= 10 {
				t.Errorf("%s key cut %d bytes in: the logged body ends %q, which shows %q", fname, back, out[len(out)-60:], piece)
			}
			if len(out) > maxLoggedBody+40 {
				t.Errorf("%s key cut %d bytes in: logged body of %d bytes, want at most the cap", fname, back, len(out))
			}
		}
	}
}

// TestRedactLeavesOrdinaryText: what is not a secret stays as it was.
func TestRedactLeavesOrdinaryText(t *testing.T) {
	img := base64.StdEncoding.EncodeToString(func() []byte {
		b := make([]byte, 6000)
		rand.New(rand.NewSource(1)).Read(b)
		return b
	}())
	for _, s := range []string{
		`{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"claude-sonnet-4-5-20250929","stream":true}`,
		`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion"}`,
		`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message"}`,
		`{"id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather"}`,
		`{"id":"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"}`,
		`{"responseId":"mAitaNHlDZjQ1e8PqdqcqQo"}`,
		`commit 3f786850e387550fdab836ed7e6dc881de23001b`,
		`550e8400-e29b-41d4-a716-446655440000`,
		`task-management-system-overview and a desk-lamp, scikit-learn, sk-learn`,
		`the sluice token prefix is sk-sluice- (then 40 characters)`,
		`accounts/fireworks/models/llama-v3p1-8b-instruct`,
		`{"image":"data:image/png;base64,` + img + `"}`,
	} {
		if got := Redact(s); got != s {
			t.Errorf("Redact(%.80q...) changed ordinary text:\n%.300s", s, got)
		}
	}
}

// BenchmarkRedact measures the redactor where the request path calls it:
// on every upstream request id, and on an upstream's error text.
func BenchmarkRedact(b *testing.B) {
	errText := `{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
	for _, bc := range []struct{ name, in string }{
		{"request id", "req_8f3a2b1c4d5e6f708192a3b4c5d6e7f8"},
		{"answer id", "chatcmpl-B9MHDbslfB2fQ6Ks2hOQ1d4Xjlhbk"},
		{"error text", errText},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Redact(bc.in)
			}
		})
	}
}

// logLines collects what a Proxy logs (its Logf), for tests that check
// what it must not log. It is safe for concurrent use.
type logLines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRedactWordsAsEverything: a word (an id, a key alone) is searched
// for keys only; it finds the spans the search for every kind of secret
// finds, for keys of every format, ids of every provider, and words that
// come close to both.
func TestRedactWordsAsEverything(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	words := []string{
		"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012", "req_8f3a2b1c4d5e6f708192a3b4c5d6e7f8",
		"msg_01XFDUDYJgAACzvnptvVoYEL", "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
		"8f1b2c3d4e5f6a7b-AMS", "gpt-4o-mini-2024-07-18", "a", "-", "_.", "sk-", "sk-proj-",
		"req_sk-proj-" + randFrom(r, urlsafe, 40), "disk-" + randFrom(r, urlsafe, 40),
		"x." + mistralKey(r) + ".y", randFrom(r, lowerHex, 64) + "-" + randFrom(r, lowerHex, 64),
	}
	for _, name := range slices.Sorted(maps.Keys(keyFormats)) {
		k := keyFormats[name](r)
		words = append(words, k, "id_"+k, k+"_id", k+"."+k, strings.ToUpper(k), k[:len(k)/2])
	}
	for range 2000 {
		words = append(words, randFrom(r, urlsafe+".", 1+r.Intn(80)))
	}
	for _, w := range words {
		if !isKeyWord(w) {
			t.Fatalf("isKeyWord(%q) = false", w)
		}
		got, want := builtinRedactor.secretSpans(w), builtinRedactor.allSpans(w)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("secretSpans(%q) = %v, want %v", w, got, want)
		}
	}
}
