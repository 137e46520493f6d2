package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
	bolt "go.etcd.io/bbolt"
)

const (
	// rounds is how many times the gateway is killed.
	rounds = 12
	// workers is how many requests are in flight at once.
	workers = 12
	// clientKey is the provider key every request carries; Sluice
	// forwards it unchanged (it has the shape of an OpenAI key, which is
	// what the gateway sends to OpenAI).
	clientKey = "sk-proj-crashtest0123456789abcdefT3BlbkFJcrashtest"
	// dataFile is the ledger's file name in the data directory.
	dataFile = "sluice.db"
)

// TestKillNineUnderLoad checks that Sluice's ledger survives kill -9.
//
// It builds the sluice binary, puts a fake OpenAI upstream
// (httptest) behind it, and for several rounds starts `sluice serve` on one
// data directory, fires concurrent chat requests at it (streams and whole
// answers), and kills it with SIGKILL at a random moment: mostly under
// load, sometimes while it is still starting up and charging what the last
// crash left. After each kill, bbolt's consistency check runs over the
// file as the crash left it, and the test counts the holds left open and
// the records charged for earlier crashes: the next start must charge
// every hold the last kill left, or (killed first) leave them all as they
// were. At the end the gateway is started once more, serves a last load,
// and is stopped with SIGTERM; then the test opens the data file and
// checks:
//
//   - every request the fake upstream received is in the ledger: settled
//     (its record carries the upstream's request id) or, when the kill came
//     first, charged at its held amount by the next start (outcome
//     "crashed"); the upstream received no request twice, no upstream
//     request id is recorded twice, and there are no more crashed records
//     than requests that were never settled;
//   - crashed records cost exactly what a request of their shape holds;
//   - no hold is left open, the budget's spend equals the sum of the
//     records' costs, and store.DB.Check (bbolt's consistency check)
//     passes.
//
// A request answered in full can still end up crashed rather than settled:
// the gateway settles just after the last byte reaches the client, and a
// kill can fall in between. It is then charged its hold, never nothing.
//
// Each request carries a unique marker as its OpenAI `user` field; the fake
// upstream answers with the marker as its X-Request-Id (which Sluice
// records as the upstream request id) and as the completion's id, and
// counts every marker it received. Requests carry a provider key of their
// own, which Sluice forwards as it came, so the test needs no keyring and
// never touches the developer's; the gateway runs without a D-Bus session.
//
// SIGKILL ends the process but not the kernel: data written without an
// fsync still reaches the file. A missing fsync shows only on power loss,
// which this test does not simulate.
//
// The test takes several seconds after the build and is skipped under
// -short. It needs a Unix system (SIGKILL, SIGTERM). Run it alone with:
//
//	go test ./e2e -run KillNine -v
//
// Set SLUICE_CRASH_SEED to a seed the test logged to replay its kill
// moments (the interleaving of requests stays up to the scheduler).
func TestKillNineUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped under -short: it builds sluice and kills it with SIGKILL over several seconds; run it with go test ./e2e -run KillNine -v")
	}
	if runtime.GOOS == "windows" {
		t.Skip("crash test needs SIGKILL and SIGTERM, which Windows does not have")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (set SLUICE_CRASH_SEED to replay the kill moments)", seed)
	rng := rand.New(rand.NewPCG(seed, 3))

	bin := sluiceBinary(t)
	up := &upstream{served: map[string]int{}}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()

	dir := t.TempDir()
	path := filepath.Join(dir, dataFile)
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A budget over everything, so that admission, recovery and the
	// budget's spend all take part.
	if _, err := db.PutBudget(gateway.Budget{Name: "crash", Limit: 1000 * gateway.Dollar, Period: gateway.PeriodTotal}); err != nil {
		t.Fatal(err)
	}
	// The load's requests differ only in their user field, which loop
	// detection sets aside: it would refuse them.
	set, err := db.Settings()
	if err != nil {
		t.Fatal(err)
	}
	set.LoopOff = true
	if err := db.PutSettings(set); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var (
		sent []*attempt
		// What the file held after the last kill: crashed records and
		// open holds. The next start must charge those holds before it
		// takes a request, or die trying and leave them as they were.
		prev ledgerState
	)
	afterKill := func(round int, what string) {
		t.Helper()
		checkFile(t, path, fmt.Sprintf("after a kill %s (round %d)", what, round))
		st := readState(t, path)
		recovered := st.crashed == prev.crashed+prev.holds
		untouched := st.crashed == prev.crashed && st.holds == prev.holds
		if !recovered && !untouched {
			t.Errorf("round %d: %d crashed records and %d open holds after the kill; want %d crashed records (the %d holds the last kill left, charged at start) or, killed before that, %d and %d as they were",
				round, st.crashed, st.holds, prev.crashed+prev.holds, prev.holds, prev.crashed, prev.holds)
		}
		prev = st
	}
	for round := 0; round < rounds; round++ {
		gw := startGateway(t, bin, dir, upSrv.URL)
		// Now and then kill it while it starts, before or while it
		// charges what the last crash left open.
		if round%4 == 3 {
			d := time.Duration(rng.IntN(30)) * time.Millisecond
			time.Sleep(d)
			gw.kill(t)
			t.Logf("round %d: killed %v after start; it said: %q", round, d, gw.out.String())
			afterKill(round, "at start-up")
			continue
		}
		if err := gw.waitListening(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		l := startLoad(gw.url, round)
		d := time.Duration(100+rng.IntN(600)) * time.Millisecond
		time.Sleep(d)
		gw.kill(t)
		a := l.stop()
		sent = append(sent, a...)
		t.Logf("round %d: killed %v after listening, %d requests sent; at start it said: %q", round, d, len(a), charged(gw.out.String()))
		afterKill(round, "under load")
	}

	// A last run that ends cleanly.
	gw := startGateway(t, bin, dir, upSrv.URL)
	if err := gw.waitListening(); err != nil {
		t.Fatal(err)
	}
	l := startLoad(gw.url, rounds)
	time.Sleep(300 * time.Millisecond)
	last := l.stop()
	sent = append(sent, last...)
	gw.terminate(t)
	for _, a := range last {
		if !a.complete {
			t.Errorf("request %s to the gateway that was not killed did not complete: %v", a.marker, a.err)
		}
	}

	if st := readState(t, path); st.crashed != prev.crashed+prev.holds || st.holds != 0 {
		t.Errorf("after the clean stop: %d crashed records and %d open holds, want %d (every hold the last kill left, charged) and 0",
			st.crashed, st.holds, prev.crashed+prev.holds)
	}
	checkLedger(t, path, up.snapshot(), sent)
}

// ledgerState is what a data file holds of crashes.
type ledgerState struct {
	crashed int // records charged for holds a crash left
	holds   int // holds open, not yet charged
}

// readState opens the data file as a start would, without recovering
// its holds, and counts.
func readState(t *testing.T, path string) ledgerState {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Records(store.LogQuery{Outcome: gateway.OutcomeCrashed, Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return ledgerState{crashed: len(recs), holds: db.OpenHolds()}
}

// charged returns the gateway's line about the holds it charged at
// start-up, if it printed one.
func charged(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "left open by a crash") {
			return line
		}
	}
	return ""
}

// upstream is a fake OpenAI chat completions endpoint that counts every
// request it received by the marker in its user field.
type upstream struct {
	mu     sync.Mutex     // guards served
	served map[string]int // marker → requests received
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return // the gateway died while sending: nothing was received
	}
	var req struct {
		User          string `json:"user"`
		Stream        bool   `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+clientKey ||
		json.Unmarshal(b, &req) != nil || req.User == "" {
		http.Error(w, `{"error":{"message":"unexpected request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.served[req.User]++
	u.mu.Unlock()

	m := req.User
	w.Header().Set("X-Request-Id", m)
	if !req.Stream {
		// Some answers take a moment, as a provider's do.
		time.Sleep(time.Duration(m[len(m)-1]-'0') * 3 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-%s","object":"chat.completion","created":1764230400,"model":"gpt-4o-mini-2024-07-18",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":14,"completion_tokens":3,"total_tokens":17}}`, m)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for i := 0; i < 8; i++ {
		_, err := fmt.Fprintf(w, `data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"word%d "},"finish_reason":null}]}`+"\n\n", m, i)
		if err != nil {
			return
		}
		rc.Flush()
		time.Sleep(10 * time.Millisecond)
	}
	if req.StreamOptions.IncludeUsage {
		fmt.Fprintf(w, `data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":14,"completion_tokens":8,"total_tokens":22}}`+"\n\n", m)
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

