package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// PromptSource gives the prompts served at /p/. Implementations must be
// safe for concurrent use.
type PromptSource interface {
	// Prompt returns the current version of the prompt named name, or an
	// error wrapping ErrNoPrompt.
	Prompt(ctx context.Context, name string) (Prompt, error)
	// Prompts returns the current version of every prompt, by name.
	Prompts(ctx context.Context) ([]Prompt, error)
}

// ErrNoPrompt is returned by a PromptSource for a name that has no prompt.
var ErrNoPrompt = errors.New("no such prompt")

// Prompts serves saved prompts as endpoints: POST /p/{name} renders the
// prompt with the caller's inputs and sends it, as a request in the
// provider's own format, through Proxy, so that it is authenticated, held,
// forwarded, metered and settled exactly like any other request, its
// record carrying the prompt's name. GET /p/openapi.json describes every
// prompt endpoint.
//
// Callers authenticate with a local token. Answers and errors are plain
// JSON ({"output": ...} or {"error": {"type": ..., "message": ...}}), or
// server-sent events with ?stream=true. A Prompts is safe for concurrent
// use.
type Prompts struct {
	// Proxy carries every call. It must not be nil.
	Proxy *Proxy
	// Source gives the prompts. It must not be nil.
	Source PromptSource
}

// PromptPrefix is the path under which prompts are served.
const PromptPrefix = "/p/"

// defaultPromptMaxTokens is the output limit sent to a provider that
// requires one (Anthropic) for a prompt that sets none.
const defaultPromptMaxTokens = 4096

// PromptResult is a prompt call's answer.
type PromptResult struct {
	// Output is the model's text as a JSON string, or, for a prompt with a
	// schema, the JSON value it produced.
	Output json.RawMessage `json:"output"`
	Model  string          `json:"model"`
	Usage  Usage           `json:"usage"`
	Cost   Money           `json:"cost_usd"`
	// ID is the request's ID in the log.
	ID      string `json:"id"`
	Prompt  string `json:"prompt"`
	Version int    `json:"version"`
}

// PromptError is a prompt call that failed, as its caller is told.
type PromptError struct {
	Status  int    `json:"-"`
	Type    string `json:"type"`
	Message string `json:"message"`
	// Budget names the budget that refused the call (402).
	Budget string `json:"budget,omitempty"`
	// Output is what the model answered, when it did not fit the schema.
	Output string `json:"output,omitempty"`
	// ID is the request's ID in the log, when it got that far.
	ID string `json:"id,omitempty"`
}

func (e *PromptError) Error() string { return e.Message }

// Error types of prompt calls, beyond the proxy's own kinds.
const (
	kindMissingInput   errKind = "invalid_input"
	kindSchemaMismatch errKind = "schema_mismatch"
	kindNoOutput       errKind = "no_output"
)

// ServeHTTP serves /p/openapi.json and /p/{name}.
//
// Every refusal leaves through Proxy.fail, as a provider route's does: a
// call stopped before it reaches the provider (the guard, the token, an
// unknown prompt, a wrong path or method, a body or inputs Sluice cannot
// take) is answered in the prompt endpoint's error shape and leaves a
// blocked row, rate-limited with every other.
func (ps *Prompts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := ps.take(w, r); ok {
		ps.call(w, r, c)
	}
}

// promptCallIn is a prompt call taken: the prompt, its rendered request,
// and how the caller asked.
type promptCallIn struct {
	pr     Prompt
	preq   promptRequest
	stream bool
	cred   string
}

