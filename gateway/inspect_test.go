package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestInspectRequest(t *testing.T) {
	tests := []struct {
		desc, dialect, route, body string
		want                       requestInfo // InputBound checked separately
	}{
		{"chat", dialectOpenAI, "openai.chat",
			`{"model":"gpt-5-mini","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":2048,"max_tokens":100,"n":3,"stream":true,"stream_options":{"include_usage":true}}`,
			requestInfo{Model: "gpt-5-mini", Stream: true, MaxOutput: 2048, Choices: 3, IncludeUsage: true}},
		{"chat without limits", dialectOpenAI, "openai.chat",
			`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":false}}`,
			requestInfo{Model: "gpt-4.1", Choices: 1}},
		{"chat with a predicted output", dialectOpenAI, "openai.chat",
			`{"model":"gpt-4.1","messages":[],"max_tokens":100,"prediction":{"type":"content","content":"0123456789"}}`,
			requestInfo{Model: "gpt-4.1", MaxOutput: 110, Choices: 1}},
		{"completions", dialectOpenAI, "openai.completions",
			`{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7,"n":2,"best_of":5}`,
			requestInfo{Model: "gpt-3.5-turbo-instruct", MaxOutput: 7, Choices: 5}},
		{"responses", dialectOpenAI, "openai.responses",
			`{"model":"gpt-5","input":"hi","max_output_tokens":4096,"stream":true}`,
			requestInfo{Model: "gpt-5", Stream: true, MaxOutput: 4096, Choices: 1}},
		{"embeddings", dialectOpenAI, "openai.embeddings",
			`{"model":"text-embedding-3-small","input":["a","b"],"max_tokens":9}`,
			requestInfo{Model: "text-embedding-3-small", Choices: 1}},
		{"anthropic", dialectAnthropic, "anthropic.messages",
			`{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"hi"}],"stream":true}`,
			requestInfo{Model: "claude-sonnet-4-5", Stream: true, MaxOutput: 1024, Choices: 1}},
		{"anthropic interleaved thinking", dialectAnthropic, "anthropic.messages",
			`{"model":"claude-opus-4-1","max_tokens":16000,"thinking":{"type":"enabled","budget_tokens":32000},"messages":[]}`,
			requestInfo{Model: "claude-opus-4-1", MaxOutput: 32000, Choices: 1}},
		{"anthropic count_tokens", dialectAnthropic, "anthropic.count_tokens",
			`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`,
			requestInfo{Model: "claude-sonnet-4-5", Choices: 1}},
		{"gemini", dialectGemini, "gemini.generateContent",
			`{"model":"ignored","contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":800,"candidateCount":2,"thinkingConfig":{"thinkingBudget":1024}}}`,
			requestInfo{MaxOutput: 1024, Choices: 2}},
		{"gemini stream, snake case", dialectGemini, "gemini.streamGenerateContent",
			`{"contents":[{"parts":[{"text":"hi"}]}],"generation_config":{"max_output_tokens":300}}`,
			requestInfo{Stream: true, MaxOutput: 300, Choices: 1}},
		{"gemini numbers as strings", dialectGemini, "gemini.generateContent",
			`{"contents":[],"generationConfig":{"maxOutputTokens":"300","candidateCount":"2"}}`,
			requestInfo{MaxOutput: 300, Choices: 2}},
		{"numbers of odd kinds", dialectOpenAI, "openai.chat",
			`{"model":"m","messages":[],"max_tokens":99.5,"n":-4,"stream":"yes"}`,
			requestInfo{Model: "m", MaxOutput: 100, Choices: 1}},
		{"numbers too large", dialectOpenAI, "openai.chat",
			`{"model":"m","messages":[],"max_tokens":1e400,"n":123456789012345678901234567890}`,
			requestInfo{Model: "m", MaxOutput: maxTokens, Choices: maxChoices}},
		{"strings where numbers go", dialectAnthropic, "anthropic.messages",
			`{"model":7,"max_tokens":"1024","messages":[]}`,
			requestInfo{Choices: 1}},
	}
	for _, tt := range tests {
		got, err := inspectFor(tt.dialect, tt.route, []byte(tt.body))
		if err != nil {
			t.Errorf("%s: inspectFor(%s) error %v", tt.desc, tt.body, err)
			continue
		}
		if got.InputBound < int64(len(tt.body)) {
			t.Errorf("%s: InputBound = %d, want at least the body's %d bytes", tt.desc, got.InputBound, len(tt.body))
		}
		if got.InputUnbounded {
			t.Errorf("%s: InputUnbounded set for a plain request", tt.desc)
		}
		got.InputBound = 0
		if got != tt.want {
			t.Errorf("%s: inspectFor(%s) = %+v, want %+v", tt.desc, tt.body, got, tt.want)
		}
	}
}

