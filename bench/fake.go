//go:build linux

package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
)

// The fake upstream answers OpenAI chat completions the way OpenAI does:
// a whole chat.completion with usage, or an SSE stream of chunks ending
// in a usage chunk (when stream_options.include_usage asks for it) and
// [DONE]. A request whose user is "hold" gets its first chunk and then
// waits until GET /release (or its client going away).

const fakeCompletion = `{"id":"chatcmpl-bench","object":"chat.completion","created":1764230400,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today? I can answer questions, write code, or explain things.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":24,"completion_tokens":20,"total_tokens":44,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
	`"service_tier":"default","system_fingerprint":"fp_bench"}`

// fakeChunks are the stream's events: a role chunk, content chunks, the
// finish chunk; fakeUsage and fakeDone follow.
var fakeChunks = func() [][]byte {
	const pre = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":`
	var out [][]byte
	out = append(out, []byte(pre+`{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n"))
	for _, w := range []string{"Hello", "!", " How", " can", " I", " help", " you", " today", "?", " Ask"} {
		out = append(out, []byte(pre+`{"content":"`+w+`"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n"))
	}
	out = append(out, []byte(pre+`{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`+"\n\n"))
	return out
}()

const fakeUsage = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764230400,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_bench","choices":[],` +
	`"usage":{"prompt_tokens":24,"completion_tokens":11,"total_tokens":35,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}` + "\n\n"

const fakeDone = "data: [DONE]\n\n"

type fake struct {
	mu      sync.Mutex    // guards release
	release chan struct{} // closed by /release; replaced after
}

func runFake(args []string) error {
	fs := flag.NewFlagSet("fake", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	f := &fake{release: make(chan struct{})}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	return http.Serve(ln, f)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/release" {
		f.mu.Lock()
		close(f.release)
		f.release = make(chan struct{})
		f.mu.Unlock()
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"unexpected request","type":"invalid_request_error","param":null,"code":null}}`)
		return
	}
	h := w.Header()
	h.Set("X-Request-Id", "req_bench")
	if !bytes.Contains(body, []byte(`"stream":true`)) {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(fakeCompletion)))
		io.WriteString(w, fakeCompletion)
		return
	}
	hold := bytes.Contains(body, []byte(`"user":"hold"`))
	f.mu.Lock()
	release := f.release
	f.mu.Unlock()
	rc := http.NewResponseController(w)
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	for i, c := range fakeChunks {
		if _, err := w.Write(c); err != nil {
			return
		}
		rc.Flush()
		if i == 0 && hold {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
	}
	if bytes.Contains(body, []byte(`"include_usage":true`)) {
		io.WriteString(w, fakeUsage)
	}
	io.WriteString(w, fakeDone)
}
