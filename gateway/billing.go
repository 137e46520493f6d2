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

// inspectBilling reads the billing of a request body of dialect d whose
// output is bounded by outBound tokens. It runs on every metered request:
// each dialect's billing first looks for the members its own fees sit in
// (feeMembers) and reads nothing more of a body that names none.
func inspectBilling(d dialect, body []byte, outBound int64) billing {
	return d.billing(body, outBound)
}

// feeMembers is the test a dialect's billing makes before it reads a
// body: whether body holds any of names (the format's fee members, as
// JSON spells them), and then its members; ok is false, after a few byte
// searches and no decoding, for a body that names none, and for a body
// that is not a JSON object.
func feeMembers(body []byte, names [][]byte) (top map[string]json.RawMessage, ok bool) {
	for _, n := range names {
		if bytes.Contains(body, n) {
			top = topMembers(body)
			return top, top != nil
		}
	}
	return nil, false
}

// topMembers decodes a JSON object's members, nil for any other body. (A
// function of its own, so that a body feeMembers lets go costs no
// allocation.)
//
// It reads the members with the scanner, as json.Unmarshal would decode
// them (names unescaped, the last of duplicates kept), without decoding
// the values: each is the body's own bytes.
func topMembers(body []byte) map[string]json.RawMessage {
	top := make(map[string]json.RawMessage)
	err := scanObject(body, func(key, val []byte) bool {
		top[string(rawText(key))] = val
		return true
	})
	if err != nil {
		return nil
	}
	return top
}

// objects decodes a JSON array of objects (a body's tools), nil for
// anything else.
//
// It reads raw (a value of a body topMembers read, so well formed) with
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