// take reads and checks a call to a prompt and renders its request; ok is
// false once it has answered the caller itself (a refusal, or the
// OpenAPI document).
//
// It is never inlined, and ServeHTTP keeps only its result: the provider
// request that follows runs on the handler's stack, which must stay within
// 16 KB (TestHandlerStack), and what take needs does not stay on it.
//
//go:noinline
func (ps *Prompts) take(w http.ResponseWriter, r *http.Request) (c *promptCallIn, ok bool) {
	p := ps.Proxy
	start := p.now()
	var token, prompt string // what the row of a refusal names, once known
	refuse := func(f *failure) { ps.refuse(w, r, start, token, prompt, f) }
	// unread refuses before the body is read (see Proxy.fail).
	unread := func(f *failure) {
		f.unread = true
		refuse(f)
	}
	if f := p.guard(r); f != nil {
		refuse(f)
		return nil, false
	}
	name, ok := strings.CutPrefix(r.URL.Path, PromptPrefix)
	if !ok || strings.Contains(name, "/") || name == "" {
		unread(fail(http.StatusNotFound, kindNotFound,
			"prompt endpoints are POST /p/NAME; GET /p/openapi.json describes them").blocked(ReasonRoute))
		return nil, false
	}
	if name == "openapi.json" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			unread(fail(http.StatusMethodNotAllowed, kindInvalid, "use GET").blocked(ReasonRoute).with("Allow", "GET"))
			return nil, false
		}
		ps.serveOpenAPI(w, r)
		return nil, false
	}
	if r.Method != http.MethodPost {
		unread(fail(http.StatusMethodNotAllowed, kindInvalid,
			"call a prompt with POST /p/"+name+" and its inputs as a JSON object (or text/plain as the input \"text\")").blocked(ReasonRoute).with("Allow", "POST"))
		return nil, false
	}

	// Authenticate before reading the body, as provider routes do.
	cred, _ := credential(r, p.dialectList())
	if !IsLocalToken(cred) {
		unread(fail(http.StatusUnauthorized, kindAuth,
			"a prompt endpoint takes a local token: send Authorization: Bearer sk-sluice-… (make one with `sluice token new NAME`)").blocked(ReasonAuth))
		return nil, false
	}
	token, err := p.token(r.Context(), cred)
	if err != nil {
		if errors.Is(err, ErrUnknownToken) {
			unread(fail(http.StatusUnauthorized, kindAuth, "this Sluice token is not known (revoked?): make a new one with `sluice token new NAME`").blocked(ReasonAuth))
		} else {
			unread(fail(http.StatusServiceUnavailable, kindUnavailable, "Sluice could not check its token: "+err.Error()).because(err))
		}
		return nil, false
	}

	pr, err := ps.Source.Prompt(r.Context(), name)
	if err != nil {
		if errors.Is(err, ErrNoPrompt) {
			unread(fail(http.StatusNotFound, kindNotFound,
				fmt.Sprintf("no prompt %q: define it with `sluice prompt set %s --model MODEL --template TEXT` (or in the Prompts page)", name, name)).blocked(ReasonRoute))
			return nil, false
		}
		unread(fail(http.StatusServiceUnavailable, kindUnavailable, "Sluice could not read the prompt: "+err.Error()).because(err))
		return nil, false
	}
	prompt = pr.Name

	// The body is read as a provider request's is: capped, within a
	// deadline, counted against the bytes Sluice holds in memory.
	var hold bodyHold
	body, f := p.readBody(w, r, &hold)
	defer hold.release()
	if f != nil {
		refuse(f)
		return nil, false
	}
	inputs, err := promptInputs(r.Header.Get("Content-Type"), body)
	if err != nil {
		refuse(fail(http.StatusBadRequest, kindInvalid, err.Error()).blocked(ReasonRequest))
		return nil, false
	}
	system, user, err := pr.render(inputs)
	hold.release() // the rendered request is counted when the proxy reads it
	if err != nil {
		refuse(fail(http.StatusBadRequest, kindMissingInput, "prompt "+pr.Name+": "+err.Error()).blocked(ReasonRequest))
		return nil, false
	}
	stream := false
	switch strings.ToLower(r.URL.Query().Get("stream")) {
	case "", "false", "0":
	case "true", "1":
		stream = true
	default:
		refuse(fail(http.StatusBadRequest, kindInvalid, "stream is true or false").blocked(ReasonRequest))
		return nil, false
	}
	preq, err := providerRequest(p.dialectList(), pr, system, user, stream, p.providerTable(), p.Prices())
	if err != nil {
		// The prompt's model has no provider that can carry it.
		refuse(fail(http.StatusBadGateway, kindInvalid, "prompt "+pr.Name+": "+err.Error()).blocked(ReasonRoute))
		return nil, false
	}
	return &promptCallIn{pr: pr, preq: preq, stream: stream, cred: cred}, true
}

// refuse answers a prompt call that never reached the proxy with f, in
// the prompt endpoint's shape, and leaves its row.
//
// It is never inlined: its exchange lives on its stack, and ServeHTTP,
// which refuses at a dozen places, had a copy of it at each, 40 KB of
// stack in all, which every call to a prompt paid for.
//
//go:noinline
func (ps *Prompts) refuse(w http.ResponseWriter, r *http.Request, start time.Time, token, prompt string, f *failure) {
	x := &exchange{start: start, rec: Record{ID: NewID(start), Time: start, Token: token, Prompt: prompt}}
	ps.Proxy.fail(w, r, promptShape{}, x, f)
}

