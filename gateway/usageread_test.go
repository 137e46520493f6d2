package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The scanner-based readers of answers must give exactly what the
// encoding/json readers kept in usageref_test.go give, for the recorded
// payloads, for the odd bodies below and for bodies made at random from
// the members they read, spelled and typed every way JSON allows.

// usageCorpus is the recorded answers, the data of every recorded stream
// event, and bodies that take the odd paths of encoding/json.
func usageCorpus(t testing.TB) [][]byte {
	out := scanCorpus(t)
	files, _ := filepath.Glob("testdata/*/*.sse")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if d, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:")); ok {
				out = append(out, bytes.Clone(bytes.TrimSpace(d)))
			}
		}
	}
	for _, s := range []string{
		`{"model":"m","usage":{"prompt_tokens":3,"completion_tokens":4},"choices":[{"message":{"content":"x"}}]}`,
		`{"MODEL":"m","Usage":{"prompt_tokens":3},"usage":{"completion_tokens":4}}`,
		`{"model":"a","model":"b","usage":null,"x_groq":{"usage":{"prompt_tokens":9}}}`,
		`{"model":"a","usage":{},"x_groq":{"usage":{"prompt_tokens":9}},"x_groq":null}`,
		`{"x_groq":{"usage":{"prompt_tokens":9}},"x_groq":{"usage":null},"x_groq":{"usage":{"completion_tokens":2}}}`,
		`{"x_groq":5,"usage":"x"}`, `{"x_groq":[1],"usage":[{"prompt_tokens":1}]}`,
		`{"model":7,"usage":{"prompt_tokens":"x"},"service_tier":"flex"}`,
		`{"mod\u0065l":"esc","service_tier":"default","output":[{"type":"web_search_call"}]}`,
		`{"usage":{"prompt_tokens":1e3,"completion_tokens":12.0,"total_tokens":"1012"}}`,
		`{"usage":{"prompt_tokens":1.5,"completion_tokens":-3,"total_tokens":1e400}}`,
		`{"usage":{"prompt_tokens":"Inf","completion_tokens":"0x1p4","total_tokens":" 3"}}`,
		`{"usage":{"prompt_tokens":99999999999999999999,"completion_tokens":"NaN"}}`,
		`{"usage":{"prompt_tokens":null,"completion_tokens":null}}`,
		`{"usage":{"prompt_tokens":5},"usage":{"prompt_tokens":"junk"}}`,
		`{"usage":{"prompt_tokens":5},"usage":null,"usage":{"completion_tokens":1}}`,
		`{"usage":{"prompt_tokens":{},"completion_tokens":[1,2],"total_tokens":true}}`,
		`{"usage":{"PROMPT_TOKENS":3,"Completion_Tokens":4,"\u0070rompt_tokens":5}}`,
		"{\"usage\":{\"prompt_to\u212Aens\":3,\"completion_tokens\":4}}",
		"{\"usage\":{\"input_tokens\":3,\"output_tokens\":4,\"\u017Fervice_tier\":1}}",
		`{"usage":{"input_tokens":10,"output_tokens":5,"input_tokens_details":{"cached_tokens":4,"cached_tokens_details":{"audio_tokens":1}},"prompt_tokens_details":{"cached_tokens_details":{"audio_tokens":3}}}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"audio_tokens":4,"cached_tokens_details":{"audio_tokens":1}},"input_tokens_details":{}}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens_details":{"audio_tokens":1}},"input_tokens_details":null}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens_details":{"audio_tokens":1}},"input_tokens_details":7}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens_details":{"audio_tokens":1},"cached_tokens_details":null,"cached_tokens_details":{"image_tokens":2}}}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":38,"completion_tokens_details":{"reasoning_tokens":8}}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":20,"completion_tokens_details":{},"output_tokens_details":{"reasoning_tokens":8}}}`,
		`{"usage":{"prompt_tokens":10,"completion_tokens":20,"prompt_cache_hit_tokens":6}}`,
		`{"output":[{"type":"web_search_call"},{"type":"code_interpreter_call"},{"type":"message"}],"usage":{"input_tokens":1}}`,
		`{"output":[{"type":"web_search_call"},{"type":"web_search_call"}],"output":[{},null],"usage":{"input_tokens":1}}`,
		`{"output":[{"type":"web_search_call"},{"type":"web_search_call"}],"output":[{}],"output":[{},5,{"type":"x"}],"usage":{"input_tokens":1}}`,
		`{"output":[{"type":"web_search_call"}],"output":null,"output":[{}],"usage":{"input_tokens":1}}`,
		`{"output":[{"type":"web_search_call"}],"output":5,"output":{"type":"x"},"usage":{"input_tokens":1}}`,
		`{"output":[{"TYPE":"code_interpreter_call","type":7},{"type":"web_search_call","type":null}],"usage":{"input_tokens":1}}`,
		`{"output":[{"type":"web_search_call\u0000"},{"type":"web\u005fsearch_call"}],"usage":{"input_tokens":1}}`,
		`{"-":1,"Ignored":2,"model":"m"}`, `[{"model":"m"}]`, `null`, `"s"`, `{"model":"m"} x`, `{"usage":{"prompt_tokens":1}`,
		"{\"model\":\"bad \xff utf-8\",\"service_tier\":\"\\ud800\"}",
	} {
		out = append(out, []byte(s))
	}
	return out
}

