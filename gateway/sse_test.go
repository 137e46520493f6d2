package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// readers wraps an input in the ways a network connection hands it over.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data+EOF", iotest.DataErrReader},
}

// readAll reads every event of r, and the error that ended it.
func readAll(r io.Reader) ([]streamEvent, error) {
	er := newSSEReader(r)
	var evs []streamEvent
	for {
		ev, err := er.Next()
		if len(ev.Raw) > 0 {
			evs = append(evs, ev)
		}
		if err != nil {
			return evs, err
		}
	}
}

func TestEventReader(t *testing.T) {
	type want struct {
		name, data string
		noData     bool
		raw        string
	}
	tests := []struct {
		desc string
		in   string
		want []want
		err  error
	}{
		{
			desc: "LF",
			in:   "data: {\"a\":1}\n\ndata: [DONE]\n\n",
			want: []want{{data: `{"a":1}`, raw: "data: {\"a\":1}\n\n"}, {data: "[DONE]", raw: "data: [DONE]\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "CRLF",
			in:   "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n",
			want: []want{{name: "message_start", data: `{"type":"message_start"}`, raw: "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n"}},
			err:  io.EOF,
		},
		{
			desc: "CR alone",
			in:   "data: a\rdata: b\r\rdata: c\r\r",
			want: []want{{data: "a\nb", raw: "data: a\rdata: b\r\r"}, {data: "c", raw: "data: c\r\r"}},
			err:  io.EOF,
		},
		{
			desc: "mixed line endings",
			in:   "data: a\r\ndata: b\n\r\ndata: c\r\n\n",
			want: []want{{data: "a\nb", raw: "data: a\r\ndata: b\n\r\n"}, {data: "c", raw: "data: c\r\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "comments are kept as events of their own",
			in:   ": ping\n\ndata: x\n\n:keep-alive\r\n\r\n",
			want: []want{{noData: true, raw: ": ping\n\n"}, {data: "x", raw: "data: x\n\n"}, {noData: true, raw: ":keep-alive\r\n\r\n"}},
			err:  io.EOF,
		},
		{
			desc: "comment inside an event",
			in:   "event: e\n: note\ndata: x\n\n",
			want: []want{{name: "e", data: "x", raw: "event: e\n: note\ndata: x\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "multi-line data",
			in:   "data: {\ndata: \"a\": 1\ndata: }\n\n",
			want: []want{{data: "{\n\"a\": 1\n}", raw: "data: {\ndata: \"a\": 1\ndata: }\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "id, retry and unknown fields are ignored",
			in:   "id: 7\nretry: 3000\nfoo: bar\ndata: x\n\n",
			want: []want{{data: "x", raw: "id: 7\nretry: 3000\nfoo: bar\ndata: x\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "value spacing",
			in:   "data:x\n\ndata:  y\n\ndata\n\ndata:\n\n",
			want: []want{{data: "x", raw: "data:x\n\n"}, {data: " y", raw: "data:  y\n\n"}, {data: "", raw: "data\n\n"}, {data: "", raw: "data:\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "stray blank lines",
			in:   "\n\ndata: x\n\n\n",
			want: []want{{noData: true, raw: "\n"}, {noData: true, raw: "\n"}, {data: "x", raw: "data: x\n\n"}, {noData: true, raw: "\n"}},
			err:  io.EOF,
		},
		{
			desc: "byte-order mark",
			in:   "\uFEFFdata: x\n\n",
			want: []want{{data: "x", raw: "\uFEFFdata: x\n\n"}},
			err:  io.EOF,
		},
		{
			desc: "no trailing blank line",
			in:   "data: a\n\ndata: b\n",
			want: []want{{data: "a", raw: "data: a\n\n"}, {data: "b", raw: "data: b\n"}},
			err:  io.ErrUnexpectedEOF,
		},
		{
			desc: "cut mid-line",
			in:   "data: a\n\ndata: {\"x\":",
			want: []want{{data: "a", raw: "data: a\n\n"}, {data: `{"x":`, raw: "data: {\"x\":"}},
			err:  io.ErrUnexpectedEOF,
		},
		{
			desc: "final CR ends the line",
			in:   "data: a\r\r",
			want: []want{{data: "a", raw: "data: a\r\r"}},
			err:  io.EOF,
		},
		{
			desc: "empty",
			in:   "",
			err:  io.EOF,
		},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.desc+"/"+rd.name, func(t *testing.T) {
				evs, err := readAll(rd.wrap(strings.NewReader(tt.in)))
				if err != tt.err {
					t.Errorf("Next(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				if len(evs) != len(tt.want) {
					t.Fatalf("Next(%q) gave %d events, want %d: %q", tt.in, len(evs), len(tt.want), evs)
				}
				for i, w := range tt.want {
					ev := evs[i]
					if ev.Name != w.name || string(ev.Raw) != w.raw {
						t.Errorf("event %d of %q = {%q, raw %q}, want {%q, raw %q}", i, tt.in, ev.Name, ev.Raw, w.name, w.raw)
					}
					if w.noData {
						if ev.Data != nil {
							t.Errorf("event %d of %q: Data = %q, want nil", i, tt.in, ev.Data)
						}
					} else if ev.Data == nil || string(ev.Data) != w.data {
						t.Errorf("event %d of %q: Data = %q, want %q", i, tt.in, ev.Data, w.data)
					}
				}
			})
		}
	}
}

// TestEventReaderRecorded checks that every recorded stream comes back
// byte for byte, however it is split.
func TestEventReaderRecorded(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded streams: %v", err)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, rd := range readers {
			evs, err := readAll(rd.wrap(bytes.NewReader(in)))
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Errorf("%s/%s: Next error = %v", f, rd.name, err)
			}
			var got []byte
			for _, ev := range evs {
				got = append(got, ev.Raw...)
			}
			if !bytes.Equal(got, in) {
				t.Errorf("%s/%s: concatenated Raw differs from the stream", f, rd.name)
			}
		}
	}
}

// repeatReader yields n copies of b, then io.EOF.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

func TestEventReaderLongLine(t *testing.T) {
	const n = 3 << 20 // well past the 1 MiB lines must reach
	r := io.MultiReader(strings.NewReader("data: "), &repeatReader{'a', n}, strings.NewReader("\n\ndata: [DONE]\n\n"))
	er := newSSEReader(iotest.HalfReader(r))
	ev, err := er.Next()
	if err != nil || len(ev.Data) != n || len(ev.Raw) != n+8 {
		t.Fatalf("Next() = %d data bytes, %d raw, %v; want %d, %d, nil", len(ev.Data), len(ev.Raw), err, n, n+8)
	}
	ev, err = er.Next()
	if err != nil || string(ev.Data) != "[DONE]" {
		t.Fatalf("Next() after a long event = %q, %v; want [DONE], nil", ev.Data, err)
	}
}

func TestEventReaderTooLarge(t *testing.T) {
	tests := []struct {
		desc string
		r    func() io.Reader
	}{
		{"one long line", func() io.Reader {
			return io.MultiReader(strings.NewReader("data: "), &repeatReader{'a', maxEventSize}, strings.NewReader("\n\n"))
		}},
		{"many lines", func() io.Reader {
			line := "data: " + strings.Repeat("b", 1000) + "\n"
			return strings.NewReader(strings.Repeat(line, maxEventSize/len(line)+1) + "\n")
		}},
	}
	for _, tt := range tests {
		er := newSSEReader(tt.r())
		if _, err := er.Next(); err != errEventTooLarge {
			t.Errorf("%s: Next() error = %v, want ErrEventTooLarge", tt.desc, err)
		}
		if _, err := er.Next(); err != errEventTooLarge {
			t.Errorf("%s: Next() after ErrEventTooLarge = %v, want it again", tt.desc, err)
		}
	}
	// Just under the limit is fine.
	body := "data: " + strings.Repeat("c", maxEventSize-8) + "\n\n"
	ev, err := newSSEReader(strings.NewReader(body)).Next()
	if err != nil || len(ev.Raw) != maxEventSize {
		t.Errorf("Next() of a %d-byte event = %d bytes, %v; want it whole", maxEventSize, len(ev.Raw), err)
	}
}

func TestEventReaderReadError(t *testing.T) {
	boom := errors.New("connection reset by peer")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: {\"par"), iotest.ErrReader(boom))
	er := newSSEReader(r)
	if ev, err := er.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next() = %q, %v; want a, nil", ev.Data, err)
	}
	ev, err := er.Next()
	if err != boom || string(ev.Raw) != `data: {"par` {
		t.Fatalf("Next() = raw %q, %v; want the partial event and %v", ev.Raw, err, boom)
	}
	if ev, err := er.Next(); err != boom || len(ev.Raw) != 0 {
		t.Errorf("Next() after a read error = raw %q, %v; want nothing and %v", ev.Raw, err, boom)
	}
}

// TestEventReaderOwnsNothing checks that an event stays intact after the
// reader moves on.
func TestEventReaderOwnsNothing(t *testing.T) {
	er := newSSEReader(iotest.OneByteReader(strings.NewReader("data: first\n\ndata: second\n\n")))
	a, _ := er.Next()
	b, _ := er.Next()
	if string(a.Data) != "first" || string(a.Raw) != "data: first\n\n" || string(b.Data) != "second" {
		t.Errorf("events after reading on = %q %q, %q; want first, second", a.Data, a.Raw, b.Data)
	}
}

// TestEventReaderLends checks that a reader that lends its buffer gives
// the events an owning one gives, and that an append to a lent event
// never writes into the buffer.
func TestEventReaderLends(t *testing.T) {
	const s = "data: first\n\nevent: x\ndata: a\ndata: b\n\n: ping\n\ndata: last"
	own := newSSEReader(strings.NewReader(s))
	lend := newSSEReader(strings.NewReader(s))
	lend.lend = true
	for {
		want, werr := own.Next()
		got, gerr := lend.Next()
		if werr != gerr || got.Name != want.Name || string(got.Raw) != string(want.Raw) || string(got.Data) != string(want.Data) {
			t.Fatalf("lent event %+q, %v; want %+q, %v", got, gerr, want, werr)
		}
		if werr != nil {
			break
		}
		_ = append(got.Raw, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
		_ = append(got.Data, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
	}
}

// TestEventReaderTrickled: events read from a buffer that holds them
// whole are the events read as their bytes trickle in one at a time, for
// random streams of fields, comments, blank lines and line endings of
// every kind.
func TestEventReaderTrickled(t *testing.T) {
	parts := []string{"data: ", "data:", "data", "event: ", "event:x", ": ping", ":", "id: 1", "retry: 5", "x", "{\"a\":1}",
		"\n", "\n", "\n", "\n\n", "\r", "\r\n", "\uFEFF", " ", "hello world"}
	r := rand.New(rand.NewPCG(3, 9))
	for range 20_000 {
		var b strings.Builder
		for range r.IntN(24) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		s := b.String()
		whole, werr := readAll(strings.NewReader(s))
		trickled, terr := readAll(iotest.OneByteReader(strings.NewReader(s)))
		if werr != terr || len(whole) != len(trickled) {
			t.Fatalf("%q: %d events, %v read whole; %d, %v byte by byte", s, len(whole), werr, len(trickled), terr)
		}
		for i := range whole {
			w, tr := whole[i], trickled[i]
			if w.Name != tr.Name || string(w.Raw) != string(tr.Raw) || string(w.Data) != string(tr.Data) || (w.Data == nil) != (tr.Data == nil) {
				t.Fatalf("%q: event %d = %+q read whole, %+q byte by byte", s, i, w, tr)
			}
		}
	}
}

// BenchmarkEventReader: reading a chat stream's events, as a connection
// hands them over whole.
func BenchmarkEventReader(b *testing.B) {
	s := benchStream(100)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		er := newSSEReader(bytes.NewReader(s))
		for {
			if _, err := er.Next(); err != nil {
				break
			}
		}
	}
}

// roomReader hands out its input in reads of the sizes in sizes,
// cycling, each at most the room it is given, and notes that room.
type roomReader struct {
	b     []byte
	sizes []int
	rooms []int
}

func (r *roomReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	r.rooms = append(r.rooms, len(p))
	n := min(r.sizes[(len(r.rooms)-1)%len(r.sizes)], len(p), len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// TestEventReaderWaitsSmall: a reader set up as relayStream's gives its
// first read room for a burst (the events that came with the headers),
// and goes back to its small buffer before each read that follows one
// that took less than its room (the read that may wait on the
// upstream): an open stream waits holding no more. Its events are an
// owning reader's, small and large, however the input is split.
func TestEventReaderWaitsSmall(t *testing.T) {
	stream := func(largest int) string {
		var s strings.Builder
		for i := range 80 {
			fmt.Fprintf(&s, "data: {\"n\":%d,\"text\":%q}\n\n", i, strings.Repeat("x", i*i%largest))
		}
		s.WriteString("data: [DONE]\n\n")
		return s.String()
	}
	small, large := stream(200), stream(700)+"data: "+strings.Repeat("y", 9000)+"\n\n"
	for _, in := range []string{small, large} {
		for _, sizes := range [][]int{{1 << 20}, {5000, 10}, {3000, 7, 900}, {4096, 4096, 1}, {1}, {1500}} {
			src := &roomReader{b: []byte(in), sizes: sizes}
			er := newSSEReader(src)
			er.lend, er.pooled, er.burst = true, true, true
			want, werr := readAll(strings.NewReader(in))
			var got []streamEvent
			var err error
			for {
				var ev streamEvent
				if ev, err = er.Next(); err != nil {
					break
				}
				ev.Raw, ev.Data = bytes.Clone(ev.Raw), bytes.Clone(ev.Data)
				got = append(got, ev)
			}
			er.release()
			if err != werr || len(got) != len(want) {
				t.Fatalf("sizes %v: %d events, %v; want %d, %v", sizes, len(got), err, len(want), werr)
			}
			for i := range want {
				if got[i].Name != want[i].Name || string(got[i].Raw) != string(want[i].Raw) || string(got[i].Data) != string(want[i].Data) {
					t.Fatalf("sizes %v: event %d = %+q, want %+q", sizes, i, got[i], want[i])
				}
			}
			if src.rooms[0] != burstEventBuffer {
				t.Errorf("sizes %v: first read given %d bytes of room, want %d", sizes, src.rooms[0], burstEventBuffer)
			}
			if in != small {
				continue
			}
			// Every event is smaller than half the small buffer: so is
			// what is left of one when a read comes short.
			for i := 1; i < len(src.rooms); i++ {
				if took := sizes[(i-1)%len(sizes)]; took < src.rooms[i-1] && src.rooms[i] > initialEventBuffer {
					t.Errorf("sizes %v: read %d given %d bytes of room after one that took %d of %d, want at most %d",
						sizes, i, src.rooms[i], took, src.rooms[i-1], initialEventBuffer)
				}
			}
		}
	}
}
