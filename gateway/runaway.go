package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The runaway guard stops what a day's budget is too slow to stop: an
// agent stuck sending the same request again and again, a token sending
// more requests a minute than its cap, and everything while the user has
// paused Sluice. Refusals are answered in the caller's dialect, with
// x-should-retry: false so that the SDKs do not send them again.

// Reasons a request was refused, as Record.Reason keeps them.
const (
	ReasonBudget   = "budget"   // a budget cannot cover it (402)
	ReasonUnpriced = "unpriced" // no price for the model, or part of the request, and a budget applies (402)
	ReasonLoop     = "loop"     // the same request repeated too often (429)
	ReasonRPM      = "rpm"      // the token's requests-per-minute cap (429)
	ReasonPause    = "pause"    // Sluice, or the token, is paused (402)
	// Blocked before admission: never forwarded.
	ReasonGuard   = "guard"   // a Host not served, or a browser page (403)
	ReasonAuth    = "auth"    // no credential, an unknown token, or a key that may not go there (401, 403)
	ReasonRoute   = "route"   // no such route or prompt, or no provider for a prompt's model; a path, method or WebSocket upgrade Sluice refuses (404, 405, 502, 400, 426)
	ReasonRequest = "request" // a body or prompt inputs Sluice cannot take or read (400, 413, 415)
)

// Loop detection defaults: the ninth identical request within two
// minutes is refused.
const (
	DefaultLoopLimit  = 8
	DefaultLoopWindow = 2 * time.Minute
)

// LoopPolicy is how loops are detected. Its zero value is the default:
// on, DefaultLoopLimit repeats within DefaultLoopWindow.
type LoopPolicy struct {
	// Off turns loop detection off.
	Off bool
	// Limit is how many identical requests may be sent within Window;
	// the next is refused. 0 means DefaultLoopLimit.
	Limit int
	// Window is how far back repeats count; 0 means DefaultLoopWindow.
	Window time.Duration
	// Allowed exempts tokens, by name, until the time given.
	Allowed map[string]time.Time
}

func (lp LoopPolicy) limit() int {
	if lp.Limit <= 0 {
		return DefaultLoopLimit
	}
	return lp.Limit
}

func (lp LoopPolicy) window() time.Duration {
	if lp.Window <= 0 {
		return DefaultLoopWindow
	}
	return lp.Window
}

// Pause stops requests until it ends or the user resumes.
type Pause struct {
	// Token is the local token paused; "" pauses every request.
	Token string    `json:"token,omitempty"`
	Since time.Time `json:"since"`
	// Until is when the pause ends by itself; zero lasts until resumed.
	Until time.Time `json:"until,omitzero"`
	// Cut says open streams were cut when the pause began, rather than
	// left to finish.
	Cut bool `json:"cut,omitempty"`
}

// Active reports whether p is in force at now.
func (p Pause) Active(now time.Time) bool {
	return p.Until.IsZero() || now.Before(p.Until)
}

// covers reports whether p stops a request made with token.
func (p Pause) covers(token string) bool { return p.Token == "" || p.Token == token }

// guard is the runaway guard's memory: recent requests by fingerprint,
// recent admissions by token, and the streams open now. Safe for
// concurrent use.
type guard struct {
	mu sync.Mutex // guards the fields below
	// cur and prev are the requests counted in this generation of the
	// loop guard's memory and in the one before. A generation lasts at
	// least a loop window; forgetting drops prev whole, once nothing in
	// it is within the window, rather than walking a million
	// fingerprints with every request waiting on mu.
	cur, prev generation
	base      time.Time              // the origin of seen.at: the first request's time
	since     int64                  // when cur began, as seen.at
	minute    map[string][]time.Time // token → admissions in the last minute
	flights   map[*flight]struct{}
}

// generation is the requests counted during one period of a loop window
// or more, by fingerprint key (see fingerprintKey). Its maps hold no
// pointers but many's slices, so the collector does not scan the million
// entries a busy window leaves in once: nearly every request is sent
// once, and many holds only the few sent again within the window.
type generation struct {
	once   map[uint64]seen   // key → when it was sent, or manyTimes
	many   map[uint64][]seen // key → its times, oldest first, when once says manyTimes
	newest int64             // the latest seen.at counted in it
}

