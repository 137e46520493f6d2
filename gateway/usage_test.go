package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUsageFromBody(t *testing.T) {
	tests := []struct {
		file, dialect, route string
		want                 Usage
		model                string
		ok                   bool
	}{
		{"openai/chat.json", dialectOpenAI, "openai.chat",
			Usage{InputTokens: 2310, OutputTokens: 597, CachedInputTokens: 1920, ReasoningTokens: 448, ServiceTier: "default"},
			"gpt-5-mini-2025-08-07", true},
		{"openai/responses.json", dialectOpenAI, "openai.responses",
			Usage{InputTokens: 5120, OutputTokens: 812, CachedInputTokens: 4096, ReasoningTokens: 576, ServiceTier: "default"},
			"gpt-5-2025-08-07", true},
		{"openai/completions.json", dialectOpenAI, "openai.completions",
			Usage{InputTokens: 5, OutputTokens: 12}, "gpt-3.5-turbo-instruct:20230824-v2", true},
		{"openai/embeddings.json", dialectOpenAI, "openai.embeddings",
			Usage{InputTokens: 17}, "text-embedding-3-small", true},
		{"openai/error.json", dialectOpenAI, "openai.chat", Usage{}, "", false},
		{"anthropic/messages.json", dialectAnthropic, "anthropic.messages",
			Usage{InputTokens: 14 + 10240 + 2048, OutputTokens: 503, CachedInputTokens: 10240, CacheWriteTokens: 2048, CacheWrite1hTokens: 2048, ServiceTier: "standard"},
			"claude-sonnet-4-5-20250929", true},
		{"anthropic/count_tokens.json", dialectAnthropic, "anthropic.count_tokens", Usage{}, "", true},
		{"anthropic/error.json", dialectAnthropic, "anthropic.messages", Usage{}, "", false},
		{"gemini/generate_content.json", dialectGemini, "gemini.generateContent",
			Usage{InputTokens: 10437, OutputTokens: 212 + 701, CachedInputTokens: 8192, ReasoningTokens: 701},
			"gemini-2.5-flash", true},
		{"gemini/generate_content_search.json", dialectGemini, "gemini.generateContent",
			Usage{InputTokens: 9 + 1204, OutputTokens: 180 + 310, ReasoningTokens: 310, WebSearchCalls: 1},
			"gemini-2.5-flash", true},
		{"gemini/count_tokens.json", dialectGemini, "gemini.countTokens", Usage{}, "", true},
		{"gemini/embed_content.json", dialectGemini, "gemini.embedContent", Usage{}, "", false},
		{"gemini/batch_embed_contents.json", dialectGemini, "gemini.batchEmbedContents", Usage{}, "", false},
		{"gemini/error.json", dialectGemini, "gemini.generateContent", Usage{}, "", false},
	}
	for _, tt := range tests {
		u, model, ok := usageFor(tt.dialect, tt.route, readTestdata(t, tt.file))
		if u != tt.want || model != tt.model || ok != tt.ok {
			t.Errorf("usageFor(%s) = %+v, %q, %v; want %+v, %q, %v", tt.file, u, model, ok, tt.want, tt.model, tt.ok)
		}
	}
}

