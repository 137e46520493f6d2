package app

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heldLog blocks every write once armed, until released, and keeps what
// is written: a stderr pipe nobody reads, read at last.
type heldLog struct {
	armed   atomic.Bool
	release chan struct{}
	mu      sync.Mutex // guards buf
	buf     bytes.Buffer
}

func (w *heldLog) Write(p []byte) (int, error) {
	if w.armed.Load() {
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *heldLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestLogQueueDropsAndCounts: lines that find the queue full are dropped,
// never waited for, and one line says how many once the log takes lines
// again.
func TestLogQueueDropsAndCounts(t *testing.T) {
	w := &heldLog{release: make(chan struct{})}
	w.armed.Store(true)
	q := startLog(w, 4)
	const n = 20
	start := time.Now()
	for i := range n {
		q.logf("line %d", i)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d logf calls on a log that takes nothing took %v", n, d)
	}
	close(w.release)
	q.close(10 * time.Second)
	out := w.String()
	written := strings.Count(out, "sluice: line ")
	var dropped int
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, "log line(s) dropped: the log was not being read fast enough") {
			fmt.Sscanf(l, "sluice: %d", &dropped)
		}
	}
	if written > 5 || dropped == 0 || written+dropped != n {
		t.Errorf("log = %q: %d lines written and %d dropped, want at most 5 written (one being written, four queued) and the rest counted", out, written, dropped)
	}
	q.logf("after close") // dropped, never blocks or panics
}

// TestBlockedLogDelaysNoFailingRequest: with a log that takes no line, a
// flood of refused requests, which makes the proxy log on a request's
// goroutine (the blocked-row limiter's line), is still answered at once;
// the line is written once the log takes lines again.
func TestBlockedLogDelaysNoFailingRequest(t *testing.T) {
	logw := &heldLog{release: make(chan struct{})}
	released := sync.OnceFunc(func() { close(logw.release) })
	defer released()
	g, _ := overBudget(t, Config{Log: logw})
	logw.armed.Store(true)
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range blockedFlood {
		req, _ := http.NewRequest(http.MethodPost, "http://"+g.Addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json") // and no key
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("refused request %d while the log takes nothing: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d without a key = %d, want 401", i+1, resp.StatusCode)
		}
	}
	released()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logw.String(), "\nsluice: blocked requests are arriving faster than") {
		if time.Now().After(deadline) {
			t.Fatalf("log = %q, want the blocked-row limiter's line once the log takes lines", logw.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blockedFlood is more blocked requests than the proxy keeps rows for in
// one burst (50), so that it logs.
const blockedFlood = 80