// seen is when a request was sent: at, in nanoseconds since guard.base
// on the clock the guard is given (monotonic, as time.Now's readings
// compare), which the window is measured on, and wall, in Unix
// nanoseconds, which the loop message shows.
type seen struct{ at, wall int64 }

// manyTimes in seen.at says the times are in generation.many. Time.Sub
// saturates there only for a time 292 years before the guard's first.
const manyTimes = math.MinInt64

// fingerprintKey is the key of fingerprint fp in the loop guard's
// memory: its first 64 bits. Two different requests share a key with
// odds of 2⁻⁶⁴; a request is looked up among at most the two
// generations' keys, about 2 million at 9,000 requests a second, so a
// false match has odds near 10⁻¹³ a request — once in about 30 years of
// that load without a pause. And a false match only adds one to another
// request's count: it refuses nothing unless that one is itself at the
// loop limit. The fingerprint hashes the token in, so a caller who
// crafted a collision (2³² tries) could only refuse their own requests.
func fingerprintKey(fp [32]byte) uint64 { return binary.LittleEndian.Uint64(fp[:8]) }

// flight is a request being relayed, which a pause may cut.
type flight struct {
	token  string
	cancel context.CancelCauseFunc
}

// errPaused is the cause of a stream cut by a pause.
var errPaused = errors.New("stream cut: Sluice was paused")

// runaway returns the failure that refuses x when a pause, the token's
// requests-per-minute cap or loop detection stops it. It is the runaway
// guard's one step in the request path.
func (p *Proxy) runaway(x *exchange, body []byte) *failure {
	now := x.start
	pol := p.Policy()
	token := x.rec.Token
	for _, pa := range pol.Pauses {
		if pa.Active(now) && pa.covers(token) {
			return fail(http.StatusPaymentRequired, kindPaused, pauseMessage(pa, token)).refused(ReasonPause).with("X-Sluice-Paused", "true")
		}
	}
	g := &p.runaways
	canon := x.canon
	if canon != nil {
		x.canon = nil
		defer canon.put()
	}
	if x.route.metered() && !pol.Loop.Off && !(pol.Loop.Allowed[token].After(now)) {
		var fp [32]byte
		if canon != nil && x.isInspected(body) {
			fp = canon.sum(token, x.rec.Model, string(x.route.Name), nil)
		} else {
			fp = fingerprintOf(token, x.rec.Model, string(x.route.Name), body, x.isInspected(body))
		}
		if n, first := g.repeat(fp, now, pol.Loop.limit(), pol.Loop.window()); n > pol.Loop.limit() {
			msg := loopMessage(token, x.rec.Provider, x.rec.Model, x.route.Path, bodyWords(x.route.dialect.info(), body), fp, n, first, pol.Loop)
			return fail(http.StatusTooManyRequests, kindLoop, msg).refused(ReasonLoop)
		}
	}
	if limit := pol.RPM[token]; limit > 0 {
		if wait := g.admitRPM(token, now, limit); wait > 0 {
			secs := int(wait.Seconds() + 0.999)
			msg := fmt.Sprintf("Sluice caps token %q at %d requests a minute, and it has sent %d in the last minute; the next fits in %ds. Change the cap with `sluice token rpm %s N` (0 removes it).",
				token, limit, limit, secs, shellQuote(token))
			return fail(http.StatusTooManyRequests, kindRateLimit, msg).refused(ReasonRPM).with("Retry-After", strconv.Itoa(secs))
		}
	}
	return nil
}