// checkOpenAIUsage fails t when the readers differ on body.
func checkOpenAIUsage(t *testing.T, body []byte) {
	t.Helper()
	u, model, ok := openAIUsageOf(body)
	ru, rmodel, rok := refOpenAIUsage(body)
	if u != ru || model != rmodel || ok != rok {
		t.Fatalf("openAI usage(%.300q)\n = %+v, %q, %v\nwant %+v, %q, %v", body, u, model, ok, ru, rmodel, rok)
	}
	if !json.Valid(body) {
		return
	}
	// The same object read as a stream chunk's usage member, and as
	// encoding/json reads it through openAIUsage's UnmarshalJSON.
	var o openAIUsage
	o.read(bytes.TrimSpace(body))
	var r refOpenAIUsageObj
	decodeJSON(body, &r)
	got, gok := o.usage()
	want, wok := r.usage()
	if got != want || gok != wok {
		t.Fatalf("openAIUsage.read(%.300q) = %+v, %v; want %+v, %v", body, got, gok, want, wok)
	}
	var c struct {
		XGroq *struct {
			Usage *openAIUsage `json:"usage"`
		} `json:"x_groq"`
		Usage *openAIUsage `json:"usage"`
	}
	var rcw struct {
		XGroq *struct {
			Usage *refOpenAIUsageObj `json:"usage"`
		} `json:"x_groq"`
		Usage *refOpenAIUsageObj `json:"usage"`
	}
	if decodeJSON(body, &c) != decodeJSON(body, &rcw) || (c.XGroq == nil) != (rcw.XGroq == nil) {
		t.Fatalf("decodeJSON(%.300q) with openAIUsage differs", body)
	}
	got, gok = c.Usage.usage()
	want, wok = rcw.Usage.usage()
	if got != want || gok != wok {
		t.Fatalf("decodeJSON(%.300q).usage = %+v, %v; want %+v, %v", body, got, gok, want, wok)
	}
	if c.XGroq != nil {
		got, gok = c.XGroq.Usage.usage()
		want, wok = rcw.XGroq.Usage.usage()
		if got != want || gok != wok {
			t.Fatalf("decodeJSON(%.300q).x_groq.usage = %+v, %v; want %+v, %v", body, got, gok, want, wok)
		}
	}
}

func TestOpenAIUsageMatchesReference(t *testing.T) {
	for _, body := range usageCorpus(t) {
		checkOpenAIUsage(t, body)
	}
	r := rand.New(rand.NewPCG(11, 3))
	g := answerGen{r: r, names: openAIGenNames}
	for range 30_000 {
		checkOpenAIUsage(t, g.body())
	}
}

