package gateway

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// streamEvent is one server-sent event block as it came off the wire.
//
// Every byte of a stream belongs to exactly one Event's Raw, so relaying
// the Raw of each event in turn reproduces the stream byte for byte. A
// block may carry no data at all: a comment-only keep-alive (": ping") or a
// stray blank line comes back as an Event with no Name and no Data.
type streamEvent struct {
	Name string // the event: field, "" if none
	Data []byte // the data: lines joined with "\n"; nil if none
	// Raw is the exact bytes of the event as received, including its
	// terminating blank line (absent only when the stream ended mid-event).
	Raw []byte
}

// Limits of the sseReader.
const (
	// maxEventSize is the largest event, in bytes of Raw, an sseReader
	// accepts. The biggest events seen in practice, Responses API events
	// carrying a generated image in base64, run to a few MiB.
	maxEventSize = 16 << 20

	// initialEventBuffer is the buffer an EventReader starts with, and
	// keeps for as long as its stream is open unless an event needs more:
	// the events of a chat stream are a few hundred bytes.
	initialEventBuffer = 1 << 10

	// burstEventBuffer is the buffer an sseReader moves to once a read
	// fills all the room it had: events are arriving faster than they
	// are relayed, and bigger reads let more of them leave in one write.
	burstEventBuffer = 4 << 10
)

// errEventTooLarge is returned by sseReader.Next for an event larger
// than maxEventSize. The reader cannot go on after it.
var errEventTooLarge = errors.New("server-sent event larger than 16 MiB")

// sseReader reads server-sent events one at a time, as the WHATWG
// event-stream format defines them: lines end in "\n", "\r\n" or "\r";
// a blank line ends an event; lines starting with ":" are comments; the
// id and retry fields, and unknown fields, are accepted and ignored.
//
// An sseReader is not safe for concurrent use.
type sseReader struct {
	r     io.Reader
	buf   []byte // buffered input is buf[start:end]
	start int
	end   int
	err   error // the error that ended the input, returned once the buffer is drained
	first bool  // no line read yet: a leading byte-order mark is ignored
	// burst: the last read filled all the room it was given, so more
	// is likely waiting; the next read is given burstEventBuffer. Set
	// before the first read, that read is given it too.
	burst bool
	// lend makes an event that is buffered whole when Next starts (the
	// usual case) a slice of the reader's buffer rather than a copy:
	// its Raw and Data are then valid only until the next call to Next.
	lend bool
	// pooled takes the buffers of the usual sizes from eventBuffers,
	// and gives back each one the reader moves out of; release gives
	// back the last. A pooled reader goes back to initialEventBuffer
	// after a burst, before the read that may wait for the next events.
	pooled bool
}

// eventBuffers are sseReaders' buffers of the two sizes a stream's
// reader mostly has, reused from one stream to the next: made anew, they
// were the two largest allocations of a relayed stream.
var eventBuffers = [2]sync.Pool{
	{New: func() any { return new([initialEventBuffer]byte) }},
	{New: func() any { return new([burstEventBuffer]byte) }},
}

// alloc returns a buffer of size bytes, from eventBuffers when the
// reader is pooled and size is one they keep.
func (r *sseReader) alloc(size int) []byte {
	if r.pooled {
		switch size {
		case initialEventBuffer:
			return eventBuffers[0].Get().(*[initialEventBuffer]byte)[:]
		case burstEventBuffer:
			return eventBuffers[1].Get().(*[burstEventBuffer]byte)[:]
		}
	}
	return make([]byte, size)
}

// free gives b back to eventBuffers, when the reader is pooled and b
// has a size they keep. Nothing may refer to b afterwards: the reader
// has moved out of it, and no event lent from it is still valid.
func (r *sseReader) free(b []byte) {
	if !r.pooled || len(b) != cap(b) {
		return
	}
	switch len(b) {
	case initialEventBuffer:
		eventBuffers[0].Put((*[initialEventBuffer]byte)(b))
	case burstEventBuffer:
		eventBuffers[1].Put((*[burstEventBuffer]byte)(b))
	}
}