func TestUsageFromBodyShapes(t *testing.T) {
	tests := []struct {
		desc, dialect, route, body string
		want                       Usage
		ok                         bool
	}{
		{"reasoning beside completion tokens (xAI)", dialectOpenAI, "openai.chat",
			`{"model":"grok-4","usage":{"prompt_tokens":30,"completion_tokens":10,"total_tokens":240,"completion_tokens_details":{"reasoning_tokens":200}}}`,
			Usage{InputTokens: 30, OutputTokens: 210, ReasoningTokens: 200}, true},
		{"DeepSeek cache hits", dialectOpenAI, "openai.chat",
			`{"usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}}`,
			Usage{InputTokens: 100, OutputTokens: 5, CachedInputTokens: 64}, true},
		{"Groq's x_groq usage", dialectOpenAI, "openai.chat",
			`{"x_groq":{"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}}`,
			Usage{InputTokens: 12, OutputTokens: 3}, true},
		{"lenient numbers", dialectOpenAI, "openai.chat",
			`{"usage":{"prompt_tokens":"40","completion_tokens":2.2,"total_tokens":-1,"prompt_tokens_details":{"cached_tokens":99}}}`,
			Usage{InputTokens: 40, OutputTokens: 3, CachedInputTokens: 40}, true},
		{"negative counts", dialectAnthropic, "anthropic.messages",
			`{"usage":{"input_tokens":-5,"output_tokens":-7}}`, Usage{}, true},
		{"huge counts saturate", dialectGemini, "gemini.generateContent",
			`{"usageMetadata":{"promptTokenCount":1e300,"candidatesTokenCount":99999999999999999999999}}`,
			Usage{InputTokens: maxTokens, OutputTokens: maxTokens}, true},
		{"usage of the wrong type", dialectOpenAI, "openai.chat", `{"usage":[1,2]}`, Usage{}, false},
		{"null usage", dialectOpenAI, "openai.chat", `{"usage":null}`, Usage{}, false},
		{"not JSON", dialectAnthropic, "anthropic.messages", `event: message_start`, Usage{}, false},
		{"JSON array", dialectAnthropic, "anthropic.count_tokens", `[]`, Usage{}, false},
		{"streamGenerateContent without alt=sse", dialectGemini, "gemini.streamGenerateContent",
			`[{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5,"thoughtsTokenCount":20}},
			  {"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":9,"thoughtsTokenCount":20},"modelVersion":"gemini-2.5-pro"}]`,
			Usage{InputTokens: 5, OutputTokens: 29, ReasoningTokens: 20}, true},
	}
	for _, tt := range tests {
		u, _, ok := usageFor(tt.dialect, tt.route, []byte(tt.body))
		if u != tt.want || ok != tt.ok {
			t.Errorf("%s: usageFor(%s) = %+v, %v; want %+v, %v", tt.desc, tt.body, u, ok, tt.want, tt.ok)
		}
	}
}

// meter relays every event of the recorded stream file through m,
// returning what the client would receive and the reader's final error.
func meter(t *testing.T, m *streamMeter, in []byte, wrap func(io.Reader) io.Reader) ([]byte, error) {
	t.Helper()
	er := newSSEReader(wrap(bytes.NewReader(in)))
	var out []byte
	for {
		ev, err := er.Next()
		if len(ev.Raw) > 0 {
			out = append(out, m.relay(ev)...)
		}
		if err != nil {
			return out, err
		}
	}
}