func FuzzOpenAIUsage(f *testing.F) {
	for _, b := range usageCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(checkOpenAIUsage)
}

// openAIGenNames are the member names the random OpenAI bodies use.
var openAIGenNames = []string{"model", "usage", "x_groq", "service_tier", "output", "type",
	"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details",
	"prompt_cache_hit_tokens", "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details",
	"cached_tokens", "cache_write_tokens", "audio_tokens", "image_tokens", "cached_tokens_details", "reasoning_tokens",
	"web_search_call", "code_interpreter_call", "choices", "id"}

// answerGen makes random JSON objects from a set of member names: the
// names spelled in other cases or with escapes, values of every type,
// counts written every way, members repeated.
type answerGen struct {
	r     *rand.Rand
	names []string
}

func (g answerGen) body() []byte {
	var b bytes.Buffer
	g.object(&b, 0)
	return b.Bytes()
}

func (g answerGen) object(b *bytes.Buffer, depth int) {
	b.WriteByte('{')
	n := g.r.IntN(6)
	if depth == 0 {
		n += 2
	}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		g.key(b)
		b.WriteByte(':')
		g.value(b, depth+1)
	}
	b.WriteByte('}')
}

func (g answerGen) key(b *bytes.Buffer) {
	name := g.names[g.r.IntN(len(g.names))]
	switch g.r.IntN(12) {
	case 0:
		name = strings.ToUpper(name)
	case 1:
		name = strings.ToUpper(name[:1]) + name[1:]
	case 2:
		// An escape for the first letter.
		name = fmt.Sprintf(`\u%04x`, name[0]) + name[1:]
	case 3:
		name = strings.Replace(name, "k", "\u212A", 1) // Kelvin sign folds to k
	case 4:
		name = strings.Replace(name, "s", "\u017F", 1) // long s folds to s
	case 5:
		name += "x"
	}
	b.WriteString(`"` + name + `"`)
}

func (g answerGen) value(b *bytes.Buffer, depth int) {
	k := g.r.IntN(14)
	if depth > 4 && k >= 10 {
		k = g.r.IntN(10)
	}
	switch k {
	case 0:
		b.WriteString("null")
	case 1:
		b.WriteString([]string{"true", "false"}[g.r.IntN(2)])
	case 2, 3, 4:
		b.WriteString(fmt.Sprint(g.r.IntN(2000)))
	case 5:
		b.WriteString([]string{"1e3", "12.0", "-5", "0.5", "1e400", "-0", "99999999999999999999", "2147483648", "3E+1", "7.000001"}[g.r.IntN(10)])
	case 6:
		b.WriteString([]string{`"123"`, `"x"`, `""`, `"1e2"`, `"Inf"`, `" 4"`, `"-1"`, `"\u0031"`}[g.r.IntN(8)])
	case 7, 8:
		b.WriteString(`"` + []string{"web_search_call", "code_interpreter_call", "message", "default", "server_tool_use", "code_execution", "AUDIO", "image", "STOP", "message_start", "message_delta", "message_stop", "error", `message\u005fstart`, "response.completed", "response.failed", "response.output_text.delta", "WEB_SEARCH_CALL", `web\u005fsearch_call`, `a\"b`, "\u00e9t\u00e9"}[g.r.IntN(21)] + `"`)
	case 9:
		b.WriteString("[]")
	case 10, 11:
		g.object(b, depth)
	case 12, 13:
		b.WriteByte('[')
		for i := range g.r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			if g.r.IntN(4) == 0 {
				g.value(b, depth+1)
			} else {
				g.object(b, depth+1)
			}
		}
		b.WriteByte(']')
	}
}

// TestAnswerGenValid: the random bodies are JSON (else they would test
// only the refusal of malformed input).
func TestAnswerGenValid(t *testing.T) {
	g := answerGen{r: rand.New(rand.NewPCG(1, 1)), names: openAIGenNames}
	for range 1000 {
		if b := g.body(); !json.Valid(b) {
			t.Fatalf("invalid: %s", b)
		}
	}
}

