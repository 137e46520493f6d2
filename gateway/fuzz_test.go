package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func (p Provider) hostForTest() string {
	u, _ := url.Parse(p.BaseURL)
	return u.Host
}

// addRecorded seeds f with every recorded payload matching pattern.
func addRecorded(f *testing.F, pattern string, add func([]byte)) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds match %s: %v", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// chunkReader hands out its input in reads of the sizes in sizes, cycling.
type chunkReader struct {
	b     []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// FuzzEventReader checks that the reader never panics and never loses or
// invents a byte: the Raw of all events is the input, however it is split.
func FuzzEventReader(f *testing.F) {
	addRecorded(f, "testdata/*/*.sse", func(b []byte) { f.Add(b, []byte{3, 0, 17}) })
	for _, s := range []string{"", "\n", "\r", "\r\n", "data: x", "data: x\r", "data: x\r\n\r", ":\n\n", "\uFEFF\r\r", "event:\ndata\n\n"} {
		f.Add([]byte(s), []byte{0})
	}
	f.Fuzz(func(t *testing.T, in, sizes []byte) {
		er := newSSEReader(&chunkReader{b: in, sizes: sizes})
		var raw []byte
		for {
			ev, err := er.Next()
			raw = append(raw, ev.Raw...)
			if err == nil {
				if len(ev.Raw) == 0 {
					t.Fatalf("Next() returned an empty event and no error")
				}
				continue
			}
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("Next() error = %v on a %d-byte input", err, len(in))
			}
			if err == io.ErrUnexpectedEOF && len(ev.Raw) == 0 {
				t.Fatalf("io.ErrUnexpectedEOF with no partial event")
			}
			break
		}
		if !bytes.Equal(raw, in) {
			t.Fatalf("Raw of all events = %q, want the input %q", raw, in)
		}
		// A reader that lends its buffer gives the same events, each
		// valid until the next call.
		own := newSSEReader(&chunkReader{b: in, sizes: sizes})
		lend := newSSEReader(&chunkReader{b: in, sizes: sizes})
		lend.lend = true
		// And so does one set up as relayStream sets its own: lending,
		// its buffers pooled, its first read a burst's.
		relayed := newSSEReader(&chunkReader{b: in, sizes: sizes})
		relayed.lend, relayed.pooled, relayed.burst = true, true, true
		defer relayed.release()
		for {
			want, werr := own.Next()
			got, gerr := lend.Next()
			if werr != gerr || got.Name != want.Name || !bytes.Equal(got.Raw, want.Raw) ||
				!bytes.Equal(got.Data, want.Data) || (got.Data == nil) != (want.Data == nil) {
				t.Fatalf("lent event %+q, %v; want %+q, %v", got, gerr, want, werr)
			}
			got, gerr = relayed.Next()
			if werr != gerr || got.Name != want.Name || !bytes.Equal(got.Raw, want.Raw) ||
				!bytes.Equal(got.Data, want.Data) || (got.Data == nil) != (want.Data == nil) {
				t.Fatalf("relayed event %+q, %v; want %+q, %v", got, gerr, want, werr)
			}
			if werr != nil {
				break
			}
		}
	})
}

// routes lists every dialect and route the gateway meters.
var routes = []struct{ dialect, route string }{
	{dialectOpenAI, "openai.chat"},
	{dialectOpenAI, "openai.responses"},
	{dialectOpenAI, "openai.completions"},
	{dialectOpenAI, "openai.embeddings"},
	{dialectAnthropic, "anthropic.messages"},
	{dialectAnthropic, "anthropic.count_tokens"},
	{dialectGemini, "gemini.generateContent"},
	{dialectGemini, "gemini.streamGenerateContent"},
	{dialectGemini, "gemini.countTokens"},
	{dialectGemini, "gemini.embedContent"},
	{dialectGemini, "gemini.batchEmbedContents"},
}

func checkUsage(t *testing.T, what string, u Usage) {
	t.Helper()
	if u.InputTokens < 0 || u.OutputTokens < 0 || u.CachedInputTokens < 0 || u.CacheWriteTokens < 0 ||
		u.CacheWrite1hTokens < 0 || u.ReasoningTokens < 0 {
		t.Fatalf("%s: negative count in %+v", what, u)
	}
	if u.CachedInputTokens+u.CacheWriteTokens > u.InputTokens || u.CacheWrite1hTokens > u.CacheWriteTokens || u.ReasoningTokens > u.OutputTokens {
		t.Fatalf("%s: a part exceeds its total in %+v", what, u)
	}
}

