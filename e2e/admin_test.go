package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
	"testing"
	"time"
)

// TestStaleGatewayGetsNothing: after the gateway is killed with SIGKILL,
// something else takes its port; `sluice key set` tells that listener
// nothing and puts the key in the keyring itself, on the data directly.
func TestStaleGatewayGetsNothing(t *testing.T) {
	mode := currentKeyMode()
	if mode == keysInEnv {
		t.Skip("skipping: needs the throwaway Secret Service of ./test.sh (SLUICE_TEST_KEYRING=1)")
	}
	s := startSluice(t, sluiceEnv(t, mode), nil)
	addr := strings.TrimPrefix(s.url, "http://")
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done

	// Another program now listens where the gateway did.
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on the dead gateway's %s: %v", addr, err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got []string // what each connection sent
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, _ := io.ReadAll(io.LimitReader(c, 1<<20))
				mu.Lock()
				got = append(got, string(b))
				mu.Unlock()
			}()
		}
	}()

	const key = "mistral-stale-test-0123456789abcdef"
	out := s.mustCLI(key+"\n", "key", "set", "mistral")
	if !strings.Contains(out, "stored the mistral key") {
		t.Errorf("key set = %q, want it stored", out)
	}
	out = s.mustCLI("", "key", "ls", "--json")
	var l struct {
		Keys []struct {
			Provider string `json:"provider"`
			Masked   string `json:"masked"`
			Source   string `json:"source"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("key ls --json = %q: %v", out, err)
	}
	found := false
	for _, k := range l.Keys {
		if k.Provider == "mistral" {
			found = k.Masked != "" && k.Source == "keyring"
		}
	}
	if !found {
		t.Errorf("key ls --json = %s, want the mistral key from the keyring", out)
	}
	s.mustCLI("", "key", "rm", "mistral")

	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) > 0 {
		t.Errorf("the listener on the dead gateway's port got %d connection(s): %q", len(got), got)
	}
}

var (
	plainOnce sync.Once
	plainPath string
	plainErr  error
)

// plainBinary builds sluice without the race detector, whose shadow
// memory would swamp a measurement of the process's own.
func plainBinary(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		return sluiceBinary(t)
	}
	plainOnce.Do(func() {
		plainPath = filepath.Join(tmpRoot, "sluice-plain")
		out, err := exec.Command("go", "build", "-o", plainPath, "github.com/sluicehq/sluice").CombinedOutput()
		if err != nil {
			plainErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainPath
}

// peakRSS is the most resident memory process pid has had, from Linux's
// /proc/PID/status (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestMemoryUnderLargeBodies: a real `sluice serve` takes 24 concurrent
// unauthenticated 30 MiB bodies, and 8 authenticated ones, and 33 MB
// arrays of numbers (which decode to some 16 times their size) with a junk
// key and to the keyless Ollama route, and its peak
// resident memory stays under 400 MB; a body sent a byte at a time is cut
// within the body deadline.
func TestMemoryUnderLargeBodies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("skipping: reads the peak RSS from /proc")
	}
	if testing.Short() {
		t.Skip("skipping the memory test in -short mode")
	}
	var upstreamBytes atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		upstreamBytes.Add(n)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-mem","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11}}`)
	}))
	defer up.Close()
	s := startSluiceBinary(t, plainBinary(t), sluiceEnv(t, keysInEnv), map[string]string{"openai": up.URL + "/v1", "ollama": up.URL + "/v1"})
	addr := strings.TrimPrefix(s.url, "http://")
	pid := s.cmd.Process.Pid
	before := peakRSS(t, pid)

	const size = 30 << 20
	// A JSON chat request of size bytes, streamed without holding it.
	body := func() io.Reader {
		head := `{"model":"gpt-4o-mini","max_tokens":1,"messages":[{"role":"user","content":"`
		tail := `"}]}`
		return io.MultiReader(strings.NewReader(head), io.LimitReader(repeatByte('x'), int64(size-len(head)-len(tail))), strings.NewReader(tail))
	}
	// send posts body, n bytes long, to path with key ("": none) and
	// returns the answer's status.
	send := func(path, key string, body io.Reader, n int64) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, s.url+path, body)
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		c := &http.Client{Timeout: 2 * time.Minute}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	post := func(key string) (int, error) { return send("/v1/chat/completions", key, body(), size) }

	// Meanwhile, a client trickles a body.
	slow := make(chan string, 1)
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			slow <- err.Error()
			return
		}
		defer c.Close()
		start := time.Now()
		fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer sk-proj-slowClient0123456789abcdef\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", addr)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(500 * time.Millisecond):
					c.Write([]byte(" "))
				}
			}
		}()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		close(done)
		if err != nil {
			slow <- fmt.Sprintf("no answer to the trickled body after %s: %v", time.Since(start), err)
			return
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 40*time.Second {
			slow <- fmt.Sprintf("trickled body answered %d after %s, want 408 within the 30 s body deadline", resp.StatusCode, took)
			return
		}
		slow <- ""
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	// Every kind's counts are made before any request runs: the map is
	// only read, and its counts written under mu, while they do.
	statuses := map[string]map[int]int{"unauthenticated": {}, "authenticated": {}, "numbers, junk key": {}, "numbers, keyless": {}}
	for i := 0; i < 32; i++ {
		kind, key := "unauthenticated", ""
		switch {
		case i%4 == 1:
			key = "sk-sluice-notAToken0123456789abcdefghijklmn"
		case i < 8*4 && i%4 == 3:
			kind, key = "authenticated", "sk-proj-memoryTest0123456789abcdefghij"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, err := post(key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				status = -1 // the connection closed under an unread body
			}
			statuses[kind][status]++
		}()
	}
	// Bodies of many small JSON values, which decode to far more memory
	// than their bytes: with a key no provider issued, and with none to
	// the keyless Ollama route.
	const zeros = 16_500_000
	numbers := func(path, key string) (int, error) {
		head, tail := `{"model":"gpt-4o","messages":[],"x":[`, `]}`
		n := int64(len(head) + 2*zeros - 1 + len(tail))
		return send(path, key, io.MultiReader(strings.NewReader(head), io.LimitReader(repeatString("0,"), 2*zeros-1), strings.NewReader(tail)), n)
	}
	for i := 0; i < 6; i++ {
		kind, path, key := "numbers, junk key", "/v1/chat/completions", "junk"
		if i >= 4 {
			kind, path, key = "numbers, keyless", "/ollama/v1/chat/completions", ""
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, err := numbers(path, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				status = -1
			}
			statuses[kind][status]++
		}()
	}
	wg.Wait()
	if msg := <-slow; msg != "" {
		t.Error(msg)
	}
	peak := peakRSS(t, pid)
	t.Logf("peak RSS %d MB (%d MB at start); answers %v; upstream got %d MB", peak>>20, before>>20, statuses, upstreamBytes.Load()>>20)
	if peak > 400<<20 {
		t.Errorf("peak RSS of sluice serve = %d MB under large bodies, want under 400 MB", peak>>20)
	}
	if statuses["unauthenticated"][http.StatusOK] > 0 {
		t.Errorf("unauthenticated requests were served: %v", statuses["unauthenticated"])
	}
	if n := statuses["numbers, junk key"][http.StatusUnauthorized] + statuses["numbers, junk key"][-1]; n != 4 {
		t.Errorf("number-array bodies with a junk key were not refused unread: %v", statuses["numbers, junk key"])
	}
	// A body refused before it is read whole may cost its client the
	// answer: the server closes the connection under the unread rest, and
	// a client that has not read the 413 by then (a loaded machine) sees
	// the connection reset (-1). Either way the body went nowhere: no
	// more than the authenticated chat bodies reached the upstream.
	if n := statuses["numbers, keyless"][http.StatusRequestEntityTooLarge] + statuses["numbers, keyless"][-1]; n != 2 {
		t.Errorf("number-array bodies to the keyless route = %v, want 413 for each", statuses["numbers, keyless"])
	}
	authenticated := 0
	for _, n := range statuses["authenticated"] {
		authenticated += n
	}
	if got, most := upstreamBytes.Load(), int64(authenticated)*size; got > most {
		t.Errorf("the upstream got %d bytes, more than the %d of the %d authenticated chat bodies: a refused body reached it", got, most, authenticated)
	}
	if statuses["authenticated"][http.StatusOK] == 0 {
		t.Errorf("no authenticated large request was served: %v", statuses["authenticated"])
	}
	s.stop()
}

// repeatedString is an endless reader of one string, over and over.
type repeatedString struct {
	s   string
	off int
}

func repeatString(s string) *repeatedString { return &repeatedString{s: s} }

func (r *repeatedString) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.s[r.off]
		r.off = (r.off + 1) % len(r.s)
	}
	return len(p), nil
}

// repeatByte is an endless reader of one byte.
type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