// BenchmarkAnswerUsage: reading the usage of whole answers, the scanner
// against the encoding/json reference.
func BenchmarkAnswerUsage(b *testing.B) {
	long := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("Here is a long answer with code and prose. ", 100) + `"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":24,"completion_tokens":900,"total_tokens":924},"service_tier":"default","system_fingerprint":"fp"}`)
	cases := []struct {
		name string
		body []byte
		scan func([]byte) (Usage, string, bool)
		ref  func([]byte) (Usage, string, bool)
	}{
		{"openai-chat", readTestdata(b, "openai/chat.json"), openAIUsageOf, refOpenAIUsage},
		{"openai-long", long, openAIUsageOf, refOpenAIUsage},
		{"openai-responses", readTestdata(b, "openai/responses.json"), openAIUsageOf, refOpenAIUsage},
		{"gemini-search", readTestdata(b, "gemini/generate_content_search.json"), geminiUsageOf, geminiRefUsageOf},
		{"anthropic-tool-use", readTestdata(b, "anthropic/messages_tool_use.json"), anthropicUsageOf, anthropicRefUsageOf},
	}
	for _, c := range cases {
		for _, impl := range []struct {
			name string
			fn   func([]byte) (Usage, string, bool)
		}{{"scan", c.scan}, {"reference", c.ref}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, ok := impl.fn(c.body); !ok {
						b.Fatal("no usage")
					}
				}
			})
		}
	}
}

func anthropicUsageOf(body []byte) (Usage, string, bool) {
	u, model, ok := anthropicDialect{}.usage(route{}, body)
	return u, unquoteOrEmpty(model), ok
}

func anthropicRefUsageOf(body []byte) (Usage, string, bool) { return refAnthropicUsage(route{}, body) }

func geminiUsageOf(body []byte) (Usage, string, bool) {
	u, model, ok := geminiDialect{}.usage(route{}, body)
	return u, unquoteOrEmpty(model), ok
}

func geminiRefUsageOf(body []byte) (Usage, string, bool) { return refGeminiAnswerUsage(route{}, body) }

// BenchmarkGeminiStreamMeter: metering every event of a recorded Gemini
// stream, the scanner against the encoding/json reference.
func BenchmarkGeminiStreamMeter(b *testing.B) {
	var events []streamEvent
	r := newSSEReader(bytes.NewReader(readTestdata(b, "gemini/stream_generate_content.sse")))
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if len(ev.Data) > 0 {
			events = append(events, ev)
		}
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var g geminiMeter
			m := &streamMeter{}
			for _, ev := range events {
				g.event(m, ev)
			}
			if !m.Done {
				b.Fatal("not done")
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var g geminiCounts
			m := &streamMeter{}
			for _, ev := range events {
				refGeminiEvent(&g, m, ev)
			}
			if !m.Done {
				b.Fatal("not done")
			}
		}
	})
}

func openAIUsageOf(body []byte) (Usage, string, bool) {
	u, model, ok := openAIDialect{}.usage(route{}, body)
	return u, unquoteOrEmpty(model), ok
}

func checkPlainChunk(t *testing.T, data []byte) {
	t.Helper()
	if got, want := plainChunk(data), refPlainChunk(data); got != want {
		t.Fatalf("plainChunk(%q) = %v, want %v", data, got, want)
	}
}

func TestPlainChunkMatchesReference(t *testing.T) {
	for _, b := range usageCorpus(t) {
		checkPlainChunk(t, b)
	}
	parts := []string{`"usage"`, `"usage":null`, `"usage":`, `usage"`, `"`, `"error"`, `"erro`, `"x_groq"`, `"type"`, `"typ`,
		`"usage"usage":null`, `{"id":"c","choices":[]}`, "\\", `:null`, `x`, `"u`, `sage"`, `"types"`, `"e`, `rror"`}
	r := rand.New(rand.NewPCG(5, 8))
	for range 200_000 {
		var b []byte
		for range r.IntN(8) {
			b = append(b, parts[r.IntN(len(parts))]...)
		}
		checkPlainChunk(t, b)
	}
}

