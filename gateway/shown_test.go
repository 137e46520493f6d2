package gateway

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShownBytes(t *testing.T) {
	for _, tt := range []struct {
		d    dialect
		data string
		want int64
	}{
		{anthropicDialect{}, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`, 5},
		{anthropicDialect{}, `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}`, 7},
		{anthropicDialect{}, `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkYIBBgCIkB"}}`, 0},
		{anthropicDialect{}, `{"type":"message_start","message":{"id":"msg_1","content":[],"usage":{"input_tokens":9}}}`, 0},
		{openAIDialect{}, `{"type":"response.output_text.delta","sequence_number":6,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"Budgets","logprobs":[],"obfuscation":"Fq3k9"}`, 7},
		{openAIDialect{}, `{"type":"response.output_text.done","item_id":"msg_1","text":"Budgets hold"}`, 0},
		{openAIDialect{}, `{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi there"},"finish_reason":null}]}`, 8},
		{openAIDialect{}, `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}`, 3},
		{geminiDialect{}, `{"candidates":[{"content":{"parts":[{"text":"Bonjour"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"candidatesTokenCount":2}}`, 7},
		{openAIDialect{}, `[DONE]`, 0},
	} {
		if got := tt.d.info().shown([]byte(tt.data)); got != tt.want {
			t.Errorf("%s.shown(%s) = %d, want %d", tt.d.info().name, tt.data, got, tt.want)
		}
	}
}

// TestShownBytesAsDecoded checks the scanner's count against the strings
// encoding/json decodes from each event: escapes, surrogate pairs, lone
// surrogates and invalid UTF-8 count as the decoded text's bytes.
func TestShownBytesAsDecoded(t *testing.T) {
	texts := []string{
		`"Hi"`, `""`, `"a\nb\t\"c\"\\"`, `"\u00e9t\u00E9"`, `"\u4e16\u754c"`, `"\ud83d\ude00 ok"`,
		`"\ud83d alone"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, "\"caf\xc3\xa9 \xff\xfe bad\"", `"\/slash"`,
		"\"\xe4\xb8\x96\"", `"a\u0000b"`,
	}
	var events []string
	for _, s := range texts {
		events = append(events,
			`{"choices":[{"index":0,"delta":{"role":"assistant","content":`+s+`},"finish_reason":null}]}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+s+`}}`,
			`{"type":"response.output_text.delta","item_id":"msg_1","delta":`+s+`,"obfuscation":"x"}`,
			`{"candidates":[{"content":{"parts":[{"text":`+s+`},{"functionCall":{"name":"f","args":{"q":[`+s+`,1,true,null]}}}],"role":"model"}}]}`,
		)
	}
	events = append(events, `{"type":1,"delta":"x"}`, `{"type":"x_delta","delta":{"a":{"b":["cc",{"d":"eee"}]}}}`,
		`{"choices":null}`, `{"choices":"text"}`, `{"choices":[1,2]}`, `{}`, `{"choices":[{"delta":`, `not json`, ` {"candidates":[]} `)
	for _, d := range []dialect{openAIDialect{}, anthropicDialect{}, geminiDialect{}} {
		sp := &d.info().output
		for _, ev := range events {
			if got, want := sp.bytes([]byte(ev)), shownByDecoding(sp, []byte(ev)); got != want {
				t.Errorf("%s.shown(%s) = %d, want %d", d.info().name, ev, got, want)
			}
		}
	}
}

