package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is Sluice's gateway: an http.Handler for every provider route.
//
// Configure it by setting fields before serving; the zero value of each
// field means its default. Providers and prices can be swapped while
// serving with SetProviders and SetPrices. A Proxy is safe for concurrent
// use.
type Proxy struct {
	// Ledger holds and settles every metered request. It must not be nil.
	Ledger Ledger
	// Keys gives provider keys for requests made with a local token. Nil
	// means no stored keys: only requests carrying their own provider key
	// (and keyless providers) are served.
	Keys KeySource
	// Tokens resolves local tokens. Nil means no local token is valid.
	Tokens TokenSource
	// Aliases resolves model names that stand for other models, with
	// their fallbacks (see alias.go). Nil means no aliases. When Ledger
	// is a SoftWatcher, an alias's over-soft target serves once a budget
	// is past its soft threshold.
	Aliases AliasSource

	// Transport sends requests upstream. Nil means NewTransport's, with
	// HeaderTimeout.
	Transport http.RoundTripper
	// HeaderTimeout bounds the wait for an upstream's response headers
	// when Transport is nil; 0 means 10 minutes (reasoning models think
	// long before the first byte).
	HeaderTimeout time.Duration
	// IdleTimeout bounds the silence between two reads of an upstream
	// body; 0 means 5 minutes.
	IdleTimeout time.Duration

	// MaxBodyBytes caps a request body; 0 means 32 MiB.
	MaxBodyBytes int64
	// MaxBodyBytesInFlight caps the request-body bytes held at once across
	// all requests: a request waits (up to BodyTimeout) for room before its
	// body is read. 0 means 64 MiB.
	MaxBodyBytesInFlight int64
	// BodyTimeout bounds the wait for room and, separately, the arrival of
	// a whole request body: a client that trickles it is cut. 0 means 30
	// seconds.
	BodyTimeout time.Duration
	// AllowedHosts are the exact Host header values served ("127.0.0.1:4020",
	// "localhost:4020", "[::1]:4020"), against DNS rebinding. Empty means
	// any Host; set it whenever the proxy listens on a real socket.
	AllowedHosts []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logf logs a line for the operator; nil means log.Printf. Keys and
	// local tokens are never passed to it.
	Logf func(format string, args ...any)

	providers atomic.Pointer[providerSet]
	prices    atomic.Pointer[Prices]
	policy    atomic.Pointer[Policy]

	// lastExpire is when ServeHTTP last charged expired background
	// holds, in Unix nanoseconds.
	lastExpire atomic.Int64

	transportOnce sync.Once
	transport     http.RoundTripper

	gateOnce sync.Once
	bodies   *bodyGate

	settling   sync.WaitGroup // settlements still being written; see Wait
	background atomic.Int64   // settlements in the background or about to be

	runaways guard // the runaway guard's memory

	// dialects are the wire formats served; nil means builtinDialects.
	dialects []dialect

	blockedRows rowLimiter // the rows of blocked requests

	baseURLs sync.Map // provider base URL → its *url.URL, parsed; see baseURL
}

// Policy is what the user decides about requests the proxy cannot price
// or that come from browsers. Its zero value is the safe default.
type Policy struct {
	// Unpriced says what to do with a model that has no price when a
	// budget applies to it: UnpricedRefuse (the default, "") or
	// UnpricedEstimate (hold UnpricedHold and mark the record estimated).
	Unpriced string
	// UnpricedHold is the conservative amount held for an unpriced model
	// under UnpricedEstimate; 0 means DefaultUnpricedHold.
	UnpricedHold Money
	// AllowedOrigins are browser origins ("http://localhost:3000") whose
	// requests are served. Every other browser request is refused.
	AllowedOrigins []string
	// CompatEndpoints sends OpenAI-format requests for Anthropic and
	// Gemini models to those providers' OpenAI-compatible endpoints, as
	// they came, instead of translating them for the providers' own APIs.
	// The compatible endpoints lack features (Anthropic's prompt caching
	// and thinking control) and approximate errors.
	CompatEndpoints bool
	// LogBodies keeps request and response bodies in the records, cut at
	// maxLoggedBody bytes, with secrets redacted.
	LogBodies bool
	// BackgroundHold is how long the hold of a background response stays
	// open waiting for the response to be read back; past it the hold is
	// charged. 0 means 24 hours.
	BackgroundHold time.Duration
	// StreamSlice is how many output tokens a stream is held for at a
	// time: a stream holds its input bound and one slice, and holds one
	// more slice whenever its output reaches what is held (when the
	// Ledger is an Extender). 0 means DefaultStreamSlice.
	StreamSlice int64
	// StrictHolds holds every stream's worst case up front, as a request
	// that does not stream is held.
	StrictHolds bool
	// FallbackAfter is how long an attempt at an alias's target that has
	// a fallback left waits for its first byte (the headers; for a
	// stream, its first event past the opening ones) before the next
	// target is tried. 0 means DefaultFallbackAfter; a negative value
	// waits as long as a request without a fallback does.
	FallbackAfter time.Duration
	// Loop is how repeated identical requests are stopped.
	Loop LoopPolicy
	// RPM caps requests per minute by local token name.
	RPM map[string]int
	// Pauses in force: a request they cover is refused. Ended ones are
	// ignored.
	Pauses []Pause
	// Location is the user's time zone, in which a dated price change
	// takes effect; nil means the local time zone.
	Location *time.Location
}

// DefaultStreamSlice is the output a stream is held for at a time unless
// the policy says otherwise: more than a typical answer, so that most
// streams are held once.
const DefaultStreamSlice = 8192

