package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fingerprintTree is the loop fingerprint as it was computed before the
// scanner: the body decoded into maps and slices, then hashed. The
// scanner's walk must hash every body to the same bytes.
func fingerprintTree(token, model, route string, body []byte) [32]byte {
	h := sha256.New()
	for _, s := range []string{token, model, route} {
		treeString(h, s)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		h.Write(body)
	} else {
		treeValue(h, v)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

type treeWriter interface{ Write([]byte) (int, error) }

func treeString(h treeWriter, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}

func treeValue(h treeWriter, v any) {
	switch v := v.(type) {
	case map[string]any:
		h.Write([]byte{'{'})
		keys := make([]string, 0, len(v))
		for k := range v {
			if !perCallMember(k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			treeString(h, k)
			treeValue(h, v[k])
		}
		h.Write([]byte{'}'})
	case []any:
		h.Write([]byte{'['})
		for _, e := range v {
			treeValue(h, e)
		}
		h.Write([]byte{']'})
	case string:
		h.Write([]byte{'s'})
		treeString(h, normalizeText(v))
	case json.Number:
		h.Write([]byte{'n'})
		treeString(h, string(v))
	case bool:
		if v {
			h.Write([]byte{'t'})
		} else {
			h.Write([]byte{'f'})
		}
	case nil:
		h.Write([]byte{'0'})
	}
}

// scanCorpus is JSON the scanner must read as encoding/json does: the
// recorded provider payloads and cases that take each branch.
func scanCorpus(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, f := range files {
		if strings.Contains(f, "prices") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) < 10 {
		t.Fatalf("only %d recorded payloads", len(out))
	}
	for _, s := range []string{
		`{}`, ` { } `, `{"a":[]}`, `{"a":[ ]}`, `{"a":{}}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":64}`,
		`{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":{"x":1},"a":[1]}`,
		`{"id":"x1","user":"u","metadata":{"k":"v"},"tool_call_id":"c_1","requestId":"r","q":1}`,
		`{"k\u0065y":"v","key":"w"}`, `{"\u00e9t\u00e9":"\u00e9t\u00e9","été":"x"}`,
		`{"s":"line\nbreak \"quoted\" \\ \/ \b\f\r\t \ud83d\ude00 \ud800 lone"}`,
		"{\"s\":\"bad utf-8 \xff\xfe here\",\"\xffk\":1}",
		`{"n":[0,-0,1.5,-2e10,3E+2,4e-3,123456789012345678901234567890]}`,
		`{"t":true,"f":false,"z":null}`,
		`{"when":"2026-11-30T10:31:02Z","uuid":"123e4567-e89b-12d3-a456-426614174000","ts":"1764230400123"}`,
		`{"deep":[[[[{"a":[{"b":{"c":[1,2,{"d":"e"}]}}]}]]]]}`,
		`{"a":1} trailing`, `  {"a":1}` + "\n",
		`{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":tru}`, `{"a":"unterminated}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"ctl\x01\"}", `[1,2]`, `"str"`, `not json`, ``, `{`, `{"a":[1,2}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

func TestFingerprintMatchesTree(t *testing.T) {
	for _, body := range scanCorpus(t) {
		var v any
		if json.Unmarshal(body, &v) != nil && len(body) > 0 && body[spaceEnd(body, 0)] == '{' {
			// Invalid objects are refused before the guard looks; the
			// decoder and the scanner may stop at different bytes.
			continue
		}
		got := fingerprint("tok", "gpt-4o", "openai.chat", body)
		want := fingerprintTree("tok", "gpt-4o", "openai.chat", body)
		if got != want {
			t.Errorf("fingerprint(%.120q) differs from the decoded tree's", body)
		}
	}
}

// TestScanAgreesWithDecoder: valueEnd accepts exactly what encoding/json
// accepts as one value, and scanObject finds the members it decodes.
func TestScanAgreesWithDecoder(t *testing.T) {
	for _, body := range scanCorpus(t) {
		checkScan(t, body)
	}
}

func checkScan(t *testing.T, body []byte) {
	t.Helper()
	valid := json.Valid(body)
	i := spaceEnd(body, 0)
	end, err := valueEnd(body, i)
	scanned := err == nil && spaceEnd(body, end) == len(body)
	if scanned != valid {
		t.Fatalf("valueEnd(%.120q) = %d, %v; json.Valid = %v", body, end, err, valid)
	}
	var m map[string]json.RawMessage
	merr := json.Unmarshal(body, &m)
	top := walkedTop(body)
	if (top == nil) != (m == nil) || len(top) != len(m) {
		t.Fatalf("walkedTop(%.120q) = %d members, json.Unmarshal %d (%v)", body, len(top), len(m), merr)
	}
	for k, v := range m {
		if string(top[k]) != string(v) {
			t.Fatalf("walkedTop(%.120q): member %q = %q, json.Unmarshal's %q", body, k, top[k], v)
		}
		var want []map[string]json.RawMessage
		_ = json.Unmarshal(v, &want)
		if got := objects(v); !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Fatalf("objects(%.120q) = %q, json.Unmarshal %q", v, got, want)
		}
	}
	if merr != nil || m == nil {
		return // not an object ("null" decodes into a nil map)
	}
	got := map[string]string{}
	if err := scanObject(body, func(key, val []byte) bool {
		got[unquote(key)] = string(val)
		return true
	}); err != nil {
		t.Fatalf("scanObject(%.120q) = %v", body, err)
	}
	if len(got) != len(m) {
		t.Fatalf("scanObject(%.120q) found %d members, the decoder %d", body, len(got), len(m))
	}
	for k, v := range m {
		if got[k] != string(v) {
			t.Fatalf("scanObject(%.120q): member %q = %q, the decoder's %q", body, k, got[k], v)
		}
	}
}

// BenchmarkUsageFromAnswer: reading the usage of a chat completion whose
// answer is long, whole-body decoding against picking the members.
func BenchmarkUsageFromAnswer(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("Here is a long answer with code and prose. ", 100) + `"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":24,"completion_tokens":900,"total_tokens":924},"service_tier":"default","system_fingerprint":"fp"}`)
	type answer struct {
		Model       string       `json:"model"`
		Usage       *openAIUsage `json:"usage"`
		ServiceTier string       `json:"service_tier"`
	}
	for _, c := range []struct {
		name   string
		decode func([]byte, any) bool
	}{{"decodeJSON", decodeJSON}, {"decodeMembers", decodeMembers}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var a answer
				if !c.decode(body, &a) || a.Usage == nil {
					b.Fatal("no usage")
				}
			}
		})
	}
}

func FuzzScan(f *testing.F) {
	for _, b := range scanCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScan(t, body)
		var got, want refOpenAIChunk
		if decodeMembers(body, &got) != decodeJSON(body, &want) || !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeMembers(%q) differs from decodeJSON", body)
		}
		if json.Valid(body) {
			if got, want := fingerprint("t", "m", "r", body), fingerprintTree("t", "m", "r", body); got != want {
				t.Fatalf("fingerprint(%q) differs from the decoded tree's", body)
			}
		}
	})
}

