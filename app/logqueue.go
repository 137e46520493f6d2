package app

import (
	"fmt"
	"io"
	"time"
)

// logQueueSize is how many log lines wait for a slow log before more are
// dropped.
const logQueueSize = 1024

// logFlush is how long Stop waits for the lines still queued to be
// written: a log that never takes them (a stderr nobody reads) must not
// hold the shutdown.
const logFlush = 2 * time.Second

// A logQueue writes the gateway's log lines on a goroutine of its own (a
// notifier), so that no request waits on a log write: the stderr of a
// desktop launch may be a pipe nobody reads, and the proxy logs on the
// request's goroutine (every failure with a cause). A line that finds the
// queue full is dropped and counted; once the queue has drained, one line
// says how many were dropped. It is safe for concurrent use.
type logQueue struct {
	q *notifier[string]
}

// startLog starts the goroutine that writes to w, with a queue of size
// lines; it ends with close.
func startLog(w io.Writer, size int) *logQueue {
	return &logQueue{q: startNotifier(size, func(line string) { io.WriteString(w, line) }, missedLines)}
}

// missedLines says that n log lines were dropped.
func missedLines(n int, _ string) string {
	return fmt.Sprintf("sluice: %d log line(s) dropped: the log was not being read fast enough\n", n)
}

// logf queues a line "sluice: " + format. It never blocks.
func (l *logQueue) logf(format string, args ...any) {
	l.printf("sluice: "+format, args...)
}

// printf queues a line as format says, for the proxy, whose lines say
// "sluice: " themselves (for log.Printf, its default). It never blocks.
func (l *logQueue) printf(format string, args ...any) {
	l.q.send(fmt.Sprintf(format+"\n", args...))
}

// close stops taking lines and returns once those queued are written or
// wait has passed, whichever is first; a write still blocked then is
// the last, and the goroutine ends when it returns.
func (l *logQueue) close(wait time.Duration) { l.q.close(wait) }