// snapshot returns a copy of the markers received.
func (u *upstream) snapshot() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int, len(u.served))
	for k, v := range u.served {
		out[k] = v
	}
	return out
}

// gatewayProc is one `sluice serve` process.
type gatewayProc struct {
	cmd  *exec.Cmd
	out  *watchWriter
	url  string        // http://ADDR, once listening
	done chan struct{} // closed when the process has exited
	werr error         // its exit error; read after done is closed
}

// startGateway starts `sluice serve` on a free port of the loopback with
// the fake upstream as OpenAI, cut off from any keyring.
func startGateway(t *testing.T, bin, dir, upstreamURL string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{
		out:  &watchWriter{prefix: "sluice: listening on ", found: make(chan string, 1)},
		done: make(chan struct{}),
	}
	g.cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--upstream", "openai="+upstreamURL+"/v1")
	g.cmd.Env = gatewayEnv()
	g.cmd.Stdout = g.out
	g.cmd.Stderr = g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start sluice serve: %v", err)
	}
	go func() {
		g.werr = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			g.cmd.Process.Kill()
			<-g.done
		}
	})
	return g
}

// gatewayEnv is the test's environment without provider keys, base URLs
// or a D-Bus session, so the gateway uses no keyring.
func gatewayEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DBUS_SESSION_BUS_ADDRESS" || strings.HasPrefix(name, "OPENAI_") || strings.HasPrefix(name, "SLUICE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitListening waits for the line that says the gateway listens.
func (g *gatewayProc) waitListening() error {
	select {
	case u := <-g.out.found:
		g.url = strings.TrimRight(strings.TrimSpace(u), "/")
		return nil
	case <-g.done:
		return fmt.Errorf("sluice serve exited before listening: %v\noutput:\n%s", g.werr, g.out.String())
	case <-time.After(20 * time.Second):
		return fmt.Errorf("sluice serve printed no %q line in 20s; output:\n%s", g.out.prefix, g.out.String())
	}
}