func FuzzPlainChunk(f *testing.F) {
	for _, b := range usageCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(checkPlainChunk)
}

// BenchmarkPlainChunk: the test a content chunk passes before it is
// relayed without being read.
func BenchmarkPlainChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":" today"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	for _, c := range []struct {
		name string
		fn   func([]byte) bool
	}{{"scan", plainChunk}, {"reference", refPlainChunk}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.fn(chunk) {
					b.Fatal("not plain")
				}
			}
		})
	}
}

// checkAnthropicUsage fails t when the readers differ on body.
func checkAnthropicUsage(t *testing.T, body []byte) {
	t.Helper()
	for _, rt := range []route{{}, {Free: true}} {
		u, raw, ok := anthropicDialect{}.usage(rt, body)
		model := unquoteOrEmpty(raw)
		ru, rmodel, rok := refAnthropicUsage(rt, body)
		if u != ru || model != rmodel || ok != rok {
			t.Fatalf("anthropic usage(%.300q)\n = %+v, %q, %v\nwant %+v, %q, %v", body, u, model, ok, ru, rmodel, rok)
		}
	}
	if !json.Valid(body) {
		return
	}
	// The object as a usage object, as the stream's events carry it
	// (read by encoding/json through UnmarshalJSON).
	var e struct {
		Usage   *anthropicUsage `json:"usage"`
		Message *struct {
			Usage *anthropicUsage `json:"usage"`
		} `json:"message"`
	}
	var re struct {
		Usage   *refAnthropicUsageObj `json:"usage"`
		Message *struct {
			Usage *refAnthropicUsageObj `json:"usage"`
		} `json:"message"`
	}
	if decodeJSON(body, &e) != decodeJSON(body, &re) || (e.Message == nil) != (re.Message == nil) {
		t.Fatalf("decodeJSON(%.300q) with anthropicUsage differs", body)
	}
	var c, rc anthropicCounts
	c.apply(e.Usage)
	rc.refApply(re.Usage)
	if e.Message != nil {
		c.apply(e.Message.Usage)
		rc.refApply(re.Message.Usage)
	}
	var u anthropicUsage
	u.read(bytes.TrimSpace(body))
	var ru refAnthropicUsageObj
	decodeJSON(body, &ru)
	c.apply(&u)
	rc.refApply(&ru)
	if c != rc {
		t.Fatalf("anthropic counts of %.300q = %+v, want %+v", body, c, rc)
	}
}

func TestAnthropicUsageMatchesReference(t *testing.T) {
	for _, body := range usageCorpus(t) {
		checkAnthropicUsage(t, body)
	}
	for _, s := range []string{
		`{"model":"claude","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":3,"output_tokens":7,"cache_creation":{"ephemeral_5m_input_tokens":2,"ephemeral_1h_input_tokens":3},"server_tool_use":{"web_search_requests":2,"web_fetch_requests":1,"code_execution_requests":1},"service_tier":"standard","inference_geo":"us","speed":"fast","output_tokens_details":{"thinking_tokens":4}}}`,
		`{"usage":{"input_tokens":10,"cache_creation":{"ephemeral_1h_input_tokens":3},"cache_creation":null},"content":[{"type":"server_tool_use","name":"code_execution"},{"type":"server_tool_use","name":"bash_code_execution"},{"type":"text"}]}`,
		`{"usage":{"input_tokens":1},"content":[{"type":"server_tool_use","name":"code_execution"}],"content":[{"name":"x"},{}]}`,
		`{"usage":{"input_tokens":1},"content":[{"type":"server_tool_use","name":"code_execution"}],"content":[{"type":"text"}],"content":[{"type":"server_tool_use"}]}`,
		`{"usage":{"input_tokens":1},"content":[{"TYPE":"server_tool_use","NAME":"code_execution","type":5}],"content":5}`,
		`{"usage":{"server_tool_use":{"web_search_requests":2},"server_tool_use":{"web_fetch_requests":1},"SPEED":"fast","speed":null,"service_tier":""}}`,
		`{"usage":{"output_tokens_details":{"thinking_tokens":4},"output_tokens_details":7,"output_tokens":"9"}}`,
		`{"usage":{"output_tokens_details":{"thinking_tokens":4},"output_tokens_details":null,"output_tokens":null}}`,
		`{"type":"message_delta","usage":{"output_tokens":12},"message":{"usage":{"input_tokens":4}}}`,
	} {
		checkAnthropicUsage(t, []byte(s))
	}
	g := answerGen{r: rand.New(rand.NewPCG(12, 4)), names: anthropicGenNames}
	for range 30_000 {
		checkAnthropicUsage(t, g.body())
	}
}