// call sends the rendered prompt through the proxy and answers the caller.
func (ps *Prompts) call(w http.ResponseWriter, r *http.Request, c *promptCallIn) {
	if cw, pc := ps.send(w, r, c); cw != nil {
		ps.reply(w, r, c, cw, pc)
	}
}

// send serves c's request through the proxy, capturing its answer; nil
// when it could not be made (the caller has been answered). Its frame is
// on the stack under the whole provider request: keep it small.
func (ps *Prompts) send(w http.ResponseWriter, r *http.Request, c *promptCallIn) (*captureWriter, *promptCall) {
	p := ps.Proxy
	preq := &c.preq
	pc := &promptCall{name: c.pr.Name}
	ctx := context.WithValue(r.Context(), promptCallKey{}, pc)
	target := &url.URL{Path: preq.path, RawQuery: preq.query}
	in, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(preq.body))
	if err != nil {
		p.fail(w, r, promptShape{}, nil, fail(http.StatusInternalServerError, kindInvalid, "Sluice could not make the prompt's request").because(err))
		return nil, nil
	}
	in.Host = r.Host
	in.RemoteAddr = r.RemoteAddr
	in.Header = preq.header
	in.Header.Set("Authorization", "Bearer "+c.cred)
	if ua := r.Header.Get("User-Agent"); ua != "" {
		in.Header.Set("User-Agent", ua)
	}

	cw := &captureWriter{header: http.Header{}, client: w, stream: c.stream, dialect: preq.dialect}
	p.ServeHTTP(cw, in)
	return cw, pc
}

// reply answers the caller of c from what the proxy answered.
func (ps *Prompts) reply(w http.ResponseWriter, r *http.Request, c *promptCallIn, cw *captureWriter, pc *promptCall) {
	pr, stream := c.pr, c.stream
	rec, _ := pc.record()

	if cw.streaming {
		ps.endStream(cw, pr, rec)
		return
	}
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 300 {
		ps.answer(w, r, innerError(status, cw.header, cw.body.Bytes(), rec))
		return
	}
	text, err := cw.dialect.outputText(cw.body.Bytes())
	if err != nil {
		ps.answer(w, r, &PromptError{Status: http.StatusBadGateway, Type: string(kindNoOutput), Message: err.Error(), ID: rec.ID})
		return
	}
	res, perr := result(pr, rec, text)
	if perr != nil {
		ps.answer(w, r, perr)
		return
	}
	if stream {
		// Asked for a stream, answered whole: one delta, then the end.
		startSSE(w)
		writeEvent(w, "delta", map[string]string{"text": text})
		writeEvent(w, "done", res)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Sluice-Request-Id", rec.ID)
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(res)
}

// result is the answer for text, the model's output: validated against
// the prompt's schema, if it has one.
func result(pr Prompt, rec Record, text string) (PromptResult, *PromptError) {
	res := PromptResult{Model: rec.Model, Usage: rec.Usage, Cost: rec.Cost, ID: rec.ID, Prompt: pr.Name, Version: pr.Version}
	if res.Model == "" {
		res.Model = pr.Model
	}
	if len(pr.Schema) == 0 {
		res.Output, _ = json.Marshal(text)
		return res, nil
	}
	out := []byte(strings.TrimSpace(text))
	if err := validateJSON(pr.Schema, out); err != nil {
		return res, &PromptError{Status: http.StatusBadGateway, Type: string(kindSchemaMismatch),
			Message: "the model's output does not fit the prompt's schema: " + err.Error(), Output: text, ID: rec.ID}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return res, &PromptError{Status: http.StatusBadGateway, Type: string(kindSchemaMismatch), Message: "the model's output is not JSON: " + err.Error(), Output: text, ID: rec.ID}
	}
	res.Output = buf.Bytes()
	return res, nil
}

// innerError turns what the proxy answered (its own refusal, or a
// provider's error it relayed) into the prompt caller's error.
func innerError(status int, h http.Header, body []byte, rec Record) *PromptError {
	var doc struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &doc) == nil {
		msg = doc.Error.Message
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
	}
	e := &PromptError{Status: status, Message: msg, ID: rec.ID}
	if kind := h.Get("X-Sluice-Error"); kind != "" {
		// Sluice's own answer: a budget, a key, a price.
		e.Type = kind
		e.Budget = h.Get("X-Sluice-Budget")
		if status == http.StatusNotFound {
			e.Status = http.StatusBadGateway
		}
		return e
	}
	e.Type = string(kindUpstream)
	provider := rec.Provider
	if provider == "" {
		provider = "the provider"
	}
	e.Message = fmt.Sprintf("%s answered %d: %s", provider, status, msg)
	if rec.Outcome == OutcomeBilling {
		e.Message = rec.Error
	}
	if status != http.StatusTooManyRequests {
		e.Status = http.StatusBadGateway
	}
	return e
}