// DefaultFallbackAfter is Policy.FallbackAfter's default: well within the
// SDKs' own timeouts (10 minutes for OpenAI's and Anthropic's), so a
// fallback is tried while the caller still waits, and long enough for a
// reasoning model's first streamed event.
const DefaultFallbackAfter = 60 * time.Second

// fallbackAfter is how long an attempt with a fallback left waits for
// its first byte; 0 means no limit of its own.
func (pol Policy) fallbackAfter() time.Duration {
	switch {
	case pol.FallbackAfter == 0:
		return DefaultFallbackAfter
	case pol.FallbackAfter < 0:
		return 0
	}
	return pol.FallbackAfter
}

// SetPolicy replaces the policy in force.
func (p *Proxy) SetPolicy(pol Policy) { p.policy.Store(&pol) }

// Policy returns the policy in force.
func (p *Proxy) Policy() Policy {
	if pol := p.policy.Load(); pol != nil {
		return *pol
	}
	return Policy{}
}

// Budgeter is the optional capability of a Ledger that keeps budgets:
// whether any budget applies to a hold. Without it every Ledger is taken
// to have budgets.
type Budgeter interface {
	Budgeted(h Hold) bool
}

// Extender is the optional capability of a Ledger to raise an open hold,
// against the same budgets, when a stream costs more than was held for it
// (a price changed, or the provider counted more input than the bound). It
// returns an error wrapping a *Refusal when a budget cannot cover it.
// Without it, such a stream is cut.
type Extender interface {
	Extend(ctx context.Context, id string, amount Money) error
}

// SetProviders replaces the providers served. Nil restores the defaults.
// The keys of every provider in ps (their KeyPrefixes and KeyPattern) are
// redacted from what the proxy records and logs.
func (p *Proxy) SetProviders(ps map[string]Provider) {
	if ps == nil {
		p.providers.Store(nil)
		return
	}
	p.providers.Store(&providerSet{table: ps, redactor: newRedactor(ps), prefixes: newPrefixIndex(ps)})
}

// A providerSet is a provider table, the redactor of its keys and the
// index of its model prefixes.
type providerSet struct {
	table    map[string]Provider
	redactor *redactor
	prefixes prefixIndex
}

// providerTable returns the providers served.
func (p *Proxy) providerTable() map[string]Provider {
	return p.providerSet().table
}

// providerSet returns the providers served, with what is made of them.
func (p *Proxy) providerSet() *providerSet {
	if ps := p.providers.Load(); ps != nil {
		return ps
	}
	return &builtinProviderSet
}

// builtinProviderSet is the providerSet of defaultProviders.
var builtinProviderSet = providerSet{table: defaultProviders, redactor: builtinRedactor, prefixes: newPrefixIndex(defaultProviders)}

// redactor returns the redactor of the keys of the providers served.
func (p *Proxy) redactor() *redactor {
	if ps := p.providers.Load(); ps != nil {
		return ps.redactor
	}
	return builtinRedactor
}

var defaultProviders = DefaultProviders()

// SetPrices replaces the price table. Nil restores the embedded table.
func (p *Proxy) SetPrices(t *Prices) { p.prices.Store(t) }

// Prices returns the price table in force.
func (p *Proxy) Prices() *Prices {
	if t := p.prices.Load(); t != nil {
		return t
	}
	return DefaultPrices()
}

