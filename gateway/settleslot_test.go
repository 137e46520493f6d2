package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStreamSettlePlaceGivenBack: a stream whose settlement is to be
// written after its handler returns takes a place among the settlements
// in flight (settleLater) before its record is finished. A handler that
// never gets its record to finish (here, a panic in finish, which
// net/http recovers) gives the place back; else, after a few such, every
// settlement would be written by its handler.
func TestStreamSettlePlaceGivenBack(t *testing.T) {
	const stream = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}` + "\n\n" +
		"data: [DONE]\n\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	defer up.Close()
	p, srv := newTestProxy(t, &memLedger{}, map[string]string{"openai": up.URL + "/v1"})
	p.Logf = func(string, ...any) {}
	var panics atomic.Int32
	p.Now = func() time.Time {
		// The clock panics when finish reads it, as any fault on the
		// way from the stream's end to its settlement would.
		pc, _, _, _ := runtime.Caller(2)
		if f := runtime.FuncForPC(pc); f != nil && strings.HasSuffix(f.Name(), ".(*Proxy).finish") {
			panics.Add(1)
			panic("clock broke")
		}
		return time.Now()
	}
	for i := range 2 * maxBackgroundSettles {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi `+string(rune('a'+i))+`"}]}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	p.Wait()
	if panics.Load() == 0 {
		t.Fatal("finish never ran: the test did not reach the case it is about")
	}
	if n := p.background.Load(); n != 0 {
		t.Errorf("%d settlement places still taken after %d handlers panicked in finish and every settlement is done; want 0", n, panics.Load())
	}
}