// answer answers e, a call that failed once it had gone through the
// proxy, which kept its row: through Proxy.fail, in the prompt
// endpoint's shape, with e's members.
func (ps *Prompts) answer(w http.ResponseWriter, r *http.Request, e *PromptError) {
	ps.Proxy.fail(w, r, promptShape{budget: e.Budget, output: e.Output, id: e.ID}, nil, fail(e.Status, errKind(e.Type), e.Message))
}

// promptShape is the prompt endpoint's error shape, {"error": {"type",
// "message", ...}} (a PromptError), which no SDK owns. Its fields are the
// members beside the type and the message: the budget that refused the
// call, the model's output that did not fit the schema, the request's ID
// in the log.
type promptShape struct{ budget, output, id string }

func (s promptShape) errorBody(status int, kind errKind, msg string) []byte {
	b, _ := json.Marshal(map[string]*PromptError{"error": {
		Status: status, Type: string(kind), Message: msg, Budget: s.budget, Output: s.output, ID: s.id}})
	return b
}

// promptCall links a prompt's request through the proxy to the prompt: the
// proxy records the prompt's name and reports the record it settles.
type promptCall struct {
	name string
	mu   sync.Mutex // guards rec and done
	rec  Record
	done bool
}

type promptCallKey struct{}

// promptCallOf returns the prompt call r belongs to, or nil.
func promptCallOf(r *http.Request) *promptCall {
	pc, _ := r.Context().Value(promptCallKey{}).(*promptCall)
	return pc
}

// promptName is the name of the prompt the call is for, "" for nil.
func (pc *promptCall) promptName() string {
	if pc == nil {
		return ""
	}
	return pc.name
}

// report keeps the record the proxy settles. It is safe on nil.
func (pc *promptCall) report(r Record) {
	if pc == nil {
		return
	}
	pc.mu.Lock()
	pc.rec, pc.done = r, true
	pc.mu.Unlock()
}

func (pc *promptCall) record() (Record, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.rec, pc.done
}

// promptRequest is a rendered prompt as its provider's own request.
type promptRequest struct {
	path    string // on the proxy, with the provider named so the route is exact
	query   string
	header  http.Header
	body    []byte
	dialect promptDialect // of the request, and so of the answer
}

// promptProvider picks the provider for a prompt's model, as for a
// request whose model chooses its provider: the one modelProvider names
// among all providers, else the own provider of the first of ds that
// every provider can be reached in (dialectInfo.compat: OpenAI's). It
// returns the model as the provider spells it.
func promptProvider(ds []dialect, model string, providers map[string]Provider, prices *Prices) (provider, upstreamModel string) {
	if prov, m, ok := modelProvider(model, nil, providers, nil, prices); ok {
		return prov, m
	}
	for _, d := range ds {
		if di := d.info(); di.compat {
			return di.provider, model
		}
	}
	return "", model
}

// providerRequest builds the provider's own request for a rendered
// prompt, in its format among ds. The model chooses the provider
// (promptProvider).
func providerRequest(ds []dialect, pr Prompt, system, user string, stream bool, providers map[string]Provider, prices *Prices) (promptRequest, error) {
	provName, model := promptProvider(ds, pr.Model, providers, prices)
	prov, ok := providers[provName]
	if !ok {
		return promptRequest{}, fmt.Errorf("model %q: no provider %q", pr.Model, provName)
	}
	d, ok := dialectNamed(ds, prov.Dialect).(promptDialect)
	if !ok {
		return promptRequest{}, fmt.Errorf("provider %s speaks no API a prompt can use", prov.Name)
	}
	path, query, hdr, req := d.promptRequest(prov, model, pr, system, user, stream)
	hdr.Set("Content-Type", "application/json")
	body, err := json.Marshal(req)
	return promptRequest{path: "/" + prov.Name + path, query: query, header: hdr, body: body, dialect: d}, err
}