// shownByDecoding is shownSpec.bytes by encoding/json: the event decoded
// into maps, its strings' lengths summed.
func shownByDecoding(sp *shownSpec, data []byte) int64 {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return 0
	}
	var ev map[string]json.RawMessage
	if json.Unmarshal(data, &ev) != nil {
		return 0
	}
	var walk func(v any) int64
	walk = func(v any) int64 {
		var n int64
		switch v := v.(type) {
		case string:
			n = int64(len(v))
		case []any:
			for _, x := range v {
				n += walk(x)
			}
		case map[string]any:
			for k, x := range v {
				if !sp.skip.has([]byte(k)) {
					n += walk(x)
				}
			}
		}
		return n
	}
	decoded := func(raw json.RawMessage) int64 {
		var v any
		if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
			return 0
		}
		return walk(v)
	}
	if t, ok := ev["type"]; ok {
		var typ string
		json.Unmarshal(t, &typ)
		if sp.deltaSuffix == "" || !strings.HasSuffix(typ, sp.deltaSuffix) {
			return 0
		}
		var n int64
		for k, v := range ev {
			if !sp.skip.has([]byte(k)) {
				n += decoded(v)
			}
		}
		return n
	}
	if sp.member == "" {
		return 0
	}
	return decoded(ev[sp.member])
}