func TestStreamMeter(t *testing.T) {
	tests := []struct {
		file, dialect, route string
		want                 Usage
		model, id            string
		done                 bool
		errMsg               string
		end                  error
	}{
		{"openai/chat_stream_usage.sse", dialectOpenAI, "openai.chat",
			Usage{InputTokens: 1536, OutputTokens: 8, CachedInputTokens: 1280, ServiceTier: "default"},
			"gpt-4.1-mini-2025-04-14", "chatcmpl-CBx2H7kQeR9tLmV4nPz8aWcY6sJ1o", true, "", io.EOF},
		{"openai/chat_stream.sse", dialectOpenAI, "openai.chat",
			Usage{}, "gpt-4.1-mini-2025-04-14", "chatcmpl-CBx2H7kQeR9tLmV4nPz8aWcY6sJ1o", true, "", io.EOF},
		{"openai/chat_stream_cut.sse", dialectOpenAI, "openai.chat",
			Usage{}, "gpt-4.1-mini-2025-04-14", "chatcmpl-CBx2H7kQeR9tLmV4nPz8aWcY6sJ1o", false, "", io.ErrUnexpectedEOF},
		{"openai/chat_stream_error.sse", dialectOpenAI, "openai.chat",
			Usage{}, "gpt-4.1-mini-2025-04-14", "chatcmpl-CBx2H7kQeR9tLmV4nPz8aWcY6sJ1o", false,
			"server_error: The server had an error while processing your request. Sorry about that!", io.EOF},
		{"openai/completions_stream_usage.sse", dialectOpenAI, "openai.completions",
			Usage{InputTokens: 4, OutputTokens: 5}, "gpt-3.5-turbo-instruct:20230824-v2", "cmpl-CBy1pW6sT3nL0xQ9vRmK2eJ8aZdYc", true, "", io.EOF},
		{"openai/responses_stream.sse", dialectOpenAI, "openai.responses",
			Usage{InputTokens: 2048, OutputTokens: 151, CachedInputTokens: 1792, ReasoningTokens: 128, ServiceTier: "auto"},
			"gpt-5-2025-08-07", "resp_68b5f0a1c2d48193a0f4e27b9c1d5e6f0a2b3c4d5e6f7a8b", true, "", io.EOF},
		{"openai/responses_stream_failed.sse", dialectOpenAI, "openai.responses",
			Usage{}, "gpt-5-2025-08-07", "resp_68b5f0a1c2d48193a0f4e27b9c1d5e6f0a2b3c4d5e6f7a8b", true,
			"server_error: An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists.", io.EOF},
		{"openai/responses_stream_error.sse", dialectOpenAI, "openai.responses",
			Usage{}, "gpt-5-2025-08-07", "resp_68b5f0a1c2d48193a0f4e27b9c1d5e6f0a2b3c4d5e6f7a8b", false,
			"rate_limit_exceeded: Rate limit reached for gpt-5 in organization org-Xq7 on tokens per min (TPM): Limit 30000, Used 29871, Requested 1204. Please try again in 2.15s.", io.EOF},
		{"anthropic/messages_stream.sse", dialectAnthropic, "anthropic.messages",
			Usage{InputTokens: 22 + 4096, OutputTokens: 387, CachedInputTokens: 4096, ServiceTier: "standard"},
			"claude-sonnet-4-5-20250929", "msg_01Hq9Jm3wQxY4rT7vZ2pLk8N", true, "", io.EOF},
		{"anthropic/messages_stream_web_search.sse", dialectAnthropic, "anthropic.messages",
			Usage{InputTokens: 12284, OutputTokens: 103, WebSearchCalls: 1, ServiceTier: "standard"},
			"claude-haiku-4-5-20251001", "msg_01Ws8eArCh5Tz2Lp9Qm4Kx7V", true, "", io.EOF},
		{"anthropic/messages_stream_cut.sse", dialectAnthropic, "anthropic.messages",
			Usage{InputTokens: 22 + 4096, OutputTokens: 1, CachedInputTokens: 4096, ServiceTier: "standard"},
			"claude-sonnet-4-5-20250929", "msg_01Bv6Tn2cRw8Yx3Zq5Lm7Jk4", false, "", io.EOF},
		{"anthropic/messages_stream_error.sse", dialectAnthropic, "anthropic.messages",
			Usage{InputTokens: 1875, OutputTokens: 2, ServiceTier: "standard"},
			"claude-opus-4-1-20250805", "msg_01QwErTy7uIoP3aSdF5gHjKl", false, "overloaded_error: Overloaded", io.EOF},
		{"gemini/stream_generate_content.sse", dialectGemini, "gemini.streamGenerateContent",
			Usage{InputTokens: 42, OutputTokens: 29 + 391, ReasoningTokens: 391},
			"gemini-2.5-pro", "kjm2aPKvDPWUz7IPzbq-6Qs", true, "", io.EOF},
		{"gemini/stream_generate_content_cut.sse", dialectGemini, "gemini.streamGenerateContent",
			Usage{InputTokens: 42, OutputTokens: 391, ReasoningTokens: 391},
			"gemini-2.5-pro", "pTn2aLyHF8aJz7IP8tG3uQw", false, "", io.ErrUnexpectedEOF},
		{"gemini/stream_generate_content_error.sse", dialectGemini, "gemini.streamGenerateContent",
			Usage{InputTokens: 42, OutputTokens: 4},
			"gemini-2.5-flash", "wUr2aJ3mC4yWz7IPq8m1sA0", false, "UNAVAILABLE: The model is overloaded. Please try again later.", io.EOF},
	}
	for _, tt := range tests {
		in := readTestdata(t, tt.file)
		for _, rd := range readers {
			m := meterFor(tt.dialect, tt.route, false)
			out, end := meter(t, m, in, rd.wrap)
			if m.Usage != tt.want {
				t.Errorf("%s/%s: Usage = %+v, want %+v", tt.file, rd.name, m.Usage, tt.want)
			}
			if m.Model != tt.model || m.UpstreamID != tt.id || m.Done != tt.done || m.ErrorMessage != tt.errMsg {
				t.Errorf("%s/%s: Model, UpstreamID, Done, ErrorMessage = %q, %q, %v, %q; want %q, %q, %v, %q",
					tt.file, rd.name, m.Model, m.UpstreamID, m.Done, m.ErrorMessage, tt.model, tt.id, tt.done, tt.errMsg)
			}
			if end != tt.end {
				t.Errorf("%s/%s: stream ended with %v, want %v", tt.file, rd.name, end, tt.end)
			}
			if !bytes.Equal(out, in) || m.Relayed != int64(len(in)) {
				t.Errorf("%s/%s: relayed %d bytes (Relayed %d), want the %d-byte stream unchanged", tt.file, rd.name, len(out), m.Relayed, len(in))
			}
		}
	}
}

