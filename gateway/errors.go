package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// failure is how a stage of the request path says the request goes no
// further: the status and the message the caller gets, in the caller's
// dialect, the cause for the log, and what the request's record says.
// Stages return it; Proxy.fail writes it, and it is the one way out.
type failure struct {
	status int
	kind   errKind
	msg    string // for the caller: what happened and what to do
	cause  error  // for the operator's log; nil when msg says it all
	// outcome is what the request's record says: OutcomeRefused for a
	// refusal of a request admission would have held, OutcomeBlocked for
	// one stopped earlier (guard, auth, route); "" leaves no record.
	outcome Outcome
	reason  string   // the record's Reason
	ref     *Refusal // a budget's refusal: its headers go with the answer
	// header holds headers to answer with besides the error's own.
	header map[string]string
	// unread: the request's body was not read (see Proxy.fail).
	unread bool
	// elsewhere: this target cannot serve the request but another might
	// (Sluice has no key for its provider, the caller's key may not go
	// there): an alias's next target is tried.
	elsewhere bool
}

func (f *failure) Error() string {
	if f.cause != nil {
		return f.msg + ": " + f.cause.Error()
	}
	return f.msg
}

func (f *failure) Unwrap() error { return f.cause }

// fail returns a failure answered with status and msg.
func fail(status int, kind errKind, msg string) *failure {
	return &failure{status: status, kind: kind, msg: msg}
}

// because sets the cause that goes to the log.
func (f *failure) because(err error) *failure {
	f.cause = err
	return f
}

// refused marks the failure as a refusal the record keeps, for reason.
func (f *failure) refused(reason string) *failure {
	f.outcome, f.reason = OutcomeRefused, reason
	return f
}

// blocked marks the failure as stopping the request before admission.
func (f *failure) blocked(reason string) *failure {
	f.outcome, f.reason = OutcomeBlocked, reason
	return f
}

// with adds a header to the answer.
func (f *failure) with(k, v string) *failure {
	if f.header == nil {
		f.header = map[string]string{}
	}
	f.header[k] = v
	return f
}

// errorShape shapes an error answer: each dialect in its SDKs' own words,
// and the prompt endpoint in its plain JSON (promptShape).
type errorShape interface {
	errorBody(status int, kind errKind, msg string) []byte
}

// fail answers a request the path stopped with f, in d's shape: it logs
// f's cause, records the request when f says to, and writes the error.
// x is the request's exchange, nil when it has none or its row is kept
// elsewhere. It is the only writer of an error answer, and so the one
// home of the X-Should-Retry rule.
//
// A request refused before its body was read is answered, and its
// connection closed after the answer: otherwise net/http would read (up
// to 256 KiB of) the unread body, before answering and again when it
// closes the body, for as long as the caller takes to send it, to keep
// the connection for another request. The read deadline, already passed,
// stops that read at once.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, d errorShape, x *exchange, f *failure) {
	if f.cause != nil {
		p.logf("sluice: %s %s: %s: %v", r.Method, r.URL.Path, f.msg, f.cause)
	}
	if f.outcome != "" {
		p.record(r, x, f)
	}
	h := w.Header()
	for k, v := range f.header {
		h.Set(k, v)
	}
	if f.ref != nil {
		refusalHeaders(h, f.ref)
	}
	if f.unread && r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		h.Set("Connection", "close")
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	// The error in the caller's own shape, so that its SDK raises its
	// usual error type with f.msg in it.
	h.Set("Content-Type", "application/json")
	h.Set("X-Sluice-Error", string(f.kind))
	if f.status == http.StatusPaymentRequired || f.kind == kindLoop || f.kind == kindRateLimit ||
		f.status < 500 && f.status != http.StatusRequestTimeout && f.status != http.StatusTooManyRequests {
		// SDKs retry 408, 409, 429 and 5xx; everything Sluice refuses
		// would be refused again. Its own 429s (a loop, a token's rate
		// cap) say so too: the official SDKs obey x-should-retry first.
		h.Set("X-Should-Retry", "false")
	}
	w.WriteHeader(f.status)
	w.Write(d.errorBody(f.status, f.kind, f.msg))
}

// record keeps the request f stopped. A refusal (a budget, a pause, the
// runaway guard) is a row of a metered request, as every metered request
// is. A request blocked before admission (the guard, authentication, a
// route or body Sluice refuses) is a row too, whatever its route, so that
// the log can say why it was blocked; these rows are rate-limited, since
// anyone who can reach the port can send them, and the next row kept says
// how many were not.
func (p *Proxy) record(r *http.Request, x *exchange, f *failure) {
	if x == nil {
		return
	}
	switch f.outcome {
	case OutcomeRefused:
		if !x.route.metered() {
			return
		}
		if x.rec.Error == "" {
			x.rec.Error = f.msg
		}
	case OutcomeBlocked:
		dropped, ok := p.blockedRows.take(x.start)
		if !ok {
			if dropped == 1 {
				p.logf("sluice: blocked requests are arriving faster than %d a second: not every one is logged (the next logged one says how many were not)", blockedRowsPerSecond)
			}
			return
		}
		x.rec.Error = r.Method + " " + strconvQuote(r.URL.Path) + ": " + f.msg
		if dropped > 0 {
			x.rec.Error += fmt.Sprintf(" (%d blocked requests before this one were not logged: too many at once)", dropped)
		}
		x.rec.LatencyMS = p.now().Sub(x.start).Milliseconds()
	default:
		return
	}
	x.rec.Status, x.rec.Outcome, x.rec.Reason = f.status, f.outcome, f.reason
	p.settle(&x.rec)
}