func (p *Proxy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Proxy) logf(format string, args ...any) {
	if p.Logf != nil {
		p.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (p *Proxy) roundTripper() http.RoundTripper {
	if p.Transport != nil {
		return p.Transport
	}
	p.transportOnce.Do(func() { p.transport = NewTransport(p.HeaderTimeout) })
	return p.transport
}

// NewTransport returns the transport a Proxy sends requests upstream with
// when its Transport is nil: tuned for many concurrent streams to few
// hosts, waiting headerTimeout for an upstream's response headers (0
// means 10 minutes).
func NewTransport(headerTimeout time.Duration) *http.Transport {
	if headerTimeout == 0 {
		headerTimeout = 10 * time.Minute
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		// An HTTP/1 connection's buffers live as long as the stream it
		// carries; 4 KiB each (the default) was a quarter of what an
		// open stream cost. A body larger than the write buffer still
		// goes out in large writes (bufio hands it to the connection's
		// ReadFrom), and a reader asking for more than the read buffer
		// holds reads straight from the connection.
		ReadBufferSize:        1 << 10,
		WriteBufferSize:       1 << 10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// exchange is one request on its way through the proxy.
type exchange struct {
	rec      Record
	route    route
	provider Provider
	compat   bool // an OpenAI-style request to a provider's OpenAI-compatible endpoint
	info     requestInfo
	billing  billing
	// row is the price row found for the model, the table's own (never
	// changed: the table is shared), nil when none was; price is row at
	// the request's time (dated and time-of-day rates resolved);
	// priceRef is the Ref of both.
	row      *Price
	price    Price
	priceRef string
	priced   bool
	// rates are row's rates as a record keeps them, shared with every
	// request charged at the row, or nil when row is not the table's
	// own (lookupShared).
	rates *sharedRates
	// unpricedHeld is what the hold reserved for parts of the request the
	// table cannot price (an unknown fee, modality or tier).
	unpricedHeld Money
	held         bool
	hold         Hold
	start        time.Time
	// logBodies: keep the bodies in the record; respBody collects the
	// answer up to maxLoggedBody.
	logBodies bool
	respBody  []byte
	// outBound is the most output the request allows (all choices).
	outBound int64
	// sliced: the hold covers outHeld output tokens, less than outBound,
	// and grows a slice at a time as the stream is relayed.
	sliced  bool
	outHeld int64
	slice   int64
	// sse: the answer will be an event stream Sluice meters event by
	// event (what a sliced hold needs).
	sse bool
	// userAgent names the calling tool, for advice in a refusal.
	userAgent string
	// reported is the usage the provider itself reported, before any
	// floor for an interrupted request was added.
	reported Usage
	// costed and cost remember the last usage priced while relaying a
	// stream: most events change nothing, and pricing allocates.
	costed    Usage
	cost      Money
	costKnown bool
	// ceiling and ceilingCost remember the last usage sliceCovers priced:
	// a sliced stream's usage with its output at outHeld.
	ceiling      Usage
	ceilingCost  Money
	ceilingKnown bool
	// settleAfter: the record is counted among the settlements in
	// flight and is to be written once the handler has returned
	// (Proxy.settleLater), as relayStream found before its last write.
	settleAfter bool
	// call is the prompt endpoint call this request carries, or nil.
	call *promptCall
	// deferred is the record of a background response waiting on the
	// response this read-back names, if any.
	deferred *Record
	// alias is what a request for an alias tries, nil for a request that
	// named a model itself.
	alias *aliasAttempts
	// in is what every attempt at the request starts from.
	in *attemptInput
	// flight registers the attempt being relayed, for a pause to cut.
	flight flight
	// inspected is the body inspectRequest read, one JSON object.
	inspected []byte
	// canon holds the canonical form of inspected for the loop
	// fingerprint, written as it was read, until the runaway guard takes
	// it; nil when it was not asked for.
	canon *fpCanon
	// cancel cancels the context of the attempt's upstream request, made
	// by outbound; relay calls it once the attempt is over.
	cancel context.CancelCauseFunc
	// trace gives the body's room back when the transport has written
	// the request (outbound).
	trace httptrace.ClientTrace
	// target and upBody are the URL and the body reader of the
	// attempt's upstream request, which outbound makes.
	target url.URL
	upBody bytes.Reader
	// idle times the upstream's silences while the answer is relayed;
	// keep is the answer relayBody keeps to read usage from. Both are
	// relay's, here to cost no allocations of their own.
	idle idleReader
	keep keepWriter
	// xl is the translation of a request sent in its provider's format
	// rather than the caller's, or nil. route, info and billing are then
	// the provider's.
	xl *translation
}

// isInspected reports whether body is the one inspectRequest read (not
// a body made from it since), known to be one JSON object.
func (x *exchange) isInspected(body []byte) bool {
	return len(body) > 0 && len(body) == len(x.inspected) && &body[0] == &x.inspected[0]
}

// ServeHTTP serves one provider request: it takes it through the stages
// of the request path (see doc.go) and relays the answer, or answers the
// failure that stopped it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.now()
	p.expireDeferred(start)
	// The first attempt's exchange and what every attempt starts from
	// are made at once, in one allocation.
	s := &served{}
	x := &s.first
	x.start, x.userAgent = start, headerValue(r.Header, "User-Agent")
	x.rec = Record{ID: NewID(start), Time: start}
	// The body's room is given back when the request is over, if the
	// transport has not given it back already.
	defer s.in.hold.release()
	out, hide, f := p.prepare(w, r, x, &s.in)
	for {
		if f != nil && x.alias.skips(x, f) {
			// This target cannot take the request (no key for its
			// provider, a key that may not go there, a budget refusing
			// a fallback): recorded, and the next target tried.
			p.record(r, x, f)
			x.alias.failed = x.provider.Name + "/" + x.rec.Model + " skipped: " + f.msg
			x = x.alias.next(x, p.now())
			out, hide, f = p.attempt(r, x)
			continue
		}
		if f != nil {
			if up := x.alias.upstreamFailure(f); up != nil {
				// The last target was skipped: the caller hears why the
				// target it was passed over for failed, not that a
				// fallback could not run.
				d := x.callerDialect()
				p.record(r, x, f)
				p.fail(w, r, d, nil, up)
				return
			}
			p.fail(w, r, x.callerDialect(), x, f)
			return
		}
		if !p.relay(w, r, x, out, hide) {
			return
		}
		// The target failed before its first byte, and was recorded: the
		// alias's next target, a request of its own.
		x = x.alias.next(x, p.now())
		out, hide, f = p.attempt(r, x)
	}
}

// served is what ServeHTTP makes for a request: its first attempt's
// exchange and what every attempt starts from, in one allocation.
type served struct {
	first exchange
	in    attemptInput
}

// prepare takes a request from its arrival to the request that goes
// upstream: guard, route, authenticate, read, inspect, choose the
// provider and its key, the runaway guard, estimate and hold. It returns
// the failure that stops it, if one does; x.route.dialect is then the
// dialect to answer in. in is filled, and becomes x.in, once the body is
// read; in.hold.release gives back the body's room (which it holds from
// the moment the body is read, whatever becomes of the request).
func (p *Proxy) prepare(w http.ResponseWriter, r *http.Request, x *exchange, in *attemptInput) (out *http.Request, hide bool, f *failure) {
	ds := p.dialectList()
	set := p.providerSet()
	providers := set.table
	// The dialect of an early refusal: a path with dot segments or
	// doubled slashes, refused below, is answered as its clean form would
	// be.
	clean := r.URL.Path
	if !strings.HasPrefix(clean, "/") {
		clean = "/" + clean
	}
	x.route.dialect = requestDialect(path.Clean(clean), r.Header, providers, ds)
	if f := p.guard(r); f != nil {
		return nil, false, f
	}
	if msg := checkRawPath(rawPath(r)); msg != "" {
		f := fail(http.StatusBadRequest, kindInvalid, "Sluice refuses this path: "+msg).blocked(ReasonRoute)
		f.unread = true
		return nil, false, f
	}
	if isWebSocket(r) {
		if ws, err := parseRoute(http.MethodPost, r.URL.Path, r.Header, providers, ds); err == nil && ws.metered() {
			// Codex tries the Responses WebSocket mode first and falls
			// back to HTTPS at once on a 426.
			// A route refusal: the row names the route it asked for.
			x.route.dialect = ws.dialect
			x.rec.Route, x.rec.Provider = string(ws.Name), ws.Provider
			f := fail(http.StatusUpgradeRequired, kindInvalid,
				"Sluice does not relay the WebSocket mode: use HTTPS (POST "+r.URL.Path+"), which it meters").blocked(ReasonRoute).with("Connection", "close")
			f.unread = true
			return nil, false, f
		}
	}
	rt, f := parseRoute(r.Method, r.URL.Path, r.Header, providers, ds)
	x.route = rt
	x.rec.Route, x.rec.Provider = string(rt.Name), rt.Provider
	if f != nil {
		return nil, false, f
	}

	// Authenticate from the headers (or Gemini's ?key=) before a byte of
	// the body is read: a caller without a credential, or with a local
	// token Sluice does not know, costs Sluice nothing but its headers.
	cred, bearer := credential(r, ds)
	if f := p.authenticate(r.Context(), x, cred, providers); f != nil {
		f.unread = true
		return nil, false, f
	}
	if msg := bodyTypeProblem(r, rt); msg != "" {
		f := fail(http.StatusUnsupportedMediaType, kindInvalid, msg).blocked(ReasonRequest)
		f.unread = true
		return nil, false, f
	}
	body, f := p.readBody(w, r, &in.hold)
	if f != nil {
		return nil, false, f
	}

	x.logBodies = p.Policy().LogBodies
	x.call = promptCallOf(r)
	x.rec.Prompt = x.call.promptName()
	if x.logBodies {
		x.rec.RequestBody = p.redactor().loggedBody(body)
	}
	in.body, in.cred, in.bearer, in.providers, in.prefixes, in.route, in.token = body, cred, bearer, providers, set.prefixes, rt, x.rec.Token
	x.in = in
	return p.attempt(r, x)
}

// attemptInput is what each attempt at a request starts from: the body as
// the caller sent it, the caller's credential, and the providers in force
// when it arrived.
type attemptInput struct {
	body      []byte
	cred      string
	bearer    bool
	providers map[string]Provider
	prefixes  prefixIndex // of providers
	route     route       // the route as parsed
	token     string      // the local token's name, once authenticated
	// hold is the body's room in the gate: outbound has the transport
	// give it back once the body has gone upstream for the last time.
	hold bodyHold
}

// attempt takes a read request on to the request that goes upstream:
// choose the provider (or the alias's next target) and its key, the
// runaway guard (once a request), estimate and hold. A request for an
// alias may be attempted once for each of its targets.
func (p *Proxy) attempt(r *http.Request, x *exchange) (out *http.Request, hide bool, f *failure) {
	rt := x.route
	cred, bearer, providers := x.in.cred, x.in.bearer, x.in.providers
	body, f := p.choose(r, x, x.in.body, providers)
	if f != nil {
		x.dropCanon()
		return nil, false, f
	}
	key, f := p.upstreamKey(r.Context(), x, cred, providers)
	if f != nil {
		x.dropCanon()
		return nil, false, f
	}
	if x.rec.Attempt <= 1 {
		if f := p.runaway(x, body); f != nil {
			return nil, false, f
		}
	}

	// A read-back of a background response Sluice holds for is watched
	// for the finished response's usage.
	if rt.Op != "" {
		p.findDeferred(r.Context(), x)
	}

	// Estimate and hold before a byte goes upstream.
	if rt.metered() {
		if f := p.admit(x); f != nil {
			return nil, false, f
		}
		body, hide = x.route.dialect.prepare(x.route, x.info, body)
	}

	out, err := p.outbound(r, x, body, key, bearer)
	if err != nil {
		p.finish(x, http.StatusBadGateway, OutcomeError, Usage{}, err.Error())
		return nil, false, fail(http.StatusBadGateway, kindUpstream, "Sluice could not build the upstream request: "+err.Error())
	}
	return out, hide, nil
}

// findDeferred sets x.deferred to the record the ledger keeps deferred
// for the background response x reads back, if there is one. It is
// attempt's but a function of its own, so that the record it reads is off
// the stack when attempt goes on to hold: a handler's stack must stay
// within 16 KB (TestHandlerStack).
//
//go:noinline
func (p *Proxy) findDeferred(ctx context.Context, x *exchange) {
	dl, ok := p.Ledger.(Deferrer)
	if !ok {
		return
	}
	rec, found, err := dl.Deferred(ctx, x.provider.Name+"/"+x.route.ID)
	if err != nil {
		p.logf("sluice: deferred %s/%s: %v", x.provider.Name, x.route.ID, err)
	}
	if found {
		x.deferred = &rec
	}
}

// authenticate checks the caller's credential against the route, from the
// headers and the query alone, before the body is read. A local token must be known; a provider key of the
// caller's own must be one that may go where the route leads. With no
// credential at all, only a keyless provider named in the path
// (/ollama/v1/...) is served.
func (p *Proxy) authenticate(ctx context.Context, x *exchange, cred string, providers map[string]Provider) *failure {
	switch {
	case IsLocalToken(cred):
		name, err := p.token(ctx, cred)
		if errors.Is(err, ErrUnknownToken) {
			return fail(http.StatusUnauthorized, kindAuth, "this Sluice token is not known (revoked?): make a new one with `sluice token new NAME`").blocked(ReasonAuth)
		}
		if err != nil {
			return fail(http.StatusServiceUnavailable, kindUnavailable, "Sluice could not check its token: "+err.Error()).because(err)
		}
		x.rec.Token = name
	case cred == "" && !providers[x.route.Provider].Keyless:
		return fail(http.StatusUnauthorized, kindAuth, noKeyMessage).blocked(ReasonAuth)
	case cred != "":
		if msg := unservableKey(cred, x.route, providers); msg != "" {
			return fail(http.StatusUnauthorized, kindAuth, msg).blocked(ReasonAuth)
		}
	}
	return nil
}

// choose reads what a metered request's body says (inspect) and picks
// the provider it goes to: the one its route names, or the one its model
// does. It returns the body to send, with the model as the provider
// spells it.
func (p *Proxy) choose(r *http.Request, x *exchange, body []byte, providers map[string]Provider) ([]byte, *failure) {
	rt, d := x.route, x.route.dialect
	model := rt.Model
	if rt.metered() {
		// The runaway guard fingerprints the body of a first attempt: its
		// canonical form is written in the walk that inspects it.
		var canon *fpCanon
		if x.rec.Attempt <= 1 && (x.alias == nil || x.alias.i == 0) && !p.Policy().Loop.Off {
			canon = fpCanons.Get().(*fpCanon)
		}
		var err error
		x.info, x.billing, err = inspectRequest(p.dialectList(), d, rt, body, canon)
		if err != nil {
			if canon != nil {
				canon.put()
			}
			return nil, fail(http.StatusBadRequest, kindInvalid, "Sluice could not read this request: "+err.Error()).blocked(ReasonRequest)
		}
		x.inspected, x.canon = body, canon
		if model == "" {
			model = x.info.Model
		}
		if model == "" {
			return nil, fail(http.StatusBadRequest, kindInvalid, "the request names no model").blocked(ReasonRequest)
		}
	}
	provName := rt.Provider
	if rt.metered() && !rt.prefixed {
		if x.alias == nil {
			a, f := p.resolveAlias(x, model, providers)
			if f != nil {
				return nil, f
			}
			x.alias = a
		}
		if s, ok := x.alias.current(); ok {
			var f *failure
			if body, f = x.alias.use(x, s, body); f != nil {
				return nil, f
			}
			provName, model = s.target.Provider, s.target.Model
		}
	}
	if x.alias == nil && rt.metered() && !rt.prefixed && provName != "" {
		// A model of another provider, named on a route of this format
		// whose own provider would serve it otherwise.
		if mp, um, ok := modelProvider(model, nil, providers, x.in.prefixes, p.Prices()); ok {
			provName, model = mp, um
		}
	}
	if provName == "" {
		provName, model = routeModel(model, d, providers, x.in.prefixes, p.Prices())
	}
	return p.aim(r, x, body, Target{Provider: provName, Model: model}, providers)
}

// upstreamKey is the key the request goes upstream with: a local token is
// swapped for the provider's key; a provider key of the caller's own goes
// to the provider that issued it, and nowhere else; a keyless provider
// gets none. A key goes only to the provider's official address, or to
// one the user confirmed from the command line.
func (p *Proxy) upstreamKey(ctx context.Context, x *exchange, cred string, providers map[string]Provider) (string, *failure) {
	prov := x.provider
	var key string
	switch {
	case IsLocalToken(cred):
		if prov.Keyless {
			break
		}
		k, err := p.key(ctx, prov.Name)
		if errors.Is(err, ErrNoKey) {
			msg := fmt.Sprintf("Sluice has no %s key: add one with `sluice key set %s` (or in the Keys page)", prov.Name, prov.Name)
			if err != ErrNoKey {
				// Why, in the key source's words: with no keyring,
				// which environment variable to set.
				msg += ". " + err.Error()
			}
			f := fail(http.StatusUnauthorized, kindAuth, msg).blocked(ReasonAuth)
			f.elsewhere = true
			return "", f
		}
		if err != nil {
			return "", fail(http.StatusServiceUnavailable, kindUnavailable,
				fmt.Sprintf("Sluice could not read its %s key: %v", prov.Name, err)).because(err)
		}
		key = k
	case cred != "" && prov.Keyless:
		// A local model needs no key: the caller's goes nowhere.
		x.rec.Token = ClientKeyToken
	case cred != "":
		if msg := foreignKey(cred, prov, providers); msg != "" {
			f := fail(http.StatusUnauthorized, kindAuth, msg).blocked(ReasonAuth)
			f.elsewhere = true
			return "", f
		}
		x.rec.Token = ClientKeyToken
		key = cred
	case prov.Keyless:
		x.rec.Token = ""
	default:
		return "", fail(http.StatusUnauthorized, kindAuth, noKeyMessage).blocked(ReasonAuth)
	}
	if key != "" && prov.UnconfirmedHost != "" {
		return "", fail(http.StatusForbidden, kindPermission, unconfirmedMessage(prov)).blocked(ReasonAuth)
	}
	return key, nil
}

// noKeyMessage answers a request with no credential for a provider that
// needs a key.
const noKeyMessage = "no API key: make a local token with `sluice token new NAME` and pass it as your SDK's API key (`eval \"$(sluice env)\"` sets it up); a keyless local server such as Ollama takes requests with no key under its own prefix, /ollama/v1"

// ClientKeyToken is the token name recorded for requests that carried a
// provider key of their own.
const ClientKeyToken = "client key"

func (p *Proxy) token(ctx context.Context, secret string) (string, error) {
	if p.Tokens == nil {
		return "", ErrUnknownToken
	}
	return p.Tokens.Token(ctx, secret)
}

func (p *Proxy) key(ctx context.Context, provider string) (string, error) {
	if p.Keys == nil {
		return "", ErrNoKey
	}
	return p.Keys.Key(ctx, provider)
}

// admit estimates the worst-case cost of x and holds it, or returns the
// failure that says why the request must not go upstream.
func (p *Proxy) admit(x *exchange) *failure {
	x.row, x.priceRef, x.rates, x.priced = p.Prices().lookupShared(x.provider.Name, x.rec.Model)
	at := x.start.In(p.location())
	switch {
	case !x.priced:
	case len(x.row.Earlier) == 0 && len(x.row.Windows) == 0:
		x.price = *x.row // the same at any time, without At's copies
	default:
		x.price = x.row.At(at)
	}
	h := Hold{ID: x.rec.ID, Time: x.start, Token: x.rec.Token, Provider: x.provider.Name,
		Model: x.rec.Model, Route: string(x.route.Name), Stream: x.rec.Stream, Prompt: x.rec.Prompt}
	switch {
	case x.route.Free, x.provider.Keyless:
		// Nothing to hold: free routes and local models cost nothing.
	case x.priced:
		h.Amount, x.outBound = worstCost(x.row, at, &x.info, &x.billing, &x.route)
		x.outHeld = x.outBound
		if slice := p.streamSlice(x); slice > 0 && slice < x.outBound {
			x.sliced, x.slice, x.outHeld = true, slice, slice
			h.Amount = p.sliceCost(x, slice)
		}
		// A part the table cannot price (a fee, modality, tier or
		// region it lists no rate for) falls under the unpriced-model
		// policy, like a model without a price.
		if unknown := x.price.Unpriced(x.billing.probe()); len(unknown) > 0 {
			budgeted := true
			if b, ok := p.Ledger.(Budgeter); ok {
				budgeted = b.Budgeted(h)
			}
			pol := p.Policy()
			if budgeted && !pol.estimatesUnpriced() {
				x.rec.Priced, x.rec.PriceRef, x.rec.Unpriced = true, x.priceRef, unknown
				x.rec.Error = "part of this request has no price: " + strings.Join(unknown, "; ")
				return fail(http.StatusPaymentRequired, kindUnpriced,
					fmt.Sprintf("Sluice cannot price all of this %s request to %q (%s) and a budget applies, so it cannot promise the budget holds: add the rate with `sluice prices import FILE` (or in the Prices page), or set the unpriced-model policy to estimate", x.provider.Name, x.rec.Model, strings.Join(unknown, "; "))).refused(ReasonUnpriced)
			}
			x.unpricedHeld = pol.unpricedCharge()
			h.Amount = addMoney(h.Amount, x.unpricedHeld)
			h.Estimated = true
		}
	default:
		budgeted := true
		if b, ok := p.Ledger.(Budgeter); ok {
			budgeted = b.Budgeted(h)
		}
		if budgeted {
			pol := p.Policy()
			if !pol.estimatesUnpriced() {
				x.rec.Error = "no price known for " + x.provider.Name + "/" + x.rec.Model
				return fail(http.StatusPaymentRequired, kindUnpriced,
					fmt.Sprintf("Sluice has no price for %s model %q and a budget applies, so it cannot promise the budget holds. Fix: run `sluice prices update` (the current price table; or Update on the Prices page). Or add the price with `sluice prices import FILE`, or set the unpriced-model policy to estimate", x.provider.Name, x.rec.Model)).refused(ReasonUnpriced)
			}
			h.Amount = pol.unpricedCharge()
			h.Estimated = true
		}
	}
	if err := p.Ledger.Hold(context.Background(), h); err != nil {
		return p.holdFailed(x, h, at, err)
	}
	x.held, x.hold = true, h
	x.rec.Held = h.Amount
	x.rec.Estimated = h.Estimated
	x.rec.Priced = x.priced || x.provider.Keyless
	if x.priced {
		x.rec.PriceRef = x.priceRef
	}
	return nil
}

// holdFailed is the failure of a hold of h for x, made at at, that the
// ledger refused (a budget: the refusal says what would fit) or could
// not record. It is admit's, but a function of its own, so that neither
// its frame nor the refusal its errors.As needs the address of is paid
// by a hold that succeeds.
//
//go:noinline
func (p *Proxy) holdFailed(x *exchange, h Hold, at time.Time, err error) *failure {
	var ref *Refusal
	if !errors.As(err, &ref) {
		return fail(http.StatusServiceUnavailable, kindUnavailable,
			"Sluice could not record this request in its ledger, so it was not sent: "+err.Error()).because(fmt.Errorf("hold %s: %w", x.rec.ID, err))
	}
	x.rec.Held = h.Amount
	x.rec.Budget = ref.Budget
	rem := ref.Remaining
	x.rec.Remaining = &rem
	x.rec.Error = refusalMessage(ref, "")
	x.rec.Priced = x.priced
	hint := ""
	if x.priced && !x.route.embeds {
		hi := x.info.MaxOutput
		if hi <= 0 || x.price.MaxOutput > 0 && hi > x.price.MaxOutput {
			hi = x.price.MaxOutput
		}
		if hi <= 0 {
			hi = defaultMaxOutput
		}
		n, ok := affordable(ref.Remaining, func(n int64) Money {
			info := x.info
			info.MaxOutput = n
			c, _ := worstCost(x.row, at, &info, &x.billing, &x.route)
			return c
		}, hi-1)
		// The endpoint names the request's output bound; one that
		// has none cannot be made smaller.
		if field := x.route.maxField; ok && field != "" {
			ns := strconv.FormatInt(n, 10)
			hint = "A request with " + field + " at most " + ns + " would fit."
			if isClaudeCode(x.userAgent) {
				hint += " Claude Code sets it with CLAUDE_CODE_MAX_OUTPUT_TOKENS=" + ns + "."
			}
		}
	}
	f := fail(http.StatusPaymentRequired, kindBudget, refusalMessage(ref, hint)).refused(ReasonBudget)
	f.ref = ref
	return f
}

// worstCost is the most the request can cost at row, made at t: every
// input token at the dearest input rate that can apply (a cache write can
// cost more than plain input, audio more than text; a long-context tier
// when the bound crosses it), every output token the request allows at
// the dearest output rate it can be billed at, the service tier and
// region it asks for, at whichever time-of-day rate is dearer, and the
// most server-side tool calls its tool settings allow.
//
// It takes its arguments by pointer, changing none of them: they are some
// 700 bytes, which a copy in the frames of admit and its callers would
// spend on every handler's stack (TestHandlerStack).
func worstCost(row *Price, t time.Time, info *requestInfo, b *billing, rt *route) (Money, int64) {
	// The output and context limits are the row's own: At and
	// alternatives change only its rates.
	out := info.MaxOutput
	if out <= 0 || (row.MaxOutput > 0 && out > row.MaxOutput) {
		out = row.MaxOutput
	}
	if out <= 0 {
		out = defaultMaxOutput
	}
	choices := info.Choices
	if choices < 1 {
		choices = 1
	}
	out *= choices
	if rt.embeds {
		out = 0
	}
	in := info.InputBound
	if info.InputUnbounded && row.ContextWindow > in {
		// Input the body cannot bound (a stored conversation, cached
		// content, server-side tools): the whole context window may be
		// read.
		in = row.ContextWindow
	}
	var worst Money
	// The usages differ only in how their tokens split, never in their
	// input tokens, service tier, region or speed: one resolution of
	// each row's rates prices them all. Each is made as it is priced,
	// and each alternative row too: nothing is allocated, and the frame
	// holds one of each (TestHandlerStack).
	all := b.worstVariants()
	for i := range row.windows() {
		alt := row.alternative(t, i)
		u := b.worstUsage(in, out, 0)
		r, _ := alt.resolveRates(u, max(u.InputTokens, 0), false)
		for v := all; ; v = (v - 1) & all {
			if !worstDuplicate(v) {
				u = b.worstUsage(in, out, v)
				if c := alt.costWith(u, &r); c > worst {
					worst = c
				}
			}
			if v == 0 {
				break
			}
		}
	}
	return worst, out
}

// probe is a usage with one of each thing the request can be billed for
// apart from text tokens, to ask a price row which of them it cannot
// price.
func (b billing) probe() Usage {
	u := Usage{InputTokens: 1, OutputTokens: 1, ServiceTier: b.tier, InferenceGeo: b.geo, Speed: b.speed, WebSearchCalls: b.webSearch}
	if b.audioIn {
		u.InputTokens++
		u.InputAudioTokens = 1
	}
	if b.audioOut {
		u.OutputTokens++
		u.OutputAudioTokens = 1
	}
	if b.imageOut {
		u.OutputTokens++
		u.OutputImageTokens = 1
	}
	if b.codeExec {
		u.CodeExecutionCalls = 1
	}
	return u
}

// location is the user's time zone.
func (p *Proxy) location() *time.Location {
	if loc := p.Policy().Location; loc != nil {
		return loc
	}
	return time.Local
}

// defaultMaxOutput bounds the output of a model whose price row gives no
// maximum, for a request that sets none.
const defaultMaxOutput = 65536

// outbound builds the request to the provider: the route's own path
// joined to the provider's base, the caller's headers and query without
// any credential, and key, the one credential the provider reads.
func (p *Proxy) outbound(r *http.Request, x *exchange, body []byte, key string, bearer bool) (*http.Request, error) {
	q := outboundQuery(requestQuery(r), p.dialectList())
	if x.xl != nil {
		q = x.xl.query
	}
	base, err := p.baseURL(x.provider.BaseURL)
	if err != nil {
		return nil, err
	}
	target := &x.target
	setTarget(target, base, &x.provider, x.route.dialect, x.compat, x.route.Path, q)
	// The attempt's context, which relay cancels with a cause (a pause,
	// the idle timeout, a fallback's first-byte timeout), made here so
	// that the request is not copied to take it.
	ctx, cancel := context.WithCancelCause(r.Context())
	// The body's room in the gate is given back once it has gone
	// upstream for the last time, not when a long stream ends: the
	// transport says when it has written the request. The body stays a
	// bytes.Reader, as NewRequest would have it, which the transport
	// sends with the headers in one write (a reader of another type has
	// the headers flushed first, in a write of their own).
	last := x.in != nil && len(body) > 0 && !x.alias.more()
	if last {
		hold := &x.in.hold
		x.trace = httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { hold.release() }}
		ctx = httptrace.WithClientTrace(ctx, &x.trace)
	}
	// The request is made as NewRequestWithContext makes it, without
	// what it makes only for it to be replaced: a URL parsed from a
	// string, an empty header, the reader and a GetBody for a last
	// attempt, which is never sent again. The target is set as built,
	// not spelled out and parsed again: a URL's String, parsed, is the
	// same URL (the path escaped as EscapedPath escapes it either way),
	// but for an empty port, which NewRequest drops from Host.
	target.Host = strings.TrimSuffix(target.Host, ":")
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var rd io.ReadCloser = http.NoBody
	if len(body) > 0 {
		x.upBody.Reset(body)
		rd = io.NopCloser(&x.upBody)
	}
	out := (&http.Request{Method: method, URL: target, Host: target.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: r.Header.Clone(), Body: rd, ContentLength: int64(len(body))}).WithContext(ctx)
	if !last {
		// An attempt that may be made again (the transport retries a
		// request whose connection died before it was answered).
		out.GetBody = func() (io.ReadCloser, error) {
			if len(body) == 0 {
				return http.NoBody, nil
			}
			return io.NopCloser(bytes.NewReader(body)), nil
		}
	}
	x.cancel = cancel
	stripRequestHeaders(out.Header, p.dialectList())
	// The route's dialect is the provider's, or the one its compatible
	// endpoint speaks: it says where the key goes.
	if x.xl != nil {
		x.route.dialect.(translatingDialect).targetHeaders(out.Header)
	}
	x.route.dialect.info().setKey(out.Header, key, bearer)
	if headerValue(out.Header, "User-Agent") == "" {
		out.Header["User-Agent"] = []string{"sluice"}
	}
	return out, nil
}

// baseURL is url.Parse(s), remembered when it succeeds: parsing a
// provider's base URL for every request was a measurable part of
// building it. The parsed URLs are never changed; the entries are as
// many as the base URLs ever served.
func (p *Proxy) baseURL(s string) (*url.URL, error) {
	if u, ok := p.baseURLs.Load(s); ok {
		return u.(*url.URL), nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	p.baseURLs.Store(s, u)
	return u, nil
}

// rawPath is r's path as it came on the wire, before decoding.
func rawPath(r *http.Request) string {
	raw := r.RequestURI
	if raw == "" {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if !strings.HasPrefix(raw, "/") {
		// An absolute URL (a request meant for a proxy): its path.
		return r.URL.EscapedPath()
	}
	return raw
}

// headerValue is h.Get(k) for a key k in canonical form (a constant, or
// a list TestHeaderListsCanonical checks): Get canonicalizes the key it
// is given, every time, which was a measurable part of a request that
// reads ten headers.
func headerValue(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// strippedRequestHeaders never go upstream: hop-by-hop headers, what
// belongs to the connection with Sluice, and browser context. Accept-Encoding
// is dropped so that the transport negotiates compression itself and Sluice
// reads usage from plain bytes.
var strippedRequestHeaders = []string{
	"Host", "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length", "Accept-Encoding", "Cookie", "Origin", "Referer",
	"Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
}

// deleteHeaders deletes the keys ks, each in its canonical form, from h:
// what h.Del does with each, without canonicalizing keys already
// canonical (TestHeaderListsCanonical).
func deleteHeaders(h http.Header, ks []string) {
	for _, k := range ks {
		delete(h, k)
	}
}

// removeConnectionHeaders deletes from h the headers its Connection
// header names (hop-by-hop, for this connection only).
func removeConnectionHeaders(h http.Header) { removeNamed(h, h["Connection"]) }

// removeNamed deletes from h the headers the Connection header values
// conn name.
func removeNamed(h http.Header, conn []string) {
	for _, f := range conn {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
}

// copyResponseHeaders copies the upstream's headers src to dst, the
// caller's, without strippedResponseHeaders and the headers src's
// Connection names. Into an empty dst (as every answer's are), it copies
// what is kept rather than deleting each name of the list after.
func copyResponseHeaders(dst, src http.Header) {
	if len(dst) > 0 {
		for k, vs := range src {
			dst[k] = vs
		}
		removeConnectionHeaders(dst) // before Connection itself goes
		deleteHeaders(dst, strippedResponseHeaders)
		return
	}
	for k, vs := range src {
		if !responseStripped[k] {
			dst[k] = vs
		}
	}
	removeNamed(dst, src["Connection"])
}

// responseStripped holds the names of strippedResponseHeaders.
var responseStripped = headerSet(strippedResponseHeaders)

// strippedResponseHeaders never go back to the caller: hop-by-hop headers,
// upstream cookies and CORS grants (Sluice grants no browser access).
var strippedResponseHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "Set-Cookie", "Alt-Svc",
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
	"Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
	"Access-Control-Expose-Headers", "Access-Control-Max-Age",
}

// guard refuses what must not reach a provider route: a Host outside the
// allowlist (DNS rebinding) and browser requests from origins not allowed.
func (p *Proxy) guard(r *http.Request) *failure {
	refuse := func(msg string) *failure {
		f := fail(http.StatusForbidden, kindPermission, msg).blocked(ReasonGuard)
		f.unread = true
		return f
	}
	if len(p.AllowedHosts) > 0 && !containsFold(p.AllowedHosts, r.Host) {
		return refuse(fmt.Sprintf("Sluice does not answer for host %q; use %s", r.Host, p.AllowedHosts[0]))
	}
	origin := headerValue(r.Header, "Origin")
	site := headerValue(r.Header, "Sec-Fetch-Site")
	if origin == "" && (site == "" || site == "none") {
		return nil // not a browser, or a user typing a URL
	}
	if origin != "" && containsFold(p.Policy().AllowedOrigins, origin) {
		return nil
	}
	if origin == "" {
		origin = "(a browser page, Sec-Fetch-Site: " + site + ")"
	}
	return refuse(fmt.Sprintf("Sluice refuses browser requests from %s to provider routes: a web page must not spend your keys; allow the origin in Settings if it is yours", origin))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// setJSONMember returns the JSON object body with member name set to the
// string value, every other member kept as it was. An empty name (a
// format that names no model member) is an error.
func setJSONMember(body []byte, name, value string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("its format names no member to set the model in")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	v, _ := json.Marshal(value)
	m[name] = v
	return json.Marshal(m)
}

// NewID returns a request id that sorts by time: 16 hex digits of Unix
// nanoseconds and 8 random ones. The random part comes from the runtime's
// ChaCha8 generator, seeded from the system's randomness once per process
// and thread, so ids stay unguessable without a system call per request.
func NewID(t time.Time) string {
	const digits = "0123456789abcdef"
	var b [24]byte
	n, r := uint64(t.UnixNano()), rand.Uint32()
	for i := 15; i >= 0; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	for i := 23; i >= 16; i-- {
		b[i] = digits[r&15]
		r >>= 4
	}
	return string(b[:])
}
