package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestClientLeavingIsNotUpstreamFailure: a client that goes away, before
// the upstream has answered or in the middle of a stream, ends its
// request as canceled (status 499), never as an upstream error, and
// Sluice stops the upstream request instead of retrying it or sending it
// elsewhere.
func TestClientLeavingIsNotUpstreamFailure(t *testing.T) {
	var received, upstreamCanceled atomic.Int64
	firstEvent := make(chan struct{}, 8)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`+"\n\n")
			w.(http.Flusher).Flush()
			firstEvent <- struct{}{}
		}
		// Then nothing more until the request is given up.
		<-r.Context().Done()
		upstreamCanceled.Add(1)
	}))
	defer up.Close()
	g := newRig(t, up, 100*gateway.Dollar, func(p *gateway.Proxy) { p.IdleTimeout = time.Minute })

	// Before the upstream answers.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for received.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if resp, err := g.client.Do(g.request(ctx, "leave-early", false, 64)); err == nil {
		resp.Body.Close()
		t.Fatalf("the request whose client left got an answer: %d", resp.StatusCode)
	}

	// In the middle of a stream.
	ctx2, cancel2 := context.WithCancel(context.Background())
	resp, err := g.client.Do(g.request(ctx2, "leave-mid", true, 64))
	if err != nil {
		t.Fatal(err)
	}
	<-firstEvent
	buf := make([]byte, 64)
	resp.Body.Read(buf)
	cancel2()
	resp.Body.Close()

	recs, open := g.settled(t, 2)
	if len(recs) != 2 || open != 0 {
		t.Fatalf("%d records, %d holds open; want 2 and 0", len(recs), open)
	}
	for _, r := range recs {
		if r.Outcome != gateway.OutcomeCanceled || r.Status != 499 {
			t.Errorf("record of a client that left: outcome %q, status %d, error %q; want canceled, 499", r.Outcome, r.Status, r.Error)
		}
		if strings.Contains(r.Error, "could not reach") || strings.Contains(r.Error, "did not answer") || strings.Contains(r.Error, "upstream") {
			t.Errorf("record of a client that left blames the upstream: %q", r.Error)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for upstreamCanceled.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n, c := received.Load(), upstreamCanceled.Load(); n != 2 || c != 2 {
		t.Errorf("upstream received %d requests and saw %d given up; want each of the 2 once, given up", n, c)
	}
}

// TestClientLeavingAfterTheLastEvent: a client that closes its connection
// as soon as it has a stream's final event (Codex does, on
// response.completed) has had the whole answer. When the upstream has not
// closed its side yet, the cancellation that follows must not make the
// request a canceled one charged at a guess: it is served, and charged
// the usage the provider reported.
func TestClientLeavingAfterTheLastEvent(t *testing.T) {
	const stream = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}` + "\n\n" +
		"data: [DONE]\n\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
		w.(http.Flusher).Flush()
		// The answer is whole, but the connection stays open until the
		// request is given up.
		<-r.Context().Done()
	}))
	defer up.Close()
	g := newRig(t, up, 100*gateway.Dollar, func(p *gateway.Proxy) { p.IdleTimeout = time.Minute })

	ctx, cancel := context.WithCancel(context.Background())
	resp, err := g.client.Do(g.request(ctx, "leave-after-done", true, 64))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "data: [DONE]") {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("stream ended before its last event: %v\n%s", err, got)
		}
	}
	cancel()
	resp.Body.Close()

	r := g.settledOne(t)
	want := gateway.PriceForTest(t, "openai", "gpt-4o-mini")
	if r.Outcome != gateway.OutcomeOK || r.Status != 200 || r.Estimated ||
		r.Usage.InputTokens != 9 || r.Usage.OutputTokens != 2 || r.Cost != want.Cost(gateway.Usage{InputTokens: 9, OutputTokens: 2}) {
		t.Errorf("record of a stream whose client left after its last event: outcome %q, status %d, estimated %v, usage %d in %d out, cost %s, error %q; want ok, 200, the reported 9 in 2 out and their cost",
			r.Outcome, r.Status, r.Estimated, r.Usage.InputTokens, r.Usage.OutputTokens, r.Cost, r.Error)
	}
}
