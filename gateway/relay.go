package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxMeteredBody is how much of a non-stream answer Sluice keeps to read
// usage from; the answer itself is relayed whole whatever its size.
const maxMeteredBody = 64 << 20

// relay sends out upstream, passes the answer to w as it arrives, and
// settles x. It reports true, having sent the caller nothing, when the
// attempt at an alias's target failed in a way its next target is to be
// tried for.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request, x *exchange, out *http.Request, hideUsage bool) (fellBack bool) {
	// out's context is the attempt's own (outbound): canceling it stops
	// this attempt, not the caller's request.
	ctx, cancel := out.Context(), x.cancel
	defer cancel(nil)
	x.flight = flight{token: x.rec.Token, cancel: cancel}
	p.fly(&x.flight)
	defer p.land(&x.flight)
	// An attempt with a fallback left waits for its first byte only so
	// long: then the next target is tried.
	firstByte := func() {}
	if d := p.Policy().fallbackAfter(); d > 0 && x.alias.more() {
		t := time.AfterFunc(d, func() { cancel(errFirstByte{d}) })
		firstByte = func() { t.Stop() }
	}

	resp, err := p.roundTripper().RoundTrip(out)
	if x.in != nil && !x.alias.more() {
		// The body has gone (or never will): its room in the gate goes
		// back now, if the transport did not say so as it wrote it (a
		// Transport other than net/http's calls no WroteRequest hook).
		x.in.hold.release()
	}
	if err == nil && (resp.StatusCode >= 300 || !strings.HasPrefix(headerValue(resp.Header, "Content-Type"), "text/event-stream")) {
		// Its answer's first byte has come: a stream's is its first
		// event (peekStream, below).
		firstByte()
	}
	if err != nil {
		var fb errFirstByte
		if errors.As(context.Cause(ctx), &fb) {
			err = fb
		}
	}
	if p.fallBack(r, ctx, x, resp, err) {
		return true
	}
	if err != nil {
		status, outcome, kind, msg := upstreamFailure(r.Context(), err, x.provider.Name)
		var u Usage
		if outcome == OutcomeCanceled {
			// The provider may already have read the input.
			u = floorUsage(x, u, 0)
		}
		p.finish(x, status, outcome, u, err.Error())
		if outcome != OutcomeCanceled {
			// Recorded by finish, with the upstream's own words.
			p.fail(w, r, x.callerDialect(), nil, fail(status, kind, msg))
		}
		return
	}
	defer resp.Body.Close()
	x.rec.UpstreamID = p.upstreamRequestID(x, resp.Header)

	idle := p.IdleTimeout
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	body := &x.idle
	body.start(resp.Body, idle, func() { cancel(errIdle) })
	defer body.stop()

	h := w.Header()
	copyResponseHeaders(h, resp.Header)

	mt, _ := mediaType(headerValue(resp.Header, "Content-Type"))
	sse := mt == "text/event-stream"
	var reader io.Reader = body
	if sse && resp.StatusCode < 300 && x.alias.more() && x.route.metered() {
		// Nothing has reached the caller yet: a stream that ends, breaks
		// or opens with an error event before its answer starts is a
		// failure another target may not share.
		var failed string
		if reader, failed = peekStream(body, ctx, x.route); failed != "" {
			p.fellBackAfterHeaders(x, failed)
			return true
		}
	}
	firstByte()
	if x.xl != nil && (resp.StatusCode >= 300 || !sse) {
		return p.relayTranslatedBody(w, r, x, resp, body, ctx)
	}
	if resp.StatusCode >= 300 || !x.route.metered() && x.deferred == nil || !sse {
		p.relayBody(w, x, resp, body, ctx)
		return
	}
	h.Del("Content-Length")
	p.relayStream(w, x, resp, reader, ctx, hideUsage)
	return false
}

// maxPeek bounds what peekStream reads ahead of the caller.
const maxPeek = 1 << 20

// peekStream reads a stream's first events, up to the first that carries
// the answer (or anything but the events its dialect opens a stream with
// before the answer, dialectInfo.openingEvents), and returns a reader
// that gives the stream again from its start. failed says, when not "",
// how the stream failed before its answer began: it ended or broke off,
// or its dialect's meter read an error in an event before the answer
// (Anthropic's overloaded_error, an OpenAI-style {"error": …}).
func peekStream(body io.Reader, ctx context.Context, rt route) (io.Reader, string) {
	var seen bytes.Buffer
	er := newSSEReader(io.TeeReader(body, &seen))
	// A meter of its own: the stream is metered again as it is relayed.
	m := newStreamMeter(rt.dialect, rt, false)
	opening := rt.dialect.info().openingEvents
	for seen.Len() <= maxPeek {
		ev, err := er.Next()
		if err == nil || len(ev.Raw) > 0 {
			if m.relay(ev); m.ErrorMessage != "" {
				return nil, "answered 200 then an error event before any content: " + m.ErrorMessage
			}
			if ev.Name != "" && !slices.Contains(opening, ev.Name) || ev.Name == "" && len(bytes.TrimSpace(ev.Data)) > 0 {
				break
			}
		}
		if err == io.EOF {
			return nil, "answered 200 then ended the stream before any content"
		}
		if err != nil {
			var fb errFirstByte
			if errors.As(context.Cause(ctx), &fb) {
				return nil, "answered 200 then sent no content within " + fb.d.String()
			}
			if ctx.Err() != nil {
				// Sluice stopped the attempt (the caller left, a
				// pause, the idle timeout): not for the next target.
				break
			}
			return nil, "answered 200 then the stream broke off before any content: " + err.Error()
		}
	}
	return io.MultiReader(bytes.NewReader(seen.Bytes()), body), ""
}

