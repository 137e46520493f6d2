package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bodyGate bounds the request-body bytes held in memory at once, across
// all requests: a request waits for room before its body is read. It is
// safe for concurrent use.
type bodyGate struct {
	mu      sync.Mutex    // guards used, freed and waiting
	max     int64         // bytes that may be held at once
	used    int64         // bytes held now
	freed   chan struct{} // closed (and replaced) when bytes are given back while a request waits
	waiting int           // requests waiting on freed
}

func newBodyGate(max int64) *bodyGate {
	return &bodyGate{max: max, freed: make(chan struct{})}
}

// acquire waits until n bytes fit, or ctx ends. A request larger than the
// whole gate gets in alone.
func (g *bodyGate) acquire(ctx context.Context, n int64) error {
	g.mu.Lock()
	for {
		if g.used+n <= g.max || g.used == 0 {
			g.used += n
			g.mu.Unlock()
			return nil
		}
		freed := g.freed
		g.waiting++
		g.mu.Unlock()
		var err error
		select {
		case <-freed:
		case <-ctx.Done():
			err = ctx.Err()
		}
		g.mu.Lock()
		g.waiting--
		if err != nil {
			g.mu.Unlock()
			return err
		}
	}
}

// tryAcquire takes n bytes if they fit now, as acquire would without
// waiting, and reports whether it did.
func (g *bodyGate) tryAcquire(n int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.used+n <= g.max || g.used == 0 {
		g.used += n
		return true
	}
	return false
}

// release gives back n bytes. The requests waiting for room are woken;
// with none waiting (nearly always), nothing is closed or made.
func (g *bodyGate) release(n int64) {
	if n == 0 {
		return
	}
	g.mu.Lock()
	g.used -= n
	if g.waiting > 0 {
		close(g.freed)
		g.freed = make(chan struct{})
	}
	g.mu.Unlock()
}

func (p *Proxy) gate() *bodyGate {
	p.gateOnce.Do(func() {
		n := p.MaxBodyBytesInFlight
		if n <= 0 {
			n = 64 << 20
		}
		p.bodies = newBodyGate(n)
	})
	return p.bodies
}

// trickleRoom is how much of a body with a known length is read, holding
// room in the gate as it arrives, before the room for the rest is held.
const trickleRoom = 256 << 10

// readBody reads the request body within the body deadline and the room
// the body gate gives, which h records: h.release gives the body's room
// back once the body is no longer needed (it may be called whether or
// not readBody failed). h is the caller's, so that it costs no allocation
// of its own; it must be zero and must not be copied once filled.
func (p *Proxy) readBody(w http.ResponseWriter, r *http.Request, h *bodyHold) (body []byte, f *failure) {
	if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil, nil
	}
	limit := p.MaxBodyBytes
	if limit <= 0 {
		limit = 32 << 20
	}
	tooBig := func() *failure {
		return fail(http.StatusRequestEntityTooLarge, kindTooLarge,
			fmt.Sprintf("request body is larger than Sluice's limit of %d bytes", limit)).blocked(ReasonRequest).with("Connection", "close")
	}
	if r.ContentLength > limit {
		return nil, tooBig()
	}
	timeout := p.BodyTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}

	// Wait for room, at most as long as the body may take to arrive. The
	// context of the wait is made only when there is a wait: most bodies
	// find room at once, and a timer for each was a measurable part of
	// the request path.
	gate := p.gate()
	deadline := time.Now().Add(timeout)
	h.gate = gate
	grow := func(n int64) *failure {
		if !gate.tryAcquire(n) {
			wait, cancel := context.WithDeadline(r.Context(), deadline)
			err := gate.acquire(wait, n)
			cancel()
			if err != nil {
				h.release()
				return fail(http.StatusServiceUnavailable, kindUnavailable,
					"Sluice is holding as many request bodies as its memory limit allows; try again in a moment").with("Connection", "close")
			}
		}
		h.held += n
		return nil
	}

	// The whole body must arrive within the deadline: a client that
	// trickles it is cut. The deadline is lifted once the body is in, so
	// that a long answer is not cut with it.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(deadline)
	defer rc.SetReadDeadline(time.Time{})

	// The room held grows with the bytes that have arrived, not with the
	// length announced, until trickleRoom of them have: a client that
	// announces a large body and trickles it holds little room while it
	// lasts. Past that, the whole announced length is held at once, so
	// that bodies arriving together do not each hold part of the room
	// and wait for more.
	src := http.MaxBytesReader(w, r.Body, limit)
	bound := limit + 1
	if r.ContentLength >= 0 {
		bound = r.ContentLength + 1 // room to see the EOF
	}
	var buf []byte
	if r.ContentLength > gate.max {
		// Larger than the whole gate: it waits for the gate to be empty
		// and gets in alone.
		if f := grow(r.ContentLength); f != nil {
			return nil, f
		}
		buf = make([]byte, 0, bound)
	}
	for {
		if len(buf) == cap(buf) {
			// Grow, counting the new room against the gate first.
			next := min(max(2*int64(cap(buf)), 64<<10), bound)
			if r.ContentLength >= 0 && int64(cap(buf)) >= trickleRoom {
				next = bound
			}
			if next <= int64(cap(buf)) {
				next = int64(cap(buf)) + 1
			}
			if f := grow(next - int64(cap(buf))); f != nil {
				return nil, f
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			// Decoded, a JSON body takes memory by its values as well as
			// its bytes: that is held in the gate too, and a body that
			// would take more than the gate's whole room is refused.
			if extra := decodedExtra(r, buf); extra > 0 {
				if int64(len(buf))+extra > gate.max {
					h.release()
					return nil, fail(http.StatusRequestEntityTooLarge, kindTooLarge,
						fmt.Sprintf("the request body holds about %d JSON values, which would take about %d MB of memory to read, more than Sluice's limit of %d MB for request bodies; send fewer values (long text is fine)",
							jsonValues(buf), (int64(len(buf))+extra)>>20, gate.max>>20)).blocked(ReasonRequest)
				}
				if f := grow(extra); f != nil {
					return nil, f
				}
			}
			return buf, nil
		}
		if err != nil {
			h.release()
			var mb *http.MaxBytesError
			switch {
			case errors.As(err, &mb):
				return nil, tooBig()
			case errors.Is(err, os.ErrDeadlineExceeded):
				return nil, fail(http.StatusRequestTimeout, kindInvalid,
					fmt.Sprintf("the request body did not arrive within %s", timeout)).blocked(ReasonRequest).with("Connection", "close")
			default:
				return nil, fail(http.StatusBadRequest, kindInvalid, "could not read the request body: "+err.Error()).blocked(ReasonRequest)
			}
		}
	}
}

