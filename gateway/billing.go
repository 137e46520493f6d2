package gateway

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// billing is what a request body says about the rates and fees its
// answer can be billed at, beyond its token counts: which modalities go in
// and come out, the service tier and region it asks for, and the
// server-side tools billed per call that it enables.
type billing struct {
	audioIn   bool // audio in the input (OpenAI input_audio, an audio/* part)
	audioOut  bool // audio asked for in the output
	imageOut  bool // images asked for in the output
	tier      string
	geo       string
	speed     string // Anthropic's output speed asked for
	webSearch int64  // the most web searches the request can run
	codeExec  bool   // a code execution tool billed apart from tokens
}

// Audio parts of a request body, matched as JSON structure: inside a
// string value a quote is escaped, so text that merely mentions them
// ("what does input_audio do?") does not match.
var (
	openAIAudioPart = regexp.MustCompile(`:\s*"input_audio"`)
	geminiAudioPart = regexp.MustCompile(`"mime_?[tT]ype"\s*:\s*"audio/`)
)

// maxToolCallsBound is the web searches held for when the request sets
// no limit: the providers' own loops stop a turn well before it (Anthropic
// pauses a turn after ten server-tool iterations).
const maxToolCallsBound = 50

// toolCallOutputTokens is the fewest output tokens one server-side tool
// call costs the model: it writes the call (a query in JSON) as output.
const toolCallOutputTokens = 10

// inspectBilling reads b's billing from a request body of dialect whose
// output is bounded by outBound tokens. It reads only what it needs, and
// nothing at all of a body that mentions none of it.
func inspectBilling(dialect string, body []byte, outBound int64) billing {
	var b billing
	if !bytes.Contains(body, []byte("audio")) && !bytes.Contains(body, []byte("odalities")) &&
		!bytes.Contains(body, []byte("tools")) && !bytes.Contains(body, []byte("service_tier")) &&
		!bytes.Contains(body, []byte("inference_geo")) && !bytes.Contains(body, []byte("web_search_options")) &&
		!bytes.Contains(body, []byte("speed")) {
		return b
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return b
	}
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var tools []map[string]json.RawMessage
	_ = json.Unmarshal(top["tools"], &tools)
	searchBound := func(limit int64) int64 {
		if limit > 0 {
			return limit
		}
		n := outBound / toolCallOutputTokens
		if n <= 0 || n > maxToolCallsBound {
			n = maxToolCallsBound
		}
		return n
	}
	switch dialect {
	case DialectGemini:
		b.audioIn = geminiAudioPart.Match(body)
		gc := top["generationConfig"]
		if gc == nil {
			gc = top["generation_config"]
		}
		var cfg map[string]json.RawMessage
		_ = json.Unmarshal(gc, &cfg)
		mods := cfg["responseModalities"]
		if mods == nil {
			mods = cfg["response_modalities"]
		}
		var ms []string
		_ = json.Unmarshal(mods, &ms)
		for _, m := range ms {
			switch strings.ToUpper(m) {
			case "AUDIO":
				b.audioOut = true
			case "IMAGE":
				b.imageOut = true
			}
		}
		for _, t := range tools {
			for k := range t {
				switch k {
				case "googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval":
					b.webSearch = searchBound(0)
				}
			}
		}
	case DialectAnthropic:
		b.geo = str(top["inference_geo"])
		b.speed = str(top["speed"])
		for _, t := range tools {
			typ := str(t["type"])
			switch {
			case strings.HasPrefix(typ, "web_search_"):
				var maxUses tokens
				_ = json.Unmarshal(t["max_uses"], &maxUses)
				b.webSearch += searchBound(int64(maxUses))
			case strings.HasPrefix(typ, "code_execution_"):
				b.codeExec = true
			}
		}
	default:
		b.audioIn = openAIAudioPart.Match(body)
		var ms []string
		_ = json.Unmarshal(top["modalities"], &ms)
		for _, m := range ms {
			if m == "audio" {
				b.audioOut = true
			}
		}
		b.tier = str(top["service_tier"])
		var maxCalls tokens
		_ = json.Unmarshal(top["max_tool_calls"], &maxCalls)
		for _, t := range tools {
			switch typ := str(t["type"]); {
			case strings.HasPrefix(typ, "web_search"):
				b.webSearch = searchBound(int64(maxCalls))
			case typ == "code_interpreter":
				b.codeExec = true
			}
		}
		// Chat Completions search models search once per request.
		if _, ok := top["web_search_options"]; ok && b.webSearch == 0 {
			b.webSearch = 1
		}
	}
	return b
}

// worstUsages returns the usages whose dearest cost bounds a request with
// in input and out output tokens: every input token at each input rate
// that can apply, every output token at each output rate, and the tool
// calls and tier the request asks for.
func (b billing) worstUsages(in, out int64) []Usage {
	base := Usage{InputTokens: in, OutputTokens: out, ServiceTier: b.tier, InferenceGeo: b.geo, Speed: b.speed, WebSearchCalls: b.webSearch}
	if b.codeExec {
		base.CodeExecutionCalls = 1
	}
	// Each add doubles the usages: size the slice once.
	n := 8
	for _, more := range [...]bool{b.audioIn, b.audioOut, b.imageOut} {
		if more {
			n *= 2
		}
	}
	us := make([]Usage, 1, n)
	us[0] = base
	add := func(f func(u *Usage)) {
		for _, u := range us {
			f(&u)
			us = append(us, u)
		}
	}
	add(func(u *Usage) { u.CacheWriteTokens = in })
	add(func(u *Usage) { u.CacheWriteTokens, u.CacheWrite1hTokens = in, in })
	if b.audioIn {
		add(func(u *Usage) { u.InputAudioTokens = in - u.CacheWriteTokens })
	}
	add(func(u *Usage) { u.ReasoningTokens = out })
	if b.audioOut {
		add(func(u *Usage) { u.ReasoningTokens, u.OutputAudioTokens = 0, out })
	}
	if b.imageOut {
		add(func(u *Usage) { u.ReasoningTokens, u.OutputImageTokens = 0, out })
	}
	return us
}