// fellBackAfterHeaders records an attempt at an alias's target whose
// provider answered 200 but failed before a byte of the answer reached
// the caller, so the next target is tried: the record says the caller got
// no answer from it (502), and charges nothing, as an attempt that failed
// before its headers is charged nothing.
func (p *Proxy) fellBackAfterHeaders(x *exchange, failed string) {
	target := x.provider.Name + "/" + x.rec.Model
	x.alias.failedUpstream(fail(http.StatusBadGateway, kindUpstream, target+" "+p.redactor().redact(failed)))
	x.alias.failed = target + " " + failed
	p.finish(x, http.StatusBadGateway, OutcomeError, Usage{}, p.redactor().redact(failed))
}

// relayBody passes a whole (non-stream) answer through unchanged, keeping
// what it needs to read usage or a provider's billing complaint.
func (p *Proxy) relayBody(w http.ResponseWriter, x *exchange, resp *http.Response, body io.Reader, ctx context.Context) {
	w.WriteHeader(resp.StatusCode)
	var dst io.Writer = w
	var kw *keepWriter
	if x.route.metered() || x.deferred != nil {
		kw = &x.keep
		kw.w = w
		kw.kept.buf = &kw.buf
		kw.kept.max = maxMeteredBody
		if n := resp.ContentLength; n > 0 {
			kw.buf.Grow(int(min(n, maxPresized)))
		}
		dst = kw
	}
	kept := func() []byte {
		if kw == nil {
			return nil
		}
		return kw.buf.Bytes()
	}
	first := true
	n, copyErr := copyFlush(dst, w, body, func() {
		if first {
			first = false
			x.rec.TTFBMS = p.now().Sub(x.start).Milliseconds()
		}
	})
	if x.deferred != nil {
		if copyErr == nil {
			p.readBack(x, resp.StatusCode, kept())
		}
		return
	}
	if !x.route.metered() {
		return
	}
	if x.logBodies {
		x.respBody = kept()
	}
	status := resp.StatusCode
	var u Usage
	outcome := OutcomeOK
	errMsg := ""
	if status >= 400 {
		outcome, errMsg = classifyUpstreamError(p.dialectList(), p.redactor(), x.provider, status, kept())
	} else {
		if bd, ok := x.route.dialect.(backgroundDialect); ok && x.info.Background && copyErr == nil {
			if id := bd.queued(kept()); id != "" {
				// Queued in the background: the hold stays until the
				// response is read back finished.
				p.deferHold(x, status, id)
				return
			}
		}
		var model []byte
		var ok bool
		u, model, ok = x.route.dialect.usage(x.route, kept())
		if ok && x.rec.Model == "" {
			x.rec.Model = unquoteOrEmpty(model)
		}
		switch {
		case ok || status >= 300 || x.route.Free:
		case copyErr == nil && x.route.embeds:
			// Gemini's embedding answers report no usage: charge the
			// input bound, an upper bound, and say it is an estimate.
			u = Usage{InputTokens: x.info.InputBound}
			x.rec.Estimated = true
		case copyErr == nil:
			// A 2xx answer whose usage cannot be read (none reported, or
			// past the size Sluice keeps to read it) is never $0: the
			// input bound and the answer's bytes as output, within the
			// hold, marked estimated.
			u = floorUsage(x, Usage{}, n)
			x.rec.Estimated = true
		}
		if copyErr != nil {
			outcome, errMsg = interruption(ctx, copyErr)
			status = statusFor(outcome, status)
			if !ok {
				u = floorUsage(x, Usage{}, n)
			}
		}
	}
	p.finish(x, status, outcome, u, errMsg)
}