// TestDecodeMembersMatchesDecodeJSON: decoding only the members a struct
// names gives what decoding the whole body gives, for the answer shapes
// Sluice reads usage from and bodies that take each branch.
func TestDecodeMembersMatchesDecodeJSON(t *testing.T) {
	bodies := scanCorpus(t)
	for _, s := range []string{
		`{"model":"m","usage":{"prompt_tokens":3,"completion_tokens":4},"choices":[{"message":{"content":"x"}}]}`,
		`{"MODEL":"m","Usage":{"prompt_tokens":3},"usage":{"completion_tokens":4}}`,
		`{"model":"a","model":"b","usage":null,"x_groq":{"usage":{"prompt_tokens":9}}}`,
		`{"model":7,"usage":{"prompt_tokens":"x"},"service_tier":"flex"}`,
		`{"mod\u0065l":"esc","service_tier":"default","output":[{"type":"web_search_call"}]}`,
		`{"-":1,"Ignored":2,"model":"m"}`, `[{"model":"m"}]`, `null`, `"s"`, `{"model":"m"} x`,
	} {
		bodies = append(bodies, []byte(s))
	}
	type answer struct {
		Model string `json:"model"`
		Usage *struct {
			PromptTokens     *int64 `json:"prompt_tokens"`
			CompletionTokens *int64 `json:"completion_tokens"`
		} `json:"usage"`
		XGroq *struct {
			Usage map[string]any `json:"usage"`
		} `json:"x_groq"`
		ServiceTier string `json:"service_tier"`
		Output      []map[string]any
		Ignored     int `json:"-"`
		Dash        int `json:"-,"`
	}
	for _, body := range bodies {
		var got, want answer
		okGot, okWant := decodeMembers(body, &got), decodeJSON(body, &want)
		if okGot != okWant || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeMembers(%.100q) = %v, %+v; decodeJSON: %v, %+v", body, okGot, got, okWant, want)
		}
		var chunkGot, chunkWant refOpenAIChunk
		if decodeMembers(body, &chunkGot) != decodeJSON(body, &chunkWant) || !reflect.DeepEqual(chunkGot, chunkWant) {
			t.Errorf("decodeMembers(%.100q) into a chunk differs from decodeJSON", body)
		}
	}
}

// TestStringSpecial: the eight-byte test finds a quote, a backslash or a
// control character wherever it stands among any other bytes, and its
// lowest mark is the first of them.
func TestStringSpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := []byte{0, 0x1f, 0x20, '"', '\\', 'a', 0x7f, 0x80, 0xa2, 0xdc, 0xff, '!', '#', '[', ']'}
	for range 200_000 {
		var b [8]byte
		first := 8
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = pick[r.IntN(len(pick))]
			} else {
				b[i] = byte(r.IntN(256))
			}
			if first == 8 && (b[i] == '"' || b[i] == '\\' || b[i] < 0x20) {
				first = i
			}
		}
		want := first < 8
		x := binary.LittleEndian.Uint64(b[:])
		if got := stringSpecial(x); got != want {
			t.Fatalf("stringSpecial(% x) = %v, want %v", b, got, want)
		}
		if got := bits.TrailingZeros64(stringSpecials(x)) >> 3; got != first {
			t.Fatalf("stringSpecials(% x) marks byte %d first, want %d", b, got, first)
		}
	}
}