// kill sends SIGKILL and waits for the process to be gone, so that its
// lock on the data file is released.
func (g *gatewayProc) kill(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill sluice serve: %v", err)
	}
	<-g.done
}

// terminate sends SIGTERM and checks that the gateway shuts down cleanly.
func (g *gatewayProc) terminate(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal sluice serve: %v", err)
	}
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
		t.Fatalf("sluice serve did not exit within 30s of SIGTERM; output:\n%s", g.out.String())
	}
	if g.werr != nil {
		t.Errorf("sluice serve after SIGTERM: %v, want a clean exit; output:\n%s", g.werr, g.out.String())
	}
}

// attempt is one request sent to the gateway.
type attempt struct {
	marker   string
	stream   bool
	complete bool  // the client got the whole answer
	err      error // why not
}

// load keeps workers requests in flight until stopped.
type load struct {
	stopping atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex // guards sent
	sent     []*attempt
	tr       *http.Transport
}

// startLoad starts the workers against the gateway at url. Markers are
// "rRR-wWW-NNNNN": round, worker and sequence, unique over the test.
func startLoad(url string, round int) *load {
	l := &load{tr: &http.Transport{MaxIdleConnsPerHost: workers}}
	client := &http.Client{Transport: l.tr, Timeout: 20 * time.Second}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; !l.stopping.Load(); n++ {
				a := &attempt{marker: fmt.Sprintf("r%02d-w%02d-%05d", round, w, n), stream: (w+n)%2 == 0}
				l.mu.Lock()
				l.sent = append(l.sent, a)
				l.mu.Unlock()
				a.complete, a.err = send(client, url, a)
				if a.err != nil {
					// The gateway is gone; wait to be stopped.
					for !l.stopping.Load() {
						time.Sleep(5 * time.Millisecond)
					}
				}
			}
		}()
	}
	return l
}

// stop ends the load once every request in flight has ended, and returns
// what was sent.
func (l *load) stop() []*attempt {
	l.stopping.Store(true)
	l.wg.Wait()
	l.tr.CloseIdleConnections()
	return l.sent
}

