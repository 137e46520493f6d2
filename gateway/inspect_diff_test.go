package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The map-based inspection that the scanner replaced, kept here as the
// reference the scanner must agree with: the body decoded into
// map[string]any, each format's fields read from the maps, and every
// object of the body walked for content parts.

type refScan struct {
	binary, images, overhead int64
	unbounded                bool
}

func refInspect(d dialect, rt route, body []byte) (requestInfo, error) {
	obj, err := refDecode(body)
	if err != nil {
		return requestInfo{}, err
	}
	var info requestInfo
	var s refScan
	switch d.(type) {
	case openAIDialect:
		info, s = refOpenAI(rt, obj)
	case anthropicDialect:
		info, s = refAnthropic(rt, obj)
	case geminiDialect:
		info, s = refGemini(rt, obj)
	default:
		return requestInfo{}, fmt.Errorf("no reference for %T", d)
	}
	s.walk(obj)
	info.Choices = min(max(info.Choices, 1), maxChoices)
	bound := max(int64(len(body))-s.binary, 0)
	bound = addTokens(bound, mulTokens(s.images, d.imageTokens(info.Model)))
	bound = addTokens(bound, requestOverhead+s.overhead)
	info.InputBound = bound
	info.InputUnbounded = s.unbounded
	return info, nil
}

func refDecode(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the body is empty", errBadBody)
		}
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errBadBody)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the body is JSON but not an object", errBadBody)
	}
	return obj, nil
}

func refField(v any, names ...string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for _, n := range names {
		if x, ok := m[n]; ok {
			return x
		}
	}
	return nil
}

func refCount(v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	c, _ := parseCount(n.String())
	return c
}

func refProtoCount(v any) int64 {
	if s, ok := v.(string); ok {
		c, _ := parseCount(strings.TrimSpace(s))
		return c
	}
	return refCount(v)
}

func refTextBytes(v any) int64 {
	switch t := v.(type) {
	case string:
		return int64(len(t))
	case []any:
		var n int64
		for _, p := range t {
			if s, ok := refField(p, "text").(string); ok {
				n += int64(len(s))
			}
		}
		return n
	}
	return 0
}

func (s *refScan) walk(v any) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			s.walk(e)
		}
	case map[string]any:
		typ, _ := t["type"].(string)
		s.openAIPart(typ, t)
		s.anthropicPart(typ, t)
		s.geminiPart(t)
		for _, e := range t {
			s.walk(e)
		}
	}
}

func (s *refScan) dropDataURL(v any) {
	if m, ok := v.(map[string]any); ok {
		v = m["url"]
	}
	if u, ok := v.(string); ok && strings.HasPrefix(u, "data:") {
		s.binary += int64(len(u)) + 2
	}
}

func (s *refScan) dropSource(v any) {
	if t, _ := refField(v, "type").(string); t == "base64" {
		s.dropString(refField(v, "data"))
	}
}

func (s *refScan) dropString(v any) {
	if d, ok := v.(string); ok {
		s.binary += int64(len(d)) + 2
	}
}

func refOpenAI(rt route, obj map[string]any) (info requestInfo, s refScan) {
	info.Model, _ = obj["model"].(string)
	info.Stream, _ = obj["stream"].(bool)
	info.IncludeUsage, _ = refField(obj["stream_options"], "include_usage").(bool)
	switch rt.Name {
	case routeOpenAIResponses:
		info.Background, _ = obj["background"].(bool)
		info.MaxOutput = refCount(obj["max_output_tokens"])
	case routeOpenAICompletions:
		info.MaxOutput = refCount(obj["max_tokens"])
		info.Choices = max(refCount(obj["n"]), refCount(obj["best_of"]))
	case routeOpenAIEmbeddings:
	default:
		info.MaxOutput = max(refCount(obj["max_tokens"]), refCount(obj["max_completion_tokens"]))
		info.Choices = refCount(obj["n"])
		if info.MaxOutput > 0 {
			info.MaxOutput = addTokens(info.MaxOutput, refTextBytes(refField(obj["prediction"], "content")))
		}
	}
	if rt.Name == routeOpenAIResponses {
		for _, k := range []string{"previous_response_id", "conversation", "prompt"} {
			if v := obj[k]; v != nil && v != "" {
				s.unbounded = true
			}
		}
	}
	if obj["web_search_options"] != nil {
		s.unbounded = true
	}
	tools, _ := obj["tools"].([]any)
	for _, t := range tools {
		switch typ, _ := refField(t, "type").(string); typ {
		case "function", "custom":
		default:
			s.unbounded = true
		}
	}
	return info, s
}