func FuzzAnthropicUsage(f *testing.F) {
	for _, b := range usageCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(checkAnthropicUsage)
}

var anthropicGenNames = []string{"model", "usage", "content", "type", "name", "message",
	"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens", "cache_creation",
	"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens", "output_tokens_details", "thinking_tokens",
	"server_tool_use", "web_search_requests", "web_fetch_requests", "code_execution_requests",
	"service_tier", "inference_geo", "speed", "code_execution", "bash_code_execution"}

// checkGeminiUsage fails t when the readers differ on body, read as a
// whole answer or as a stream's events.
func checkGeminiUsage(t *testing.T, body []byte) {
	t.Helper()
	for _, rt := range []route{{}, {Free: true}} {
		u, raw, ok := geminiDialect{}.usage(rt, body)
		model := unquoteOrEmpty(raw)
		ru, rmodel, rok := refGeminiAnswerUsage(rt, body)
		if u != ru || model != rmodel || ok != rok {
			t.Fatalf("gemini usage(%.300q)\n = %+v, %q, %v\nwant %+v, %q, %v", body, u, model, ok, ru, rmodel, rok)
		}
	}
	// body as each event of a stream, twice over, so counts carry.
	var g geminiMeter
	var rc geminiCounts
	m, rm := &streamMeter{}, &streamMeter{}
	for range 2 {
		ev := streamEvent{Data: body, Raw: []byte("raw")}
		if got, want := g.event(m, ev), refGeminiEvent(&rc, rm, ev); string(got) != string(want) {
			t.Fatalf("gemini event(%.300q) relays %q, want %q", body, got, want)
		}
		if !sameMeter(m, rm) || g.counts != rc {
			t.Fatalf("gemini event(%.300q)\n = %+v, %+v\nwant %+v, %+v", body, *m, g.counts, *rm, rc)
		}
	}
}

