package e2e

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
)

// sdkCase is one call an SDK script makes, what the upstream must receive
// for it, and what its recorded answer reports.
type sdkCase struct {
	script string // the node script, e.g. "openai.mjs"
	name   string // the case it runs, e.g. "chat"
	// provider is the upstream that serves the call.
	provider string
	// method and path are what the upstream must receive.
	method, path string
	// model is the model the request names.
	model  string
	stream bool
	// metered is whether the ledger must hold a priced row for the call.
	metered bool
	// usage is what the recorded answer reports, in the ledger's terms
	// (input counts cached and cache-write tokens; output counts reasoning).
	usage gateway.Usage
	// hand is the call's cost worked out by hand from the provider's list
	// price, as an exact decimal of dollars, or "" when not done by hand.
	hand string
	// check looks at what the SDK returned.
	check func(t *testing.T, result json.RawMessage)
}

func (c sdkCase) String() string { return strings.TrimSuffix(c.script, ".mjs") + "/" + c.name }

// keyHeader is the header the SDK puts the key in for this case.
func (c sdkCase) keyHeader() string {
	switch {
	case c.provider == "gemini":
		return "X-Goog-Api-Key"
	case c.name == "messages-x-api-key":
		return "X-Api-Key"
	default:
		return "Authorization"
	}
}

