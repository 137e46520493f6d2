package gateway

import (
	"bytes"
	"encoding/json"
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

// maxToolCallsBound is the web searches held for when the request sets
// no limit: the providers' own loops stop a turn well before it (Anthropic
// pauses a turn after ten server-tool iterations).
const maxToolCallsBound = 50

// toolCallOutputTokens is the fewest output tokens one server-side tool
// call costs the model: it writes the call (a query in JSON) as output.
const toolCallOutputTokens = 10

// feeInput is what a dialect's billing reads of a request body:
// inspectRequest's walk of it. The body needs no search of its own: a
// body whose top-level members include none of those the format's fees
// sit in, and whose walk saw no audio part, bills at no rate or fee
// beyond its tokens, and its billing decodes nothing.
type feeInput struct {
	// top are the body's top-level members, in order, duplicates and
	// all (get reads the last, as a decoder keeps); names decoded.
	top jsonObject
	// marks are the audio parts the walk saw, anywhere in the body.
	marks bodyMarks
	// body is the whole body, one JSON object.
	body []byte
}

// hasAny reports whether o has a member called any of names, whatever
// its value (null too).
func (o jsonObject) hasAny(names []string) bool {
	for _, m := range o {
		for _, n := range names {
			if string(m.name) == n {
				return true
			}
		}
	}
	return false
}

// objects decodes a JSON array of objects (a body's tools), nil for
// anything else.
//
// It reads raw (a value of a well-formed body's member) with
// the scanner, as json.Unmarshal would decode it, its error ignored: an
// element that is not an object is a nil map, anything but an array nil.
func objects(raw json.RawMessage) []map[string]json.RawMessage {
	v := jsonValue(bytes.TrimSpace(raw))
	if !v.isArray() {
		return nil
	}
	os := []map[string]json.RawMessage{}
	v.elems(func(e jsonValue) {
		if !e.isObject() {
			os = append(os, nil)
			return
		}
		m := make(map[string]json.RawMessage)
		scanMembers(e, func(key, val []byte) bool {
			m[string(rawText(key))] = val
			return true
		})
		os = append(os, m)
	})
	return os
}

// searchBound is the web searches to hold for a tool whose request sets
// limit (0 when it sets none) and whose output is bounded by outBound
// tokens: the limit, else one search per toolCallOutputTokens of output,
// at most maxToolCallsBound.
func searchBound(limit, outBound int64) int64 {
	if limit > 0 {
		return limit
	}
	n := outBound / toolCallOutputTokens
	if n <= 0 || n > maxToolCallsBound {
		n = maxToolCallsBound
	}
	return n
}

// jsonStr is a JSON string's text, "" for anything else.
func jsonStr(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// The ways a request's tokens can split that a price row may charge
// more for than plain text: its worst case is the dearest of every
// combination of those that apply to it (worstVariants).
const (
	worstCacheWrite   = 1 << iota // every input token written to the cache
	worstCacheWrite1h             // every input token written to the one-hour cache
	worstAudioIn                  // every input token not written to a cache is audio
	worstReasoning                // every output token is reasoning
	worstAudioOut                 // every output token is audio
	worstImageOut                 // every output token is an image
)

// worstVariants is the set of the ways b's tokens can split: the cache
// writes and reasoning, for any request; audio and images where b says
// so.
func (b billing) worstVariants() uint8 {
	v := uint8(worstCacheWrite | worstCacheWrite1h | worstReasoning)
	if b.audioIn {
		v |= worstAudioIn
	}
	if b.audioOut {
		v |= worstAudioOut
	}
	if b.imageOut {
		v |= worstImageOut
	}
	return v
}

// worstDuplicate reports whether the usage of the set of variants v is
// that of a smaller set: the one-hour cache write writes every input
// token to the cache already, and audio or image output leaves no output
// token to reasoning.
func worstDuplicate(v uint8) bool {
	return v&(worstCacheWrite|worstCacheWrite1h) == worstCacheWrite|worstCacheWrite1h ||
		v&worstReasoning != 0 && v&(worstAudioOut|worstImageOut) != 0
}

// worstUsage is the usage of a request with in input and out output
// tokens, split as the set of variants v says, with the tool calls and
// tier b asks for. Every usage of a subset of b.worstVariants() bounds
// the request's cost at some row: its worst case is their dearest.
func (b billing) worstUsage(in, out int64, v uint8) Usage {
	u := Usage{InputTokens: in, OutputTokens: out, ServiceTier: b.tier, InferenceGeo: b.geo, Speed: b.speed, WebSearchCalls: b.webSearch}
	if b.codeExec {
		u.CodeExecutionCalls = 1
	}
	switch {
	case v&worstCacheWrite1h != 0:
		u.CacheWriteTokens, u.CacheWrite1hTokens = in, in
	case v&worstCacheWrite != 0:
		u.CacheWriteTokens = in
	}
	if v&worstAudioIn != 0 {
		u.InputAudioTokens = in - u.CacheWriteTokens
	}
	if v&worstAudioOut != 0 {
		u.OutputAudioTokens = out
	}
	if v&worstImageOut != 0 {
		u.OutputImageTokens = out
	}
	if v&(worstAudioOut|worstImageOut) == 0 && v&worstReasoning != 0 {
		u.ReasoningTokens = out
	}
	return u
}