func pauseMessage(pa Pause, token string) string {
	var b strings.Builder
	if pa.Token == "" {
		b.WriteString("Sluice is paused: every request is refused")
	} else {
		fmt.Fprintf(&b, "Sluice has paused token %q: its requests are refused", token)
	}
	if pa.Until.IsZero() {
		b.WriteString(" until you resume")
	} else {
		fmt.Fprintf(&b, " until %s", pa.Until.Local().Format("15:04:05 MST"))
	}
	fmt.Fprintf(&b, " (paused since %s). Nothing was sent upstream. Resume with `sluice resume", pa.Since.Local().Format("15:04:05"))
	if pa.Token != "" {
		b.WriteString(" --token " + shellQuote(pa.Token))
	}
	b.WriteString("` or the Resume button in Sluice's window.")
	return b.String()
}

func loopMessage(token, provider, model, path, desc string, fp [32]byte, n int, first time.Time, lp LoopPolicy) string {
	who := "token " + strconv.Quote(token)
	if token == "" {
		who = "a caller with no token"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Sluice stopped a loop: %s has sent this same request (%s %s on %s", who, provider, model, path)
	if desc != "" {
		fmt.Fprintf(&b, ", ending %q", desc)
	}
	fmt.Fprintf(&b, "; fingerprint %s) %d times since %s, more than the %d allowed in %s. Nothing was sent upstream.",
		hex.EncodeToString(fp[:4]), n, first.Local().Format("15:04:05"), lp.limit(), lp.window())
	if token != "" {
		fmt.Fprintf(&b, " If the repeats are meant, allow them for an hour with `sluice loop allow %s`,", shellQuote(token))
	} else {
		b.WriteString(" If the repeats are meant,")
	}
	b.WriteString(" or change loop detection with `sluice settings set loop_limit N` (off turns it off).")
	return b.String()
}

// repeat counts a request with fingerprint fp sent at now and returns how
// many were sent within window, this one included (at most limit+1), and
// when the first of them was.
func (g *guard) repeat(fp [32]byte, now time.Time, limit int, window time.Duration) (int, time.Time) {
	k := fingerprintKey(fp)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur.once == nil {
		g.base = now
		g.cur = generation{once: make(map[uint64]seen), newest: math.MinInt64}
		g.prev.newest = math.MinInt64
	}
	t := seen{at: int64(now.Sub(g.base)), wall: now.UnixNano()}
	g.rotate(t.at, now, window)
	from := t.at - int64(window)
	gen := &g.cur
	s, ok := gen.once[k]
	if !ok {
		gen = &g.prev
		s, ok = gen.once[k]
	}
	if !ok || s.at != manyTimes && s.at <= from {
		// None within the window (or none at all): now alone.
		g.cur.once[k] = t
		g.cur.newest = max(g.cur.newest, t.at)
		return 1, now
	}
	n, first := g.again(k, gen, s, t, limit, from)
	if n == 1 {
		return 1, now
	}
	return n, time.Unix(0, first.wall)
}

// again counts a request with key k sent at t, which gen (g.cur, or
// g.prev when g.cur has no k) holds as s: sent once within the window,
// or sent more times, kept in gen.many. It returns how many were sent
// since from, t included (at most limit+1), and the first of them.
// Guarded by g.mu.
func (g *guard) again(k uint64, gen *generation, s, t seen, limit int, from int64) (int, seen) {
	var ts []seen
	if s.at == manyTimes {
		// g.cur takes k over from g.prev, if it was there: g.prev's
		// entry is not read again, so its times may be moved in place.
		ts = gen.many[k]
	} else {
		ts = make([]seen, 1, 4)
		ts[0] = s
	}
	i := 0
	for i < len(ts) && ts[i].at <= from {
		i++
	}
	ts = ts[:copy(ts, ts[i:])]
	if len(ts) > limit {
		ts = ts[:copy(ts, ts[len(ts)-limit:])]
	}
	ts = append(ts, t)
	if len(ts) == 1 {
		// Alone in the window again. (A stale entry of k in g.cur.many,
		// left when the clock runs backwards, is not read again.)
		g.cur.once[k] = t
	} else {
		if g.cur.many == nil {
			g.cur.many = make(map[uint64][]seen)
		}
		g.cur.many[k] = ts
		g.cur.once[k] = seen{at: manyTimes}
	}
	g.cur.newest = max(g.cur.newest, t.at)
	return len(ts), ts[0]
}

// rotate starts a new generation once g.cur has lasted a window and
// nothing in g.prev is within the window any more (which, as requests
// come in order, it is not by then), forgetting g.prev whole, and g.cur
// too when nothing in it is within the window either (the first request
// after a quiet spell lets a burst's memory go); and forgets the
// admissions of tokens that sent none in the last minute. at is now as
// seen.at. Guarded by g.mu.
func (g *guard) rotate(at int64, now time.Time, window time.Duration) {
	from := at - int64(window)
	if at-g.since < int64(window) || g.prev.newest > from {
		return
	}
	g.prev = g.cur
	if g.prev.newest <= from {
		g.prev = generation{newest: math.MinInt64}
	}
	g.cur = generation{once: make(map[uint64]seen), newest: math.MinInt64}
	g.since = at
	for tok, ts := range g.minute {
		if len(ts) == 0 || !ts[len(ts)-1].After(now.Add(-time.Minute)) {
			delete(g.minute, tok)
		}
	}
}

// admitRPM counts a request of token at now against a cap of limit a
// minute. It returns 0 when the request is within the cap (and counts
// it), else how long until it would be.
func (g *guard) admitRPM(token string, now time.Time, limit int) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.minute == nil {
		g.minute = make(map[string][]time.Time)
	}
	ts := g.minute[token]
	from := now.Add(-time.Minute)
	i := 0
	for i < len(ts) && !ts[i].After(from) {
		i++
	}
	ts = ts[i:]
	if len(ts) >= limit {
		g.minute[token] = ts
		return ts[len(ts)-limit].Sub(from)
	}
	g.minute[token] = append(ts, now)
	return 0
}

// fly registers f, a request being relayed with the cancel of its
// upstream context, so that a pause can cut it; land unregisters it.
func (p *Proxy) fly(f *flight) {
	g := &p.runaways
	g.mu.Lock()
	if g.flights == nil {
		g.flights = make(map[*flight]struct{})
	}
	g.flights[f] = struct{}{}
	g.mu.Unlock()
}

// land unregisters f, registered by fly.
func (p *Proxy) land(f *flight) {
	g := &p.runaways
	g.mu.Lock()
	delete(g.flights, f)
	g.mu.Unlock()
}

// CutStreams ends every request being relayed for token ("" means every
// token) at once: what was relayed is charged, the caller's stream ends
// with an error event naming the pause. It returns how many it cut.
func (p *Proxy) CutStreams(token string) int {
	g := &p.runaways
	g.mu.Lock()
	var cut []*flight
	for f := range g.flights {
		if token == "" || f.token == token {
			cut = append(cut, f)
		}
	}
	g.mu.Unlock()
	for _, f := range cut {
		f.cancel(errPaused)
	}
	return len(cut)
}

// Loop fingerprints. Two requests are the same when they come with the
// same token, for the same model and route, and their JSON bodies are
// equal once what changes from call to call is set aside:
//
//   - object members, at any depth, named "id", ending in "_id" or "Id"
//     (tool_call_id, tool_use_id, previous_response_id, request_id...),
//     or named user, metadata, timestamp, created, created_at, nonce,
//     idempotency_key, safety_identifier or prompt_cache_key;
//   - inside strings: UUIDs, ISO 8601 date-times ("2026-11-30T10:31:02Z",
//     "2026-11-30 10:31"), runs of ten or more digits (Unix times) and
//     runs of sixteen or more hex digits.
//
// Everything else counts, so requests that differ in what they ask (a
// different page, a different question) are different requests however
// fast they come. A body that is not JSON counts as its bytes.

// perCallMember reports whether an object member called name is one the
// loop fingerprint leaves out.
func perCallMember(name string) bool {
	switch name {
	case "id", "user", "metadata", "timestamp", "created", "created_at", "nonce",
		"idempotency_key", "safety_identifier", "prompt_cache_key":
		return true
	}
	return strings.HasSuffix(name, "_id") || strings.HasSuffix(name, "Id") || strings.HasSuffix(name, "ID")
}

// fingerprint returns the loop fingerprint of a request. It hashes the
// body's canonical form: its values as the JSON scanner finds them, an
// object's members in the order of their names, the last of duplicates
// (as a decoder keeps), per-call ones left out. The form is written in
// one walk of the body after the one that checks it is JSON: each
// object's members are written as they come and put in order once the
// object ends, moving bytes already written rather than walking the
// members again at each depth.
func fingerprint(token, model, route string, body []byte) [32]byte {
	return fingerprintOf(token, model, route, body, false)
}

// fingerprintOf is fingerprint, told whether body is already known to be
// one JSON object (inspectRequest read it), which it then does not walk
// to check.
func fingerprintOf(token, model, route string, body []byte, object bool) [32]byte {
	c := fpCanons.Get().(*fpCanon)
	defer c.put()
	i := spaceEnd(body, 0)
	if !object {
		if _, err := valueEnd(body, i); err != nil {
			// Not JSON: the bytes are the request.
			return c.sum(token, model, route, body)
		}
	}
	c.value(body, i)
	return c.sum(token, model, route, nil)
}

// sum is the fingerprint of a request with token, model and route whose
// body's canonical form c holds, followed by raw: the digest of the three
// strings, each with its length before it, the form and raw.
func (c *fpCanon) sum(token, model, route string, raw []byte) [32]byte {
	c.scratch = c.scratch[:0]
	for _, s := range [...]string{token, model, route} {
		c.scratch = binary.AppendUvarint(c.scratch, uint64(len(s)))
		c.scratch = append(c.scratch, s...)
	}
	c.d.Reset()
	c.d.Write(c.scratch)
	c.d.Write(c.out)
	c.d.Write(raw)
	// Summed into a buffer of c's: a digest behind an interface makes
	// any buffer passed to Sum escape.
	c.scratch = c.d.Sum(c.scratch[:0])
	return [32]byte(c.scratch)
}

// fpCanons are fingerprint's digests and buffers, reused: a digest and
// growing buffers for each request were a measurable part of its
// allocations.
var fpCanons = sync.Pool{New: func() any { return &fpCanon{d: sha256.New()} }}

// maxPooledCanon is the largest buffer kept for the next fingerprint.
const maxPooledCanon = 1 << 20

// fpCanon writes a body's canonical form for its fingerprint: in a walk
// of its own (value), or in inspectRequest's (bodyWalk), to the same
// bytes.
type fpCanon struct {
	d       hash.Hash
	out     []byte     // the canonical form so far
	members []fpMember // the members of the objects being written, innermost last
	scratch []byte     // an object's members while they are put in order
	text    []byte     // a string's text with what changes per call replaced
}

// fpMember is an object member whose name and value are written at
// out[start:end].
type fpMember struct {
	name       []byte // decoded
	start, end int
}

// dropCanon gives back the fingerprint form the inspection wrote for
// the runaway guard when the guard will not run: the request failed
// before it.
func (x *exchange) dropCanon() {
	if x.canon != nil {
		x.canon.put()
		x.canon = nil
	}
}

func (c *fpCanon) put() {
	c.out, c.scratch, c.text = c.out[:0], c.scratch[:0], c.text[:0]
	if cap(c.out) > maxPooledCanon {
		c.out = nil
	}
	if cap(c.scratch) > maxPooledCanon {
		c.scratch = nil
	}
	if cap(c.text) > maxPooledCanon {
		c.text = nil
	}
	clear(c.members[:cap(c.members)])
	c.members = c.members[:0]
	fpCanons.Put(c)
}

// bytes writes b with its length before it, as str does.
func (c *fpCanon) bytes(b []byte) {
	c.out = binary.AppendUvarint(c.out, uint64(len(b)))
	c.out = append(c.out, b...)
}

// value writes the canonical form of the value at b[i], which is
// well-formed JSON, and returns its end: '{' and the members, '[' and
// the elements, 's' and a string's text with what changes per call
// replaced, 'n' and a number as written, 't', 'f' or '0'.
func (c *fpCanon) value(b []byte, i int) int {
	switch b[i] {
	case '{':
		c.out = append(c.out, '{')
		base, from := len(c.members), len(c.out)
		i = spaceEnd(b, i+1)
		for b[i] != '}' {
			ke, _ := stringEnd(b, i)
			name := rawText(b[i:ke])
			vs := spaceEnd(b, spaceEnd(b, ke)+1) // past ':'
			var ve int
			if perCallMember(string(name)) {
				ve, _ = valueEnd(b, vs)
			} else {
				start := len(c.out)
				c.bytes(name)
				ve = c.value(b, vs)
				c.members = append(c.members, fpMember{name, start, len(c.out)})
			}
			i = spaceEnd(b, ve)
			if b[i] == ',' {
				i = spaceEnd(b, i+1)
			}
		}
		c.order(base, from)
		c.out = append(c.out, '}')
		return i + 1
	case '[':
		c.out = append(c.out, '[')
		i = spaceEnd(b, i+1)
		for b[i] != ']' {
			i = spaceEnd(b, c.value(b, i))
			if b[i] == ',' {
				i = spaceEnd(b, i+1)
			}
		}
		c.out = append(c.out, ']')
		return i + 1
	}
	e, _ := valueEnd(b, i)
	c.scalar(b[i:e])
	return e
}

// scalar writes the canonical form of v, a well-formed JSON string,
// number or literal.
func (c *fpCanon) scalar(v []byte) {
	switch v[0] {
	case '"':
		c.out = append(c.out, 's')
		if t := rawText(v); hasDigit(t) {
			c.text = appendNormalized(c.text[:0], t)
			c.bytes(c.text)
		} else {
			c.bytes(t) // what normalizing leaves as it is
		}
	case 't':
		c.out = append(c.out, 't')
	case 'f':
		c.out = append(c.out, 'f')
	case 'n':
		c.out = append(c.out, '0')
	default:
		c.out = append(c.out, 'n')
		c.bytes(v)
	}
}

// What a walk that is not fpCanon's own (bodyWalk) calls to write an
// object: open before its members, name before a member's value and
// member after it, close after its members; punct writes an array's
// brackets. Kept out of line: the walk recurses, and its frames stay
// small.

//go:noinline
func (c *fpCanon) open() (base, from int) {
	c.out = append(c.out, '{')
	return len(c.members), len(c.out)
}

//go:noinline
func (c *fpCanon) name(name []byte) (start int) {
	start = len(c.out)
	c.bytes(name)
	return start
}

//go:noinline
func (c *fpCanon) member(name []byte, start int) {
	c.members = append(c.members, fpMember{name, start, len(c.out)})
}

//go:noinline
func (c *fpCanon) close(base, from int) {
	c.order(base, from)
	c.out = append(c.out, '}')
}

//go:noinline
func (c *fpCanon) punct(b byte) { c.out = append(c.out, b) }

// order puts the members of the object just written, c.members[base:],
// whose bytes start at c.out[from:], in the order of their names, keeps
// the last of each name, and drops them from c.members.
func (c *fpCanon) order(base, from int) {
	ms := c.members[base:]
	defer func() {
		clear(ms)
		c.members = c.members[:base]
	}()
	sorted := true
	for k := 1; k < len(ms); k++ {
		if bytes.Compare(ms[k-1].name, ms[k].name) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	if len(ms) <= 16 {
		// Insertion sort, stable: an object's members are few.
		for k := 1; k < len(ms); k++ {
			for j := k; j > 0 && bytes.Compare(ms[j-1].name, ms[j].name) > 0; j-- {
				ms[j-1], ms[j] = ms[j], ms[j-1]
			}
		}
	} else {
		slices.SortStableFunc(ms, func(a, b fpMember) int { return bytes.Compare(a.name, b.name) })
	}
	c.scratch = append(c.scratch[:0], c.out[from:]...)
	c.out = c.out[:from]
	for k, m := range ms {
		if k+1 < len(ms) && bytes.Equal(ms[k+1].name, m.name) {
			continue // a later duplicate wins
		}
		c.out = append(c.out, c.scratch[m.start-from:m.end-from]...)
	}
}

// hasDigit reports whether t holds an ASCII digit.
func hasDigit(t []byte) bool {
	for _, c := range t {
		if isDigit(c) {
			return true
		}
	}
	return false
}

// normalizeText replaces what changes per call inside a string (UUIDs,
// date-times, long numbers, long hex runs) with placeholders.
func normalizeText(s string) string {
	if !strings.ContainsAny(s, "0123456789") {
		return s
	}
	return string(appendNormalized(nil, s))
}

// appendNormalized appends normalizeText(s) to dst.
func appendNormalized[T ~string | ~[]byte](dst []byte, s T) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !isHexByte(c) || i > 0 && isWord(s[i-1]) {
			i++
			continue
		}
		if n := matchUUID(s[i:]); n > 0 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "<uuid>"...)
			i += n
			last = i
			continue
		}
		if n := matchDateTime(s[i:]); n > 0 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "<time>"...)
			i += n
			last = i
			continue
		}
		j := i
		digits, hexes := true, true
		for j < len(s) && isWord(s[j]) {
			digits = digits && isDigit(s[j])
			hexes = hexes && isHexByte(s[j])
			j++
		}
		if digits && j-i >= 10 || hexes && j-i >= 16 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "<n>"...)
			last = j
		}
		i = j
	}
	return append(dst, s[last:]...)
}