// TestHideUsage checks that a stream Sluice asked usage of reaches the
// client exactly as it would have without the asking.
func TestHideUsage(t *testing.T) {
	with := readTestdata(t, "openai/chat_stream_usage.sse")
	without := readTestdata(t, "openai/chat_stream.sse")
	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	tests := []struct {
		desc     string
		in, want []byte
	}{
		{"recorded", with, without},
		{"CRLF", crlf(with), crlf(without)},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			m := meterFor(dialectOpenAI, "openai.chat", true)
			out, err := meter(t, m, tt.in, rd.wrap)
			if err != io.EOF {
				t.Errorf("%s/%s: stream ended with %v", tt.desc, rd.name, err)
			}
			if !bytes.Equal(out, tt.want) {
				t.Errorf("%s/%s: HideUsage relayed\n%s\nwant\n%s", tt.desc, rd.name, out, tt.want)
			}
			if m.Relayed != int64(len(tt.want)) {
				t.Errorf("%s/%s: Relayed = %d, want %d", tt.desc, rd.name, m.Relayed, len(tt.want))
			}
			want := Usage{InputTokens: 1536, OutputTokens: 8, CachedInputTokens: 1280, ServiceTier: "default"}
			if m.Usage != want || !m.Done {
				t.Errorf("%s/%s: hidden usage metered as %+v, done %v; want %+v, done", tt.desc, rd.name, m.Usage, m.Done, want)
			}
		}
	}

	// Completions: the same rules.
	in := readTestdata(t, "openai/completions_stream_usage.sse")
	m := meterFor(dialectOpenAI, "openai.completions", true)
	out, _ := meter(t, m, in, iotest.HalfReader)
	if bytes.Contains(out, []byte(`"usage"`)) || !bytes.HasSuffix(out, []byte("\"finish_reason\":\"length\"}],\"model\":\"gpt-3.5-turbo-instruct:20230824-v2\"}\n\ndata: [DONE]\n\n")) {
		t.Errorf("completions with HideUsage relayed\n%s\nwant no usage members and no usage chunk", out)
	}
	if m.Usage != (Usage{InputTokens: 4, OutputTokens: 5}) {
		t.Errorf("completions with HideUsage metered %+v, want 4 in, 5 out", m.Usage)
	}
}