// schemaName is a name OpenAI accepts for a JSON schema (letters, digits,
// '_' and '-', at most 64).
func schemaName(prompt string) string {
	if prompt == "" {
		return "output"
	}
	return prompt
}

// captureWriter is the proxy's ResponseWriter for a prompt call. A whole
// answer, or any error, is kept to be read once the proxy is done; a
// stream is turned, event by event, into the prompt's own events on the
// client as it arrives.
type captureWriter struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	client  http.ResponseWriter
	stream  bool          // the caller asked for a stream
	dialect promptDialect // of the provider's answer

	streaming bool            // relaying a stream to client
	pending   []byte          // bytes of an event not yet complete
	output    strings.Builder // the text streamed so far
	failed    error           // a write to the client failed
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(status int) {
	if c.status != 0 {
		return
	}
	c.status = status
	mt, _, _ := mime.ParseMediaType(c.header.Get("Content-Type"))
	if c.stream && status < 300 && mt == "text/event-stream" {
		c.streaming = true
		startSSE(c.client)
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if !c.streaming {
		c.body.Write(b)
		return len(b), nil
	}
	if c.failed != nil {
		return 0, c.failed
	}
	c.pending = append(c.pending, b...)
	er := newSSEReader(bytes.NewReader(c.pending))
	consumed := 0
	for {
		ev, err := er.Next()
		if err != nil {
			break // io.EOF, or an event not yet complete
		}
		consumed += len(ev.Raw)
		if t := c.dialect.deltaText(ev); t != "" {
			c.output.WriteString(t)
			if err := writeEvent(c.client, "delta", map[string]string{"text": t}); err != nil {
				c.failed = err
				return 0, err
			}
		}
	}
	c.pending = append(c.pending[:0], c.pending[consumed:]...)
	return len(b), nil
}

// FlushError lets the proxy flush as it relays: a stream's events are
// flushed to the client as they are written.
func (c *captureWriter) FlushError() error {
	if c.failed != nil {
		return c.failed
	}
	return nil
}

// endStream ends a streamed call: the final event carries the whole output,
// usage and cost, or says why the call failed.
func (ps *Prompts) endStream(c *captureWriter, pr Prompt, rec Record) {
	if c.failed != nil {
		return
	}
	if rec.Outcome != OutcomeOK {
		msg := rec.Error
		if msg == "" {
			msg = "the stream ended early"
		}
		writeEvent(c.client, "error", map[string]any{"error": &PromptError{Status: http.StatusBadGateway, Type: string(kindUpstream), Message: msg, ID: rec.ID}})
		return
	}
	res, perr := result(pr, rec, c.output.String())
	if perr != nil {
		writeEvent(c.client, "error", map[string]any{"error": perr})
		return
	}
	writeEvent(c.client, "done", res)
}

func startSSE(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
}

// writeEvent writes one server-sent event and flushes it.
func writeEvent(w http.ResponseWriter, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return err
	}
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// Run calls the prompt named name with inputs as the local token secret
// would over HTTP, and returns its answer or a *PromptError. host is a Host
// the proxy answers for.
func (ps *Prompts) Run(ctx context.Context, name string, inputs map[string]string, secret, host string) (PromptResult, error) {
	body, err := json.Marshal(inputs)
	if err != nil {
		return PromptResult{}, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, PromptPrefix+url.PathEscape(name), bytes.NewReader(body))
	if err != nil {
		return PromptResult{}, err
	}
	r.Host = host
	r.RemoteAddr = "127.0.0.1:0"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+secret)
	rec := &bufferWriter{header: http.Header{}}
	ps.ServeHTTP(rec, r)
	if rec.status >= 300 {
		var doc struct {
			Error PromptError `json:"error"`
		}
		if err := json.Unmarshal(rec.body.Bytes(), &doc); err != nil {
			return PromptResult{}, fmt.Errorf("prompt %s: HTTP %d: %s", name, rec.status, rec.body.String())
		}
		doc.Error.Status = rec.status
		return PromptResult{}, &doc.Error
	}
	var res PromptResult
	if err := json.Unmarshal(rec.body.Bytes(), &res); err != nil {
		return PromptResult{}, fmt.Errorf("prompt %s: read the answer: %w", name, err)
	}
	return res, nil
}

// bufferWriter is a ResponseWriter that keeps the whole answer.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