func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isHexByte(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// isWord reports whether c is part of a word: a letter, a digit or _.
func isWord(c byte) bool { return isAlnum(c) || c == '_' }

// matchUUID returns 36 if s starts with a UUID.
func matchUUID[T ~string | ~[]byte](s T) int {
	if len(s) < 36 {
		return 0
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return 0
			}
		default:
			if !isHexByte(s[i]) {
				return 0
			}
		}
	}
	if len(s) > 36 && isWord(s[36]) {
		return 0
	}
	return 36
}

// matchDateTime returns the length of an ISO 8601 date-time at the start
// of s ("2026-11-30T10:31", with seconds, fraction and zone if there), or 0.
func matchDateTime[T ~string | ~[]byte](s T) int {
	pat := "dddd-dd-ddTdd:dd"
	if len(s) < len(pat) {
		return 0
	}
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case 'd':
			if !isDigit(s[i]) {
				return 0
			}
		case 'T':
			if s[i] != 'T' && s[i] != ' ' && s[i] != 't' {
				return 0
			}
		default:
			if s[i] != pat[i] {
				return 0
			}
		}
	}
	n := len(pat)
	for n < len(s) && (isDigit(s[n]) || strings.IndexByte(":.,Z+-", s[n]) >= 0) && n < 40 {
		n++
	}
	return n
}

