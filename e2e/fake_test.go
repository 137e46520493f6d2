package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Provider keys the fake upstreams accept. They look like real keys so that
// a gateway which recognises provider keys by their shape treats them as
// such; they are not real.
const (
	openaiKey    = "sk-proj-e2eFakeOpenAIKey0000000000000000000000000000T3BlbkFJe2eFake"
	anthropicKey = "sk-ant-api03-e2eFakeAnthropicKey000000000000000000000000000000000000000000000000000000000000-e2eFakeAA"
	geminiKey    = "AIzaSyE2eFakeGeminiKey00000000000000000"
)

// localTokenPrefix starts every Sluice local token. An upstream must never
// see one: the gateway swaps it for the provider key.
const localTokenPrefix = "sk-sluice-"

// seenRequest is one request as a fake upstream received it.
type seenRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Authorized is whether the request carried the provider key in a
	// header the provider reads.
	Authorized bool
	// LocalToken is whether any header or query value carried a Sluice
	// local token.
	LocalToken bool
}

// jsonBody decodes the request body into a generic map; it returns nil
// for a body that is not a JSON object.
func (s seenRequest) jsonBody() map[string]any {
	var m map[string]any
	if json.Unmarshal(s.Body, &m) != nil {
		return nil
	}
	return m
}

// fakeUpstream is one provider's API answering from the recorded payloads
// in testdata/. It is safe for concurrent use.
type fakeUpstream struct {
	provider string
	key      string
	srv      *httptest.Server
	files    map[string][]byte // testdata/<provider>/ by file name; read-only after start

	mu   sync.Mutex
	seen []seenRequest // guarded by mu
	ids  int           // guarded by mu; numbers the request ids it hands out
}

// requests returns a copy of what the upstream has received so far.
func (f *fakeUpstream) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

// count returns how many requests the upstream has received.
func (f *fakeUpstream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// file returns a recorded payload; it panics on a name the fake did not
// load, which is a bug in this file.
func (f *fakeUpstream) file(name string) []byte {
	b, ok := f.files[name]
	if !ok {
		panic("e2e: no recorded payload " + f.provider + "/" + name)
	}
	return b
}

// startFake serves handle after recording each request and checking its
// key with authorized. An unauthorized request gets reject's answer.
func startFake(t *testing.T, provider, key string, authorized func(*http.Request) bool, reject, handle func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, body []byte)) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{provider: provider, key: key, files: map[string][]byte{}}
	dir := filepath.Join("testdata", provider)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read recorded payloads: %v", err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("read recorded payload: %v", err)
		}
		f.files[e.Name()] = b
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := seenRequest{
			Method:     r.Method,
			Path:       r.URL.Path,
			Query:      r.URL.Query(),
			Header:     r.Header.Clone(),
			Body:       body,
			Authorized: authorized(r),
			LocalToken: carriesLocalToken(r),
		}
		f.mu.Lock()
		f.seen = append(f.seen, s)
		f.ids++
		id := f.ids
		f.mu.Unlock()
		f.setRequestID(w, id)
		if !s.Authorized || s.LocalToken {
			reject(f, w, r, body)
			return
		}
		handle(f, w, r, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// setRequestID sets the response header each provider uses for its request
// id, which the gateway records as the upstream request id.
func (f *fakeUpstream) setRequestID(w http.ResponseWriter, n int) {
	switch f.provider {
	case "openai":
		w.Header().Set("X-Request-Id", fmt.Sprintf("req_e2e%029d", n))
		w.Header().Set("Openai-Processing-Ms", "212")
		w.Header().Set("Openai-Version", "2020-10-01")
	case "anthropic":
		w.Header().Set("Request-Id", fmt.Sprintf("req_011CTe2e%016d", n))
		w.Header().Set("Anthropic-Organization-Id", "00000000-0000-4000-8000-00000000e2e0")
	case "gemini":
		w.Header().Set("Server-Timing", "gfet4t7; dur=431")
		w.Header().Set("Vary", "Origin, X-Origin, Referer")
	}
}

// carriesLocalToken reports whether a Sluice local token appears anywhere
// in r's headers or query.
func carriesLocalToken(r *http.Request) bool {
	for _, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, localTokenPrefix) {
				return true
			}
		}
	}
	return strings.Contains(r.URL.RawQuery, localTokenPrefix)
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeSSE sends a recorded event stream one event at a time, flushing
// after each, as the providers do.
func writeSSE(w http.ResponseWriter, contentType string, stream []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	for _, ev := range splitEvents(stream) {
		if _, err := w.Write(ev); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

// splitEvents cuts an SSE stream after each blank line, whether lines end
// in "\n" (OpenAI, Anthropic) or "\r\n" (Gemini). The pieces keep their
// bytes, so joined they are the stream again.
func splitEvents(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i, n := bytes.Index(b, []byte("\n\n")), 2
		if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
			i, n = j, 4
		}
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+n])
		b = b[i+n:]
	}
	return out
}