// relayStream passes an SSE answer through event by event, flushing each
// at once, while metering it.
func (p *Proxy) relayStream(w http.ResponseWriter, x *exchange, resp *http.Response, body io.Reader, ctx context.Context, hideUsage bool) {
	s := &streamParts{rc: *http.NewResponseController(w)}
	rc := &s.rc
	rt := x.route
	if x.deferred != nil {
		// A background response's stream, resumed (starting_after).
		rt.Name = rt.answers
	}
	s.m = makeStreamMeter(x.route.dialect, rt, hideUsage)
	m := &s.m
	// A translated stream is metered as the provider sent it and
	// written, event by event, as the caller's format says it.
	var tr *streamTranslator
	var tbuf []byte
	cut := m.cut
	if x.xl != nil {
		tr = newStreamTranslator(x.xl.target, x.xl.caller, x.xl.req)
		w.Header().Set("Content-Type", tr.contentType())
		cut = func(kind errKind, msg string) []byte {
			return tr.fail(xError{Status: http.StatusBadGateway, Kind: kind, Message: msg}, nil)
		}
	}
	w.WriteHeader(resp.StatusCode)

	// Events are written as they are read, and flushed together before
	// the next read from upstream: those that came in one read go out in
	// one write, and none waits for the upstream's next bytes. The
	// headers go with the first events when the upstream sent them
	// together (in one write less), and on their own once the upstream
	// is silent for headerWait.
	fl := &s.fl
	fl.r, fl.rc, fl.headers = body, rc, &s.headers
	s.headers.hold(rc, headerWait)
	defer s.headers.take()
	er := &s.er
	er.init(fl)
	// Each event is metered and written before the next is read, and
	// neither the meter nor the writer keeps its bytes: the reader may
	// lend them. A translator may keep parts of an event for later.
	er.lend = tr == nil
	// Nothing keeps the reader's buffers past the stream, lent or not
	// (a translator keeps copies).
	er.pooled = true
	// The first read is given room for all the events that came with
	// the headers, which are waiting in the transport (most of a short
	// answer's, when it was quick): they leave in one write with the
	// headers, not in the first kilobyte's and then the rest's.
	er.burst = true
	defer er.release()
	outcome := OutcomeOK
	errMsg := ""
	status := resp.StatusCode
	var shown int64 // bytes of generated output the events carried
	for {
		ev, err := er.Next()
		if len(ev.Raw) > 0 {
			b := m.relay(ev)
			if x.sliced {
				shown += x.route.dialect.info().shown(ev.Data)
			}
			// Hold what this event brings (and a slice more) before it
			// goes on, or stop here rather than spend past what the
			// budgets grant.
			if msg := p.growHold(x, m.Usage, shown, fl.flush); msg != "" {
				outcome, errMsg = OutcomeCut, "stream cut: "+msg
				w.Write(cut(kindBudget, "Sluice ended this stream: "+msg))
				rc.Flush()
				break
			}
			if x.logBodies && len(b) > 0 && len(x.respBody) < maxLoggedBody {
				x.respBody = append(x.respBody, b...)
			}
			if tr != nil {
				tbuf = tr.translate(ev, tbuf[:0])
				b = tbuf
			}
			if len(b) > 0 {
				if x.rec.TTFBMS == 0 {
					// Once: a first byte within the first millisecond
					// counts as 1 ms, as 0 is none (finish).
					x.rec.TTFBMS = max(p.now().Sub(x.start).Milliseconds(), 1)
				}
				if _, werr := w.Write(b); werr != nil {
					outcome, errMsg = OutcomeCanceled, "client went away mid-stream: "+werr.Error()
					status = 499
					break
				}
				fl.dirty = true
			}
		}
		if err != nil && err != io.EOF && m.Done && tr == nil && !isClientWrite(err) {
			// The stream's final event has gone to the client (each
			// read from upstream follows a flush that succeeded): the
			// answer is whole, however the wait for the upstream to
			// close ended. A client that closes on the final event
			// (Codex does) cancels that wait.
			err = io.EOF
		}
		if err == io.EOF {
			if tr != nil {
				// The answer's last events, held back for its usage.
				if tbuf = tr.end(tbuf[:0]); len(tbuf) > 0 {
					w.Write(tbuf)
					fl.dirty = true
				}
			}
			if !m.Done && m.ErrorMessage == "" && x.route.metered() {
				outcome, errMsg = OutcomeCut, "upstream ended the stream without its final event"
				w.Write(cut(kindUpstream, "the provider ended the stream early"))
				rc.Flush()
			}
			break
		}
		if err != nil {
			outcome, errMsg = interruption(ctx, err)
			if errors.Is(context.Cause(ctx), errPaused) {
				w.Write(cut(kindPaused, "Sluice ended this stream: it was paused"))
				rc.Flush()
			} else if outcome != OutcomeCanceled {
				w.Write(cut(kindUpstream, "the provider's stream broke off: "+errMsg))
				rc.Flush()
			}
			status = statusFor(outcome, status)
			break
		}
	}
	// The last events go out before the settlement, which may wait for
	// the ledger's disk; or, when it will be written once the handler
	// has returned, with the end of the response, in one write: they
	// wait on nothing but that return.
	x.settleAfter = x.deferred == nil && !x.info.Background && x.rec.Prompt == "" && p.settleLater()
	if x.settleAfter {
		// The settlement's place is taken: should the record never reach
		// finish (a panic on the way), it is given back.
		defer p.unsettled(x)
	}
	if !x.settleAfter {
		if err := fl.flush(); err != nil && outcome == OutcomeOK {
			outcome, errMsg = OutcomeCanceled, "client went away mid-stream: "+err.Error()
			status = 499
		}
	} else if fl.dirty && ctx.Err() != nil && outcome == OutcomeOK {
		// The client left before the last events went: the write
		// that sends them would fail.
		if o, _ := interruption(ctx, nil); o == OutcomeCanceled {
			outcome, errMsg = OutcomeCanceled, "client went away mid-stream: "+context.Cause(ctx).Error()
			status = 499
		}
	}
	if m.ErrorMessage != "" && outcome == OutcomeOK {
		outcome, errMsg = OutcomeError, m.ErrorMessage
		if isBillingMessage(p.dialectList(), m.ErrorMessage) {
			outcome, errMsg = OutcomeBilling, billingAdvice(x.provider)+" Provider said: "+m.ErrorMessage
		}
	}
	if x.deferred != nil {
		if m.Done {
			p.settleDeferred(*x.deferred, m.Usage, m.ErrorMessage != "" && m.Usage.IsZero())
		}
		return
	}
	answerID := p.redactor().providerID(m.UpstreamID)
	if x.info.Background && outcome != OutcomeOK && !m.Done && answerID != "" {
		// The client left a background response's stream: the response
		// runs on, and is charged when it is read back.
		p.deferHold(x, status, answerID)
		return
	}
	if m.Model != "" && x.rec.Model == "" {
		x.rec.Model = m.Model
	}
	if x.rec.UpstreamID == "" {
		x.rec.UpstreamID = answerID
	}
	u := m.Usage
	x.reported = u
	switch {
	case outcome != OutcomeOK && !(m.Done && !u.IsZero()):
		// Where the provider finished the answer, it reported what it
		// bills, whether or not the client stayed for all of it.
		u = floorUsage(x, u, m.Relayed)
	case u.IsZero() && !x.route.Free:
		// A whole stream without its usage event: never $0.
		u = floorUsage(x, u, m.Relayed)
		x.rec.Estimated = true
	}
	p.finish(x, status, outcome, u, errMsg)
}