func TestGeminiUsageMatchesReference(t *testing.T) {
	for _, body := range usageCorpus(t) {
		checkGeminiUsage(t, body)
	}
	for _, s := range []string{
		`{"candidates":[{"finishReason":"STOP","groundingMetadata":{"webSearchQueries":["a","b"]}}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"cachedContentTokenCount":4,"thoughtsTokenCount":3,"toolUsePromptTokenCount":2,"totalTokenCount":24,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":6},{"modality":"TEXT","tokenCount":4}],"cacheTokensDetails":[{"modality":"audio","tokenCount":2}],"candidatesTokensDetails":[{"modality":"IMAGE","tokenCount":5}],"toolUsePromptTokensDetails":[{"modality":"VIDEO","tokenCount":2}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"}`,
		`{"usageMetadata":{"promptTokenCount":10,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":6}],"promptTokensDetails":[{"tokenCount":2},{}]}}`,
		`{"usageMetadata":{"promptTokenCount":10,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":6}],"promptTokensDetails":null,"promptTokensDetails":[{}]}}`,
		`{"usageMetadata":{"promptTokenCount":10,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":6},{"modality":"IMAGE","tokenCount":1}],"promptTokensDetails":[{"modality":"TEXT"}],"promptTokensDetails":[{},{}]}}`,
		"{\"usageMetadata\":{\"promptTokenCount\":10,\"promptTokensDetails\":[{\"modality\":\"\u212Aaudio\",\"tokenCount\":6},{\"MODALITY\":\"vıdeo\",\"tokenCount\":\"3\"}]}}",
		`{"usageMetadata":{"promptTokenCount":"12","candidatesTokenCount":1e3,"thoughtsTokenCount":12.0},"usageMetadata":{"promptTokenCount":null}}`,
		`{"usageMetadata":5}`, `{"usageMetadata":null}`, `{"usageMetadata":{}}`,
		`{"candidates":[{"finishReason":"STOP"}],"candidates":[{"finishReason":""},{}]}`,
		`{"candidates":[{"finishReason":"STOP","groundingMetadata":{"webSearchQueries":["a"]}}],"candidates":[{"groundingMetadata":null}]}`,
		`{"candidates":[{"groundingMetadata":{"webSearchQueries":["a",1,null]}},{"groundingMetadata":{"webSearchQueries":5}}],"usageMetadata":{}}`,
		`{"promptFeedback":{"blockReason":"SAFETY"}}`, `{"promptFeedback":{"blockReason":"SAFETY"},"promptFeedback":{}}`,
		`{"promptFeedback":{"blockReason":"SAFETY"},"promptFeedback":null}`, `{"promptFeedback":{"blockReason":""}}`,
		`{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, `{"error":null}`, `{"error":"text"}`,
		`[{"modelVersion":"a","usageMetadata":{"promptTokenCount":3}},{"modelVersion":"b","usageMetadata":{"candidatesTokenCount":4}},null,5,{"modelVersion":""}]`,
		`[]`, `[1,2`, ` [ ] `, `null`, `5`, ``, `{"modelVersion":"m"} x`,
	} {
		checkGeminiUsage(t, []byte(s))
	}
	g := answerGen{r: rand.New(rand.NewPCG(13, 5)), names: geminiGenNames}
	for range 30_000 {
		b := g.body()
		checkGeminiUsage(t, b)
		if g.r.IntN(8) == 0 {
			checkGeminiUsage(t, append(append([]byte("["), b...), ']'))
		}
	}
}

func FuzzGeminiUsage(f *testing.F) {
	for _, b := range usageCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(checkGeminiUsage)
}

var geminiGenNames = []string{"candidates", "promptFeedback", "blockReason", "usageMetadata", "modelVersion", "responseId", "error",
	"finishReason", "groundingMetadata", "webSearchQueries", "promptTokenCount", "candidatesTokenCount",
	"cachedContentTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount", "totalTokenCount",
	"promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails", "toolUsePromptTokensDetails",
	"modality", "tokenCount", "AUDIO", "IMAGE", "VIDEO"}

// checkAnthropicEvents fails t when the meters differ on body taken as
// the data of each kind of event, in turn, in one stream.
func checkAnthropicEvents(t *testing.T, body []byte) {
	t.Helper()
	var a, ra anthropicMeter
	m, rm := &streamMeter{}, &streamMeter{}
	for _, name := range []string{"message_start", "content_block_start", "message_delta", "", "error", "ping", "message_stop", "message_start"} {
		ev := streamEvent{Name: name, Data: body, Raw: []byte("raw")}
		if got, want := a.event(m, ev), refAnthropicEvent(&ra, rm, ev); string(got) != string(want) {
			t.Fatalf("anthropic event %s (%.300q) relays %q, want %q", name, body, got, want)
		}
		if !sameMeter(m, rm) || a != ra {
			t.Fatalf("anthropic event %s (%.300q)\n = %+v, %+v\nwant %+v, %+v", name, body, *m, a, *rm, ra)
		}
	}
}

func TestAnthropicMeterMatchesReference(t *testing.T) {
	// The recorded streams, event by event.
	files, _ := filepath.Glob("testdata/anthropic/*.sse")
	for _, f := range files {
		var a, ra anthropicMeter
		m, rm := &streamMeter{}, &streamMeter{}
		r := newSSEReader(bytes.NewReader(readTestdata(t, strings.TrimPrefix(f, "testdata/"))))
		for {
			ev, err := r.Next()
			if len(ev.Raw) > 0 && len(ev.Data) > 0 {
				a.event(m, ev)
				refAnthropicEvent(&ra, rm, ev)
				if !sameMeter(m, rm) || a != ra {
					t.Fatalf("%s: event %s %.200q\n = %+v, %+v\nwant %+v, %+v", f, ev.Name, ev.Data, *m, a, *rm, ra)
				}
			}
			if err != nil {
				break
			}
		}
		if !m.Done && !strings.Contains(f, "cut") && !strings.Contains(f, "error") {
			t.Errorf("%s: not done", f)
		}
	}
	for _, body := range usageCorpus(t) {
		checkAnthropicEvents(t, body)
	}
	for _, s := range []string{
		`{"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":10,"output_tokens":1},"content":[{"type":"server_tool_use","name":"code_execution"}]}}`,
		`{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":10}},"message":null}`,
		`{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":10}},"message":{"model":"m"}}`,
		`{"type":"message_start","message":5}`, `{"type":"message_start","message":{"usage":null}}`,
		`{"type":"message_delta","usage":{"output_tokens":12,"server_tool_use":{"web_search_requests":1}}}`,
		`{"type":"message_d\u0065lta","usage":{"output_tokens":12}}`, `{"TYPE":"message_stop"}`, `{"type":"message_stop","type":7}`,
		`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, `{"type":"error"}`,
		`{"type":"content_block_start","content_block":{"type":"server_tool_use","name":"code_execution"}}`,
		`{"type":"content_block_start","content_block":{"type":"server_tool_use"},"content_block":{"name":"bash_code_execution"}}`,
		`{"type":"content_block_start","content_block":{"type":"server_tool_use","name":"code_execution"},"content_block":null}`,
		`{"type":"content_block_start","CONTENT_BLOCK":{"type":"server_tool_use","name":"code_execution","name":"x"}}`,
		`{"type":"message_start","content_block":{"type":"server_tool_use","name":"code_execution"},"message":{"content":[],"usage":{"input_tokens":3}}}`,
		`[{"type":"message_stop"}]`, `null`, `"message_stop"`, `{"type":"message_stop"`,
	} {
		checkAnthropicEvents(t, []byte(s))
	}
	g := answerGen{r: rand.New(rand.NewPCG(14, 6)), names: anthropicEventGenNames}
	for range 30_000 {
		checkAnthropicEvents(t, g.body())
	}
}

func FuzzAnthropicMeter(f *testing.F) {
	for _, b := range usageCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(checkAnthropicEvents)
}

var anthropicEventGenNames = append([]string{"type", "message", "content_block", "error", "id", "content", "code_execution"}, anthropicGenNames...)

// BenchmarkAnthropicStreamMeter: metering every event of a recorded
// Messages stream, the scanner against the encoding/json reference.
func BenchmarkAnthropicStreamMeter(b *testing.B) {
	var events []streamEvent
	r := newSSEReader(bytes.NewReader(readTestdata(b, "anthropic/messages_stream_web_search.sse")))
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if len(ev.Data) > 0 {
			events = append(events, ev)
		}
	}
	for _, c := range []struct {
		name  string
		event func(*anthropicMeter, *streamMeter, streamEvent) []byte
	}{{"scan", (*anthropicMeter).event}, {"reference", refAnthropicEvent}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var a anthropicMeter
				m := &streamMeter{}
				for _, ev := range events {
					c.event(&a, m, ev)
				}
				if !m.Done {
					b.Fatal("not done")
				}
			}
		})
	}
}
