package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// TestRefusalNotices: a guard refusal raises a notice (and a desktop
// notification) linking to the refused requests, once per reason and
// token in a while, not once per refusal.
func TestRefusalNotices(t *testing.T) {
	var (
		mu    sync.Mutex
		shown []Notice
	)
	h := &Hub{Notify: func(n Notice) { mu.Lock(); shown = append(shown, n); mu.Unlock() }}
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	refuse := func(reason, token string, at time.Duration) {
		h.record(gateway.Record{ID: "r", Time: t0.Add(at), Token: token, Outcome: gateway.OutcomeRefused, Status: 429, Reason: reason, Error: "Sluice stopped a loop: ..."})
	}
	refuse(gateway.ReasonLoop, "ci", 0)
	refuse(gateway.ReasonLoop, "ci", time.Second)
	refuse(gateway.ReasonLoop, "ci", time.Minute)
	refuse(gateway.ReasonLoop, "dev", time.Minute)
	refuse(gateway.ReasonRPM, "ci", time.Minute)
	refuse(gateway.ReasonPause, "ci", time.Minute)
	refuse(gateway.ReasonLoop, "ci", refusalQuiet+time.Second)
	h.Close() // the native notifications queued are shown
	ns := h.Since(0)
	if len(ns) != 5 || len(shown) != 5 {
		t.Fatalf("%d notices (%d shown natively), want 5: %+v", len(ns), len(shown), ns)
	}
	want := []struct{ kind, link, title string }{
		{"loop", "requests?reason=loop&token=ci", "Sluice stopped a loop"},
		{"loop", "requests?reason=loop&token=dev", "Sluice stopped a loop"},
		{"rpm", "requests?reason=rpm&token=ci", "Token ci hit its requests-per-minute cap"},
		{"pause", "requests?reason=pause&token=ci", "Sluice refused a request: paused"},
		{"loop", "requests?reason=loop&token=ci", "Sluice stopped a loop"},
	}
	for i, w := range want {
		if n := ns[i]; n.Kind != w.kind || n.Link != w.link || n.Title != w.title || !strings.Contains(n.Message, "loop") {
			t.Errorf("notice %d = %+v, want kind %s link %s title %q", i, n, w.kind, w.link, w.title)
		}
	}
	// Every refusal still moves the change counter, so the dashboard
	// refreshes.
	if seq := h.Seq(); seq != 7 {
		t.Errorf("Seq() = %d, want 7 (one per refusal)", seq)
	}
}

// overBudget starts a gateway with cfg (its address, data directory and
// upstream filled in) whose one budget, a microdollar a day, refuses every
// request; the upstream fails the test if a request reaches it. It returns
// the gateway, stopped when the test ends, and ask, which sends a request
// and returns its status: a request not answered within 20 seconds fails
// the test instead of stalling it.
func overBudget(t *testing.T, cfg Config) (*Gateway, func() int) {
	t.Helper()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "") // never the developer's keyring
	t.Setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef0123456789")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("upstream called: %s %s; want every request refused by the budget", r.Method, r.URL.Path)
	}))
	t.Cleanup(up.Close)
	cfg.Addr, cfg.DataDir, cfg.Upstreams = "127.0.0.1:0", t.TempDir(), map[string]string{"openai": up.URL + "/v1"}
	g, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
	ctx := context.Background()
	secret, err := g.Service.NewToken(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Service.PutBudget(ctx, gateway.Budget{Name: "tiny", Limit: gateway.Microdollar, Period: gateway.PeriodDay}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 20 * time.Second}
	return g, func() int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+g.Addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request over the budget: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
}