func TestInspectRequestBadBody(t *testing.T) {
	for _, body := range []string{``, `  `, `{`, `{"model":"x"`, `[]`, `"str"`, `null`, `{"a":1} {"b":2}`, `{"a":1}x`, "\xff"} {
		for _, d := range []string{dialectOpenAI, dialectAnthropic, dialectGemini} {
			if _, err := inspectFor(d, "", []byte(body)); !errors.Is(err, errBadBody) {
				t.Errorf("inspectFor(%s, %q) error = %v, want ErrBadBody", d, body, err)
			}
		}
	}
	// Trailing white space is fine.
	if _, err := inspectFor(dialectOpenAI, "openai.chat", []byte("{}\n\t ")); err != nil {
		t.Errorf("inspectFor({} and white space) = %v, want no error", err)
	}
}

// image is a base64 payload big enough that counting it as text would
// dwarf any image's token cost.
var image = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 60_000))

func TestInspectRequestImages(t *testing.T) {
	text := "What is in this picture? Answer in one word."
	tests := []struct {
		desc, dialect, route, model, body string
		images                            int64
	}{
		{"OpenAI chat, data URL", dialectOpenAI, "openai.chat", "gpt-4.1",
			`{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"text","text":"` + text + `"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + image + `","detail":"high"}}]}]}`, 1},
		{"OpenAI chat, gpt-4o-mini", dialectOpenAI, "openai.chat", "gpt-4o-mini",
			`{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"` + text + `"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + image + `"}}]}]}`, 1},
		{"OpenAI chat, two URLs", dialectOpenAI, "openai.chat", "gpt-4.1",
			`{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"text","text":"` + text + `"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},{"type":"image_url","image_url":"https://example.com/b.png"}]}]}`, 2},
		{"Responses", dialectOpenAI, "openai.responses", "gpt-5",
			`{"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_text","text":"` + text + `"},{"type":"input_image","image_url":"data:image/jpeg;base64,` + image + `"},{"type":"input_image","file_id":"file-abc"}]}]}`, 2},
		{"Anthropic", dialectAnthropic, "anthropic.messages", "claude-sonnet-4-5",
			`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + image + `"}},{"type":"text","text":"` + text + `"}]}]}`, 1},
		{"Anthropic image in a tool result", dialectAnthropic, "anthropic.messages", "claude-sonnet-4-5",
			`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + image + `"}}]},{"type":"text","text":"` + text + `"}]}]}`, 1},
		{"Gemini", dialectGemini, "gemini.generateContent", "",
			`{"contents":[{"role":"user","parts":[{"text":"` + text + `"},{"inlineData":{"mimeType":"image/png","data":"` + image + `"}},{"fileData":{"mimeType":"image/jpeg","fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]}`, 2},
	}
	for _, tt := range tests {
		got, err := inspectFor(tt.dialect, tt.route, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		per := dialectByName(tt.dialect).imageTokens(tt.model)
		if got.InputBound < int64(len(text))+tt.images*per {
			t.Errorf("%s: InputBound = %d, want at least the text and %d × %d for images", tt.desc, got.InputBound, tt.images, per)
		}
		// Without the image payload counted as text, the bound is the
		// body's structure, the images and the fixed overhead.
		if limit := int64(len(tt.body)-len(image)) + tt.images*per + requestOverhead; strings.Contains(tt.body, image) && got.InputBound > limit {
			t.Errorf("%s: InputBound = %d, more than %d: the base64 payload was counted as text", tt.desc, got.InputBound, limit)
		}
		if got.InputUnbounded {
			t.Errorf("%s: InputUnbounded set for images", tt.desc)
		}
	}
	if a, b := dialectByName(dialectOpenAI).imageTokens("gpt-4o-mini-2024-07-18"), dialectByName(dialectOpenAI).imageTokens("gpt-4o"); a <= b {
		t.Errorf("dialectByName(gpt-4o-mini) = %d).imageTokens(want more than gpt-4o's %d", a, b)
	}
}

func TestInspectRequestUnbounded(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.7 ..."))
	tests := []struct {
		desc, dialect, route, body string
		unbounded                  bool
	}{
		{"Responses previous_response_id", dialectOpenAI, "openai.responses", `{"model":"gpt-5","previous_response_id":"resp_1","input":"and then?"}`, true},
		{"Responses conversation", dialectOpenAI, "openai.responses", `{"model":"gpt-5","conversation":"conv_1","input":"hi"}`, true},
		{"Responses stored prompt", dialectOpenAI, "openai.responses", `{"model":"gpt-5","prompt":{"id":"pmpt_1","version":"2"}}`, true},
		{"Responses null previous_response_id", dialectOpenAI, "openai.responses", `{"model":"gpt-5","previous_response_id":null,"input":"hi"}`, false},
		{"Responses item reference", dialectOpenAI, "openai.responses", `{"model":"gpt-5","input":[{"type":"item_reference","id":"msg_1"}]}`, true},
		{"Responses web search", dialectOpenAI, "openai.responses", `{"model":"gpt-5","input":"news","tools":[{"type":"web_search"}]}`, true},
		{"Responses function tool", dialectOpenAI, "openai.responses", `{"model":"gpt-5","input":"hi","tools":[{"type":"function","name":"f","parameters":{}}]}`, false},
		{"Responses input file", dialectOpenAI, "openai.responses", `{"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_file","file_data":"data:application/pdf;base64,` + pdf + `","filename":"a.pdf"}]}]}`, true},
		{"completions prompt is text", dialectOpenAI, "openai.completions", `{"model":"x","prompt":"hello"}`, false},
		{"chat file", dialectOpenAI, "openai.chat", `{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, true},
		{"chat audio", dialectOpenAI, "openai.chat", `{"model":"gpt-4o-audio-preview","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}`, true},
		{"chat search model", dialectOpenAI, "openai.chat", `{"model":"gpt-4o-search-preview","web_search_options":{},"messages":[]}`, true},
		{"Anthropic PDF", dialectAnthropic, "anthropic.messages", `{"model":"c","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + pdf + `"}}]}]}`, true},
		{"Anthropic text document", dialectAnthropic, "anthropic.messages", `{"model":"c","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}}]}]}`, false},
		{"Anthropic web search", dialectAnthropic, "anthropic.messages", `{"model":"c","max_tokens":1,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}]}`, true},
		{"Anthropic MCP", dialectAnthropic, "anthropic.messages", `{"model":"c","max_tokens":1,"messages":[],"mcp_servers":[{"type":"url","url":"https://mcp.example.com","name":"x"}]}`, true},
		{"Anthropic bash tool", dialectAnthropic, "anthropic.messages", `{"model":"c","max_tokens":1,"messages":[],"tools":[{"type":"bash_20250124","name":"bash"}]}`, false},
		{"Gemini PDF", dialectGemini, "gemini.generateContent", `{"contents":[{"parts":[{"inlineData":{"mimeType":"application/pdf","data":"` + pdf + `"}}]}]}`, true},
		{"Gemini video file", dialectGemini, "gemini.generateContent", `{"contents":[{"parts":[{"file_data":{"mime_type":"video/mp4","file_uri":"gs://b/v.mp4"}}]}]}`, true},
		{"Gemini cached content", dialectGemini, "gemini.generateContent", `{"cachedContent":"cachedContents/abc","contents":[{"parts":[{"text":"hi"}]}]}`, true},
		{"Gemini search", dialectGemini, "gemini.generateContent", `{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}]}`, true},
		{"Gemini functions", dialectGemini, "gemini.generateContent", `{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}]}`, false},
	}
	for _, tt := range tests {
		got, err := inspectFor(tt.dialect, tt.route, []byte(tt.body))
		if err != nil || got.InputUnbounded != tt.unbounded {
			t.Errorf("%s: inspectFor(%s) = InputUnbounded %v, %v; want %v", tt.desc, tt.body, got.InputUnbounded, err, tt.unbounded)
		}
	}
}

func TestInspectRequestToolOverhead(t *testing.T) {
	plain := `{"model":"c","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`
	withBash := `{"model":"c","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"bash_20250124","name":"bash"}]}`
	a, _ := inspectFor(dialectAnthropic, "anthropic.messages", []byte(plain))
	b, _ := inspectFor(dialectAnthropic, "anthropic.messages", []byte(withBash))
	if want := a.InputBound + int64(len(withBash)-len(plain)) + anthropicToolsOverhead + anthropicBuiltinToolBound; b.InputBound != want {
		t.Errorf("InputBound with the bash tool = %d, want %d (tool-use prompt and hidden definition added)", b.InputBound, want)
	}
}

// TestInspectRequestTextBound checks the promise behind InputBound: at
// least one byte of text per token, for every byte of text however the
// request spells it.
func TestInspectRequestTextBound(t *testing.T) {
	texts := []string{"", "a", "héllo wörld", "日本語のテキスト", "emoji 🎉🎉", "quotes \" and \\ and \n newlines\t", strings.Repeat("x", 10_000), "\u2028\u0000"}
	for _, text := range texts {
		for _, rq := range plainRequests(text) {
			got, err := inspectFor(rq.dialect, rq.route, rq.body)
			if err != nil {
				t.Fatalf("inspectFor(%s) error %v", rq.body, err)
			}
			if got.InputBound < rq.textBytes {
				t.Errorf("inspectFor(%s).InputBound = %d, want at least its %d bytes of text", rq.body, got.InputBound, rq.textBytes)
			}
		}
	}
}

type plainRequest struct {
	dialect, route string
	body           []byte
	textBytes      int64
}

// plainRequests builds a text-only request around text in every dialect,
// with text as system prompt, message, tool description and all.
func plainRequests(text string) []plainRequest {
	must := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	tool := map[string]any{"type": "function", "function": map[string]any{"name": "f", "description": text, "parameters": map[string]any{"type": "object"}}}
	n := int64(len(text))
	return []plainRequest{
		{dialectOpenAI, "openai.chat", must(map[string]any{"model": "gpt-4.1", "messages": []any{
			map[string]any{"role": "system", "content": text},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": text}}},
		}, "tools": []any{tool}}), 3 * n},
		{dialectOpenAI, "openai.responses", must(map[string]any{"model": "gpt-5", "instructions": text, "input": text}), 2 * n},
		{dialectOpenAI, "openai.completions", must(map[string]any{"model": "x", "prompt": []any{text, text}}), 2 * n},
		{dialectOpenAI, "openai.embeddings", must(map[string]any{"model": "x", "input": text}), n},
		{dialectAnthropic, "anthropic.messages", must(map[string]any{"model": "c", "max_tokens": 1, "system": text,
			"messages": []any{map[string]any{"role": "user", "content": text}},
			"tools":    []any{map[string]any{"name": "f", "description": text, "input_schema": map[string]any{"type": "object"}}}}), 3 * n},
		{dialectGemini, "gemini.generateContent", must(map[string]any{
			"systemInstruction": map[string]any{"parts": []any{map[string]any{"text": text}}},
			"contents":          []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": text}}}}}), 2 * n},
	}
}

func TestAddStreamUsage(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"model":"gpt-4.1","stream":true}`, `{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true}}`},
		{`{}`, `{"stream_options":{"include_usage":true}}`},
		{` { } `, ` {"stream_options":{"include_usage":true} } `},
		{`{"stream_options":null,"stream":true}`, `{"stream_options":{"include_usage":true},"stream":true}`},
		{`{"stream_options":{}}`, `{"stream_options":{"include_usage":true}}`},
		{`{"stream_options":{"include_usage":false}}`, `{"stream_options":{"include_usage":true}}`},
		{`{"stream_options":{"include_obfuscation":false}}`, `{"stream_options":{"include_obfuscation":false,"include_usage":true}}`},
		{`{"stream_options":{"include_usage":null,"x":1}}`, `{"stream_options":{"include_usage":true,"x":1}}`},
		{`{"stream_options":"bogus"}`, `{"stream_options":{"include_usage":true}}`},
		// Pretty-printed, big numbers, unknown members, escapes: all kept.
		{"{\n  \"model\": \"m\",\n  \"seed\": 12345678901234567890123,\n  \"temperature\": 0.70,\n  \"x_custom\": {\"k\": [1, 2.50e3]},\n  \"messages\": [{\"role\": \"user\", \"content\": \"a \\\"quoted\\\" }\"}]\n}\n",
			"{\n  \"model\": \"m\",\n  \"seed\": 12345678901234567890123,\n  \"temperature\": 0.70,\n  \"x_custom\": {\"k\": [1, 2.50e3]},\n  \"messages\": [{\"role\": \"user\", \"content\": \"a \\\"quoted\\\" }\"}],\"stream_options\":{\"include_usage\":true}\n}\n"},
		// Duplicates: the last one is what a parser reads, so it is the one set.
		{`{"stream_options":{"include_usage":true},"stream_options":{"include_usage":false}}`, `{"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}`},
	}
	for _, tt := range tests {
		got, err := addStreamUsage([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("AddStreamUsage(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		info, err := inspectFor(dialectOpenAI, "openai.chat", got)
		if err != nil || !info.IncludeUsage {
			t.Errorf("AddStreamUsage(%s) = %s, which InspectRequest reads as IncludeUsage %v, %v", tt.in, got, info.IncludeUsage, err)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":`, `{"a":1}}`, `null`} {
		if _, err := addStreamUsage([]byte(bad)); !errors.Is(err, errBadBody) {
			t.Errorf("AddStreamUsage(%q) error = %v, want ErrBadBody", bad, err)
		}
	}
}