// floorUsage is what an interrupted request is charged at least: the input
// and what was relayed. Where the provider had not yet reported them, the
// request's input bound stands for the input and the relayed bytes for the
// output (a token is at least a byte, and every streamed token comes
// wrapped in far more than one byte of framing), never more than the
// output the request was admitted for. A larger count the provider did
// report stands. The record is marked estimated when it has to guess.
func floorUsage(x *exchange, u Usage, relayed int64) Usage {
	if u.InputTokens == 0 && x.info.InputBound > 0 {
		u.InputTokens = x.info.InputBound
		x.rec.Estimated = true
	}
	if relayed > 0 {
		guess := relayed / 4
		bound := x.outBound
		if bound <= 0 {
			bound = x.info.MaxOutput * max(x.info.Choices, 1)
		}
		if bound > 0 && guess > bound {
			guess = bound
		}
		if guess > u.OutputTokens {
			u.OutputTokens = guess
			x.rec.Estimated = true
		}
	}
	return u
}

// finish fills x's record with how the request ended and settles it.
func (p *Proxy) finish(x *exchange, status int, outcome Outcome, u Usage, errMsg string) {
	if !x.route.metered() {
		return
	}
	end := p.now()
	x.rec.Status = status
	x.rec.Outcome = outcome
	x.rec.Usage = u
	x.rec.LatencyMS = end.Sub(x.start).Milliseconds()
	if x.rec.TTFBMS == 0 && status < 400 {
		x.rec.TTFBMS = x.rec.LatencyMS
	}
	// An upstream's error text may echo the key it was sent.
	x.rec.Error = p.redactor().redact(errMsg)
	if x.logBodies {
		x.rec.ResponseBody = p.redactor().loggedBody(x.respBody)
	}
	defer func() { x.call.report(x.rec) }()
	p.setCost(x, end, outcome, u)
	if x.settleAfter {
		x.settleAfter = false // its place goes with it
		p.settleAfter(&x.rec)
		return
	}
	p.settle(&x.rec)
}