func TestHideUsageMembers(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id":"a","choices":[{"delta":{}}],"usage":null}`, `{"id":"a","choices":[{"delta":{}}]}`},
		{`{"usage":null,"id":"a","choices":[]}`, `{"id":"a","choices":[]}`},
		{`{"usage":null}`, `{}`},
		{`{ "id": "a", "usage": null, "x": 1 }`, `{ "id": "a", "x": 1 }`},
		{`{"id":"a","usage" : null ,"x":1}`, `{"id":"a" ,"x":1}`},
		// Only the top-level member goes.
		{`{"choices":[{"delta":{"content":"\"usage\":null","usage":null}}],"usage":null}`, `{"choices":[{"delta":{"content":"\"usage\":null","usage":null}}]}`},
		// Nothing to strip.
		{`{"choices":[{"delta":{"content":"hi"}}]}`, `{"choices":[{"delta":{"content":"hi"}}]}`},
		// A usage chunk with choices stays (some providers send usage on the last content chunk).
		{`{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`, `{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`},
	}
	for _, tt := range tests {
		m := meterFor(dialectOpenAI, "openai.chat", true)
		raw := "data: " + tt.in + "\n\n"
		got := m.relay(streamEvent{Data: []byte(tt.in), Raw: []byte(raw)})
		if want := "data: " + tt.want + "\n\n"; string(got) != want {
			t.Errorf("Relay(%s) with HideUsage = %q, want %q", tt.in, got, want)
		}
	}
	// The usage-only chunk is dropped.
	m := meterFor(dialectOpenAI, "openai.chat", true)
	chunk := `{"id":"a","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`
	if got := m.relay(streamEvent{Data: []byte(chunk), Raw: []byte("data: " + chunk + "\n\n")}); got != nil {
		t.Errorf("Relay(usage-only chunk) with HideUsage = %q, want nil", got)
	}
	if m.Usage != (Usage{InputTokens: 3, OutputTokens: 1}) || m.Relayed != 0 {
		t.Errorf("after the usage-only chunk: Usage %+v, Relayed %d; want 3 in, 1 out, nothing relayed", m.Usage, m.Relayed)
	}
}

func TestStreamMeterCumulative(t *testing.T) {
	// Anthropic: message_delta replaces output, and input when it says so.
	m := meterFor(dialectAnthropic, "anthropic.messages", false)
	for _, d := range []string{
		`{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":50,"cache_creation":{"ephemeral_5m_input_tokens":40,"ephemeral_1h_input_tokens":60},"output_tokens":1}}}`,
		`{"type":"message_delta","delta":{},"usage":{"output_tokens":20}}`,
		`{"type":"message_delta","delta":{},"usage":{"output_tokens":35}}`,
	} {
		m.relay(streamEvent{Name: "x", Data: []byte(d), Raw: []byte("data: " + d + "\n\n")})
	}
	want := Usage{InputTokens: 160, OutputTokens: 35, CachedInputTokens: 50, CacheWriteTokens: 100, CacheWrite1hTokens: 60}
	if m.Usage != want {
		t.Errorf("Anthropic cumulative usage = %+v, want %+v", m.Usage, want)
	}

	// Gemini: a later chunk missing a count does not lower it.
	g := meterFor(dialectGemini, "gemini.streamGenerateContent", false)
	for _, d := range []string{
		`{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"thoughtsTokenCount":11}}`,
		`{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":9}}`,
		`{"candidates":[{"finishReason":"STOP"}]}`,
	} {
		g.relay(streamEvent{Data: []byte(d), Raw: []byte("data: " + d + "\r\n\r\n")})
	}
	if want := (Usage{InputTokens: 7, OutputTokens: 20, ReasoningTokens: 11}); g.Usage != want || !g.Done {
		t.Errorf("Gemini merged usage = %+v, done %v; want %+v, done", g.Usage, g.Done, want)
	}

	// OpenAI: a provider sending usage on every chunk is read, not summed.
	o := meterFor(dialectOpenAI, "openai.chat", false)
	for _, d := range []string{
		`{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`,
		`{"choices":[{"delta":{"content":"b"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`,
	} {
		o.relay(streamEvent{Data: []byte(d), Raw: []byte("data: " + d + "\n\n")})
	}
	if want := (Usage{InputTokens: 5, OutputTokens: 2}); o.Usage != want {
		t.Errorf("OpenAI usage on every chunk = %+v, want %+v", o.Usage, want)
	}

	// A blocked Gemini prompt is a complete answer.
	b := meterFor(dialectGemini, "gemini.streamGenerateContent", false)
	d := `{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":12,"totalTokenCount":12}}`
	b.relay(streamEvent{Data: []byte(d), Raw: []byte("data: " + d + "\r\n\r\n")})
	if !b.Done || b.Usage != (Usage{InputTokens: 12}) {
		t.Errorf("blocked Gemini prompt: Done %v, Usage %+v; want done, 12 in", b.Done, b.Usage)
	}
}

