package gateway

import (
	"bytes"
	"testing"
)

// FuzzChatChunk checks that scanChatChunk reads a chunk as decodeJSON
// does, whenever it reads it at all.
func FuzzChatChunk(f *testing.F) {
	addRecorded(f, "testdata/*/*.sse", func(b []byte) {
		for line := range bytes.Lines(b) {
			if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				f.Add(bytes.TrimSpace(data))
			}
		}
	})
	for _, s := range []string{
		`{"id":"a","id":null,"model":"m\u00e9","usage":null,"choices":[]}`,
		`{"ID":"a"}`, `{"id":5,"model":"m"}`, `{"model":"\xff","service_tier":"x","usage":{"prompt_tokens":1}}`,
		`{"usage":1,"usage":{"a":1},"choices":null,"x":{"id":2}}`, `{"error":{"message":"x"}}`, `{"type":"response.created"}`,
		`{"id":"a"`, `{"id":"a"} x`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if len(data) == 0 || data[0] != '{' {
			return
		}
		var got, want openAIChunk
		ok, read := scanChatChunk(data, &got)
		if !read {
			return
		}
		wantOK := decodeJSON(data, &want)
		if ok != wantOK {
			t.Fatalf("scanChatChunk(%q) ok = %v, decodeJSON %v", data, ok, wantOK)
		}
		if !ok {
			return
		}
		if got.ID != want.ID || got.Model != want.Model || got.ServiceTier != want.ServiceTier ||
			!bytes.Equal(got.Choices, want.Choices) || !bytes.Equal(got.Usage, want.Usage) ||
			(got.Choices == nil) != (want.Choices == nil) || (got.Usage == nil) != (want.Usage == nil) ||
			want.Type != "" || want.Error != nil || want.XGroq != nil || want.Response != nil || want.Code != nil || want.Message != "" || want.Sequence != 0 {
			t.Fatalf("scanChatChunk(%q) = %+v, decodeJSON %+v", data, got, want)
		}
	})
}