// send makes one chat request and reports whether the whole answer came.
func send(client *http.Client, url string, a *attempt) (bool, error) {
	body := fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":64,"user":%q,"stream":%v,"messages":[{"role":"user","content":"Say hello."}]}`, a.marker, a.stream)
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+clientKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return false, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if !a.stream {
		var v struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return false, err
		}
		if v.ID != "chatcmpl-"+a.marker {
			return false, fmt.Errorf("answer id %q, want chatcmpl-%s", v.ID, a.marker)
		}
		return true, nil
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "data: [DONE]" {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, errors.New("stream ended without data: [DONE]")
}

// checkFile runs bbolt's consistency check over the data file as a crash
// left it, opened read-only so that nothing is changed.
func checkFile(t *testing.T, path, when string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("%s: open %s: %v", when, path, err)
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("%s: bbolt check of %s: %v", when, path, err)
	}
}

// checkLedger checks the ledger at path against what the upstream served
// and what was sent.
func checkLedger(t *testing.T, path string, served map[string]int, sent []*attempt) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("db.Check() = %v, want nil", err)
	}
	if n := db.OpenHolds(); n != 0 {
		t.Errorf("%d holds open after a clean stop, want 0", n)
	}
	recs, err := db.Records(store.LogQuery{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}

	byMarker := map[string]*attempt{}
	completed := 0
	for _, a := range sent {
		byMarker[a.marker] = a
		if a.complete {
			completed++
		}
	}
	for m, n := range served {
		if n != 1 {
			t.Errorf("upstream received %s %d times, want once", m, n)
		}
		if byMarker[m] == nil {
			t.Errorf("upstream received %s, which was never sent", m)
		}
	}
	for _, a := range sent {
		if a.complete && served[a.marker] == 0 {
			t.Errorf("%s was answered in full, but the upstream never received it", a.marker)
		}
	}

	ids := map[string]int{}
	settled := map[string]int{} // upstream request id → records
	holds := map[bool]gateway.Money{}
	var crashed []gateway.Record
	var spent gateway.Money
	for _, r := range recs {
		ids[r.ID]++
		spent += r.Cost
		switch {
		case r.UpstreamID != "":
			settled[r.UpstreamID]++
			if served[r.UpstreamID] == 0 {
				t.Errorf("record %s names upstream request %s, which the upstream never received", r.ID, r.UpstreamID)
			}
			if r.Outcome != gateway.OutcomeOK || r.Status != http.StatusOK || r.Cost <= 0 || r.Cost > r.Held {
				t.Errorf("record %+v: want ok, status 200, charged more than 0 and no more than held", r)
			}
			holds[r.Stream] = r.Held
		case r.Outcome == gateway.OutcomeCrashed:
			crashed = append(crashed, r)
			if r.Cost != r.Held || r.Cost <= 0 {
				t.Errorf("crashed record %s: cost %v, held %v; want charged its hold, more than 0", r.ID, r.Cost, r.Held)
			}
		default:
			t.Errorf("record %+v: want ok with an upstream request id, or crashed", r)
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("record id %s appears %d times, want once", id, n)
		}
	}
	for m, n := range settled {
		if n != 1 {
			t.Errorf("upstream request %s recorded %d times, want once", m, n)
		}
	}
	for _, r := range crashed {
		if h, ok := holds[r.Stream]; ok && r.Held != h {
			t.Errorf("crashed record %s (stream %v) held %v, want %v as every request of its shape", r.ID, r.Stream, r.Held, h)
		}
	}

	// Every request upstream received and Sluice did not settle must have
	// been charged at start-up; crashed records can only be requests that
	// were never settled.
	unsettled := 0
	for m := range served {
		if settled[m] == 0 {
			unsettled++
		}
	}
	if unsettled > len(crashed) {
		t.Errorf("%d requests received upstream have no settled record, but only %d crashed records charge for them", unsettled, len(crashed))
	}
	if max := len(sent) - len(settled); len(crashed) > max {
		t.Errorf("%d crashed records, more than the %d requests sent that were never settled", len(crashed), max)
	}

	bs, err := db.Budgets()
	if err != nil || len(bs) != 1 {
		t.Fatalf("Budgets() = %+v, %v; want the one budget", bs, err)
	}
	if bs[0].Spent != spent || bs[0].Held != 0 {
		t.Errorf("budget spent %v and held %v, want %v (the records' costs) and 0", bs[0].Spent, bs[0].Held, spent)
	}
	t.Logf("%d requests sent, %d answered in full, %d received upstream; ledger: %d records, %d settled, %d crashed (%d received upstream but not settled); spent %v",
		len(sent), completed, len(served), len(recs), len(settled), len(crashed), unsettled, spent)
}
