package gateway

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// checkOpenAIEvents fails t when openAIMeter and the encoding/json meter
// kept in usageref_test.go differ on data taken as the data of the
// events of one stream: first when nothing is known of the stream, then
// once its id and model are (so the plain chunk test applies), with and
// without HideUsage.
func checkOpenAIEvents(t *testing.T, data []byte) {
	t.Helper()
	for _, hide := range []bool{false, true} {
		m, rm := &streamMeter{HideUsage: hide}, &streamMeter{HideUsage: hide}
		for i := range 3 {
			ev := streamEvent{Data: data, Raw: []byte("data: " + string(data) + "\n\n")}
			got, want := openAIMeter{}.event(m, ev), refOpenAIEvent(rm, ev)
			if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("event %d (%.300q, hide %v) relays %q, want %q", i, data, hide, got, want)
			}
			if !sameMeter(m, rm) {
				t.Fatalf("event %d (%.300q, hide %v)\n = %+v\nwant %+v", i, data, hide, *m, *rm)
			}
			if i == 1 && m.UpstreamID == "" {
				m.UpstreamID, rm.UpstreamID, m.Model, rm.Model = "id", "id", "m", "m"
			}
		}
	}
}

func TestOpenAIMeterMatchesReference(t *testing.T) {
	// The recorded streams, event by event.
	files, _ := filepath.Glob("testdata/openai/*.sse")
	for _, f := range files {
		for _, hide := range []bool{false, true} {
			m, rm := &streamMeter{HideUsage: hide}, &streamMeter{HideUsage: hide}
			r := newSSEReader(bytes.NewReader(readTestdata(t, strings.TrimPrefix(f, "testdata/"))))
			for {
				ev, err := r.Next()
				if len(ev.Raw) > 0 && len(ev.Data) > 0 {
					got, want := openAIMeter{}.event(m, ev), refOpenAIEvent(rm, ev)
					if !bytes.Equal(got, want) || !sameMeter(m, rm) {
						t.Fatalf("%s: event %.200q relays %q, %+v\nwant %q, %+v", f, ev.Data, got, *m, want, *rm)
					}
				}
				if err != nil {
					break
				}
			}
		}
	}
	for _, b := range usageCorpus(t) {
		checkOpenAIEvents(t, b)
	}
	for _, s := range openAIChunkSeeds {
		checkOpenAIEvents(t, []byte(s))
	}
	g := answerGen{r: rand.New(rand.NewPCG(15, 7)), names: openAIEventGenNames}
	for range 30_000 {
		checkOpenAIEvents(t, g.body())
	}
	// Streams of events drawn from all of the above, so what one event
	// leaves in the meter meets the next.
	pool := usageCorpus(t)
	for _, s := range openAIChunkSeeds {
		pool = append(pool, []byte(s))
	}
	for range 3000 {
		pool = append(pool, g.body())
	}
	for range 5000 {
		hide := g.r.IntN(2) == 0
		m, rm := &streamMeter{HideUsage: hide}, &streamMeter{HideUsage: hide}
		for range 6 {
			data := pool[g.r.IntN(len(pool))]
			ev := streamEvent{Data: data, Raw: []byte("data: " + string(data) + "\n\n")}
			got, want := openAIMeter{}.event(m, ev), refOpenAIEvent(rm, ev)
			if !bytes.Equal(got, want) || (got == nil) != (want == nil) || !sameMeter(m, rm) {
				t.Fatalf("event %.300q relays %q, %+v\nwant %q, %+v", data, got, *m, want, *rm)
			}
		}
	}
}

var openAIChunkSeeds = []string{
	`{"id":"a","id":null,"model":"m\u00e9","usage":null,"choices":[]}`,
	`{"ID":"a"}`, `{"id":5,"model":"m"}`, `{"model":"\xff","service_tier":"x","usage":{"prompt_tokens":1}}`,
	`{"usage":1,"usage":{"a":1},"choices":null,"x":{"id":2}}`, `{"error":{"message":"x"}}`, `{"type":"response.created"}`,
	`{"id":"a"`, `{"id":"a"} x`, `{}`,
	`{"id":"c","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
	`{"id":"c","model":"m","choices":[ ],"usage":{"prompt_tokens":3}}`, `{"id":"c","choices":{},"usage":{"prompt_tokens":3}}`,
	`{"id":"c","x_groq":{"usage":{"prompt_tokens":3,"completion_tokens":4}},"usage":null}`,
	`{"id":"c","x_groq":{"usage":{"prompt_tokens":3}},"x_groq":null}`, `{"X_GROQ":{"usage":{"prompt_tokens":3}},"usage":{}}`,
	`{"type":"response.completed","sequence_number":7,"response":{"id":"resp_1","model":"gpt-5","service_tier":"flex","usage":{"input_tokens":5,"output_tokens":3},"output":[{"type":"web_search_call"},{"type":"code_interpreter_call"}]}}`,
	`{"type":"response.completed","response":{"id":"resp_1","usage":{"input_tokens":5}},"response":{"output":[{"type":"web_search_call"}]}}`,
	`{"type":"response.completed","response":{"usage":{"input_tokens":5}},"response":null}`,
	`{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}`, `{"type":"response.failed"}`,
	`{"type":"response.incomplete","response":5}`, `{"type":"response.output_text.delta","sequence_number":"12","delta":"hi"}`,
	`{"type":"error","code":"rate_limit","message":"slow down"}`, `{"type":"error","code":429,"message":null}`,
	`{"type":"error","error":{"message":"x","type":"server_error"}}`, `{"type":"resp\u006fnse.completed","response":{"usage":{"input_tokens":1}}}`,
	`{"TYPE":"response.completed","Response":{"usage":{"input_tokens":1}}}`, `{"type":"response.completed","type":5}`,
	`{"id":"c","model":"m","service_tier":"priority","usage":{"prompt_tokens":1,"completion_tokens":1}}`,
	`{"type":"response.in_progress","sequence_number":9}`, `{"type":"response.in_progress","sequence_number":2}`,
	`{"id":"c\u0031","model":"m","service_tier":""}`, `{"id":"","model":"\u006d","service_tier":"flex"}`,
	"{\"id\":\"c\xff\",\"model\":\"m\"}", `{"model":"m","id":5,"service_tier":"auto"}`,
}

func FuzzChatChunk(f *testing.F) {
	addRecorded(f, "testdata/*/*.sse", func(b []byte) {
		for line := range bytes.Lines(b) {
			if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				f.Add(bytes.TrimSpace(data))
			}
		}
	})
	for _, s := range openAIChunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkOpenAIEvents)
}

var openAIEventGenNames = append([]string{"id", "model", "service_tier", "choices", "usage", "error", "x_groq",
	"type", "sequence_number", "response", "code", "message", "output", "delta"}, openAIGenNames...)

// BenchmarkOpenAIStreamMeter: metering every event of recorded streams,
// the scanner against the encoding/json reference.
func BenchmarkOpenAIStreamMeter(b *testing.B) {
	for _, name := range []string{"chat_stream_usage.sse", "responses_stream.sse"} {
		var events []streamEvent
		r := newSSEReader(bytes.NewReader(readTestdata(b, "openai/"+name)))
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
			event func(*streamMeter, streamEvent) []byte
		}{{"scan", openAIMeter{}.event}, {"reference", refOpenAIEvent}} {
			b.Run(strings.TrimSuffix(name, ".sse")+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m := &streamMeter{}
					for _, ev := range events {
						c.event(m, ev)
					}
					if !m.Done || m.Usage.InputTokens == 0 {
						b.Fatal("not metered")
					}
				}
			})
		}
	}
}