// newFakeOpenAI serves the OpenAI API under /v1: chat completions,
// responses and embeddings (streaming and not, as the request asks) and the
// model list. It requires Authorization: Bearer with its key.
func newFakeOpenAI(t *testing.T) *fakeUpstream {
	authorized := func(r *http.Request) bool {
		return r.Header.Get("Authorization") == "Bearer "+openaiKey
	}
	reject := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, _ []byte) {
		writeBody(w, http.StatusUnauthorized, "application/json; charset=utf-8", []byte(`{
    "error": {
        "message": "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": null,
        "code": "invalid_api_key"
    }
}
`))
	}
	handle := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, body []byte) {
		const jsonType = "application/json"
		const sseType = "text/event-stream; charset=utf-8"
		var req struct {
			Stream        bool `json:"stream"`
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
			EncodingFormat string   `json:"encoding_format"`
			Modalities     []string `json:"modalities"`
		}
		if r.Method == http.MethodPost {
			if err := json.Unmarshal(body, &req); err != nil {
				writeBody(w, http.StatusBadRequest, jsonType, []byte(`{
  "error": {
    "message": "We could not parse the JSON body of your request.",
    "type": "invalid_request_error",
    "param": null,
    "code": null
  }
}
`))
				return
			}
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions":
			switch {
			case !req.Stream && slices.Contains(req.Modalities, "audio"):
				// An audio answer: usage split by modality.
				writeBody(w, http.StatusOK, jsonType, f.file("chat-audio.json"))
			case !req.Stream:
				writeBody(w, http.StatusOK, jsonType, f.file("chat.json"))
			case req.StreamOptions != nil && req.StreamOptions.IncludeUsage:
				writeSSE(w, sseType, f.file("chat-stream-usage.sse"))
			default:
				writeSSE(w, sseType, f.file("chat-stream.sse"))
			}
		case r.Method == http.MethodPost && r.URL.Path == "/v1/responses":
			if req.Stream {
				writeSSE(w, sseType, f.file("responses-stream.sse"))
			} else {
				writeBody(w, http.StatusOK, jsonType, f.file("responses.json"))
			}
		case r.Method == http.MethodPost && r.URL.Path == "/v1/embeddings":
			if req.EncodingFormat == "base64" {
				writeBody(w, http.StatusOK, jsonType, f.file("embeddings-base64.json"))
			} else {
				writeBody(w, http.StatusOK, jsonType, f.file("embeddings.json"))
			}
		case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
			writeBody(w, http.StatusOK, jsonType, f.file("models.json"))
		default:
			writeBody(w, http.StatusNotFound, jsonType, fmt.Appendf(nil, `{
  "error": {
    "message": "Invalid URL (%s %s)",
    "type": "invalid_request_error",
    "param": null,
    "code": null
  }
}
`, r.Method, r.URL.Path))
		}
	}
	return startFake(t, "openai", openaiKey, authorized, reject, handle)
}