func TestStreamMeterPassesUnknownThrough(t *testing.T) {
	for _, m := range []*streamMeter{
		meterFor(dialectOpenAI, "openai.chat", true),
		meterFor(dialectAnthropic, "anthropic.messages", false),
		meterFor(dialectGemini, "gemini.streamGenerateContent", false),
	} {
		for _, raw := range []string{": ping\n\n", "\n", "data: not json\n\n", "data: [1,2]\n\n", "event: ping\ndata: {}\n\n"} {
			evs, _ := readAll(strings.NewReader(raw))
			for _, ev := range evs {
				if got := m.relay(ev); !bytes.Equal(got, ev.Raw) {
					t.Errorf("%s Relay(%q) = %q, want it unchanged", m.d.info().name, ev.Raw, got)
				}
			}
		}
		if !m.Usage.IsZero() || m.Done || m.ErrorMessage != "" {
			t.Errorf("%s meter after noise: %+v", m.d.info().name, m)
		}
	}
}

func TestCutEvent(t *testing.T) {
	const msg = "Sluice budget \"daily\" is spent"
	tests := []struct {
		dialect, route, kind string
		name                 string // the event name a client sees
		check                func(data map[string]any) bool
	}{
		{dialectOpenAI, "openai.chat", "budget_exceeded", "", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			return e["message"] == msg && e["type"] == "budget_exceeded" && e["code"] == "budget_exceeded" && len(d) == 1
		}},
		{dialectOpenAI, "openai.completions", "upstream_error", "", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			return e["message"] == msg && e["type"] == "upstream_error"
		}},
		{dialectOpenAI, "openai.responses", "budget_exceeded", "error", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			// Flat, as the API documents it; nested, as the Python SDK needs.
			return d["type"] == "error" && d["code"] == "budget_exceeded" && d["message"] == msg &&
				d["sequence_number"] != nil && e["message"] == msg
		}},
		{dialectAnthropic, "anthropic.messages", "budget_exceeded", "error", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			return d["type"] == "error" && e["type"] == "billing_error" && e["message"] == msg
		}},
		{dialectAnthropic, "anthropic.messages", "overloaded_error", "error", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			return e["type"] == "overloaded_error"
		}},
		{dialectGemini, "gemini.streamGenerateContent", "budget_exceeded", "", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			return e["code"] == json.Number("402") && e["status"] == "FAILED_PRECONDITION" && e["message"] == msg && len(d) == 1
		}},
		{dialectGemini, "gemini.streamGenerateContent", "upstream_error", "", func(d map[string]any) bool {
			e, _ := d["error"].(map[string]any)
			return e["code"] == json.Number("502") && e["status"] == "UNAVAILABLE"
		}},
	}
	for _, tt := range tests {
		b := cutFor(tt.dialect, tt.route, tt.kind, msg)
		evs, err := readAll(bytes.NewReader(b))
		if err != io.EOF || len(evs) != 1 {
			t.Errorf("cutFor(%s, %s) = %q: want one complete event", tt.dialect, tt.route, b)
			continue
		}
		ev := evs[0]
		var data map[string]any
		dec := json.NewDecoder(bytes.NewReader(ev.Data))
		dec.UseNumber()
		if ev.Name != tt.name || dec.Decode(&data) != nil || !tt.check(data) {
			t.Errorf("cutFor(%s, %s, %s) = %q, not the dialect's error event", tt.dialect, tt.route, tt.kind, b)
		}
		// The cut event is what the meter itself recognises as an error.
		m := meterFor(tt.dialect, tt.route, false)
		m.relay(ev)
		if m.ErrorMessage == "" || !strings.Contains(m.ErrorMessage, msg) {
			t.Errorf("a meter reading cutFor(%s, %s) noted error %q, want the message", tt.dialect, tt.route, m.ErrorMessage)
		}
	}
	// google-genai raises only on a chunk whose first member is "error".
	if b := cutFor(dialectGemini, "gemini.streamGenerateContent", "budget_exceeded", msg); !bytes.HasPrefix(b, []byte(`data: {"error":`)) {
		t.Errorf("Gemini CutEvent = %q, want a data line starting {\"error\":", b)
	}
}