// bodyWords is lastWords of a JSON request body in the dialect di
// describes, "" for any other body.
func bodyWords(di *dialectInfo, body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return lastWords(di, v)
}

// lastWords returns the start of the last message of a request body, for
// the user to recognise it by: the last text in the first of di's
// conversation members that holds any.
func lastWords(di *dialectInfo, v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	var text string
	for _, key := range di.conversation {
		if t := textOf(di, m[key], 0); t != "" {
			text = t
			break
		}
	}
	if len(text) > 240 {
		cut := 240
		for cut > 0 && text[cut]&0xC0 == 0x80 {
			cut--
		}
		text = text[:cut]
	}
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > 60 {
		cut := 60
		for cut > 0 && text[cut]&0xC0 == 0x80 {
			cut--
		}
		text = text[:cut] + "…"
	}
	return text
}

// textOf finds the text of the last message or part in v, a member of a
// body in the dialect di describes.
func textOf(di *dialectInfo, v any, depth int) string {
	if depth > 6 {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case []any:
		for i := len(v) - 1; i >= 0; i-- {
			if t := textOf(di, v[i], depth+1); t != "" {
				return t
			}
		}
	case map[string]any:
		for _, key := range di.textMembers {
			if t := textOf(di, v[key], depth+1); t != "" {
				return t
			}
		}
	}
	return ""
}