// TestSlowNotifierDelaysNoRequest: a desktop notifier that hangs (as
// notify-send may, waiting on a session bus) holds up no request: the
// budget event a request raises reaches it on its own goroutine, and the
// request is answered meanwhile.
func TestSlowNotifierDelaysNoRequest(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	shown := make(chan Notice, 64)
	notify := func(n Notice) {
		shown <- n
		<-release // hangs until the test is done
	}
	g, ask := overBudget(t, Config{Log: io.Discard, Notify: notify})
	// The first refusal raises the limit notice, which the notifier takes
	// and hangs on; that request, and those after it, are answered.
	if got := ask(); got != http.StatusPaymentRequired {
		t.Fatalf("request over a one-microdollar budget = %d, want 402", got)
	}
	select {
	case n := <-shown:
		if n.Kind != "limit" {
			t.Errorf("notice shown = %+v, want the limit notice", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the limit notice never reached the notifier")
	}
	for i := 0; i < 3; i++ {
		if got := ask(); got != http.StatusPaymentRequired {
			t.Fatalf("request %d while the notifier hangs = %d, want 402", i+2, got)
		}
	}
	if ns := g.Service.Hub.Since(0); len(ns) == 0 || ns[0].Kind != "limit" {
		t.Errorf("notices = %+v, want the limit notice listed for the dashboard", ns)
	}
}

// blockingWriter passes writes through until armed, then blocks every
// write until released: the stderr pipe of a desktop launch that nobody
// reads.
type blockingWriter struct {
	armed   atomic.Bool
	blocked chan struct{} // closed by the first write that blocks
	once    sync.Once
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if w.armed.Load() {
		w.once.Do(func() { close(w.blocked) })
		<-w.release
	}
	return len(p), nil
}

// TestBlockedLogDelaysNoRequest: a log writer that blocks forever holds up
// no request: the budget event a Hold raises is logged on the budget
// queue's goroutine, and the request is answered meanwhile; the notice
// still reaches the dashboard's list once the log lets go.
func TestBlockedLogDelaysNoRequest(t *testing.T) {
	logw := &blockingWriter{blocked: make(chan struct{}), release: make(chan struct{})}
	released := sync.OnceFunc(func() { close(logw.release) })
	defer released() // before Stop, which logs
	g, ask := overBudget(t, Config{Log: logw})
	logw.armed.Store(true)
	for i := range 3 {
		if got := ask(); got != http.StatusPaymentRequired {
			t.Fatalf("request %d over a one-microdollar budget while the log blocks = %d, want 402", i+1, got)
		}
	}
	select {
	case <-logw.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("the limit event was never logged")
	}
	released()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ns := g.Service.Hub.Since(0)
		if len(ns) > 0 && ns[0].Kind == "limit" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices = %+v, want the limit notice once the log lets go", ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchCountsDropped: records the Hub's feed dropped while it could
// not keep up are not lost silently: a notice says how many.
func TestWatchCountsDropped(t *testing.T) {
	db := testDB(t)
	h := &Hub{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.watch(ctx, db) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // let it subscribe
	// Holding the Hub's lock stops the watcher at its first record, so
	// that the feed fills and drops.
	h.mu.Lock()
	const n = 400
	for i := range n {
		if err := db.Settle(ctx, gateway.Record{ID: fmt.Sprint("r", i), Outcome: gateway.OutcomeOK}); err != nil {
			h.mu.Unlock()
			t.Fatal(err)
		}
	}
	h.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var missed []Notice
		for _, no := range h.Since(0) {
			if no.Kind == "missed" {
				missed = append(missed, no)
			}
		}
		if len(missed) == 1 {
			var got int
			fmt.Sscanf(missed[0].Title, "%d", &got)
			if got < 1 || got >= n || !strings.Contains(missed[0].Title, "settled request(s) not watched") {
				t.Errorf("missed notice = %+v, want one counting the dropped records", missed[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices = %+v, want one saying records were dropped", h.Since(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotifierQueue: a notifier that cannot keep up drops what its queue
// cannot hold, counts it, says so once it catches up, and shows what is
// queued when it is closed.
func TestNotifierQueue(t *testing.T) {
	var (
		mu    sync.Mutex
		shown []Notice
	)
	gate := make(chan struct{})
	q := startNotifier(notifyQueue, func(n Notice) {
		<-gate
		mu.Lock()
		shown = append(shown, n)
		mu.Unlock()
	}, missedNotice)
	// The first notice is taken at once and hangs at the gate; the queue
	// holds notifyQueue more; the rest are dropped. None of it blocks.
	total := notifyQueue + 11
	for i := 0; i < total; i++ {
		q.send(Notice{Seq: int64(i + 1), Title: strconv.Itoa(i + 1)})
		if i == 0 {
			for len(q.queue) > 0 { // wait for the goroutine to take it
				time.Sleep(time.Millisecond)
			}
		}
	}
	close(gate)
	q.close(time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if len(shown) != notifyQueue+2 {
		t.Fatalf("%d shown, want %d: the first, the queue, and one saying what was dropped", len(shown), notifyQueue+2)
	}
	for i, n := range shown[:notifyQueue+1] {
		if n.Seq != int64(i+1) {
			t.Errorf("shown[%d] = notice %d, want %d: in order, the newest dropped", i, n.Seq, i+1)
		}
	}
	if last := shown[len(shown)-1]; last.Kind != "missed" || !strings.HasPrefix(last.Title, "10 more") {
		t.Errorf("last shown = %+v, want one saying 10 more were not shown", last)
	}
	q.send(Notice{Title: "late"}) // after close: dropped, no panic
}

// TestNotifierCloseGivesUp: closing does not wait past its deadline for
// a notifier that hangs, and what is still queued is not shown after it.
func TestNotifierCloseGivesUp(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	q := startNotifier(notifyQueue, func(Notice) { calls.Add(1); <-release }, missedNotice)
	q.send(Notice{Title: "1"})
	q.send(Notice{Title: "2"})
	done := make(chan struct{})
	go func() { q.close(10 * time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("close waited on a notifier that hangs")
	}
	release <- struct{}{} // the hung call returns
	<-q.done
	if n := calls.Load(); n != 1 {
		t.Errorf("%d notices shown, want 1: none after close gave up", n)
	}
}

// TestBudgetNotice: a budget event's notice says what was spent, when
// the budget resets, and carries the time the store saw it happen.
func TestBudgetNotice(t *testing.T) {
	at := time.Date(2026, 11, 30, 15, 4, 0, 0, time.Local)
	resets := time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local)
	n, ok := budgetNotice(store.BudgetEvent{Kind: store.BudgetLimit, Budget: "daily", Scope: "all requests",
		Spent: gateway.Dollar, Limit: gateway.Dollar, Resets: resets, Time: at})
	if !ok || n.Kind != "limit" || !n.Time.Equal(at) || !strings.Contains(n.Message, "until it resets, Tue Dec 1 00:00, or you raise it") ||
		n.Link != "requests?budget=daily&reason=budget" {
		t.Errorf("limit notice = %+v, %v", n, ok)
	}
	n, _ = budgetNotice(store.BudgetEvent{Kind: store.BudgetLimit, Budget: "ever", Scope: "all requests", Time: at})
	if !strings.Contains(n.Message, "until it resets or you raise it") {
		t.Errorf("total budget's limit notice = %+v", n)
	}
	n, _ = budgetNotice(store.BudgetEvent{Kind: store.BudgetLimit, Budget: "rate", Rolling: 10 * time.Minute, Resets: resets, Time: at})
	if !strings.Contains(n.Message, "ages out of its 10m window") {
		t.Errorf("rolling budget's limit notice = %+v", n)
	}
	if n, ok := budgetNotice(store.BudgetEvent{Kind: store.BudgetSoft, Budget: "daily", Spent: gateway.Dollar, Limit: 2 * gateway.Dollar, Scope: "all requests", Time: at}); !ok || n.Kind != "soft" || n.Message != "$1.00 spent of $2.00 (all requests)." {
		t.Errorf("soft notice = %+v, %v", n, ok)
	}
}