func BenchmarkShownBytes(b *testing.B) {
	sp := &openAIInfo.output
	data := []byte(`{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":" today"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	b.ReportAllocs()
	for b.Loop() {
		sp.bytes(data)
	}
}

// shownBytesByRawText is shownSpec.bytes as it was before nameText: every
// key and type decoded by rawText. The count must not change (the shown
// bytes grow a sliced stream's hold), so the two are compared.
func shownBytesByRawText(sp *shownSpec, data []byte) int64 {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return 0
	}
	var typ, member []byte
	typed := false
	if scanObject(data, func(key, val []byte) bool {
		switch name := rawText(key); {
		case string(name) == "type":
			typed, typ = true, nil
			if val[0] == '"' {
				typ = rawText(val)
			}
		case sp.member != "" && string(name) == sp.member:
			member = val
		}
		return true
	}) != nil {
		return 0
	}
	if !typed {
		return stringBytesByRawText(member, sp.skip)
	}
	if sp.deltaSuffix == "" || !bytes.HasSuffix(typ, []byte(sp.deltaSuffix)) {
		return 0
	}
	var n int64
	scanMembers(data, func(key, val []byte) bool {
		if !sp.skip.has(rawText(key)) {
			n += stringBytesByRawText(val, sp.skip)
		}
		return true
	})
	return n
}

func stringBytesByRawText(raw []byte, skip nameSet) int64 {
	if len(raw) == 0 {
		return 0
	}
	var n int64
	switch raw[0] {
	case '"':
		n = stringLen(raw)
	case '[':
		scanArray(raw, func(elem []byte) bool {
			n += stringBytesByRawText(elem, skip)
			return true
		})
	case '{':
		scanMembers(raw, func(key, val []byte) bool {
			if !skip.has(rawText(key)) {
				n += stringBytesByRawText(val, skip)
			}
			return true
		})
	}
	return n
}

// shownEvents are the data of every event in the recorded streams of
// testdata/, and events whose names and types are escaped or not UTF-8.
func shownEvents(t testing.TB) [][]byte {
	var events [][]byte
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
				events = append(events, data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 50 {
		t.Fatalf("%d events in testdata's streams, want the recorded streams'", len(events))
	}
	for _, ev := range []string{
		`{"\u0074ype":"content_block_delta","delta":{"text":"abc"}}`,
		`{"type":"content_block_\u0064elta","delta":{"text":"abc"}}`,
		`{"type":"x_delta","\u0069ndex":"abc","delta":"de"}`,
		`{"\u0063hoices":[{"delta":{"content":"xyz","r\u006fle":"assistant"}}]}`,
		"{\"type\xff\":\"x_delta\",\"delta\":\"ab\"}",
		"{\"type\":\"x_delta\xff\",\"delta\":\"ab\"}",
		"{\"type\":\"\xffdelta\",\"delta\":\"ab\"}",
		"{\"choices\":[{\"role\xc3\":\"ab\",\"\xe9index\":\"cd\"}]}",
		`{"type":"x_delta","type":"y","delta":"ab"}`,
		`{"choices":[{"delta":{"content":"a"}}],"choices":[{"delta":{"content":"bc"}}]}`,
		`{"type":"x\\delta","delta":"ab"}`,
		// The type after other members, or more than once.
		`{"index":0,"type":"content_block_delta","delta":{"type":"text_delta","text":"abc"}}`,
		`{"delta":{"text":"abc"},"type":"content_block_delta"}`,
		`{"choices":[{"delta":{"content":"ab"}}],"type":"x_delta","delta":"cd"}`,
		`{"type":"x_delta","choices":[{"delta":{"content":"ab"}}],"type":7}`,
		`{"type":null,"delta":"ab","type":"x_delta"}`,
		// White space everywhere it may be, and where it may not.
		" { \"type\" : \"x_delta\" , \"delta\" : [ \"ab\" , { \"t\" : \"c\" } ] } ",
		"{\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}\v",
		"{\"choices\" \v:[]}",
		`{"choices":[{"delta":{"content":"ab"}}]} x`,
		`{"choices":[{"delta":{"content":"ab"}}]}}`,
		`{} x`,
		`{"type":"x_delta","delta":"ab"}{}`,
		// Names and text of eight bytes and more, escaped and not.
		`{"type":"response.reasoning_summary_text.delta","sequence_number":12,"item_id":"rs_0123456789","delta":"a longer piece of text"}`,
		`{"choices":[{"delta":{"content_longer_than_eight":"abcdefghij","content\u0020x":"k"}}]}`,
	} {
		events = append(events, []byte(ev))
	}
	return events
}

// TestShownBytesDepth checks the count at the scanner's depth limit and
// past it, in arrays and objects: in the output member, in members only
// checked (at the top, and skipped inside the output) and in typed
// events. What nests deeper than maxScanDepth is malformed, as scanObject
// finds it, and carries nothing. (The implementation kept in the test
// takes seconds on such events: it walks each level again for each level
// above it.)
func TestShownBytesDepth(t *testing.T) {
	sp := &openAIInfo.output
	for depth := maxScanDepth - 3; depth <= maxScanDepth; depth++ {
		arrays := strings.Repeat("[", depth) + `"x"` + strings.Repeat("]", depth)
		objects := strings.Repeat(`{"a":`, depth) + `"x"` + strings.Repeat("}", depth)
		for _, deep := range []string{arrays, objects} {
			for _, tt := range []struct {
				ev    string
				above int   // the levels above the deep value's first
				want  int64 // the count when the deep value is within the limit
			}{
				{`{"choices":` + deep + `}`, 0, 1},
				{`{"id":` + deep + `,"choices":[{"delta":{"content":"ab"}}]}`, 0, 2},
				{`{"choices":[{"index":` + deep + `,"delta":{"content":"ab"}}]}`, 2, 2},
				{`{"type":"x_delta","delta":` + deep + `}`, 0, 1},
				{`{"type":"x_delta","index":` + deep + `,"delta":"ab"}`, 0, 2},
				{`{"type":"x_delta","delta":{"index":` + deep + `,"text":"ab"}}`, 1, 2},
				{`{"delta":` + deep + `,"type":"x_delta"}`, 0, 1},
			} {
				want := tt.want
				if tt.above+depth > maxScanDepth-1 {
					want = 0
				}
				if got := sp.bytes([]byte(tt.ev)); got != want {
					t.Errorf("shown(%.40s...) nested %d deep = %d, want %d", tt.ev, tt.above+depth, got, want)
				}
			}
		}
	}
}

// TestNameSet checks a set of names against a map of them: every name of
// every recorded event, and names of lengths the set has and lacks.
func TestNameSet(t *testing.T) {
	names := map[string]bool{"": true, "a": true, "typ": true, "types": true, "content_longer_than_eight": true}
	for _, ev := range shownEvents(t) {
		scanObject(bytes.TrimSpace(ev), func(key, val []byte) bool {
			names[string(rawText(key))] = true
			jsonValue(val).keys(func(name []byte) { names[string(name)] = true })
			return true
		})
	}
	sets := [][]string{nil, {""}, {"a", "b", "typ"}, {"type", "index", "content_longer_than_eight"}}
	for _, d := range []dialect{anthropicDialect{}, geminiDialect{}, openAIDialect{}} {
		var list []string
		for _, same := range d.info().output.skip {
			list = append(list, same...)
		}
		if len(list) == 0 {
			t.Errorf("%s: no skip names", d.info().name)
		}
		sets = append(sets, list)
	}
	for _, list := range sets {
		set, want := newNameSet(list...), map[string]bool{}
		for _, name := range list {
			want[name] = true
			names[name] = true
		}
		for name := range names {
			if got := set.has([]byte(name)); got != want[name] {
				t.Errorf("newNameSet(%q).has(%q) = %v, want %v", list, name, got, want[name])
			}
		}
	}
}

func TestShownBytesUnchanged(t *testing.T) {
	counted := 0
	for _, d := range []dialect{openAIDialect{}, anthropicDialect{}, geminiDialect{}} {
		sp := &d.info().output
		for _, ev := range shownEvents(t) {
			got, want := sp.bytes(ev), shownBytesByRawText(sp, ev)
			if got != want {
				t.Errorf("%s.shown(%s) = %d, before %d", d.info().name, ev, got, want)
			}
			if got > 0 {
				counted++
			}
		}
	}
	if counted == 0 {
		t.Fatal("no event counted any output")
	}
}

func FuzzShownBytes(f *testing.F) {
	for _, ev := range shownEvents(f) {
		f.Add(ev)
	}
	f.Fuzz(func(t *testing.T, ev []byte) {
		for _, d := range []dialect{openAIDialect{}, anthropicDialect{}, geminiDialect{}} {
			sp := &d.info().output
			if got, want := sp.bytes(ev), shownBytesByRawText(sp, ev); got != want {
				t.Errorf("%s.shown(%q) = %d, before %d", d.info().name, ev, got, want)
			}
		}
	})
}

// FuzzCountedEnd holds the counting walk to the scanner it copies:
// countedEnd accepts exactly what valueEndDepth accepts, at any depth,
// ends where it ends, and counts what stringBytes counts. Both are
// linear, so unlike FuzzShownBytes it can explore deep nesting.
func FuzzCountedEnd(f *testing.F) {
	for _, ev := range shownEvents(f) {
		f.Add(ev, uint16(0))
	}
	for _, s := range []string{`{"a":[1,"b",{"c":"d"}]}`, `[[["x"]]]`, `{"index":"abc","t":"\u00e9"}`, `"ab\`, `{"a" 1}`, `[1,]`, `tru`, `-1.5e3`} {
		f.Add([]byte(s), uint16(0))
		f.Add([]byte(s), uint16(maxScanDepth-2))
	}
	specs := []*shownSpec{&openAIInfo.output, &anthropicInfo.output, &geminiInfo.output,
		{member: "choices", skip: newNameSet("index", "")}}
	f.Fuzz(func(t *testing.T, b []byte, d uint16) {
		depth := int(d) % (maxScanDepth + 2)
		for _, sp := range specs {
			n, e, err := sp.countedEnd(b, 0, depth)
			we, werr := valueEndDepth(b, 0, depth)
			if (err == nil) != (werr == nil) {
				t.Fatalf("depth %d: countedEnd(%q) error %v, valueEndDepth error %v", depth, b, err, werr)
			}
			if err != nil {
				continue
			}
			if e != we {
				t.Fatalf("countedEnd(%q) ends at %d, valueEndDepth at %d", b, e, we)
			}
			if want := stringBytes(b[:e], sp.skip); n != want {
				t.Fatalf("countedEnd(%q) = %d, stringBytes %d", b, n, want)
			}
		}
	})
}