// release gives the reader's buffer back to eventBuffers. The reader
// must not be used afterwards, nor any event it lent.
func (r *sseReader) release() {
	r.free(r.buf)
	r.buf, r.start, r.end = nil, 0, 0
}

// newSSEReader returns an sseReader reading from r.
func newSSEReader(r io.Reader) *sseReader {
	er := new(sseReader)
	er.init(r)
	return er
}

// init makes a new r read from src.
func (r *sseReader) init(src io.Reader) {
	r.r, r.first = src, true
}

// Next returns the next event.
//
// At a clean end of the stream (after a blank line, or with nothing read)
// it returns io.EOF. When the stream ends in the middle of an event it
// returns that partial event, with the bytes received so far in Raw, and
// io.ErrUnexpectedEOF, so the caller can still relay them. A read error
// is returned the same way, with the partial event. Past maxEventSize it
// returns errEventTooLarge. After any error the reader is spent: later
// calls return an empty Event and io.EOF, the read error, or
// errEventTooLarge.
//
// The returned Event's slices are the caller's: the reader keeps no
// reference to them, unless lend is set (then they are valid until the
// next call). Data may share memory with Raw.
func (r *sseReader) Next() (streamEvent, error) {
	var (
		ev      streamEvent
		data    []byte
		hasData bool
		lent    bool
	)
	// When the whole event is buffered already (the usual case), Raw is
	// made its exact size and a single data line is a slice of it: one
	// allocation per event, or none when the reader lends its buffer.
	// Its lines then all end before the buffer does, so line never
	// fills (and so never moves) the buffer until the event is read.
	if r.start == r.end && r.err == nil {
		// Nothing buffered: line would read first thing anyway, and an
		// event that arrives whole in one read (as a stream's events
		// mostly do) then takes the path below.
		scan := r.start
		r.fill(&scan, maxEventSize) // errEventTooLarge needs a full buffer
	}
	from := r.start
	if i := bytes.Index(r.buf[r.start:r.end], eventEnd); i >= 0 {
		if r.lend {
			lent = true
		} else {
			ev.Raw = make([]byte, 0, i+len(eventEnd))
		}
	}
	for {
		line, err := r.line(maxEventSize - len(ev.Raw))
		if err == errEventTooLarge {
			r.err, r.buf, r.start, r.end = err, nil, 0, 0
			return streamEvent{}, err
		}
		if len(line) > 0 {
			if lent {
				// The lines so far, as they lie in the buffer; capped
				// so that an append by the caller copies.
				ev.Raw = r.buf[from:r.start:r.start]
			} else {
				ev.Raw = append(ev.Raw, line...)
				// line as copied into Raw: slices of it outlive the buffer.
				line = ev.Raw[len(ev.Raw)-len(line):]
			}
			content := trimEOL(line)
			if r.first {
				content = bytes.TrimPrefix(content, []byte("\uFEFF"))
				r.first = false
			}
			if len(content) == 0 && len(content) < len(line) {
				// A blank line ends the event.
				if hasData {
					ev.Data = data
				}
				return ev, nil
			}
			name, value := splitField(content)
			switch string(name) { // compared in place, not copied
			case "event":
				ev.Name = string(value)
			case "data":
				if hasData {
					// A second line: data becomes a copy of its own
					// (its capacity ends with the first line, so
					// appending never writes into Raw).
					data = append(data, '\n')
					data = append(data, value...)
				} else if value == nil {
					data = []byte{} // "data" alone: an empty line of data
				} else {
					data = value[:len(value):len(value)]
				}
				hasData = true
			}
		}
		if err != nil {
			if hasData {
				ev.Data = data
			}
			if len(ev.Raw) == 0 {
				if err == io.EOF {
					return streamEvent{}, io.EOF
				}
				return streamEvent{}, err
			}
			// Later calls see no more bytes and return io.EOF or
			// the read error itself, with an empty Event.
			if err == io.EOF {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
	}
}

var eventEnd = []byte("\n\n")

// lineEnd is bytes.IndexAny(b, "\r\n"), in two IndexByte searches (which
// compare many bytes at once) rather than IndexAny's byte at a time.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

// splitField splits a non-blank line into its field name and value, both
// slices of line. A comment has no name.
func splitField(line []byte) (name, value []byte) {
	if line[0] == ':' {
		return nil, nil
	}
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	value = line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return line[:i], value
}

// trimEOL returns line without its line ending.
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// line returns the next line with its line ending. At the end of the input
// it returns what is left of an unterminated line (possibly nothing) and
// the error that ended the input. A line longer than limit is
// errEventTooLarge. The returned slice is only valid until the next call.
func (r *sseReader) line(limit int) ([]byte, error) {
	scan := r.start
	for {
		if i := lineEnd(r.buf[scan:r.end]); i >= 0 {
			j := scan + i
			switch {
			case r.buf[j] == '\n':
			case j+1 < r.end:
				// "\r" is a line ending on its own unless "\n" follows.
				if r.buf[j+1] == '\n' {
					j++
				}
			case r.err != nil:
				// "\r" is the last byte of the stream.
			default:
				// Wait for the next byte to tell "\r" from "\r\n".
				scan = j
				if err := r.fill(&scan, limit); err != nil {
					return nil, err
				}
				continue
			}
			if j+1-r.start > limit {
				return nil, errEventTooLarge
			}
			line := r.buf[r.start : j+1]
			r.start = j + 1
			return line, nil
		}
		if r.end-r.start > limit {
			return nil, errEventTooLarge
		}
		if r.err != nil {
			rest := r.buf[r.start:r.end]
			r.start = r.end
			return rest, r.err
		}
		scan = r.end
		if err := r.fill(&scan, limit); err != nil {
			return nil, err
		}
	}
}

// fill reads more input into the buffer, moving buffered bytes to its
// front and growing it as needed; *scan is kept pointing at the same byte.
// It records the error that ends the input in r.err rather than
// returning it; it returns only errEventTooLarge.
func (r *sseReader) fill(scan *int, limit int) error {
	if r.pooled && !r.burst && len(r.buf) > initialEventBuffer && r.end-r.start <= initialEventBuffer/2 && limit+2 >= initialEventBuffer {
		// The last read took all there was: this one may wait for the
		// upstream's next events, which a stream waits for in the
		// smaller buffer.
		buf := r.alloc(initialEventBuffer)
		r.end = copy(buf, r.buf[r.start:r.end])
		*scan -= r.start
		r.free(r.buf)
		r.start, r.buf = 0, buf
	}
	// Move the buffered bytes to the front when less than half the
	// buffer is left to read into (a read that small would send its
	// events on in a write of their own), and only past what was
	// consumed: a long line arriving a few bytes at a time is moved
	// once, not on every read, which would cost quadratic time.
	if r.start > 0 && len(r.buf)-r.end < len(r.buf)/2 {
		n := copy(r.buf, r.buf[r.start:r.end])
		*scan -= r.start
		r.start, r.end = 0, n
	}
	if r.burst && len(r.buf) < burstEventBuffer && limit+2 > len(r.buf) {
		size := min(burstEventBuffer, limit+2)
		buf := r.alloc(size)
		r.end = copy(buf, r.buf[r.start:r.end])
		*scan -= r.start
		r.free(r.buf)
		r.start, r.buf = 0, buf
	}
	if r.end == len(r.buf) {
		if r.end > limit+1 {
			// Even a line ending now would not fit.
			return errEventTooLarge
		}
		size := 2 * len(r.buf)
		if size < initialEventBuffer {
			size = initialEventBuffer
		}
		// One byte past the limit to see a "\n" after a final "\r".
		if size > limit+2 {
			size = limit + 2
		}
		buf := r.alloc(size)
		copy(buf, r.buf[:r.end])
		r.free(r.buf)
		r.buf = buf
	}
	for tries := 0; tries < 100; tries++ {
		n, err := r.r.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.err = errors.New("event stream reader returned an impossible count")
			return nil
		}
		r.burst = n > 0 && n == len(r.buf)-r.end
		r.end += n
		if err != nil {
			r.err = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	r.err = io.ErrNoProgress
	return nil
}