// sdkCases are every call the end-to-end tests make, in order.
var sdkCases = []sdkCase{
	{
		script: "openai.mjs", name: "chat", provider: "openai",
		method: "POST", path: "/v1/chat/completions", model: "gpt-4o-mini", metered: true,
		usage: gateway.Usage{InputTokens: 1200, CachedInputTokens: 1024, OutputTokens: 300},
		// gpt-4o-mini lists at $0.15 per million input tokens, $0.075 cached,
		// $0.60 output: 176 × 0.15 + 1024 × 0.075 + 300 × 0.60 = 283.2
		// millionths of a dollar.
		hand: "0.0002832",
		check: func(t *testing.T, raw json.RawMessage) {
			var r struct {
				ID, Model, Content string
				Usage              struct {
					PromptTokens        int64 `json:"prompt_tokens"`
					PromptTokensDetails struct {
						CachedTokens int64 `json:"cached_tokens"`
					} `json:"prompt_tokens_details"`
				}
			}
			decode(t, raw, &r)
			want := "A sluice is a channel with a gate that controls how much water flows through it."
			if r.Content != want || r.ID != "chatcmpl-CJ4x7wq1ZbN8sVtGm2Hk0RfPz9aLe" {
				t.Errorf("chat.completions.create() = id %q content %q, want id chatcmpl-CJ4x7wq1ZbN8sVtGm2Hk0RfPz9aLe content %q", r.ID, r.Content, want)
			}
			if r.Usage.PromptTokens != 1200 || r.Usage.PromptTokensDetails.CachedTokens != 1024 {
				t.Errorf("chat.completions.create() usage = %+v, want 1200 prompt tokens, 1024 cached", r.Usage)
			}
		},
	},
	{
		script: "openai.mjs", name: "chat-stream", provider: "openai",
		method: "POST", path: "/v1/chat/completions", model: "gpt-4o-mini", stream: true, metered: true,
		usage: gateway.Usage{InputTokens: 1234, CachedInputTokens: 1152, OutputTokens: 87},
		// The caller did not ask for usage: it must see exactly the chunks
		// OpenAI sends such a caller, with no usage chunk and no usage
		// field, even though Sluice asked the upstream for usage.
		check: checkChatStream("chat-stream.sse"),
	},
	{
		script: "openai.mjs", name: "chat-stream-usage", provider: "openai",
		method: "POST", path: "/v1/chat/completions", model: "gpt-4o-mini", stream: true, metered: true,
		usage: gateway.Usage{InputTokens: 1234, CachedInputTokens: 1152, OutputTokens: 87},
		// The caller asked for usage: it must get the usage chunk.
		check: checkChatStream("chat-stream-usage.sse"),
	},
	{
		script: "openai.mjs", name: "responses", provider: "openai",
		method: "POST", path: "/v1/responses", model: "gpt-5-mini", metered: true,
		usage: gateway.Usage{InputTokens: 2048, CachedInputTokens: 1536, OutputTokens: 900, ReasoningTokens: 768},
		check: func(t *testing.T, raw json.RawMessage) {
			var r struct {
				ID         string
				Status     string
				OutputText string `json:"output_text"`
				Usage      struct {
					OutputTokensDetails struct {
						ReasoningTokens int64 `json:"reasoning_tokens"`
					} `json:"output_tokens_details"`
				}
			}
			decode(t, raw, &r)
			want := "Hold the worst case first, then settle the real cost once the answer is in."
			if r.OutputText != want || r.Status != "completed" {
				t.Errorf("responses.create() = status %q output_text %q, want completed %q", r.Status, r.OutputText, want)
			}
			if r.Usage.OutputTokensDetails.ReasoningTokens != 768 {
				t.Errorf("responses.create() reasoning tokens = %d, want 768", r.Usage.OutputTokensDetails.ReasoningTokens)
			}
		},
	},
	{
		script: "openai.mjs", name: "responses-stream", provider: "openai",
		method: "POST", path: "/v1/responses", model: "gpt-5-mini", stream: true, metered: true,
		usage: gateway.Usage{InputTokens: 3100, CachedInputTokens: 2944, OutputTokens: 1200, ReasoningTokens: 1024},
		check: func(t *testing.T, raw json.RawMessage) {
			var r struct {
				Types      []string
				Text       string
				OutputText string `json:"output_text"`
				Usage      struct {
					InputTokens int64 `json:"input_tokens"`
				}
			}
			decode(t, raw, &r)
			want := "Budgets hold before a byte leaves."
			if r.Text != want || r.OutputText != want {
				t.Errorf("responses stream text = %q, output_text %q, want %q", r.Text, r.OutputText, want)
			}
			if wantTypes := sseEventNames(t, "openai", "responses-stream.sse"); !reflect.DeepEqual(r.Types, wantTypes) {
				t.Errorf("responses stream events = %q, want %q", r.Types, wantTypes)
			}
			if r.Usage.InputTokens != 3100 {
				t.Errorf("responses stream completed usage input_tokens = %d, want 3100", r.Usage.InputTokens)
			}
		},
	},
	{
		script: "openai.mjs", name: "embeddings", provider: "openai",
		method: "POST", path: "/v1/embeddings", model: "text-embedding-3-small", metered: true,
		usage: gateway.Usage{InputTokens: 8},
		// text-embedding-3-small lists at $0.02 per million tokens.
		hand: "0.00000016",
		check: func(t *testing.T, raw json.RawMessage) {
			var r struct {
				Embedding []float64
				Usage     struct {
					PromptTokens int64 `json:"prompt_tokens"`
				}
			}
			decode(t, raw, &r)
			want := []float64{0.0123, -0.0456, 0.0789, -0.1011, 0.1213, -0.1415, 0.1617, -0.1819}
			ok := len(r.Embedding) == len(want)
			for i := 0; ok && i < len(want); i++ {
				// The wire carries float32; compare at that precision.
				ok = float32(r.Embedding[i]) == float32(want[i]) && !math.IsNaN(r.Embedding[i])
			}
			if !ok || r.Usage.PromptTokens != 8 {
				t.Errorf("embeddings.create() = %v with %d tokens, want %v with 8", r.Embedding, r.Usage.PromptTokens, want)
			}
		},
	},
	{
		script: "openai.mjs", name: "models", provider: "openai",
		method: "GET", path: "/v1/models",
		check: func(t *testing.T, raw json.RawMessage) {
			var r struct{ IDs []string }
			decode(t, raw, &r)
			want := []string{"gpt-4o-mini", "gpt-5-mini", "text-embedding-3-small"}
			if !reflect.DeepEqual(r.IDs, want) {
				t.Errorf("models.list() = %q, want %q", r.IDs, want)
			}
		},
	},
	{
		script: "anthropic.mjs", name: "messages", provider: "anthropic",
		method: "POST", path: "/v1/messages", model: "claude-sonnet-4-5", metered: true,
		usage: anthropicUsage, check: checkMessages,
	},
	{
		// The key in x-api-key, as older SDKs and Claude Code send it.
		script: "anthropic.mjs", name: "messages-x-api-key", provider: "anthropic",
		method: "POST", path: "/v1/messages", model: "claude-sonnet-4-5", metered: true,
		usage: anthropicUsage, check: checkMessages,
	},
	{
		script: "anthropic.mjs", name: "messages-stream", provider: "anthropic",
		method: "POST", path: "/v1/messages", model: "claude-haiku-4-5", stream: true, metered: true,
		// 25 + 1024 written (all with the one-hour lifetime) + 3072 read.
		usage: gateway.Usage{InputTokens: 4121, CachedInputTokens: 3072, CacheWriteTokens: 1024, CacheWrite1hTokens: 1024, OutputTokens: 180},
		check: func(t *testing.T, raw json.RawMessage) {
			var r struct {
				Types      []string
				Text       string
				StopReason string `json:"stop_reason"`
				Usage      struct {
					OutputTokens int64 `json:"output_tokens"`
				}
			}
			decode(t, raw, &r)
			want := "Streams are metered event by event."
			if r.Text != want || r.StopReason != "end_turn" {
				t.Errorf("messages.stream() final message = text %q stop %q, want %q end_turn", r.Text, r.StopReason, want)
			}
			var wantTypes []string
			for _, n := range sseEventNames(t, "anthropic", "messages-stream.sse") {
				if n != "ping" { // the SDK drops pings
					wantTypes = append(wantTypes, n)
				}
			}
			if !reflect.DeepEqual(r.Types, wantTypes) {
				t.Errorf("messages.stream() events = %q, want %q", r.Types, wantTypes)
			}
			if r.Usage.OutputTokens != 180 {
				t.Errorf("messages.stream() output_tokens = %d, want 180", r.Usage.OutputTokens)
			}
		},
	},
	{
		// @google/genai 3.x calls /v1 unless told otherwise.
		script: "gemini.mjs", name: "generate", provider: "gemini",
		method: "POST", path: "/v1/models/gemini-2.5-flash:generateContent", model: "gemini-2.5-flash", metered: true,
		usage: geminiUsage, check: checkGenerate,
	},
	{
		script: "gemini.mjs", name: "generate-stream", provider: "gemini",
		method: "POST", path: "/v1/models/gemini-2.5-flash:streamGenerateContent", model: "gemini-2.5-flash", stream: true, metered: true,
		usage: geminiStreamUsage, check: checkGenerateStream,
	},
	{
		script: "gemini.mjs", name: "generate-v1beta", provider: "gemini",
		method: "POST", path: "/v1beta/models/gemini-2.5-flash:generateContent", model: "gemini-2.5-flash", metered: true,
		usage: geminiUsage, check: checkGenerate,
	},
	{
		script: "gemini.mjs", name: "generate-stream-v1beta", provider: "gemini",
		method: "POST", path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", model: "gemini-2.5-flash", stream: true, metered: true,
		usage: geminiStreamUsage, check: checkGenerateStream,
	},
}