// setCost sets the cost of x's record, which used u and ended at end with
// outcome. It is finish's but a function of its own, so that the prices
// it copies are off the stack by the time the record is settled, which
// the handler may do itself, down to the ledger's write: a handler's stack
// must stay within 16 KB (TestHandlerStack).
//
//go:noinline
func (p *Proxy) setCost(x *exchange, end time.Time, outcome Outcome, u Usage) {
	switch {
	case x.route.Free || x.provider.Keyless:
		x.rec.Cost = 0
	case x.priced:
		price := &x.price
		if len(x.row.Windows) > 0 {
			// A request that spans the edge of a time-of-day window is
			// charged at the dearer side.
			price = p.dearerAtEnd(x, end, u)
		}
		if price == &x.price && x.costKnown && u == x.costed {
			x.rec.Cost = x.cost // priced already, as a stream's events were
		} else {
			x.rec.Cost = price.Cost(u)
		}
		if unknown := price.Unpriced(u); len(unknown) > 0 {
			// Partially priced: the unpriced-model policy charges the
			// part the table cannot price, never $0 for it.
			charge := x.unpricedHeld
			if charge <= 0 {
				charge = p.Policy().unpricedCharge()
			}
			x.rec.Cost = addMoney(x.rec.Cost, charge)
			x.rec.Unpriced = unknown
			x.rec.Estimated = true
		}
		if x.rates != nil && price == &x.price && len(x.row.Earlier) == 0 && len(x.row.Windows) == 0 {
			// The request was priced at the table's row as it stands.
			x.rec.Rates = x.rates.of(x.row)
		} else {
			rates := *price
			rates.Match = nil
			x.rec.Rates = &rates
		}
		if x.rec.Estimated && x.held && x.hold.Amount > 0 && x.rec.Cost > x.hold.Amount {
			// A guess never charges past the worst case the request was
			// admitted for, nor below what the provider itself reported.
			x.rec.Cost = max(x.hold.Amount, price.Cost(x.reported))
		}
	case x.hold.Estimated && (outcome == OutcomeOK || !u.IsZero()):
		// No price: charge what was held, so a budget is never
		// understated.
		x.rec.Cost = x.hold.Amount
	}
}

// dearerAtEnd is x's price, or the price of its row at end if that
// charges u more.
func (p *Proxy) dearerAtEnd(x *exchange, end time.Time, u Usage) *Price {
	later := x.row.At(end.In(p.location()))
	if later.Cost(u) > x.price.Cost(u) {
		return &later
	}
	return &x.price
}

// settle records r once the answer has gone: the handler returns at once,
// so the end of a stream reaches the caller and the connection takes its
// next request without waiting for the ledger's disk, and the settlement
// shares a commit with the holds of the requests that follow. Until it is
// written the request's hold stays reserved, so a budget never counts less
// than was spent; a crash before it is written charges the hold at the
// next start. Wait waits for the settlements under way.
func (p *Proxy) settle(r *Record) {
	if r.Prompt != "" || r.Outcome == OutcomeRefused || r.Outcome == OutcomeBlocked {
		// A prompt's caller reads the log back as soon as it has its
		// answer (sluice prompt run, then sluice log), and so does one
		// told why it was refused: write it first. Neither is the
		// path a served request's speed depends on.
		p.settleNow(r)
		return
	}
	if p.background.Add(1) > maxBackgroundSettles {
		// Settlements are queueing for the disk: this handler writes its
		// own, so that under load they cannot outrun it and the callers
		// wait instead (as many in flight, less to do on one core).
		p.settleNow(r)
		p.background.Add(-1)
		return
	}
	p.settleAfter(r)
}

// settleLater reports whether a record the handler settles next (one
// that is not a prompt's, nor refused or blocked) will be written after
// the handler returns, and if so counts it among the settlements in
// flight: the handler must then settle it with settleAfter. A handler
// that knows it will not wait on the ledger's disk can leave the last
// of its answer to go with the end of the response.
func (p *Proxy) settleLater() bool {
	if p.background.Add(1) > maxBackgroundSettles {
		p.background.Add(-1)
		return false
	}
	return true
}

// unsettled gives back the place settleLater took for x's record if
// finish did not hand the record on.
func (p *Proxy) unsettled(x *exchange) {
	if x.settleAfter {
		x.settleAfter = false
		p.background.Add(-1)
	}
}

// settleAfter writes r once the handler has returned; r is counted in
// p.background already.
func (p *Proxy) settleAfter(r *Record) {
	rec := *r // the caller's record is the caller's again once settle returns
	p.settling.Add(1)
	go func() {
		defer p.settling.Done()
		defer p.background.Add(-1)
		p.settleNow(&rec)
	}()
}

// maxBackgroundSettles is how many settlements may be written after their
// answers have gone. A few are enough for a lone client's stream to end
// and its next request to start without waiting for the disk; under
// load, handlers settling themselves hold the next requests back, which
// measured faster (bench/run.sh, json at 64 connections on one core:
// about 1,500 req/s, against 980 with every settlement in the background).
const maxBackgroundSettles = 4

// Wait returns once every settlement of a request already answered is
// written (or given up on: its hold then stays open). Call it after the
// server has stopped handing requests to the proxy, before closing the
// ledger.
func (p *Proxy) Wait() { p.settling.Wait() }

// settleNow records r, retrying a little: money is never dropped on the
// floor. A hold that still cannot be settled stays open and becomes a
// charge at its held amount at the next start. r's error is redacted in
// place.
//
// r is a pointer, as settle's is, so that the handler that settles its
// own record holds no copy of it in each frame down to the ledger's
// write: a handler's stack must stay within 16 KB (TestHandlerStack).
func (p *Proxy) settleNow(r *Record) {
	r.Error = p.redactor().redact(r.Error)
	var err error
	for i := 0; i < 3; i++ {
		err = p.Ledger.Settle(context.Background(), *r)
		if err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
	}
	p.logf("sluice: settle %s: %v (its hold stays open and is charged at start-up)", r.ID, err)
}

