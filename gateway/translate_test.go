package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The formats under test, by name. Every caller format but Responses is
// also a target format.
var (
	testCallers = map[string]callerFormat{
		"chat":      chatFormat{provider: "openai"},
		"responses": responsesFormat{},
		"anthropic": anthropicFormat{},
		"gemini":    geminiFormat{},
	}
	testTargets = map[string]targetFormat{
		"chat":      chatFormat{provider: "openai", completionTokens: true},
		"anthropic": anthropicFormat{},
		"gemini":    geminiFormat{},
	}
)

func readEvents(t *testing.T, b []byte) []streamEvent {
	t.Helper()
	r := newSSEReader(bytes.NewReader(b))
	var evs []streamEvent
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return evs
		}
		if err == io.ErrUnexpectedEOF {
			// A recorded stream cut mid-event.
			return append(evs, ev)
		}
		if err != nil {
			t.Fatalf("read events: %v", err)
		}
		evs = append(evs, ev)
	}
}

// canonJSON is a JSON document with its members in one order.
func canonJSON(t *testing.T, b []byte) string {
	t.Helper()
	if len(b) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// requestSummary is what a request says, in words a round trip must
// keep: tool call ids are numbered by first appearance, as a format that
// has none (Gemini) pairs calls and results by order.
func requestSummary(t *testing.T, r *xRequest) []string {
	ids := map[string]string{}
	id := func(s string) string {
		if _, ok := ids[s]; !ok {
			ids[s] = fmt.Sprintf("c%d", len(ids))
		}
		return ids[s]
	}
	var part func(p xPart) string
	part = func(p xPart) string {
		switch p.Kind {
		case partText:
			return "text:" + p.Text
		case partImage:
			return "image:" + p.MediaType + ":" + p.Data + p.URL
		case partToolCall:
			return "call:" + id(p.CallID) + ":" + p.Name + ":" + canonJSON(t, p.Args)
		case partToolResult:
			var rs []string
			for _, r := range p.Result {
				rs = append(rs, part(r))
			}
			return fmt.Sprintf("result:%s:%v:%s", id(p.CallID), p.IsError, strings.Join(rs, "|"))
		case partThinking:
			return "thinking:" + p.Text
		}
		return "?"
	}
	s := []string{"system:" + joinText(r.System)}
	for _, m := range r.Messages {
		var ps []string
		for _, p := range m.Parts {
			ps = append(ps, part(p))
		}
		s = append(s, m.Role+": "+strings.Join(ps, " + "))
	}
	for _, tl := range r.Tools {
		s = append(s, "tool:"+tl.Name+":"+tl.Description+":"+canonJSON(t, tl.Schema))
	}
	s = append(s, fmt.Sprintf("choice:%+v max:%d stop:%q stream:%v", r.ToolChoice, r.MaxTokens, r.Stop, r.Stream))
	if r.Temperature != nil {
		s = append(s, fmt.Sprintf("temperature:%v", *r.Temperature))
	}
	return s
}

var recordedRequests = map[string]string{
	"chat":      "openai/chat_request_tools.json",
	"responses": "openai/responses_request_tools.json",
	"anthropic": "anthropic/messages_request_tools.json",
	"gemini":    "gemini/generate_content_request_tools.json",
}

// TestTranslateRequestRoundTrip sends each recorded request (system
// prompt, image, tool definition, tool call and its result) from its
// format to every other and back, and checks that nothing it says is
// lost.
func TestTranslateRequestRoundTrip(t *testing.T) {
	for from, file := range recordedRequests {
		for to, target := range testTargets {
			if from == to {
				continue
			}
			t.Run(from+"→"+to, func(t *testing.T) {
				x1, err := testCallers[from].decodeRequest(readTestdata(t, file))
				if err != nil {
					t.Fatalf("decode %s: %v", file, err)
				}
				x1.Model = "some-model"
				body, err := target.encodeRequest(x1)
				if err != nil {
					t.Fatalf("encode as %s: %v", to, err)
				}
				x2, err := testCallers[to].decodeRequest(body)
				if err != nil {
					t.Fatalf("decode %s request %s: %v", to, body, err)
				}
				got, want := requestSummary(t, x2), requestSummary(t, x1)
				// Gemini's request names no stream: its path does.
				for i, w := range want {
					if strings.HasPrefix(w, "choice:") {
						want[i] = strings.Replace(w, "stream:true", fmt.Sprintf("stream:%v", x2.Stream), 1)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("round trip through %s:\n got %q\nwant %q\nbody %s", to, got, want, body)
				}
				if len(x1.Messages) != 3 || len(x1.Tools) != 1 {
					t.Errorf("the recorded request should hold 3 turns and a tool, got %q", want)
				}
			})
		}
	}
}

// TestTranslateCacheControl checks that an Anthropic cache_control on an
// OpenAI content part reaches Anthropic, so prompt caching works.
func TestTranslateCacheControl(t *testing.T) {
	x, err := chatFormat{}.decodeRequest(readTestdata(t, "openai/chat_request_tools.json"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := anthropicFormat{}.encodeRequest(x)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		System []struct {
			Text         string          `json:"text"`
			CacheControl json.RawMessage `json:"cache_control"`
		} `json:"system"`
		MaxTokens int64 `json:"max_tokens"`
	}
	json.Unmarshal(body, &got)
	if len(got.System) != 1 || canonJSON(t, got.System[0].CacheControl) != `{"type":"ephemeral"}` {
		t.Errorf("system = %+v, want one block with cache_control ephemeral; body %s", got.System, body)
	}
	if got.MaxTokens != 1024 {
		t.Errorf("max_tokens = %d, want 1024 from max_completion_tokens", got.MaxTokens)
	}
}

// answerSummary is what an answer says: its parts, stop reason and
// usage, with tool arguments in canonical form.
func answerSummary(t *testing.T, r *xResponse) []string {
	var s []string
	for _, p := range r.Parts {
		switch p.Kind {
		case partText:
			s = append(s, "text:"+p.Text)
		case partThinking:
			s = append(s, "thinking:"+p.Text)
		case partToolCall:
			s = append(s, "call:"+p.Name+":"+canonJSON(t, p.Args))
		}
	}
	return append(s, "stop:"+r.Stop)
}

// wantUsage is u as it comes back after a trip through a caller's
// convention: Anthropic's keeps cache writes apart but not reasoning;
// OpenAI's and Gemini's count cache writes as input.
func wantUsage(u xUsage, via string) xUsage {
	if via == "anthropic" {
		u.Reasoning = 0
		return u
	}
	u.Input += u.CacheWrite
	u.CacheWrite = 0
	return u
}

var recordedAnswers = map[string][]string{
	"chat":      {"openai/chat.json", "openai/chat_tool_calls.json"},
	"anthropic": {"anthropic/messages.json", "anthropic/messages_tool_use.json"},
	"gemini":    {"gemini/generate_content.json", "gemini/generate_content_function_call.json"},
}

// TestTranslateResponseRoundTrip writes each recorded answer in every
// caller's format and reads it back.
func TestTranslateResponseRoundTrip(t *testing.T) {
	req := &xRequest{Model: "caller-model", IncludeUsage: true}
	for from, files := range recordedAnswers {
		for _, file := range files {
			for to, caller := range testCallers {
				t.Run(file+"→"+to, func(t *testing.T) {
					r1, err := testTargets[from].decodeResponse(readTestdata(t, file))
					if err != nil {
						t.Fatal(err)
					}
					body := caller.encodeResponse(req, r1)
					if to == "responses" {
						checkResponsesBody(t, body, r1)
						return
					}
					r2, err := testTargets[to].decodeResponse(body)
					if err != nil {
						t.Fatalf("decode %s: %v", body, err)
					}
					want := answerSummary(t, r1)
					if to == "chat" {
						// Chat Completions has no place for thinking.
						want = withoutThinking(want)
					}
					if got := answerSummary(t, r2); !reflect.DeepEqual(got, want) {
						t.Errorf("got %q\nwant %q\nbody %s", got, want, body)
					}
					if got, want := r2.Usage, wantUsage(r1.Usage, to); got != want {
						t.Errorf("usage = %+v, want %+v; body %s", got, want, body)
					}
				})
			}
		}
	}
}

func withoutThinking(s []string) []string {
	var out []string
	for _, v := range s {
		if !strings.HasPrefix(v, "thinking:") {
			out = append(out, v)
		}
	}
	return out
}

// TestTranslateUsageConventions checks the counts each caller sees, in
// its own convention, for answers whose providers count otherwise.
func TestTranslateUsageConventions(t *testing.T) {
	req := &xRequest{}
	decode := func(from, file string) *xResponse {
		r, err := testTargets[from].decodeResponse(readTestdata(t, file))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Anthropic: 14 uncached input, 2048 written to the cache, 10240 read.
	var chat struct {
		Usage struct {
			PromptTokens        int64 `json:"prompt_tokens"`
			CompletionTokens    int64 `json:"completion_tokens"`
			PromptTokensDetails struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	json.Unmarshal(chatFormat{}.encodeResponse(req, decode("anthropic", "anthropic/messages.json")), &chat)
	if u := chat.Usage; u.PromptTokens != 14+2048+10240 || u.PromptTokensDetails.CachedTokens != 10240 || u.CompletionTokens != 503 {
		t.Errorf("Anthropic answer for an OpenAI caller: usage %+v, want prompt_tokens 12302 (cached 10240), completion 503", u)
	}
	// Gemini: 10437 prompt tokens of which 8192 cached; 212 candidate
	// tokens and 701 of thoughts.
	var ant struct {
		Usage map[string]int64 `json:"usage"`
	}
	json.Unmarshal(anthropicFormat{}.encodeResponse(req, decode("gemini", "gemini/generate_content.json")), &ant)
	if u := ant.Usage; u["input_tokens"] != 10437-8192 || u["cache_read_input_tokens"] != 8192 || u["output_tokens"] != 212+701 {
		t.Errorf("Gemini answer for an Anthropic caller: usage %v, want input 2245, cache read 8192, output 913", u)
	}
	// OpenAI: 2310 prompt tokens of which 1920 cached; 597 completion of
	// which 448 reasoning.
	var gem struct {
		UsageMetadata map[string]int64 `json:"usageMetadata"`
	}
	json.Unmarshal(geminiFormat{}.encodeResponse(req, decode("chat", "openai/chat.json")), &gem)
	if u := gem.UsageMetadata; u["promptTokenCount"] != 2310 || u["cachedContentTokenCount"] != 1920 || u["candidatesTokenCount"] != 597-448 || u["thoughtsTokenCount"] != 448 {
		t.Errorf("OpenAI answer for a Gemini caller: usageMetadata %v, want prompt 2310, cached 1920, candidates 149, thoughts 448", u)
	}
	json.Unmarshal(anthropicFormat{}.encodeResponse(req, decode("chat", "openai/chat.json")), &ant)
	if u := ant.Usage; u["input_tokens"] != 2310-1920 || u["cache_read_input_tokens"] != 1920 || u["output_tokens"] != 597 {
		t.Errorf("OpenAI answer for an Anthropic caller: usage %v, want input 390, cache read 1920, output 597", u)
	}
}

// checkResponsesBody checks a Responses API body against the answer it
// was written from.
func checkResponsesBody(t *testing.T, body []byte, r *xResponse) {
	t.Helper()
	var got struct {
		Object string `json:"object"`
		Status string `json:"status"`
		Output []struct {
			Type    string `json:"type"`
			Name    string `json:"name"`
			CallID  string `json:"call_id"`
			Args    string `json:"arguments"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
		Usage struct {
			InputTokens        int64 `json:"input_tokens"`
			OutputTokens       int64 `json:"output_tokens"`
			InputTokensDetails struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"input_tokens_details"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, o := range got.Output {
		switch o.Type {
		case "message":
			summary = append(summary, "text:"+o.Content[0].Text)
		case "function_call":
			if o.CallID == "" {
				t.Errorf("function_call without call_id: %s", body)
			}
			summary = append(summary, "call:"+o.Name+":"+canonJSON(t, []byte(o.Args)))
		}
	}
	want := withoutThinking(answerSummary(t, r))
	summary = append(summary, want[len(want)-1])
	if !reflect.DeepEqual(summary, want) || got.Object != "response" {
		t.Errorf("got %q (object %q)\nwant %q\nbody %s", summary, got.Object, want, body)
	}
	if got.Usage.InputTokens != r.Usage.promptTokens() || got.Usage.OutputTokens != r.Usage.Output || got.Usage.InputTokensDetails.CachedTokens != r.Usage.CacheRead {
		t.Errorf("usage %+v for %+v", got.Usage, r.Usage)
	}
}

var recordedStreams = map[string][]string{
	"chat":      {"openai/chat_stream_usage.sse", "openai/chat_stream_tool_calls.sse"},
	"anthropic": {"anthropic/messages_stream.sse", "anthropic/messages_stream_tool_use.sse"},
	"gemini":    {"gemini/stream_generate_content.sse", "gemini/stream_generate_content_function_call.sse"},
}

// collect plays a stream through a decoder into the answer it tells.
func collect(dec streamDecoder, evs []streamEvent) (*xResponse, *xError) {
	r := &xResponse{}
	var xs []xEvent
	for _, ev := range evs {
		xs = dec.decode(ev, xs)
	}
	xs = dec.end(xs)
	blocks := map[int]int{} // block → part
	for _, e := range xs {
		switch e.Kind {
		case evStart:
			r.ID, r.Model, r.Usage = e.ID, e.Name, e.Usage
		case evText, evThinking, evToolArgs:
			i, ok := blocks[e.Index]
			if !ok {
				kind := partText
				if e.Kind == evThinking {
					kind = partThinking
				}
				r.Parts = append(r.Parts, xPart{Kind: kind})
				i = len(r.Parts) - 1
				blocks[e.Index] = i
			}
			if e.Kind == evToolArgs {
				r.Parts[i].Args = append(r.Parts[i].Args, e.Text...)
			} else {
				r.Parts[i].Text += e.Text
			}
		case evToolStart:
			r.Parts = append(r.Parts, xPart{Kind: partToolCall, CallID: e.ID, Name: e.Name})
			blocks[e.Index] = len(r.Parts) - 1
		case evFinish:
			r.Stop, r.StopSequence, r.Usage = e.Stop, e.StopSeq, e.Usage
		case evError:
			return r, e.Err
		}
	}
	for i := range r.Parts {
		if r.Parts[i].Kind == partToolCall {
			r.Parts[i].Args = rawOr(r.Parts[i].Args, "{}")
		}
	}
	return r, nil
}

// TestTranslateStreamRoundTrip translates each recorded stream (text,
// thinking, tool calls, usage) event by event into every caller's
// format, reads the caller's stream back, and checks that it tells the
// same answer; and that each text delta is written as soon as it comes.
func TestTranslateStreamRoundTrip(t *testing.T) {
	for from, files := range recordedStreams {
		for _, file := range files {
			for to, caller := range testCallers {
				t.Run(file+"→"+to, func(t *testing.T) {
					in := readEvents(t, readTestdata(t, file))
					want, werr := collect(testTargets[from].newStreamDecoder(), in)
					if werr != nil || want.Stop == "" || len(want.Parts) == 0 {
						t.Fatalf("recorded stream tells %+v, %v", want, werr)
					}
					req := &xRequest{Model: "caller-model", IncludeUsage: true, Stream: true}
					tr := newStreamTranslator(testTargets[from], caller, req)
					var out []byte
					dec := testTargets[from].newStreamDecoder()
					for _, ev := range in {
						before := len(out)
						out = tr.translate(ev, out)
						// What the event says is written now, not later.
						for _, x := range dec.decode(ev, nil) {
							if x.Kind == evText && x.Text != "" && !bytes.Contains(out[before:], escapedJSON(x.Text)) {
								t.Errorf("text %q of an event was not written with it: %s", x.Text, out[before:])
							}
						}
					}
					out = tr.end(out)
					if !tr.enc.finished() {
						t.Errorf("the caller's stream was not finished: %s", out)
					}
					if to == "responses" {
						checkResponsesStream(t, out, want)
						return
					}
					got, gerr := collect(testTargets[to].newStreamDecoder(), readEvents(t, out))
					if gerr != nil {
						t.Fatalf("translated stream fails: %v\n%s", gerr, out)
					}
					ws := answerSummary(t, want)
					if to != "anthropic" && to != "gemini" {
						ws = withoutThinking(ws)
					}
					if gs := answerSummary(t, got); !reflect.DeepEqual(gs, ws) {
						t.Errorf("got %q\nwant %q\nstream:\n%s", gs, ws, out)
					}
					if got.Usage != wantUsage(want.Usage, to) {
						t.Errorf("usage = %+v, want %+v\nstream:\n%s", got.Usage, wantUsage(want.Usage, to), out)
					}
					for _, p := range got.Parts {
						if p.Kind == partToolCall && p.CallID == "" {
							t.Errorf("tool call %s without an id", p.Name)
						}
					}
				})
			}
		}
	}
}

// escapedJSON is s as it appears inside a JSON string.
func escapedJSON(s string) []byte {
	b := appendJSONString(nil, s)
	return b[1 : len(b)-1]
}

// checkResponsesStream checks a Responses API stream: numbered events,
// items opened before their deltas, and the final response.
func checkResponsesStream(t *testing.T, out []byte, want *xResponse) {
	t.Helper()
	var seq int64
	var texts []string
	var calls []string
	var final struct {
		Response struct {
			Status string `json:"status"`
			Output []struct {
				Type string `json:"type"`
			} `json:"output"`
			Usage struct {
				InputTokens  int64 `json:"input_tokens"`
				OutputTokens int64 `json:"output_tokens"`
			} `json:"usage"`
		} `json:"response"`
	}
	open := map[int]string{}
	for i, ev := range readEvents(t, out) {
		var e struct {
			Type        string `json:"type"`
			Seq         int64  `json:"sequence_number"`
			OutputIndex int    `json:"output_index"`
			Delta       string `json:"delta"`
			Item        struct {
				Type string `json:"type"`
				Name string `json:"name"`
			} `json:"item"`
			Arguments string `json:"arguments"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if e.Type != ev.Name || e.Seq != seq {
			t.Errorf("event %d: type %q named %q, sequence %d, want %d", i, e.Type, ev.Name, e.Seq, seq)
		}
		seq++
		switch e.Type {
		case "response.output_item.added":
			open[e.OutputIndex] = e.Item.Type
			if e.Item.Type == "message" {
				texts = append(texts, "")
			}
		case "response.output_text.delta":
			if open[e.OutputIndex] != "message" {
				t.Errorf("text delta for item %d, not an open message", e.OutputIndex)
			}
			texts[len(texts)-1] += e.Delta
		case "response.output_item.done":
			if e.Item.Type == "function_call" {
				calls = append(calls, e.Item.Name)
			}
		case "response.function_call_arguments.done":
			calls = append(calls, canonJSON(t, []byte(e.Arguments)))
		case "response.completed", "response.incomplete":
			json.Unmarshal(ev.Data, &final)
		}
	}
	var wantTexts, wantCalls []string
	for _, p := range want.Parts {
		switch p.Kind {
		case partText:
			wantTexts = append(wantTexts, p.Text)
		case partToolCall:
			wantCalls = append(wantCalls, canonJSON(t, p.Args), p.Name)
		}
	}
	if !reflect.DeepEqual(texts, wantTexts) || !reflect.DeepEqual(calls, wantCalls) {
		t.Errorf("texts %q calls %q, want %q %q\n%s", texts, calls, wantTexts, wantCalls, out)
	}
	if final.Response.Status != "completed" || final.Response.Usage.InputTokens != want.Usage.promptTokens() || final.Response.Usage.OutputTokens != want.Usage.Output {
		t.Errorf("final response %+v, want completed with usage %+v\n%s", final.Response, want.Usage, out)
	}
}

var recordedErrors = map[string]struct {
	file, msg string
	status    int
}{
	"chat":      {"openai/error.json", "maximum context length is 128000 tokens", 400},
	"anthropic": {"anthropic/error.json", "model: claude-3-opus-2023", 404},
	"gemini":    {"gemini/error.json", "API key not valid", 400},
}

// TestTranslateErrors turns each provider's recorded error answer into
// each caller's error shape, status kept.
func TestTranslateErrors(t *testing.T) {
	for from, rec := range recordedErrors {
		for to, caller := range testCallers {
			t.Run(from+"→"+to, func(t *testing.T) {
				status, body := translateErrorBody(testTargets[from], caller, rec.status, readTestdata(t, rec.file))
				if status != rec.status {
					t.Errorf("status = %d, want %d", status, rec.status)
				}
				msg := callerErrorMessage(t, caller.dialect().info().name, body)
				if !strings.Contains(msg, rec.msg) {
					t.Errorf("message %q does not carry the provider's %q; body %s", msg, rec.msg, body)
				}
			})
		}
	}
	// Anthropic's 529 is no status other SDKs know.
	e := anthropicFormat{}.decodeError(529, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	if e.Status != 503 {
		t.Errorf("529 overloaded becomes %d, want 503", e.Status)
	}
}

// callerErrorMessage reads an error body in the dialect's shape, failing
// when it is not that shape.
func callerErrorMessage(t *testing.T, dialect string, body []byte) string {
	t.Helper()
	var v struct {
		Type  string `json:"type"`
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Status  string `json:"status"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	switch dialect {
	case dialectAnthropic:
		if v.Type != "error" || v.Error.Type == "" {
			t.Errorf("not an Anthropic error: %s", body)
		}
	case dialectGemini:
		if v.Error.Status == "" || v.Error.Code == nil {
			t.Errorf("not a Gemini error: %s", body)
		}
	default:
		if v.Error.Type == "" {
			t.Errorf("not an OpenAI error: %s", body)
		}
	}
	return v.Error.Message
}

// TestTranslateStreamErrors checks that a provider's error event in the
// middle of a stream reaches each caller as its own error event, after
// what was relayed before it.
func TestTranslateStreamErrors(t *testing.T) {
	files := map[string]struct{ file, msg string }{
		"chat":      {"openai/chat_stream_error.sse", "The server had an error"},
		"anthropic": {"anthropic/messages_stream_error.sse", "Overloaded"},
		"gemini":    {"gemini/stream_generate_content_error.sse", "The model is overloaded"},
	}
	for from, rec := range files {
		for to, caller := range testCallers {
			t.Run(from+"→"+to, func(t *testing.T) {
				tr := newStreamTranslator(testTargets[from], caller, &xRequest{Model: "m", Stream: true})
				var out []byte
				for _, ev := range readEvents(t, readTestdata(t, rec.file)) {
					out = tr.translate(ev, out)
				}
				out = tr.end(out)
				evs := readEvents(t, out)
				if len(evs) < 2 {
					t.Fatalf("stream %s", out)
				}
				last := evs[len(evs)-1]
				if !bytes.Contains(last.Data, []byte(rec.msg)) || !bytes.Contains(last.Data, []byte(`"error"`)) {
					t.Errorf("last event %q is not an error carrying %q\n%s", last.Raw, rec.msg, out)
				}
				if to == "anthropic" && last.Name != "error" || to == "responses" && last.Name != "error" {
					t.Errorf("last event named %q, want error", last.Name)
				}
				if !tr.enc.finished() {
					t.Errorf("encoder not finished after the error")
				}
			})
		}
	}
}

// TestTranslateRefusals checks that what another provider cannot be told
// is refused, naming the field.
func TestTranslateRefusals(t *testing.T) {
	cases := []struct {
		from, to string
		body     string
		field    string
	}{
		{"chat", "anthropic", `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}`, "n"},
		{"chat", "anthropic", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]}`, "messages[0].content[0].type"},
		{"chat", "anthropic", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{"chat", "gemini", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, "messages[0].content[0]"},
		{"chat", "anthropic", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"not json"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{"chat", "anthropic", `{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, "logprobs"},
		{"responses", "anthropic", `{"model":"m","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id"},
		{"responses", "anthropic", `{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`, "tools[0].type"},
		{"responses", "gemini", `{"model":"m","input":"hi","text":{"format":{"type":"json_object"}}}`, ""},
		{"responses", "anthropic", `{"model":"m","input":"hi","text":{"format":{"type":"json_object"}}}`, "text.format"},
		{"anthropic", "chat", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "tools[0].type"},
		{"anthropic", "chat", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"AA"}}]}]}`, "messages[0].content[0].type"},
		{"anthropic", "gemini", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"mcp_servers":[{"type":"url","url":"https://x","name":"x"}]}`, "mcp_servers"},
		{"anthropic", "chat", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},"metadata":{"user_id":"{\"device_id\":\"abc\"}"}}`, ""},
		{"gemini", "chat", `{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}]}`, "tools[0].googleSearch"},
		{"gemini", "chat", `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":2}}`, "generationConfig.candidateCount"},
		{"gemini", "anthropic", `{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"AA"}}]}]}`, "contents[0].parts[0].inlineData.mimeType"},
		{"gemini", "anthropic", `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json"}}`, "generationConfig.responseMimeType"},
		{"gemini", "chat", `{"contents":[{"parts":[{"text":"hi"}]}],"cachedContent":"cachedContents/abc"}`, "cachedContent"},
	}
	for _, c := range cases {
		x, err := testCallers[c.from].decodeRequest([]byte(c.body))
		if err == nil {
			_, err = testTargets[c.to].encodeRequest(x)
		}
		var te *translateError
		if c.field == "" {
			if err != nil {
				t.Errorf("%s→%s %s: %v, want it carried", c.from, c.to, c.body, err)
			}
			continue
		}
		if !errors.As(err, &te) || te.Field != c.field {
			t.Errorf("%s→%s %s: error %v, want a refusal naming %q", c.from, c.to, c.body, err, c.field)
		}
	}
}