// Anthropic's input_tokens leaves out cache reads and writes; the ledger's
// input counts them: 1500 + 2000 + 4000.
var anthropicUsage = gateway.Usage{InputTokens: 7500, CachedInputTokens: 4000, CacheWriteTokens: 2000, OutputTokens: 420}

func checkMessages(t *testing.T, raw json.RawMessage) {
	var r struct {
		ID, Model, Text string
		StopReason      string `json:"stop_reason"`
		Usage           struct {
			InputTokens          int64 `json:"input_tokens"`
			CacheReadInputTokens int64 `json:"cache_read_input_tokens"`
		}
	}
	decode(t, raw, &r)
	want := "Every request is held against the budget before it goes out, and settled once."
	if r.Text != want || r.StopReason != "end_turn" || r.ID != "msg_01XFDUDYJgAACzvnptvVoYEL" {
		t.Errorf("messages.create() = id %q text %q stop %q, want msg_01XFDUDYJgAACzvnptvVoYEL %q end_turn", r.ID, r.Text, r.StopReason, want)
	}
	if r.Usage.InputTokens != 1500 || r.Usage.CacheReadInputTokens != 4000 {
		t.Errorf("messages.create() usage = %+v, want 1500 input, 4000 cache read", r.Usage)
	}
}

// Gemini's promptTokenCount includes cached tokens; its output is the
// candidates' tokens plus the thoughts'.
var (
	geminiUsage       = gateway.Usage{InputTokens: 3000, CachedInputTokens: 2048, OutputTokens: 750, ReasoningTokens: 500}
	geminiStreamUsage = gateway.Usage{InputTokens: 1800, OutputTokens: 380, ReasoningTokens: 260}
)

