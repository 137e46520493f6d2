package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// BenchmarkProxy measures what Sluice adds to a request: the same chat
// completion straight to a fake upstream, and through a Proxy with a real
// ledger (a durable hold before forwarding, a settlement after).
//
//	go test -run '^$' -bench Proxy -benchtime 2000x ./gateway
func BenchmarkProxy(b *testing.B) {
	const body = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`
	const stream = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n" +
		"data: [DONE]\n\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, stream)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer up.Close()

	db, err := store.Open(filepath.Join(b.TempDir(), "sluice.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	token, err := db.NewToken("bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.PutBudget(gateway.Budget{Name: "day", Limit: 1000 * gateway.Dollar, Period: gateway.PeriodDay}); err != nil {
		b.Fatal(err)
	}
	p := &gateway.Proxy{Ledger: db, Tokens: db, Keys: benchKeys{}, Logf: b.Logf}
	ps, _ := gateway.WithUpstreams(gateway.DefaultProviders(), map[string]string{"openai": up.URL + "/v1"})
	p.SetProviders(gateway.Confirm(ps, []string{gateway.HostOf(up.URL)}))
	defer p.Wait() // after the server has closed
	srv := httptest.NewServer(p)
	defer srv.Close()

	load := &gateway.ChatLoad{}
	run := load.Run
	chat := `{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Say hi"}]}`
	streamReq := `{"model":"gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hi"}]}`
	b.Run("direct", func(b *testing.B) { run(b, up.URL+"/v1/chat/completions", "sk-upstream", chat) })
	b.Run("sluice", func(b *testing.B) { run(b, srv.URL+"/v1/chat/completions", token, chat) })
	b.Run("direct-stream", func(b *testing.B) { run(b, up.URL+"/v1/chat/completions", "sk-upstream", streamReq) })
	b.Run("sluice-stream", func(b *testing.B) { run(b, srv.URL+"/v1/chat/completions", token, streamReq) })
	srv.Close()
	p.Wait()
	if n := db.OpenHolds(); n != 0 {
		b.Errorf("%d holds left open", n)
	}
}

type benchKeys struct{}

func (benchKeys) Key(ctx context.Context, provider string) (string, error) { return "sk-upstream", nil }