// FuzzUsage checks that usage read from any body or stream is never
// negative, and that nothing panics.
func FuzzUsage(f *testing.F) {
	addRecorded(f, "testdata/*/*.json", func(b []byte) { f.Add(b) })
	addRecorded(f, "testdata/*/*.sse", func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"usage":{"prompt_tokens":-1,"completion_tokens":1e999,"total_tokens":"x"}}`))
	f.Add([]byte("data: {\"choices\":[],\"usage\":null,\"usage\":{\"prompt_tokens\":3}}\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, r := range routes {
			u, _, _ := usageFor(r.dialect, r.route, in)
			checkUsage(t, "usageFor("+r.route+")", u)

			// The input as one event's data, and as a stream.
			for _, hide := range []bool{false, true} {
				m := meterFor(r.dialect, r.route, hide)
				out := m.relay(streamEvent{Data: in, Raw: append([]byte("data: "), in...)})
				if out != nil && m.Relayed != int64(len(out)) {
					t.Fatalf("Relayed = %d after relaying %d bytes", m.Relayed, len(out))
				}
				checkUsage(t, "Relay("+r.route+")", m.Usage)

				m = meterFor(r.dialect, r.route, hide)
				er := newSSEReader(bytes.NewReader(in))
				var relayed int64
				for {
					ev, err := er.Next()
					if len(ev.Raw) > 0 {
						out := m.relay(ev)
						relayed += int64(len(out))
						if !hide && !bytes.Equal(out, ev.Raw) {
							t.Fatalf("Relay changed an event without HideUsage: %q to %q", ev.Raw, out)
						}
					}
					if err != nil {
						break
					}
				}
				if m.Relayed != relayed {
					t.Fatalf("Relayed = %d, want %d", m.Relayed, relayed)
				}
				checkUsage(t, "StreamMeter("+r.route+")", m.Usage)
			}
		}
	})
}

// FuzzInspect checks InspectRequest's bounds on any body, the text bound
// on plain-text requests, and that addStreamUsage always yields a body
// asking for usage.
func FuzzInspect(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"n":2}`), "hello")
	f.Add([]byte(`{"model":"c","max_tokens":-5,"thinking":{"budget_tokens":1e20},"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"AAAA"}}]}]}`), "")
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBO"}},{"text":"x"}]}],"generationConfig":{"maxOutputTokens":"9"}}`), "日本")
	f.Add([]byte(`{"stream_options":{"include_usage":false},"a":[{"type":"image_url","image_url":"data:,"}]}`), "\"\\")
	f.Add([]byte(`[]`), "")
	f.Fuzz(func(t *testing.T, body []byte, text string) {
		for _, r := range routes {
			info, err := inspectFor(r.dialect, r.route, body)
			if err != nil {
				if !errors.Is(err, errBadBody) {
					t.Fatalf("InspectRequest error %v does not wrap ErrBadBody", err)
				}
				continue
			}
			if info.InputBound < 0 || info.MaxOutput < 0 || info.Choices < 1 || info.Choices > maxChoices ||
				info.InputBound > maxTokens || info.MaxOutput > maxTokens {
				t.Fatalf("inspectFor(%s, %s) = %+v: a bound out of range", r.route, body, info)
			}
		}

		checkInspectedFingerprint(t, body)

		for _, rq := range plainRequests(text) {
			info, err := inspectFor(rq.dialect, rq.route, rq.body)
			if err != nil {
				t.Fatalf("inspectFor(%s) error %v", rq.body, err)
			}
			if info.InputBound < rq.textBytes {
				t.Fatalf("inspectFor(%s).InputBound = %d, less than its %d bytes of text", rq.body, info.InputBound, rq.textBytes)
			}
		}

		out, err := addStreamUsage(body)
		if err != nil {
			if !errors.Is(err, errBadBody) {
				t.Fatalf("AddStreamUsage error %v does not wrap ErrBadBody", err)
			}
			return
		}
		// Decoded into maps: keys match exactly, as in the providers'
		// parsers (a struct would match them case-insensitively).
		var v map[string]any
		if !json.Valid(out) || json.Unmarshal(out, &v) != nil || v["stream_options"] == nil || v["stream_options"].(map[string]any)["include_usage"] != true {
			t.Fatalf("AddStreamUsage(%s) = %s, which does not ask for usage", body, out)
		}
	})
}