var errIdle = errors.New("upstream sent nothing for too long")

// errFirstByte ends an attempt at an alias's target that sent no first
// byte within Policy.FallbackAfter: the next target is tried.
type errFirstByte struct{ d time.Duration }

func (e errFirstByte) Error() string { return "no first byte within " + e.d.String() }

func (e errFirstByte) Timeout() bool   { return true }
func (e errFirstByte) Temporary() bool { return true }

// upstreamFailure maps a failed round trip to the status, outcome and
// message the caller gets.
func upstreamFailure(clientCtx context.Context, err error, provider string) (status int, outcome Outcome, kind errKind, msg string) {
	if clientCtx.Err() != nil {
		return 499, OutcomeCanceled, kindUpstream, "client went away"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout, OutcomeError, kindTimeout, provider + " did not answer in time"
	}
	return http.StatusBadGateway, OutcomeError, kindUpstream, "Sluice could not reach " + provider + ": " + err.Error()
}

// interruption names what broke a body copy.
func interruption(ctx context.Context, err error) (outcome Outcome, msg string) {
	if cause := context.Cause(ctx); cause != nil && (errors.Is(cause, errIdle) || errors.Is(cause, errPaused)) {
		return OutcomeCut, cause.Error()
	}
	if ctx.Err() != nil {
		return OutcomeCanceled, "client went away"
	}
	var we *clientWriteError
	if errors.As(err, &we) {
		return OutcomeCanceled, "client went away: " + we.err.Error()
	}
	return OutcomeCut, "upstream connection broke: " + err.Error()
}

// isClientWrite reports whether err is a failed write to the client.
func isClientWrite(err error) bool {
	var we *clientWriteError
	return errors.As(err, &we)
}

func statusFor(outcome Outcome, status int) int {
	if outcome == OutcomeCanceled {
		return 499
	}
	return status
}

// classifyUpstreamError tells an account that cannot pay from other
// errors (a rate limit is not a billing problem, even when its text points
// at the billing page), so it is shown with what to do about it. ds are
// the dialects whose error shapes the body is read in.
func classifyUpstreamError(ds []dialect, rd *redactor, prov Provider, status int, body []byte) (outcome Outcome, msg string) {
	// An upstream's error text may echo the key it was sent.
	msg, _ = rd.redactPrefix(body, 2000)
	if status == http.StatusPaymentRequired || isBillingError(ds, body) {
		return OutcomeBilling, billingAdvice(prov) + " Provider said: " + msg
	}
	return OutcomeError, msg
}

// isBillingError reads a provider's error answer in the shape of each
// of ds (a body may come from another format's compatible endpoint): the
// first whose codes know the error's type, code or status decides (each
// dialect's dialectInfo: OpenAI's insufficient_quota and Anthropic's
// billing_error are billing, rate limits and Gemini's RESOURCE_EXHAUSTED
// are not), else the message's words. A body no dialect reads as an
// error is looked at as text.
func isBillingError(ds []dialect, body []byte) bool {
	var msgs []string
	for _, d := range ds {
		e, ok := d.errorOf(body)
		if !ok {
			continue
		}
		if billing, known := d.info().billingOf(e); known {
			return billing
		}
		msgs = append(msgs, e.Message)
	}
	if msgs == nil {
		return isBillingMessage(ds, string(body))
	}
	for _, m := range msgs {
		if isBillingMessage(ds, m) {
			return true
		}
	}
	return false
}

// billingWords are the phrases that say an account cannot pay in no one
// format's words: HTTP 402's own name. Each format's providers' words
// are its dialect's (dialectInfo.billingWords).
var billingWords = []string{"payment required"}

// isBillingMessage reports whether a provider's error text says the
// account itself cannot pay, in any of ds's words or in words of no
// format.
func isBillingMessage(ds []dialect, s string) bool {
	l := strings.ToLower(s)
	has := func(words []string) bool {
		for _, k := range words {
			if strings.Contains(l, k) {
				return true
			}
		}
		return false
	}
	if has(billingWords) {
		return true
	}
	for _, d := range ds {
		if has(d.info().billingWords) {
			return true
		}
	}
	return false
}

// BillingAdvice says what to do when the built-in provider named
// provider reports that the account itself cannot pay (see
// billingAdvice).
func BillingAdvice(provider string) string {
	p := defaultProviders[provider]
	p.Name = provider
	return billingAdvice(p)
}

// billingAdvice says what to do when p reports that the account itself
// cannot pay, naming p's billing page (its BillingPage in the provider
// table) where one is known.
func billingAdvice(p Provider) string {
	where := p.BillingPage
	if where == "" {
		where = "the provider's billing page"
	}
	return "The " + p.Name + " account cannot pay for requests (this is not a rate limit, and not a Sluice budget): add credit or a payment method at " + where + ", then retry."
}