func (s *refScan) openAIPart(typ string, m map[string]any) {
	switch typ {
	case "image_url":
		s.images++
		s.dropDataURL(m["image_url"])
	case "input_image":
		s.images++
		s.dropDataURL(m["image_url"])
	case "file":
		s.unbounded = true
		s.dropDataURL(refField(m["file"], "file_data"))
	case "input_file":
		s.unbounded = true
		s.dropDataURL(m["file_data"])
	case "input_audio":
		s.unbounded = true
		s.dropString(refField(m["input_audio"], "data"))
	case "audio", "video", "audio_url", "video_url", "input_video":
		s.unbounded = true
		s.dropDataURL(m[typ])
	case "item_reference":
		s.unbounded = true
	}
}

func refAnthropic(rt route, obj map[string]any) (info requestInfo, s refScan) {
	info.Model, _ = obj["model"].(string)
	info.Stream, _ = obj["stream"].(bool)
	info.MaxOutput = max(refCount(obj["max_tokens"]), refCount(refField(obj["thinking"], "budget_tokens")))
	tools, _ := obj["tools"].([]any)
	if len(tools) > 0 {
		s.overhead += anthropicToolsOverhead
	}
	for _, t := range tools {
		typ, _ := refField(t, "type").(string)
		switch {
		case typ == "" || typ == "custom":
		case strings.HasPrefix(typ, "web_search"), strings.HasPrefix(typ, "web_fetch"),
			strings.HasPrefix(typ, "code_execution"), strings.HasPrefix(typ, "tool_search"),
			strings.HasPrefix(typ, "mcp"):
			s.unbounded = true
		default:
			s.overhead += anthropicBuiltinToolBound
		}
	}
	if v, ok := obj["mcp_servers"].([]any); ok && len(v) > 0 {
		s.unbounded = true
	}
	if obj["container"] != nil {
		s.unbounded = true
	}
	return info, s
}

func (s *refScan) anthropicPart(typ string, m map[string]any) {
	switch typ {
	case "image":
		s.images++
		s.dropSource(m["source"])
	case "document":
		switch st, _ := refField(m["source"], "type").(string); st {
		case "text", "content":
		default:
			s.unbounded = true
			s.dropSource(m["source"])
		}
	case "container_upload":
		s.unbounded = true
		s.dropDataURL(m[typ])
	}
}

func refGemini(rt route, obj map[string]any) (info requestInfo, s refScan) {
	info.Stream = rt.Stream
	gc := refField(obj, "generationConfig", "generation_config")
	info.MaxOutput = max(refProtoCount(refField(gc, "maxOutputTokens", "max_output_tokens")),
		refProtoCount(refField(refField(gc, "thinkingConfig", "thinking_config"), "thinkingBudget", "thinking_budget")))
	info.Choices = refProtoCount(refField(gc, "candidateCount", "candidate_count"))
	if v := refField(obj, "cachedContent", "cached_content"); v != nil && v != "" {
		s.unbounded = true
	}
	tools, _ := obj["tools"].([]any)
	for _, t := range tools {
		m, _ := t.(map[string]any)
		for k := range m {
			if k != "functionDeclarations" && k != "function_declarations" {
				s.unbounded = true
			}
		}
	}
	return info, s
}

func (s *refScan) geminiPart(m map[string]any) {
	for _, k := range [...]string{"inlineData", "inline_data", "fileData", "file_data"} {
		d, ok := m[k].(map[string]any)
		if !ok {
			continue
		}
		if k == "inlineData" || k == "inline_data" {
			s.dropString(d["data"])
		}
		mime, _ := refField(d, "mimeType", "mime_type").(string)
		if strings.HasPrefix(strings.ToLower(mime), "image/") {
			s.images++
		} else {
			s.unbounded = true
		}
	}
}

// checkSameInspection fails t unless inspectRequest and the map-based
// reference read body alike on every route.
func checkSameInspection(t *testing.T, body []byte) {
	t.Helper()
	for _, r := range routes {
		d := dialectByName(r.dialect)
		rt := testRoute(r.dialect, r.route)
		got, _, gerr := inspectRequest(builtinDialects, d, rt, body, nil)
		want, werr := refInspect(d, rt, body)
		if (gerr == nil) != (werr == nil) || gerr != nil && (!errors.Is(gerr, errBadBody) || gerr.Error() != werr.Error()) {
			t.Fatalf("inspectRequest(%s, %q) error = %v, want %v", r.route, body, gerr, werr)
		}
		if got != want {
			t.Fatalf("inspectRequest(%s, %q) = %+v, want %+v", r.route, body, got, want)
		}
	}
}