// allowListRE matches the paths of Endpoints, placeholders filled with
// what a checked segment may hold, under any Gemini API version.
func allowListRE(t testing.TB) map[string][]*regexp.Regexp {
	res := map[string][]*regexp.Regexp{}
	for _, e := range allEndpoints() {
		p := regexp.QuoteMeta(e.Path)
		p = strings.ReplaceAll(p, `\{id\}`, `[A-Za-z0-9_.:-]+`)
		p = strings.ReplaceAll(p, `\{model\}`, `[A-Za-z0-9_.-]+`)
		if e.Dialect == dialectGemini {
			p = strings.Replace(p, "/v1beta/", "/v1(beta|alpha)?/", 1)
		}
		res[e.Method] = append(res[e.Method], regexp.MustCompile("^"+p+"$"))
	}
	return res
}

// FuzzRoute checks that no method and raw path makes Sluice forward a
// request outside its allow-list or to a path other than the one it
// routed, and that parsing never panics.
func FuzzRoute(f *testing.F) {
	for _, e := range allEndpoints() {
		f.Add(e.Method, strings.NewReplacer("{id}", "resp_1", "{model}", "gemini-2.5-flash").Replace(e.Path))
	}
	for _, s := range []string{"/v1/responses/resp_1/../../files", "/v1/responses/%2e%2e/files", "/v1/files/a%2Fb", "/v1%2fchat/completions",
		"/openai/v1/chat/completions", "/mistral/chat/completions", "/anthropic/messages", "/messages", "/gemini/v1beta/models/x:generateContent",
		"/v1beta/models/a%3Ab:generateContent", "/v1//chat/completions", "/v1/chat/completions/", "/v1/models/ft:gpt-4o:org::1", "/%76%31/chat/completions",
		"/v1/responses\\..\\files", "/v1/batches", "/v1/messages/batches", "/v1beta/cachedContents", "/v1beta/models/..:generateContent"} {
		f.Add("POST", s)
		f.Add("GET", s)
	}
	providers := DefaultProviders()
	allowed := allowListRE(f)
	f.Fuzz(func(t *testing.T, method, raw string) {
		if checkRawPath(raw) != "" {
			return // refused with 400
		}
		lower := strings.ToLower(raw)
		for _, bad := range []string{"%2f", "%2e", "%5c", "%25", "/../", "/./", "\\"} {
			if strings.Contains(lower+"/", bad) {
				t.Fatalf("CheckRawPath(%q) passed a path holding %q", raw, bad)
			}
		}
		path, err := url.PathUnescape(raw)
		if err != nil {
			return // net/http refuses it before Sluice sees it
		}
		for _, h := range []http.Header{nil, {"Anthropic-Version": {"2023-06-01"}}, {"X-Goog-Api-Key": {"k"}}} {
			rt, rerr := parseRoute(method, path, h, providers, builtinDialects)
			if rerr != nil {
				if rerr.status != http.StatusNotFound || rerr.msg == "" {
					t.Fatalf("parseRoute(%q, %q) error %+v: want a 404 with a message", method, path, rerr)
				}
				continue
			}
			// The path sent upstream is in the allow-list, for its method.
			check := rt.Path
			if rt.dialect.info().name == dialectOpenAI && !strings.HasPrefix(check, "/v1/") {
				t.Fatalf("parseRoute(%q, %q).Path = %q: not under /v1", method, path, check)
			}
			ok := false
			for _, re := range allowed[method] {
				ok = ok || re.MatchString(check)
			}
			if !ok {
				t.Fatalf("parseRoute(%q, %q) forwards %s %q, which is not in the allow-list", method, path, method, check)
			}
			prov, known := providers[rt.Provider]
			if !known {
				prov = providers["openai"]
			}
			u, err := upstreamTarget(prov, rt.dialect, false, rt.Path, outboundQuery(url.Values{"KEY": {"x"}, "alt": {"sse"}, "api_key": {"sk-sluice-x"}}, builtinDialects))
			if err != nil {
				t.Fatal(err)
			}
			again, err := url.Parse(u.String())
			if err != nil || again.Host != prov.hostForTest() || len(again.Query()) != 1 {
				t.Fatalf("upstream URL %s: want the provider's host and no key", u)
			}
			base, _ := url.Parse(prov.BaseURL)
			want := strings.TrimRight(base.Path, "/") + strings.TrimPrefix(rt.Path, map[bool]string{true: "/v1"}[prov.Dialect == dialectOpenAI])
			if again.Path != want {
				t.Fatalf("upstream URL %s has path %q, want %q", u, again.Path, want)
			}
		}
	})
}