// newFakeAnthropic serves the Anthropic Messages API, streaming and not.
// It takes its key as x-api-key or as Authorization: Bearer (current
// @anthropic-ai/sdk sends the latter) and requires anthropic-version.
func newFakeAnthropic(t *testing.T) *fakeUpstream {
	authorized := func(r *http.Request) bool {
		return r.Header.Get("X-Api-Key") == anthropicKey || r.Header.Get("Authorization") == "Bearer "+anthropicKey
	}
	reject := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, _ []byte) {
		writeBody(w, http.StatusUnauthorized, "application/json", []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CTe2eUnauthorized"}`))
	}
	handle := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, body []byte) {
		const jsonType = "application/json"
		if r.Header.Get("Anthropic-Version") == "" {
			writeBody(w, http.StatusBadRequest, jsonType, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version: header is required"},"request_id":"req_011CTe2eNoVersion"}`))
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			writeBody(w, http.StatusNotFound, jsonType, []byte(`{"type":"error","error":{"type":"not_found_error","message":"Not Found"},"request_id":"req_011CTe2eNotFound"}`))
			return
		}
		var req struct {
			Stream bool `json:"stream"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeBody(w, http.StatusBadRequest, jsonType, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"There was an issue with your request body."},"request_id":"req_011CTe2eBadJSON"}`))
			return
		}
		if req.Stream {
			writeSSE(w, "text/event-stream; charset=utf-8", f.file("messages-stream.sse"))
			return
		}
		writeBody(w, http.StatusOK, jsonType, f.file("messages.json"))
	}
	return startFake(t, "anthropic", anthropicKey, authorized, reject, handle)
}

// newFakeGemini serves generateContent and streamGenerateContent (SSE, as
// asked with alt=sse) under both /v1beta/models/ and /v1/models/. It takes
// its key as x-goog-api-key or ?key=.
func newFakeGemini(t *testing.T) *fakeUpstream {
	authorized := func(r *http.Request) bool {
		return r.Header.Get("X-Goog-Api-Key") == geminiKey || r.URL.Query().Get("key") == geminiKey
	}
	reject := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, _ []byte) {
		writeBody(w, http.StatusBadRequest, "application/json; charset=UTF-8", []byte(`{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {
          "service": "generativelanguage.googleapis.com"
        }
      }
    ]
  }
}
`))
	}
	handle := func(f *fakeUpstream, w http.ResponseWriter, r *http.Request, body []byte) {
		const jsonType = "application/json; charset=UTF-8"
		notFound := func() {
			writeBody(w, http.StatusNotFound, jsonType, []byte(`{
  "error": {
    "code": 404,
    "message": "Requested entity was not found.",
    "status": "NOT_FOUND"
  }
}
`))
		}
		rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
		if !ok {
			rest, ok = strings.CutPrefix(r.URL.Path, "/v1/models/")
		}
		i := strings.LastIndexByte(rest, ':')
		if !ok || r.Method != http.MethodPost || i <= 0 {
			notFound()
			return
		}
		if !json.Valid(body) {
			writeBody(w, http.StatusBadRequest, jsonType, []byte(`{
  "error": {
    "code": 400,
    "message": "Invalid JSON payload received.",
    "status": "INVALID_ARGUMENT"
  }
}
`))
			return
		}
		switch rest[i+1:] {
		case "generateContent":
			writeBody(w, http.StatusOK, jsonType, f.file("generate.json"))
		case "streamGenerateContent":
			if r.URL.Query().Get("alt") != "sse" {
				// Without alt=sse Gemini streams one JSON array; the SDKs
				// always ask for SSE, so this fake does not serve arrays.
				notFound()
				return
			}
			writeSSE(w, "text/event-stream", f.file("generate-stream.sse"))
		default:
			notFound()
		}
	}
	return startFake(t, "gemini", geminiKey, authorized, reject, handle)
}
