package app

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logQueueSize is how many log lines wait for a slow log before more are
// dropped.
const logQueueSize = 1024

// logFlush is how long Stop waits for the lines still queued to be
// written: a log that never takes them (a stderr nobody reads) must not
// hold the shutdown.
const logFlush = 2 * time.Second

// A logQueue writes the gateway's log lines on its own goroutine, so
// that no request waits on a log write: the stderr of a desktop launch
// may be a pipe nobody reads, and the proxy logs on the request's
// goroutine (every failure with a cause). A line that finds the queue
// full is dropped and counted; once the queue has drained, one line says
// how many were dropped. It is safe for concurrent use.
type logQueue struct {
	w     io.Writer
	lines chan string
	done  chan struct{} // closed when run ends

	mu      sync.Mutex // guards closed and dropped, and sends on lines
	closed  bool
	dropped int
}

// startLog starts the goroutine that writes to w; it ends with close.
func startLog(w io.Writer, size int) *logQueue {
	q := &logQueue{w: w, lines: make(chan string, size), done: make(chan struct{})}
	go q.run()
	return q
}

// logf queues a line "sluice: " + format. It never blocks.
func (q *logQueue) logf(format string, args ...any) {
	q.printf("sluice: "+format, args...)
}

// printf queues a line as format says, for the proxy, whose lines say
// "sluice: " themselves (for log.Printf, its default). It never blocks.
func (q *logQueue) printf(format string, args ...any) {
	line := fmt.Sprintf(format+"\n", args...)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.dropped++
		return
	}
	select {
	case q.lines <- line:
	default:
		q.dropped++
	}
}

func (q *logQueue) run() {
	defer close(q.done)
	for line := range q.lines {
		io.WriteString(q.w, line)
		if len(q.lines) > 0 {
			continue
		}
		q.mu.Lock()
		missed := q.dropped
		q.dropped = 0
		q.mu.Unlock()
		if missed > 0 {
			fmt.Fprintf(q.w, "sluice: %d log line(s) dropped: the log was not being read fast enough\n", missed)
		}
	}
}

// close stops taking lines and returns once those queued are written or
// wait has passed, whichever is first; a write still blocked then is
// left to the goroutine, which ends when it returns.
func (q *logQueue) close(wait time.Duration) {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.lines)
	}
	q.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
	}
}