// bodyHold is the room one request body holds in its gate. Its release
// gives the room back once, however often it is called (the handler and
// the transport both call it); a call after the first returns at once.
// The zero bodyHold holds nothing, and its release does nothing.
type bodyHold struct {
	gate *bodyGate
	held int64 // written only before the hold is shared
	done atomic.Bool
}

func (h *bodyHold) release() {
	if h.gate != nil && h.done.CompareAndSwap(false, true) {
		h.gate.release(h.held)
	}
}

// bodyTypeProblem says why r's body is not one the route takes, or "":
// provider routes take JSON (or no Content-Type at all, as some clients
// send), and OpenAI's file uploads multipart forms. A form or text body,
// which a web page can send without asking, is refused before it is read.
func bodyTypeProblem(r *http.Request, rt route) string {
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		return ""
	}
	ct := headerValue(r.Header, "Content-Type")
	if ct == "" {
		return ""
	}
	mt, err := mediaType(ct)
	switch {
	case err != nil:
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return ""
	case mt == "multipart/form-data" && rt.upload:
		return ""
	}
	want := "application/json"
	if rt.upload {
		want += " or multipart/form-data"
	}
	return fmt.Sprintf("Content-Type %q is not taken here: send %s", ct, want)
}

// mediaType is the media type of the Content-Type ct, as
// mime.ParseMediaType reads it. The values SDKs and providers send are
// known without parsing them: parsing (a map of the parameters) was an
// allocation of every request and every answer.
func mediaType(ct string) (string, error) {
	switch ct {
	case "application/json", "application/json; charset=utf-8", "text/event-stream", "text/event-stream; charset=utf-8":
		mt, _, _ := strings.Cut(ct, ";")
		return mt, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	return mt, err
}

// decodedValueBytes is the memory one JSON value takes once decoded into
// Go values (map[string]any, []any, json.Number), beyond its bytes: an
// array of small numbers decodes to about 33 bytes a value, kept, and
// allocates about 105 on the way (its slice grows by doubling); an array
// of small objects keeps about 123 a value (a map a member), with a key
// and a colon counted as values. Measured with Go 1.26 on amd64.
const decodedValueBytes = 128

// decodedExtra is the memory, beyond its bytes, that decoding body takes:
// decodedValueBytes for each value it holds. A multipart upload is not
// decoded as JSON.
func decodedExtra(r *http.Request, body []byte) int64 {
	if mt, _ := mediaType(headerValue(r.Header, "Content-Type")); mt == "multipart/form-data" {
		return 0
	}
	return jsonValues(body) * decodedValueBytes
}

// jsonValues counts the values and members a JSON document holds, from
// its bytes alone: the commas, colons and opening brackets outside
// strings, and one for the document itself. Decoding the document into
// Go values costs memory in proportion to that count, not to its length.
func jsonValues(b []byte) int64 {
	n := int64(1)
	in := false
	for i := 0; i < len(b); i++ {
		if in {
			// Text, eight bytes at a time while none of them ends the
			// string or starts an escape (most of a long body), then
			// straight to the first that may.
			i = plainEnd(b, i)
			if i >= len(b) {
				break
			}
		}
		c := b[i]
		if in {
			switch c {
			case '\\':
				i++
			case '"':
				in = false
			}
			continue
		}
		switch c {
		case '"':
			in = true
		case ',', ':', '[', '{':
			n++
		}
	}
	return n
}