func TestStreamMeterCutNumbersResponses(t *testing.T) {
	m := meterFor(dialectOpenAI, "openai.responses", false)
	meter(t, m, readTestdata(t, "openai/responses_stream_error.sse"), iotest.HalfReader)
	evs, _ := readAll(bytes.NewReader(m.cut("budget_exceeded", "spent")))
	var d struct {
		Seq int64 `json:"sequence_number"`
	}
	if len(evs) != 1 || json.Unmarshal(evs[0].Data, &d) != nil || d.Seq != 8 {
		t.Errorf("Cut after sequence 7 = %q, want sequence_number 8", evs)
	}
}

// TestStripNullMemberMatchesReference checks stripNullMember against the
// copy-per-step reference in usageref_test.go: the same bytes for member
// lists of every shape (the member first, last, alone, repeated, spelt
// with escapes, with white space anywhere) and for events framed in one
// data line, with CRLF, around other fields, or in several data lines.
func TestStripNullMemberMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 11))
	keys := []string{`"usage"`, `"usag\u0065"`, `"Usage"`, `"id"`, `"choices"`, `"usage "`, `"x"`}
	vals := []string{`null`, `1`, `"usage"`, `{"usage":null}`, `[null,{}]`, `""`, `{"a":[1,{"b":"\"}"}]}`}
	sp := func() string { return []string{"", "", " ", "\n", " \t"}[r.IntN(5)] }
	var buf []byte
	for n := range 40_000 {
		var b strings.Builder
		b.WriteString(sp() + "{" + sp())
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteString(sp() + "," + sp())
			}
			b.WriteString(keys[r.IntN(len(keys))] + sp() + ":" + sp() + vals[r.IntN(len(vals))])
		}
		b.WriteString(sp() + "}" + sp())
		data := b.String()
		if n%4 == 3 {
			// Split in one more place, as a provider may send it.
			if half := strings.Index(data, ","); half >= 0 {
				data = data[:half] + "\n" + data[half:]
			}
		}
		evName := ""
		// Each line of the data in a data line of its own.
		lines := strings.Split(data, "\n")
		var raw string
		switch n % 4 {
		case 0:
			raw = "data: " + strings.Join(lines, "\ndata: ") + "\n\n"
		case 1:
			raw = "id: 7\r\ndata:" + strings.Join(lines, "\r\ndata:") + "\r\n: note\r\n\r\n"
		default:
			evName = "chunk"
			raw = "event: chunk\ndata: " + strings.Join(lines, "\ndata: ") + "\nretry: 5\n\n"
		}
		// The event as the stream reader makes it of those bytes.
		ev, err := newSSEReader(strings.NewReader(raw)).Next()
		if err != nil && err != io.EOF || ev.Name != evName || !json.Valid(ev.Data) {
			continue
		}
		got, ok := stripNullMember(ev.Data, ev.Raw, ev.Name, "usage", buf)
		if !ok {
			got = ev.Raw
		} else {
			buf = got
		}
		if len(lines) > 1 {
			// The reference wrote the edited data in one line, which
			// its newlines cut short: what the client reads must be the
			// edited data, in as many lines.
			want := ev.Data
			if ms, _, _, ok := refObjectMembers(ev.Data); ok {
				if i := lastMember(ms, "usage"); i >= 0 {
					want = refRemoveMember(ev.Data, ms, i)
				}
			}
			read, err := newSSEReader(bytes.NewReader(got)).Next()
			if (err != nil && err != io.EOF) || read.Name != ev.Name || !bytes.Equal(read.Data, want) {
				t.Fatalf("stripNullMember(%q) = %q, read back as %q %q, want %q", raw, got, read.Name, read.Data, want)
			}
			continue
		}
		if want := refStripNullMember(ev, "usage"); !bytes.Equal(got, want) {
			t.Fatalf("stripNullMember(%q) = %q, want %q", raw, got, want)
		}
	}
	// Chunks the plain-chunk path hands over undecoded: values that are
	// not strictly JSON are stepped over, as before.
	for _, data := range []string{"{\"c\":\"\t\",\"usage\":null}", "{\"usag\\u0065\":null,\"c\":\"\t\"}", `{"c":"\x","usage":null}`} {
		ev := streamEvent{Data: []byte(data), Raw: []byte("data: " + data + "\n\n")}
		got, ok := stripNullMember(ev.Data, ev.Raw, "", "usage", nil)
		if want := refStripNullMember(ev, "usage"); !ok || !bytes.Equal(got, want) {
			t.Errorf("stripNullMember(%q) = %q, %v; want %q", data, got, ok, want)
		}
	}
}