// upstreamRequestID is the provider's id for x's request, as providerID
// keeps it: from the header the provider's format names it in
// (dialectInfo.requestIDHeaders), else from Cloudflare's Cf-Ray, which
// belongs to no format.
func (p *Proxy) upstreamRequestID(x *exchange, h http.Header) string {
	d := x.route.dialect
	if x.compat {
		// A request to another format's compatible endpoint is answered
		// by a provider of that format.
		if pd := dialectNamed(p.dialectList(), x.provider.Dialect); pd != nil {
			d = pd
		}
	}
	for _, k := range d.info().requestIDHeaders {
		if v := headerValue(h, k); v != "" {
			return p.redactor().providerID(v)
		}
	}
	return p.redactor().providerID(headerValue(h, "Cf-Ray"))
}

// maxProviderID is the longest id of a request or an answer the record
// keeps; providers' ids are a few dozen characters.
const maxProviderID = 256

// providerID is id as a record may keep it: the ledger is on disk, and an
// upstream (or whatever answers in its place) that echoes a credential in
// its id must not put the credential there. An id holding a secret is kept
// redacted; one that is too long or holds anything but printable ASCII
// without spaces is not an id and is dropped.
func (rd *redactor) providerID(id string) string {
	if len(id) > maxProviderID {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return ""
		}
	}
	return rd.redact(id)
}

// clientWriteError marks a failure to write to the client, to tell it from a
// failure to read from upstream.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return e.err.Error() }

// copyFlush copies src to dst, flushing w after every read so that bytes
// reach the client as they arrive; onData runs before the first write.
func copyFlush(dst io.Writer, w http.ResponseWriter, src io.Reader, onData func()) (int64, error) {
	rc := http.NewResponseController(w)
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			onData()
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, &clientWriteError{werr}
			}
			n += int64(k)
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return n, &clientWriteError{ferr}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// copyBuffers are copyFlush's buffers, reused: a fresh 32 KiB for every
// answer was the request path's largest allocation.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// keepWriter writes to w and keeps the first maxMeteredBody bytes
// written, as io.MultiWriter(w, limitedBuffer) would, in one allocation.
type keepWriter struct {
	w    io.Writer
	buf  bytes.Buffer
	kept limitedBuffer // of buf
}

func (k *keepWriter) Write(b []byte) (int, error) {
	n, err := k.w.Write(b)
	if err != nil {
		return n, err
	}
	if n != len(b) {
		return n, io.ErrShortWrite
	}
	k.kept.Write(b)
	return len(b), nil
}

// maxPresized is the most of an answer's announced length kept room for
// before it arrives.
const maxPresized = 1 << 20

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(b []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(b) > room {
			l.buf.Write(b[:room])
		} else {
			l.buf.Write(b)
		}
	}
	return len(b), nil
}

// idleReader calls onIdle when no read has returned data for d.
type idleReader struct {
	r  io.Reader
	d  time.Duration
	mu sync.Mutex // guards t
	t  *time.Timer
}

// start starts ir reading r, with its timer; ir must be new.
func (ir *idleReader) start(r io.Reader, d time.Duration, onIdle func()) {
	ir.r, ir.d = r, d
	ir.t = time.AfterFunc(d, onIdle)
}

func (ir *idleReader) Read(b []byte) (int, error) {
	n, err := ir.r.Read(b)
	if n > 0 {
		ir.mu.Lock()
		ir.t.Reset(ir.d)
		ir.mu.Unlock()
	}
	return n, err
}

// stop ends the timer; the reader must not be used afterwards.
func (ir *idleReader) stop() {
	ir.mu.Lock()
	ir.t.Stop()
	ir.mu.Unlock()
}

// flushReader reads a stream from upstream for relayStream, flushing
// what was written to the client since the last flush before each read:
// the events of one read leave in one write, as a reverse proxy's copy
// sends them, and none waits on the upstream's next bytes.
//
// A flushReader is not safe for concurrent use.
type flushReader struct {
	r       io.Reader
	rc      *http.ResponseController
	dirty   bool         // written to the client since the last flush
	headers *heldHeaders // the response's headers, until the first read returns
	unsent  bool         // the headers, taken from the timer, are not flushed yet
}

func (f *flushReader) Read(b []byte) (int, error) {
	if f.unsent {
		// The first read wrote the client nothing (part of an event, a
		// comment a translated stream drops): the headers leave before
		// the next wait on the upstream, not with the first event.
		f.dirty = true
	}
	if err := f.flush(); err != nil {
		return 0, err
	}
	n, err := f.r.Read(b)
	if f.headers != nil {
		// Nothing is written to the client before this read returns:
		// from here only this goroutine flushes.
		f.unsent = !f.headers.take()
		f.headers = nil
	}
	return n, err
}