// Blocked requests are logged at most blockedRowsPerSecond a second on
// average, in bursts of at most blockedRowsBurst.
const (
	blockedRowsPerSecond = 5
	blockedRowsBurst     = 50
)

// rowLimiter is a token bucket for the rows of blocked requests. It is
// safe for concurrent use; its zero value starts full.
type rowLimiter struct {
	mu      sync.Mutex // guards the fields below
	started bool
	tokens  float64
	last    time.Time
	dropped int64 // rows not written since the last one written
}

// take reports whether a row may be written at now. When it may, dropped
// is how many were not since the last one written, and is reset; when it
// may not, dropped counts this one.
func (l *rowLimiter) take(now time.Time) (dropped int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.started, l.tokens, l.last = true, blockedRowsBurst, now
	}
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens = min(l.tokens+el*blockedRowsPerSecond, blockedRowsBurst)
		l.last = now
	}
	if l.tokens < 1 {
		l.dropped++
		return l.dropped, false
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return dropped, true
}

// errKind is the kind of an error Sluice answers, in OpenAI's words; each
// dialect puts it in its own.
type errKind string

// Error kinds.
const (
	kindInvalid     errKind = "invalid_request_error"
	kindAuth        errKind = "authentication_error"
	kindPermission  errKind = "permission_error"
	kindNotFound    errKind = "not_found_error"
	kindTooLarge    errKind = "request_too_large"
	kindBudget      errKind = "budget_exceeded"
	kindUnpriced    errKind = "unpriced_model"
	kindUpstream    errKind = "upstream_error"
	kindTimeout     errKind = "upstream_timeout"
	kindUnavailable errKind = "sluice_unavailable"
	kindPaused      errKind = "sluice_paused"
	kindLoop        errKind = "loop_detected"
	kindRateLimit   errKind = "rate_limit_exceeded"
)

// refusalHeaders name the budget that refused.
func refusalHeaders(h http.Header, ref *Refusal) {
	h.Set("X-Sluice-Budget", ref.Budget)
	h.Set("X-Sluice-Budget-Limit", ref.Limit.String())
	h.Set("X-Sluice-Budget-Spent", ref.Spent.String())
	h.Set("X-Sluice-Budget-Remaining", ref.Remaining.String())
	if !ref.Resets.IsZero() {
		h.Set("X-Sluice-Budget-Resets", ref.Resets.UTC().Format(time.RFC3339))
	}
}

// refusalMessage says which budget refused, how much of it is spent, when
// it resets and how to raise it; hint adds what a smaller request could do.
func refusalMessage(ref *Refusal, hint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sluice budget %q (%s) would be exceeded: ", ref.Budget, ref.Scope)
	if held := min(ref.Held, ref.Spent); held > 0 {
		// What requests in flight hold is not spent yet: a stream asking
		// for its next slice holds its own output so far.
		fmt.Fprintf(&b, "%s spent and %s held by requests in flight, of %s", (ref.Spent - held).Format(), held.Format(), ref.Limit.Format())
	} else {
		fmt.Fprintf(&b, "%s spent of %s", ref.Spent.Format(), ref.Limit.Format())
	}
	switch {
	case ref.Window > 0:
		fmt.Fprintf(&b, " in any %s", RollingPeriod(ref.Window))
		if !ref.Resets.IsZero() {
			fmt.Fprintf(&b, ", enough ages out by %s", ref.Resets.Local().Format("15:04 MST"))
		}
	case !ref.Resets.IsZero():
		fmt.Fprintf(&b, ", resets %s", ref.Resets.Local().Format("Mon 2 Jan 15:04 MST"))
	}
	fmt.Fprintf(&b, "; this request could cost up to %s and %s remains.", ref.Wanted.Format(), ref.Remaining.Format())
	if hint != "" {
		b.WriteString(" " + hint)
	}
	if ref.Raise > 0 {
		fmt.Fprintf(&b, " Raise it with: sluice budget raise %s --by %s --for 1h", shellQuote(ref.Budget), ref.Raise)
	}
	return b.String()
}

// affordable is how many output tokens, at most hi, the remaining money
// affords: the largest n whose worst case, computed as the hold computes
// it, is within remaining; ok is false when not even one is.
func affordable(remaining Money, worst func(maxOutput int64) Money, hi int64) (n int64, ok bool) {
	if hi < 1 || worst(1) > remaining {
		return 0, false
	}
	lo := int64(1) // worst(lo) fits
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if worst(mid) <= remaining {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, true
}