// TestHideUsageReusesBuffer checks that a meter hiding usage writes the
// events it edits over one buffer, yet every event handed on is whole
// before the next, and that the events it leaves alone are the reader's
// own bytes.
func TestHideUsageReusesBuffer(t *testing.T) {
	m := meterFor(dialectOpenAI, "openai.chat", true)
	first := `{"id":"a","model":"m","choices":[{"delta":{"content":"hi"}}],"usage":null}`
	m.relay(streamEvent{Data: []byte(first), Raw: []byte("data: " + first + "\n\n")})
	for i := range 50 {
		text := strings.Repeat("x", i)
		data := `{"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"` + text + `"}}],"usage":null}`
		got := m.relay(streamEvent{Data: []byte(data), Raw: []byte("data: " + data + "\n\n")})
		if want := `data: {"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"` + text + `"}}]}` + "\n\n"; string(got) != want {
			t.Fatalf("event %d relayed %q, want %q", i, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() {
		data := `{"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}`
		m.relay(streamEvent{Data: []byte(data), Raw: []byte("data: " + data + "\n\n")})
	}); allocs > 2 {
		t.Errorf("an edited event costs %v allocations, want none beyond the test's own two", allocs)
	}
	plain := `{"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"y"}}]}`
	raw := []byte("data: " + plain + "\n\n")
	if got := m.relay(streamEvent{Data: []byte(plain), Raw: raw}); &got[0] != &raw[0] {
		t.Errorf("an event with nothing to hide was copied")
	}
}