// TestInspectMatchesMaps reads every recorded request and answer, the
// scanner's test bodies and the bodies of the inspection tests, both
// ways.
func TestInspectMatchesMaps(t *testing.T) {
	for _, b := range scanCorpus(t) {
		checkSameInspection(t, b)
	}
	for _, s := range inspectDiffSeeds {
		checkSameInspection(t, []byte(s))
	}
}

var inspectDiffSeeds = []string{
	``, `  `, `{`, `{"model":"x"`, `[]`, `"str"`, `null`, `{"a":1} {"b":2}`, `{"a":1}x`, "\xff", "{}\n\t ",
	`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"n":2}`,
	`{"model":"c","max_tokens":-5,"thinking":{"budget_tokens":1e20},"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"AAAA"}}]}]}`,
	`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBO"}},{"text":"x"}]}],"generationConfig":{"maxOutputTokens":"9"}}`,
	`{"stream_options":{"include_usage":false},"a":[{"type":"image_url","image_url":"data:,"}]}`,
	`{"model":"m","model":"n","max_tokens":5,"max_tokens":null,"stream":true,"stream":1}`,
	`{"type":"image_url","image_url":"data:xx","image_url":{"url":"data:yyyy"},"type":"file","file":{"file_data":{"url":"data:zz"}}}`,
	`{"a":{"type":"image","source":{"type":"base64","data":"AAAA"}},"a":{"type":"image_url","image_url":"data:,"}}`,
	`{"a":[{"type":"input_audio","input_audio":{"data":"AAAA"}}],"a":[{"type":"item_reference"}],"a":[]}`,
	`{"mod\u0065l":"g\u00e9","max_tokens":"5","n":3.5,"best_of":1e3,"prediction":{"content":[{"text":"ab\u00e9"},{"text":5},"x"]},"max_completion_tokens":7}`,
	`{"generation_config":{"max_output_tokens":" 12 ","thinking_config":{"thinking_budget":"1e9"},"candidate_count":"-3"},"generationConfig":null}`,
	`{"generationConfig":null,"generation_config":{"maxOutputTokens":5}}`,
	`{"cachedContent":"","cached_content":"x","tools":[{"functionDeclarations":[]},{"googleSearch":{}},{"function_declarations":[],"functionDeclarations":[]}]}`,
	`{"tools":[{"type":"function"},{"type":"web_search_20250305","max_uses":3},{"type":"bash_20250124"},{"name":"x"},{"type":"custom"},{"type":5}],"mcp_servers":[],"container":null}`,
	`{"tools":[],"mcp_servers":[{}],"container":"c"}`,
	`{"previous_response_id":"","conversation":null,"prompt":0,"background":true,"max_output_tokens":9,"web_search_options":{}}`,
	`{"contents":[{"parts":[{"inline_data":{"mime_type":"\u0130MAGE/png","data":"AAAA"},"fileData":{"mimeType":"application/pdf"}},{"file_data":{"mimeType":5,"mime_type":"image/x"}}]}]}`,
	`{"x":{"inlineData":{"data":"AA\/AA","mimeType":"audio/wav"},"inlineData":{"data":"AAAA","mimeType":"Image/png"}}}`,
	`{"messages":[{"content":[{"type":"document","source":{"type":"text","data":"x"}},{"type":"document","source":{"type":"base64","data":"QUJD"}},{"type":"container_upload","container_upload":{"url":"data:abc"}},{"type":"video","video":"data:\u00ff\u0000"}]}]}`,
	"{\"model\":\"\xff\xfe\",\"messages\":[{\"type\":\"image_url\",\"image_url\":\"data:\xff\"}]}",
	`{"a":[[[{"type":"input_file","file_data":"data:x","type":"input_image","image_url":"data:q"}]]]}`,
	`{"":{"type":"audio_url","audio_url":{"url":"data:1","url":"http://x"}},"k":{},"k":{"type":"image_url"},"k":{"type":"image","source":{"type":"base64","data":"x"}}}`,
}

// FuzzInspectMatchesMaps reads fuzzed bodies both ways.
func FuzzInspectMatchesMaps(f *testing.F) {
	addRecorded(f, "testdata/*/*.json", func(b []byte) { f.Add(b) })
	for _, s := range inspectDiffSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSameInspection(t, body) })
}