// TestTranslateGeminiArrayStream checks that a Gemini caller that did not
// ask for alt=sse gets its stream as one JSON array.
func TestTranslateGeminiArrayStream(t *testing.T) {
	tr := newStreamTranslator(anthropicFormat{}, geminiFormat{array: true}, &xRequest{Model: "m", Stream: true})
	var out []byte
	for _, ev := range readEvents(t, readTestdata(t, "anthropic/messages_stream_tool_use.sse")) {
		out = tr.translate(ev, out)
	}
	out = tr.end(out)
	var chunks []geminiChunk
	if err := json.Unmarshal(out, &chunks); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(chunks) < 3 || chunks[len(chunks)-1].Candidates[0].FinishReason != "STOP" {
		t.Errorf("chunks %+v", chunks)
	}
}

// TestAppendJSONString checks the stream encoders' string writer against
// encoding/json.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "line\nbreak\ttab\r", "\x00\x1f ctl", "é ü 日本 🙂", "bad \xff byte", "<html> & \u2028\u2029"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("appendJSONString(%q) reads back as %q", s, back)
		}
	}
}

// TestTranslateSystemMessages: a system message between turns (Claude
// Code sends them) stays in place for Chat Completions and joins the
// system prompt for Gemini.
func TestTranslateSystemMessages(t *testing.T) {
	x, err := anthropicFormat{}.decodeRequest([]byte(`{"model":"m","max_tokens":50,"system":"Be brief.","messages":[
		{"role":"user","content":"hi"},{"role":"system","content":"The user is in Paris."},{"role":"user","content":"weather?"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	chat, _ := chatFormat{}.encodeRequest(x)
	var c struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	json.Unmarshal(chat, &c)
	var roles []string
	for _, m := range c.Messages {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, ","); got != "system,user,system,user" || c.Messages[2].Content != "The user is in Paris." {
		t.Errorf("chat messages %s", chat)
	}
	gem, _ := geminiFormat{}.encodeRequest(x)
	var g struct {
		SystemInstruction struct {
			Parts []struct{ Text string } `json:"parts"`
		} `json:"systemInstruction"`
		Contents []struct{ Role string } `json:"contents"`
	}
	json.Unmarshal(gem, &g)
	if len(g.Contents) != 1 || len(g.SystemInstruction.Parts) != 1 || g.SystemInstruction.Parts[0].Text != "Be brief.\nThe user is in Paris." {
		t.Errorf("gemini request %s: want one user turn (the two merged) and both system texts in systemInstruction", gem)
	}
}

// translateBenchStream is a provider's stream of n text events in its own
// format, with its start and finish.
func translateBenchStream(from string, n int) []byte {
	var s strings.Builder
	switch from {
	case "chat":
		return benchStream(n)
	case "anthropic":
		s.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":24,\"output_tokens\":1}}}\n\n")
		s.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
		for i := range n {
			fmt.Fprintf(&s, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" word%d\"}}\n\n", i)
		}
		s.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
		s.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":40}}\n\n")
		s.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	case "gemini":
		for i := range n {
			fmt.Fprintf(&s, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" word%d\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":24,\"candidatesTokenCount\":%d},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"bench\"}\r\n\r\n", i, i+1)
		}
		fmt.Fprintf(&s, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\".\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":24,\"candidatesTokenCount\":%d},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"bench\"}\r\n\r\n", n+1)
	}
	return []byte(s.String())
}

// BenchmarkTranslateStream: a provider's stream translated for a caller
// of another format, event by event, as relayStream does. allocs/event
// is what each further text event costs: the allocations of a stream of
// 100 text events less those of one with none, per event.
func BenchmarkTranslateStream(b *testing.B) {
	pairs := [][2]string{{"chat", "anthropic"}, {"anthropic", "chat"}, {"anthropic", "responses"}, {"gemini", "anthropic"}, {"anthropic", "gemini"}, {"chat", "gemini"}}
	for _, pr := range pairs {
		b.Run(pr[0]+"-to-"+pr[1], func(b *testing.B) {
			read := func(n int) []streamEvent {
				var evs []streamEvent
				r := newSSEReader(bytes.NewReader(translateBenchStream(pr[0], n)))
				for {
					ev, err := r.Next()
					if err != nil {
						return evs
					}
					evs = append(evs, ev)
				}
			}
			stream, base := read(100), read(0)
			req := &xRequest{Model: "m", Stream: true, IncludeUsage: true}
			buf := make([]byte, 0, 4096)
			run := func(evs []streamEvent) {
				tr := newStreamTranslator(testTargets[pr[0]], testCallers[pr[1]], req)
				for _, ev := range evs {
					buf = tr.translate(ev, buf[:0])
				}
				buf = tr.end(buf[:0])
				if !tr.enc.finished() {
					b.Fatal("the translated stream did not finish")
				}
			}
			allocs := func(evs []streamEvent) float64 {
				return testing.AllocsPerRun(20, func() { run(evs) })
			}
			perEvent := (allocs(stream) - allocs(base)) / 100
			b.ReportAllocs()
			for b.Loop() {
				run(stream)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
			b.ReportMetric(perEvent, "allocs/event")
		})
	}
}

// TestTranslateFastPaths: the decoders' fast readings of text events say
// what encoding/json reads in them, on every recorded stream and on
// events written to trip them.
func TestTranslateFastPaths(t *testing.T) {
	fasts := map[string]func(data []byte) (string, bool){
		"openai": chatTextDelta,
		"anthropic": func(d []byte) (string, bool) {
			_, s, ok := anthropicTextDelta(d)
			return s, ok
		},
		"gemini": func(d []byte) (string, bool) {
			s, _, ok := geminiTextChunk(d)
			return s, ok
		},
	}
	slow := map[string]func(data []byte) (string, bool){
		"openai": func(d []byte) (string, bool) {
			var c chatChunk
			if json.Unmarshal(d, &c) != nil || len(c.Choices) != 1 || c.Choices[0].Delta.Content == nil {
				return "", false
			}
			return *c.Choices[0].Delta.Content, true
		},
		"anthropic": func(d []byte) (string, bool) {
			var e anthropicStreamEvent
			if json.Unmarshal(d, &e) != nil || e.Delta == nil || e.Delta.Type != "text_delta" {
				return "", false
			}
			return e.Delta.Text, true
		},
		"gemini": func(d []byte) (string, bool) {
			var c geminiChunk
			if json.Unmarshal(d, &c) != nil || len(c.Candidates) != 1 || len(c.Candidates[0].Content.Parts) != 1 || c.Candidates[0].Content.Parts[0].Text == nil {
				return "", false
			}
			return *c.Candidates[0].Content.Parts[0].Text, true
		},
	}
	var fast, checked int
	for dialect, f := range fasts {
		files, _ := filepath.Glob("testdata/" + dialect + "/*.sse")
		datas := [][]byte{}
		for _, file := range files {
			for _, ev := range readEvents(t, readTestdata(t, strings.TrimPrefix(file, "testdata/"))) {
				datas = append(datas, ev.Data)
			}
		}
		datas = append(datas, map[string][][]byte{
			"openai": {
				[]byte(`{"choices":[{"index":0,"delta":{"content":"a \"quoted\" \u00e9 \\ line\nbreak"},"finish_reason":null}],"usage":null}`),
				[]byte(`{"choices":[{"index":0,"delta":{"content":"two"},"finish_reason":null},{"index":1,"delta":{"content":"choices"}}]}`),
				[]byte(`{"choices":[{"index":0,"delta":{"content":"done"},"finish_reason":"stop"}]}`),
				[]byte(`{"choices":[{"index":0,"delta":{"content":"with usage"}}],"usage":{"prompt_tokens":3}}`),
			},
			"anthropic": {
				[]byte(`{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"\ud83d\ude00 emoji"}}`),
				[]byte(`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"text_delta\":1"}}`),
			},
			"gemini": {
				[]byte(`{"candidates":[{"content":{"parts":[{"text":"thinking","thought":true}],"role":"model"}}]}`),
				[]byte(`{"candidates":[{"content":{"parts":[{"text":"a"},{"text":"b"}],"role":"model"}}]}`),
				[]byte(`{"candidates":[{"content":{"parts":[{"text":"ok \"q\""}],"role":"model"}}],"usageMetadata":{"promptTokenCount":5,"thoughtsTokenCount":2}}`),
			},
		}[dialect]...)
		for _, d := range datas {
			got, ok := f(d)
			if !ok {
				continue
			}
			fast++
			want, wok := slow[dialect](d)
			checked++
			if !wok || got != want {
				t.Errorf("%s fast path read %q from %s, encoding/json %q (%v)", dialect, got, d, want, wok)
			}
		}
	}
	if fast < 10 {
		t.Errorf("the fast paths read only %d events", fast)
	}
	// What must go the long way: it says more than a text delta.
	for dialect, ds := range map[string][]string{
		"openai": {
			`{"choices":[{"index":0,"delta":{"content":"done"},"finish_reason":"stop"}]}`,
			`{"choices":[{"index":0,"delta":{"content":"with usage"}}],"usage":{"prompt_tokens":3}}`,
			`{"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}`,
			`{"choices":[{"index":0,"delta":{"content":"x","tool_calls":[]}}]}`,
		},
		"anthropic": {`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"text_delta\":1"}}`},
		"gemini": {
			`{"candidates":[{"content":{"parts":[{"text":"thinking","thought":true}],"role":"model"}}]}`,
			`{"candidates":[{"content":{"parts":[{"text":"a"},{"text":"b"}],"role":"model"}}]}`,
			`{"candidates":[{"content":{"parts":[{"text":"end"}],"role":"model"},"finishReason":"STOP"}]}`,
		},
	} {
		for _, d := range ds {
			if got, ok := fasts[dialect]([]byte(d)); ok {
				t.Errorf("%s fast path took %s as the text %q alone", dialect, d, got)
			}
		}
	}
}
