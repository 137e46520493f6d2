package gateway

import (
	"context"
	"net/http"
	"time"
)

// Background responses. A Responses API request with "background": true
// is answered at once, queued, with no usage: the model runs afterwards,
// and its usage is known only when the response is read back (GET
// /v1/responses/{id}, or its stream resumed with starting_after). Sluice
// keeps the request's hold open, durably, until a read-back reports the
// response finished, and charges it then, once; a response cancelled or
// deleted before that, or never read back within Policy.BackgroundHold,
// is charged its hold.

// A backgroundDialect can run an answer in the background: its inspect
// sets Background on such a request, and its read-back endpoints (a
// route with an Op) report the answer's progress or end it. A dialect
// without it has neither, and the request path never asks.
type backgroundDialect interface {
	// queued reads a whole answer to a Background request: the id of an
	// answer still running, or "" when the answer is already finished
	// (or is not one the dialect runs in the background).
	queued(body []byte) (id string)
	// readBack reads the 2xx answer to a read-back op: done when the
	// background answer will change no more, ended when it finished
	// without running to its end (cancelled, deleted), so that its usage
	// is not to be read from body.
	readBack(op readOp, body []byte) (done, ended bool)
}

// defaultBackgroundHold is how long a background response's hold waits.
const defaultBackgroundHold = 24 * time.Hour

// expireEvery is how often ServeHTTP asks the ledger to charge deferred
// holds whose time has passed.
const expireEvery = time.Minute

// expireDeferred charges deferred holds whose time has passed, at most
// once every expireEvery.
func (p *Proxy) expireDeferred(now time.Time) {
	d, ok := p.Ledger.(Deferrer)
	if !ok {
		return
	}
	last := p.lastExpire.Load()
	if now.UnixNano()-last < int64(expireEvery) || !p.lastExpire.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Expire(ctx, now); err != nil {
		p.logf("sluice: charge expired background holds: %v", err)
	}
}

// deferHold keeps x's hold open until the background response id is read
// back finished. A ledger that cannot defer charges the hold now.
func (p *Proxy) deferHold(x *exchange, status int, id string) {
	end := p.now()
	x.rec.Status = status
	x.rec.Outcome = OutcomeOK
	x.rec.LatencyMS = end.Sub(x.start).Milliseconds()
	if x.rec.UpstreamID == "" {
		x.rec.UpstreamID = id
	}
	if x.priced {
		rates := x.price
		rates.Match = nil
		x.rec.Rates = &rates
	}
	lifetime := p.Policy().BackgroundHold
	if lifetime <= 0 {
		lifetime = defaultBackgroundHold
	}
	d, ok := p.Ledger.(Deferrer)
	if ok && x.held {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.Defer(ctx, x.provider.Name+"/"+id, x.rec, end.Add(lifetime))
		cancel()
		if err == nil {
			return
		}
		p.logf("sluice: defer background response %s: %v (charged its hold now)", id, err)
	}
	x.rec.Cost = x.hold.Amount
	x.rec.Estimated = true
	x.rec.Error = "background response: its usage could not be waited for; charged the amount held for it"
	p.settle(&x.rec)
}

// readBack looks at a read-back of a deferred background response and
// settles the deferred record when the response is finished, cancelled or
// deleted.
func (p *Proxy) readBack(x *exchange, status int, body []byte) {
	if status < 200 || status >= 300 {
		return
	}
	bd, ok := x.route.dialect.(backgroundDialect)
	if !ok {
		return
	}
	done, ended := bd.readBack(x.route.Op, body)
	switch {
	case !done:
	case ended:
		p.settleDeferred(*x.deferred, Usage{}, true)
	default:
		rt := x.route
		rt.Name = rt.answers
		u, _, ok := rt.dialect.usage(rt, body)
		p.settleDeferred(*x.deferred, u, !ok)
	}
}

// settleDeferred charges a deferred background response: at the usage its
// finished response reports, or, when it was cancelled, deleted or
// reports none, at its held amount.
func (p *Proxy) settleDeferred(rec Record, u Usage, atHold bool) {
	end := p.now()
	rec.LatencyMS = end.Sub(rec.Time).Milliseconds()
	switch {
	case atHold || u.IsZero():
		rec.Usage = u
		rec.Cost = rec.Held
		rec.Estimated = true
		rec.Error = "background response cancelled, deleted or finished without usage: charged the amount held for it"
	case rec.Rates != nil:
		// At the rates in force when the request was made.
		rec.Usage = u
		rec.Cost = rec.Rates.Cost(u)
	default:
		rec.Usage = u
		rec.Cost = rec.Held
	}
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	p.settle(&rec)
}