func checkGenerate(t *testing.T, raw json.RawMessage) {
	var r struct {
		Text         string
		ModelVersion string `json:"model_version"`
		Usage        struct {
			PromptTokenCount        int64
			CachedContentTokenCount int64
			ThoughtsTokenCount      int64
		}
	}
	decode(t, raw, &r)
	want := "A local gateway meters each call and stops spend at the budget."
	if r.Text != want || r.ModelVersion != "gemini-2.5-flash" {
		t.Errorf("models.generateContent() = text %q modelVersion %q, want %q gemini-2.5-flash", r.Text, r.ModelVersion, want)
	}
	if r.Usage.PromptTokenCount != 3000 || r.Usage.CachedContentTokenCount != 2048 || r.Usage.ThoughtsTokenCount != 500 {
		t.Errorf("models.generateContent() usageMetadata = %+v, want 3000 prompt, 2048 cached, 500 thoughts", r.Usage)
	}
}

func checkGenerateStream(t *testing.T, raw json.RawMessage) {
	var r struct {
		Texts []string
		Usage struct {
			CandidatesTokenCount int64
			ThoughtsTokenCount   int64
		}
	}
	decode(t, raw, &r)
	want := []string{"Tokens", " arrive", " in", " chunks", "; the last one carries the final count."}
	if !reflect.DeepEqual(r.Texts, want) {
		t.Errorf("models.generateContentStream() chunks = %q, want %q", r.Texts, want)
	}
	if r.Usage.CandidatesTokenCount != 120 || r.Usage.ThoughtsTokenCount != 260 {
		t.Errorf("models.generateContentStream() last usageMetadata = %+v, want 120 candidates, 260 thoughts", r.Usage)
	}
}

// checkChatStream checks that the SDK yielded exactly the chunks of the
// recorded stream file, as it does when it talks to OpenAI directly.
func checkChatStream(file string) func(t *testing.T, raw json.RawMessage) {
	return func(t *testing.T, raw json.RawMessage) {
		var r struct {
			Chunks  []any
			Content string
		}
		decode(t, raw, &r)
		if want := "Gates open, water flows."; r.Content != want {
			t.Errorf("chat stream content = %q, want %q", r.Content, want)
		}
		want := sseData(t, "openai", file)
		if len(r.Chunks) != len(want) {
			t.Errorf("chat stream gave %d chunks, want %d as in %s:\ngot  %s\nwant %s", len(r.Chunks), len(want), file, compact(r.Chunks), compact(want))
			return
		}
		for i := range want {
			if !reflect.DeepEqual(r.Chunks[i], want[i]) {
				t.Errorf("chat stream chunk %d = %s, want %s", i, compact(r.Chunks[i]), compact(want[i]))
			}
		}
	}
}

func decode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode SDK result %s: %v", raw, err)
	}
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sseData returns the JSON values of the data lines of a recorded stream,
// leaving out OpenAI's final [DONE].
func sseData(t *testing.T, provider, file string) []any {
	t.Helper()
	var out []any
	for _, line := range recordedLines(t, provider, file) {
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			t.Fatalf("testdata/%s/%s: %v", provider, file, err)
		}
		out = append(out, v)
	}
	return out
}

// sseEventNames returns the event: names of a recorded stream, in order.
func sseEventNames(t *testing.T, provider, file string) []string {
	t.Helper()
	var out []string
	for _, line := range recordedLines(t, provider, file) {
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			out = append(out, n)
		}
	}
	return out
}

func recordedLines(t *testing.T, provider, file string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", provider, file))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return strings.Split(string(b), "\n")
}