// headerWait is how long a stream's headers wait for its first events,
// to leave in the same write: the events that come with the headers
// (most streams' first ones) are in the transport's buffer already. A
// caller waiting on the headers of a stream whose upstream is slower
// gets them this much later; its first event is not delayed.
const headerWait = time.Millisecond

// streamParts are what relayStream keeps for one stream, made in one
// allocation rather than one each.
type streamParts struct {
	rc      http.ResponseController
	headers heldHeaders
	fl      flushReader
	er      sseReader
	m       streamMeter
}

// heldHeaders are a response's headers, written but not flushed: they
// are flushed by a timer unless the handler takes them first.
//
// The timer's flush and the handler's writes never overlap: the handler
// writes only after take, which waits out a flush under way.
type heldHeaders struct {
	t     *time.Timer
	rc    *http.ResponseController
	mu    sync.Mutex // guards taken and sent, and the response while the timer flushes
	taken bool
	sent  bool // the timer flushed the headers
}

// hold flushes rc's headers in d unless take is called first. h must
// be new.
func (h *heldHeaders) hold(rc *http.ResponseController, d time.Duration) {
	h.rc = rc
	h.t = time.AfterFunc(d, h.send)
}

func (h *heldHeaders) send() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.taken {
		h.taken, h.sent = true, true
		h.rc.Flush()
	}
}

// take stops the timer: from its return the handler writes and flushes
// alone. It reports whether the timer flushed the headers. It may be
// called more than once.
func (h *heldHeaders) take() (sent bool) {
	if h.t.Stop() {
		h.taken = true // the timer will not run
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.taken = true
	return h.sent
}

// flush sends what was written to the client; its error is a
// *clientWriteError.
func (f *flushReader) flush() error {
	if !f.dirty {
		return nil
	}
	f.dirty, f.unsent = false, false
	if err := f.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return &clientWriteError{err}
	}
	return nil
}

// relayTranslatedBody answers a translated request whose answer is not a
// stream: the provider's answer, metered as it came, in the caller's
// format; or the provider's error, status and shape translated.
//
// It reports true, having written nothing, when the answer broke off or
// could not be translated and an alias's next target is to be tried: the
// whole answer is read before a byte of it is written.
func (p *Proxy) relayTranslatedBody(w http.ResponseWriter, r *http.Request, x *exchange, resp *http.Response, body io.Reader, ctx context.Context) (fellBack bool) {
	var kept bytes.Buffer
	n, copyErr := io.Copy(&limitedBuffer{buf: &kept, max: maxMeteredBody}, body)
	stopped := ctx.Err() != nil
	if copyErr != nil && !stopped && x.alias.more() {
		p.fellBackAfterHeaders(x, fmt.Sprintf("answered %d then its answer broke off: %v", resp.StatusCode, copyErr))
		return true
	}
	x.rec.TTFBMS = p.now().Sub(x.start).Milliseconds()
	if x.logBodies {
		x.respBody = kept.Bytes()
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	status := resp.StatusCode
	if copyErr != nil {
		outcome, errMsg := interruption(ctx, copyErr)
		if outcome != OutcomeCanceled {
			// The record says what the caller got: a 502, not the
			// provider's 200.
			status = http.StatusBadGateway
		}
		p.finish(x, statusFor(outcome, status), outcome, floorUsage(x, Usage{}, n), errMsg)
		if outcome != OutcomeCanceled {
			// Recorded by finish.
			p.fail(w, r, x.callerDialect(), nil, fail(http.StatusBadGateway, kindUpstream, "the provider's answer broke off: "+errMsg))
		}
		return
	}
	if status >= 300 {
		outcome, errMsg := classifyUpstreamError(p.dialectList(), p.redactor(), x.provider, status, kept.Bytes())
		st, eb := translateErrorBody(x.xl.target, x.xl.caller, status, kept.Bytes())
		w.WriteHeader(st)
		w.Write(eb)
		p.finish(x, status, outcome, Usage{}, errMsg)
		return false
	}
	u, _, ok := x.route.dialect.usage(x.route, kept.Bytes())
	if !ok {
		// Never $0: the input bound and the answer's bytes, estimated.
		u = floorUsage(x, Usage{}, n)
		x.rec.Estimated = true
	}
	out, err := translateBody(x.xl.target, x.xl.caller, x.xl.req, kept.Bytes())
	if err != nil && x.alias.more() {
		p.fellBackAfterHeaders(x, fmt.Sprintf("answered %d with an answer Sluice could not translate: %v", status, err))
		return true
	}
	if err != nil {
		p.finish(x, http.StatusBadGateway, OutcomeError, u, err.Error())
		// Recorded by finish.
		p.fail(w, r, x.callerDialect(), nil, fail(http.StatusBadGateway, kindUpstream, "Sluice could not translate the provider's answer: "+err.Error()))
		return
	}
	w.WriteHeader(status)
	w.Write(out)
	p.finish(x, status, OutcomeOK, u, "")
	return false
}
