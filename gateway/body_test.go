package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawRequest writes the head of a POST with the given headers to addr and
// then body, and returns the connection for the rest.
func rawRequest(t *testing.T, addr, path string, hdr map[string]string, contentLength int, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, addr, contentLength)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	return c
}

// readStatus reads the status of the answer on c, failing the test when
// none comes within d.
func readStatus(t *testing.T, c net.Conn, d time.Duration) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", d, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthBeforeBody: a request with no credential, or an unknown local
// token, is answered from its headers alone, while its announced 30 MiB
// body has not even been sent.
func TestAuthBeforeBody(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	_, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		name string
		path string
		hdr  map[string]string
	}{
		{"no key", "/v1/chat/completions", nil},
		{"no key, model routed to a keyless provider", "/v1/chat/completions", nil},
		{"unknown token", "/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-sluice-unknown"}},
		{"unknown token in x-api-key", "/v1/messages", map[string]string{"X-Api-Key": "sk-sluice-unknown"}},
		{"unknown token in gemini's query", "/v1beta/models/gemini-2.5-flash:generateContent?key=sk-sluice-unknown", nil},
		{"no key on a keyed provider's prefix", "/mistral/v1/chat/completions", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rawRequest(t, addr, tt.path, tt.hdr, 30<<20, `{"model":"ollama/llama3","messages":[`)
			status, body := readStatus(t, c, 5*time.Second)
			if status != http.StatusUnauthorized {
				t.Errorf("POST %s with no body sent = %d %s, want 401 at once", tt.path, status, body)
			}
		})
	}
	if n := seen.count(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// TestKeylessNeedsNoKey: a keyless provider named in the path still takes
// requests with no credential.
func TestKeylessNeedsNoKey(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	_, srv := newTestProxy(t, &memLedger{}, map[string]string{"ollama": up.URL + "/v1"})
	resp, body := post(t, srv.URL+"/ollama/v1/chat/completions", nil, `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /ollama/v1/chat/completions with no key = %d %s, want 200", resp.StatusCode, body)
	}
	if r, _ := seen.last(t); r.Header.Get("Authorization") != "" {
		t.Errorf("ollama got Authorization %q, want none", r.Header.Get("Authorization"))
	}
}

// TestSlowBodyCut: a body that trickles is cut at BodyTimeout, and the
// request never goes upstream.
func TestSlowBodyCut(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	p.BodyTimeout = 300 * time.Millisecond
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := rawRequest(t, addr, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, 1000, `{"model":"gpt-4o-mini",`)
	start := time.Now()
	go func() {
		for i := 0; i < 50; i++ {
			time.Sleep(50 * time.Millisecond)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	status, body := readStatus(t, c, 5*time.Second)
	if status != http.StatusRequestTimeout || !strings.Contains(body, "did not arrive") {
		t.Errorf("trickled body = %d %s, want 408", status, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("trickled body cut after %s, want about 300ms", d)
	}
	if n := seen.count(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// TestBodyGate: bodies wait for room in the gate, and room comes back once
// a body has gone upstream.
func TestBodyGate(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	p.MaxBodyBytes = 4000
	p.MaxBodyBytesInFlight = 5000
	p.BodyTimeout = 2 * time.Second
	addr := strings.TrimPrefix(srv.URL, "http://")
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	pad := func(n int) string { return chat + strings.Repeat(" ", n-len(chat)) }

	// The first request takes 3000 bytes of room and sends its body
	// slowly; a second of 3000 does not fit and waits.
	first := rawRequest(t, addr, "/v1/chat/completions", auth, 3000, chat)
	time.Sleep(200 * time.Millisecond)
	second := rawRequest(t, addr, "/v1/chat/completions", auth, 3000, pad(3000))
	time.Sleep(300 * time.Millisecond)
	if n := seen.count(); n != 0 {
		t.Fatalf("upstream saw %d requests while the gate was full, want none", n)
	}
	// The first completes: the second gets its room and is served.
	io.WriteString(first, strings.Repeat(" ", 3000-len(chat)))
	if status, body := readStatus(t, first, 5*time.Second); status != 200 {
		t.Fatalf("first = %d %s, want 200", status, body)
	}
	if status, body := readStatus(t, second, 5*time.Second); status != 200 {
		t.Fatalf("second = %d %s, want 200", status, body)
	}

}

// TestBodyGateFull: a body that waits for room longer than BodyTimeout is
// refused with 503 and never read.
func TestBodyGateFull(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	p.MaxBodyBytesInFlight = 5000
	p.BodyTimeout = 300 * time.Millisecond
	// Bodies being read hold all the room.
	if err := p.gate().acquire(context.Background(), 5000); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "memory limit") {
		t.Errorf("request waiting for room = %d %s, want 503", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refused after %s, want about 300ms", d)
	}
	if n := seen.count(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	p.gate().release(5000)
	if resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
		t.Errorf("request with room = %d %s, want 200", resp.StatusCode, body)
	}
	// The handler gives its room back just after it answers.
	for i := 0; ; i++ {
		g := p.gate()
		g.mu.Lock()
		used := g.used
		g.mu.Unlock()
		if used == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("gate holds %d bytes after every request ended, want 0", used)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBodyGateAccounting(t *testing.T) {
	g := newBodyGate(100)
	ctx := context.Background()
	if err := g.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := g.acquire(short, 60); err == nil {
		t.Fatal("acquire(60) with 60 of 100 held succeeded, want it to wait until its context ends")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := g.acquire(ctx, 60); err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	g.release(60)
	wg.Wait()
	// One request larger than the whole gate gets in alone.
	g.release(60)
	if err := g.acquire(ctx, 500); err != nil {
		t.Fatal(err)
	}
	if g.used != 500 {
		t.Errorf("used = %d, want 500", g.used)
	}
}

// TestBodyContentType: provider routes take JSON; a form or text body,
// which a web page can send without a preflight, is refused unread; file
// uploads take multipart forms.
func TestBodyContentType(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	_, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL})
	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	send := func(path, ct, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct{ path, ct string }{
		{"/v1/chat/completions", "text/plain;charset=UTF-8"},
		{"/v1/chat/completions", "application/x-www-form-urlencoded"},
		{"/v1/messages", "multipart/form-data; boundary=x"},
		{"/v1beta/models/gemini-2.5-flash:generateContent", "text/plain"},
		{"/v1/chat/completions", "application/json; charset"},
	} {
		if status, body := send(tt.path, tt.ct, chat); status != http.StatusUnsupportedMediaType || !strings.Contains(body, "application/json") {
			t.Errorf("POST %s as %s = %d %s, want 415", tt.path, tt.ct, status, body)
		}
	}
	if n := seen.count(); n != 0 {
		t.Fatalf("upstream saw %d requests, want none", n)
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", ""} {
		if status, body := send("/v1/chat/completions", ct, chat); status != 200 {
			t.Errorf("POST /v1/chat/completions as %q = %d %s, want 200", ct, status, body)
		}
	}
	if status, body := send("/v1/files", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--xyz--\r\n"); status == http.StatusUnsupportedMediaType {
		t.Errorf("multipart upload to /v1/files = %d %s, want it relayed", status, body)
	}
}

// TestUnplaceableKeyNotRead: a key no provider on the route could have
// issued is refused from the headers: bodies announced with junk keys take
// no room in the gate, so they cannot hold back a request with a token.
func TestUnplaceableKeyNotRead(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1", "anthropic": up.URL, "gemini": up.URL})
	p.MaxBodyBytesInFlight = 64 << 20
	p.BodyTimeout = 20 * time.Second
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct{ name, path, key string }{
		{"junk on a model-routed path", "/v1/chat/completions", "Bearer junk"},
		{"junk to anthropic", "/v1/messages", "Bearer junk"},
		{"junk to openai by prefix", "/openai/v1/chat/completions", "Bearer junk"},
		{"an anthropic key to openai's prefix", "/openai/v1/chat/completions", "Bearer sk-ant-api03-x"},
		{"a gemini key on anthropic's route", "/v1/messages", "Bearer AIzaSyX"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Three junk requests announce 32 MiB each and send nothing.
			for i := 0; i < 3; i++ {
				c := rawRequest(t, addr, tt.path, map[string]string{"Authorization": tt.key}, 32<<20, `{"model":"gpt-4o","messages":[`)
				if status, body := readStatus(t, c, 5*time.Second); status != http.StatusUnauthorized {
					t.Errorf("POST %s with %q = %d %s, want 401 before the body", tt.path, tt.key, status, body)
				}
			}
		})
	}
	// Held open, unanswered, they would fill the gate; refused, they hold
	// nothing, and a small request with a token is served at once.
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		conns = append(conns, rawRequest(t, addr, "/v1/chat/completions", map[string]string{"Authorization": "Bearer junk"}, 32<<20, `{`))
	}
	time.Sleep(200 * time.Millisecond)
	g := p.gate()
	g.mu.Lock()
	used := g.used
	g.mu.Unlock()
	if used != 0 {
		t.Errorf("gate holds %d bytes for junk-key requests, want 0", used)
	}
	start := time.Now()
	c := rawRequest(t, addr, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, len(`{"model":"gpt-4o-mini","messages":[]}`), `{"model":"gpt-4o-mini","messages":[]}`)
	if status, body := readStatus(t, c, 5*time.Second); status != 200 {
		t.Errorf("request with a token beside junk ones = %d %s, want 200", status, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("request with a token served after %s, want at once", d)
	}
	if n := seen.count(); n != 1 {
		t.Errorf("upstream saw %d requests, want only the one with a token", n)
	}
	// A key whose prefix names a provider the route reaches is still read.
	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-proj-abc"}, `{"model":"gpt-4o-mini","messages":[]}`)
	if resp.StatusCode != 200 {
		t.Errorf("an openai key on /v1/chat/completions = %d %s, want 200", resp.StatusCode, body)
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestRefusalClosesAtOnce: a request refused from its headers is answered
// at once and its connection closed, while its small body trickles:
// net/http does not wait to read the body first.
func TestRefusalClosesAtOnce(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	_, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no key", nil},
		{"junk key", map[string]string{"Authorization": "Bearer junk"}},
		{"unknown token", map[string]string{"Authorization": "Bearer sk-sluice-unknown"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rawRequest(t, addr, "/v1/chat/completions", tt.hdr, 100000, `{"model":"gpt-4o-mini",`)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer while the body trickles: %v", err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered after %s, want at once", d)
			}
			if !resp.Close {
				t.Errorf("answer does not say Connection: close")
			}
			if _, err := br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("connection still open after the refusal: %v", err)
			}
		})
	}
}

func TestJSONValues(t *testing.T) {
	for _, tt := range []struct {
		body string
		want int64
	}{
		{`{}`, 2},
		{`{"a":1}`, 3},
		{`{"a":[1,2,3]}`, 6},
		{`{"a":"x,y:[{"}`, 3},
		{`{"a":"q\",[{:","b":[{}]}`, 7},
		{`"just a string, with [brackets]"`, 1},
	} {
		if got := jsonValues([]byte(tt.body)); got != tt.want {
			t.Errorf("jsonValues(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

// TestManyValuesRefused: a body of many small JSON values, which would
// take far more memory decoded than its bytes, is refused with 413 when
// it alone would pass the memory the gate allows, in the caller's dialect
// and before it is decoded; the memory it would take is charged to the
// gate otherwise. Long text of the same size passes.
func TestManyValuesRefused(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1", "ollama": up.URL + "/v1", "anthropic": up.URL})
	p.MaxBodyBytesInFlight = 4 << 20
	zeros := `{"model":"gpt-4o-mini","messages":[],"x":[0` + strings.Repeat(",0", 100_000) + `]}`
	prose := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum, dolor: [sit] {amet} ", 100_000) + `"}]}`
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	for _, tt := range []struct {
		path string
		hdr  map[string]string
		want string
	}{
		{"/v1/chat/completions", auth, `"code":`},
		{"/ollama/v1/chat/completions", nil, `"code":`},
		{"/v1/messages", map[string]string{"X-Api-Key": testToken}, `"type":"error"`},
	} {
		resp, body := post(t, srv.URL+tt.path, tt.hdr, zeros)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "JSON values") || !strings.Contains(body, tt.want) {
			t.Errorf("POST %s with 100,000 numbers = %d %s, want 413 in its dialect", tt.path, resp.StatusCode, body)
		}
	}
	if n := seen.count(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	if resp, body := post(t, srv.URL+"/v1/chat/completions", auth, prose); resp.StatusCode != 200 {
		t.Errorf("POST of %d bytes of text = %d %s, want 200", len(prose), resp.StatusCode, body)
	}
	// A body that fits is charged for its values while it is held.
	small := `{"model":"gpt-4o-mini","messages":[],"x":[0` + strings.Repeat(",0", 1000) + `]}`
	if resp, body := post(t, srv.URL+"/v1/chat/completions", auth, small); resp.StatusCode != 200 {
		t.Errorf("POST with 1,000 numbers = %d %s, want 200", resp.StatusCode, body)
	}
}

// TestTrickleHoldsLittle: bodies announced large and trickled hold room in
// the gate only for the bytes that have arrived, so even with keys that
// pass the header check they do not hold back a request with a token.
func TestTrickleHoldsLittle(t *testing.T) {
	seen := &upstreamSeen{}
	up := fakeOpenAI(t, seen)
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	p.MaxBodyBytesInFlight = 64 << 20
	p.BodyTimeout = 20 * time.Second
	addr := strings.TrimPrefix(srv.URL, "http://")
	for i := 0; i < 3; i++ {
		rawRequest(t, addr, "/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-proj-trickle"}, 32<<20, `{"model":"gpt-4o-mini",`)
	}
	time.Sleep(300 * time.Millisecond)
	g := p.gate()
	g.mu.Lock()
	used := g.used
	g.mu.Unlock()
	if used > 1<<20 {
		t.Errorf("gate holds %d bytes for three barely begun bodies, want what has arrived (under 1 MiB)", used)
	}
	start := time.Now()
	resp, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, `{"model":"gpt-4o-mini","messages":[]}`)
	if resp.StatusCode != 200 {
		t.Errorf("request with a token beside trickled ones = %d %s, want 200", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("request with a token served after %s, want at once", d)
	}
}

// jsonValues counts as a byte-at-a-time walk does, whatever lies where
// its eight-byte steps through strings land.
func TestJSONValuesMatchesByteWalk(t *testing.T) {
	byteWalk := func(b []byte) int64 {
		n, in := int64(1), false
		for i := 0; i < len(b); i++ {
			switch c := b[i]; {
			case in && c == '\\':
				i++
			case in && c == '"':
				in = false
			case in:
			case c == '"':
				in = true
			case c == ',' || c == ':' || c == '[' || c == '{':
				n++
			}
		}
		return n
	}
	bodies := scanCorpus(t)
	alphabet := []byte("ab\"\\,:[{} \x01é")
	for i := range 3000 {
		b := make([]byte, i%97)
		for j := range b {
			b[j] = alphabet[(i*31+j*j*7+j)%len(alphabet)]
		}
		bodies = append(bodies, b)
	}
	for _, b := range bodies {
		if got, want := jsonValues(b), byteWalk(b); got != want {
			t.Fatalf("jsonValues(%q) = %d, want %d", b, got, want)
		}
	}
}

// BenchmarkJSONValues: counting the values of a long conversation's body
// before it is read, as every request body is counted.
func BenchmarkJSONValues(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"long", chatCall(1, strings.Repeat("The build failed at step 12; the log says FAIL at 2026-11-30T10:31:02Z. ", 200))},
		// bench/run.sh's request: short strings, keys above all.
		{"chat", `{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello and offer help in one sentence. (run 1)"}]}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				jsonValues(body)
			}
		})
	}
}

// countingConn counts the writes made to a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestBodySentInOneWrite: a request goes upstream in one write, headers
// and body together, and its body's room in the gate comes back once it
// has gone, before the answer.
func TestBodySentInOneWrite(t *testing.T) {
	var p *Proxy
	held := make(chan int64, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		// The transport says it wrote the request a moment after the
		// bytes left.
		g := p.gate()
		var used int64
		for range 100 {
			g.mu.Lock()
			used = g.used
			g.mu.Unlock()
			if used == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		held <- used
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, chatBody)
	}))
	defer up.Close()
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	var writes atomic.Int64
	tr := NewTransport(0)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	defer tr.CloseIdleConnections()
	p.Transport = tr
	// Larger than the transport's 1 KiB write buffer, headers and all.
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("hi ", 1000) + `"}]}`
	resp, got := post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, got)
	}
	if used := <-held; used != 0 {
		t.Errorf("gate holds %d bytes once the body has gone upstream, want 0", used)
	}
	small := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	writes.Store(0)
	resp, got = post(t, srv.URL+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testToken}, small)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, got)
	}
	<-held
	if n := writes.Load(); n != 1 {
		t.Errorf("a small request went upstream in %d writes, want 1 (headers and body together)", n)
	}
}

// openStreamTransport is an http.RoundTripper that is not net/http's
// Transport (it calls no httptrace hook): it reads the request body, then
// answers with a stream it keeps open until done closes.
type openStreamTransport struct{ done chan struct{} }

func (rt openStreamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	io.ReadAll(r.Body)
	r.Body.Close()
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n")
		<-rt.done
		io.WriteString(pw, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\ndata: [DONE]\n\n")
		pw.Close()
	}()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr, Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// TestBodyRoomBackWithAnotherTransport: with a Transport of the caller's
// own, which says nothing as it writes the request, the body's room in
// the gate still comes back once the request has gone, not when the
// stream ends.
func TestBodyRoomBackWithAnotherTransport(t *testing.T) {
	done := make(chan struct{})
	defer func() {
		select {
		case <-done:
		default:
			close(done)
		}
	}()
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": "http://127.0.0.1:9/v1"})
	p.Transport = openStreamTransport{done}
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"` + strings.Repeat("hi ", 1000) + `"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 64)); err != nil { // the first event: the stream is under way
		t.Fatal(err)
	}
	g := p.gate()
	g.mu.Lock()
	used := g.used
	g.mu.Unlock()
	close(done)
	io.ReadAll(resp.Body)
	if used != 0 {
		t.Errorf("mid-stream, the body sent upstream, the gate still holds %d bytes, want 0", used)
	}
}
