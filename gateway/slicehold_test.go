package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// growHoldBefore is growHold as it was before sliceCovers, kept word for
// word: it prices every event's usage. growHold must decide as it does,
// extend by the same amounts and return the same messages.
func growHoldBefore(p *Proxy, x *exchange, u Usage, shown int64, flush func() error) string {
	if !x.priced || !x.held || x.hold.Amount <= 0 {
		return ""
	}
	if x.sliced {
		u.OutputTokens = max(u.OutputTokens, shown)
	}
	if !x.costKnown || u != x.costed {
		x.costed, x.cost, x.costKnown = u, x.price.Cost(u), true
	}
	cost := x.cost
	if cost <= x.hold.Amount && (!x.sliced || u.OutputTokens <= x.outHeld) {
		return ""
	}
	if !x.sliced {
		// The estimate was too low (a price changed, or the provider
		// counted more than the bound): hold as much again.
		return p.extend(x, cost+x.hold.Amount, x.outHeld, flush)
	}
	next := u
	next.OutputTokens = u.OutputTokens + x.slice
	if next.OutputTokens > x.outBound {
		next.OutputTokens = max(x.outBound, u.OutputTokens)
	}
	want := max(x.price.Cost(next), p.sliceCost(x, next.OutputTokens)+x.unpricedHeld)
	return p.extend(x, want, next.OutputTokens, flush)
}

// extendLog is a ledger that grants every hold and extends one up to
// limit, refusing past it; it notes each amount it was asked for.
type extendLog struct {
	limit Money
	asked []Money
}

func (l *extendLog) Hold(context.Context, Hold) error     { return nil }
func (l *extendLog) Settle(context.Context, Record) error { return nil }
func (l *extendLog) Extend(_ context.Context, id string, amount Money) error {
	l.asked = append(l.asked, amount)
	if amount > l.limit {
		return &Refusal{Budget: "test", Scope: "all requests", Limit: l.limit, Wanted: amount}
	}
	return nil
}

// randomRow is a price row with rates drawn from a few, zero (no rate,
// or a fallback to another) among them, and at times long-context
// tiers, service tiers, regions, a web search fee and a rate below zero,
// which a table refuses but Cost must still weigh the same. A rate,
// tier or count Cost learns must be drawn here too, or
// TestCostGrowsWithOutput cannot see whether it keeps Cost from falling
// as output grows.
func randomRow(r *rand.Rand) Price {
	rate := func() Money {
		switch r.IntN(8) {
		case 0, 1:
			return 0
		case 2:
			if r.IntN(20) == 0 {
				return -Money(r.IntN(1000))
			}
		}
		return Money(r.IntN(50_000_000) + 1)
	}
	rates := func() Rates {
		return Rates{Input: rate(), Output: rate(), CachedInput: rate(), CacheWrite: rate(), CacheWrite1h: rate(),
			InputAudio: rate(), CachedInputAudio: rate(), InputImage: rate(), InputVideo: rate(),
			OutputAudio: rate(), OutputImage: rate(), OutputVideo: rate(), Reasoning: rate()}
	}
	tiers := func() []Tier {
		var ts []Tier
		for range r.IntN(3) {
			ts = append(ts, Tier{AboveInputTokens: int64(r.IntN(300_000)), Input: rate(), Output: rate(),
				CachedInput: rate(), CacheWrite: rate(), CacheWrite1h: rate(), InputAudio: rate(), CachedInputAudio: rate()})
		}
		return ts
	}
	p := Price{Provider: "test", Model: "random", MaxOutput: int64(r.IntN(200_000))}
	p.SetRates(rates())
	p.Tiers = tiers()
	if r.IntN(3) == 0 {
		p.WebSearch, p.WebSearchPerRequest = rate(), r.IntN(2) == 0
	}
	for _, name := range []string{"flex", "priority"} {
		if r.IntN(2) == 0 {
			st := ServiceTier{Name: name, Rates: rates()}
			st.Tiers = tiers()
			p.ServiceTiers = append(p.ServiceTiers, st)
		}
	}
	if r.IntN(2) == 0 {
		p.Regions = []Region{{Name: "us", Multiplier: []string{"1.1", "2", "0.5", "3/7"}[r.IntN(4)]}}
	}
	return p
}

// randomUsage changes u as a stream's events may: a count reported (its
// output more or less than shown, input past a tier, tokens cached,
// written, of reasoning or of a modality), a service tier, region or
// speed reported, web searches run; or nothing.
func randomUsage(r *rand.Rand, u Usage) Usage {
	n := func() int64 { return int64(r.IntN(400_000)) }
	switch r.IntN(12) {
	case 0:
		u.InputTokens = n()
	case 1:
		u.OutputTokens = int64(r.IntN(40_000))
	case 2:
		u.CachedInputTokens = n()
	case 3:
		u.CacheWriteTokens, u.CacheWrite1hTokens = n(), n()
	case 4:
		u.ReasoningTokens = int64(r.IntN(40_000))
	case 5:
		u.OutputAudioTokens, u.OutputImageTokens, u.OutputVideoTokens = int64(r.IntN(5000)), int64(r.IntN(5000)), int64(r.IntN(5000))
	case 6:
		u.InputAudioTokens, u.InputImageTokens, u.CachedAudioTokens = n(), n(), n()
	case 7:
		u.ServiceTier = []string{"", "default", "flex", "priority", "batch"}[r.IntN(5)]
	case 8:
		u.InferenceGeo = []string{"", "global", "us", "mars"}[r.IntN(4)]
	case 9:
		u.Speed = []string{"", "standard", "fast"}[r.IntN(3)]
	case 10:
		u.WebSearchCalls, u.CodeExecutionCalls = int64(r.IntN(5)), int64(r.IntN(2))
	}
	return u
}

// TestGrowHoldUnchanged relays random streams, event by event, through
// growHold and through growHoldBefore, on rows of the table (tiers,
// service tiers, regions, dated and time-of-day rates) and random rows,
// at random times of day, a third of them from the edge of their hold:
// both must stop the same streams at the same events with the same
// message, ask the ledger for the same amounts and flush as often. And a
// stream growHold lets on must be within its hold: its usage so far,
// output counted as at least the bytes shown, costs no more than is
// held, and its output is within what the hold covers.
func TestGrowHoldUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rows := DefaultPrices().All()
	for range 200 {
		rows = append(rows, randomRow(r))
	}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	utc := &Proxy{}
	utc.SetPolicy(Policy{Location: time.UTC})
	streams, events, shortcuts, extended, cut := 0, 0, 0, 0, 0
	for i := range 6000 {
		row := rows[r.IntN(len(rows))]
		start := day.Add(time.Duration(r.IntN(24*60))*time.Minute).AddDate(0, 0, -r.IntN(800))
		slice := int64(1 + r.IntN(3000))
		bills := []billing{{}, {audioIn: true, audioOut: true}, {imageOut: true, tier: "priority"}, {geo: "us", webSearch: 3}, {tier: "flex", speed: "fast", codeExec: true}}
		bill := bills[r.IntN(len(bills))]
		info := requestInfo{InputBound: int64(r.IntN(300_000)), MaxOutput: int64(r.IntN(100_000)), Choices: 1}
		sliced, unpriced := r.IntN(8) != 0, Money(0)
		if r.IntN(4) == 0 {
			unpriced = Money(r.IntN(10_000_000))
		}
		// admit's hold, made twice: one stream for each growHold.
		admit := func() *exchange {
			x := &exchange{row: &row, price: row.At(start), priced: true, held: true, start: start, billing: bill, info: info}
			x.hold.ID = "h"
			x.hold.Amount, x.outBound = worstCost(x.row, x.start.In(time.UTC), &x.info, &x.billing, &x.route)
			x.outHeld = x.outBound
			if sliced && slice < x.outBound {
				x.sliced, x.slice, x.outHeld = true, slice, slice
				x.hold.Amount = utc.sliceCost(x, slice)
			}
			x.unpricedHeld = unpriced
			x.hold.Amount = addMoney(x.hold.Amount, unpriced)
			return x
		}
		now, before := admit(), admit()
		// A third of the streams start at the edge of their hold: the
		// first event's output is at or next to all that is held, and
		// the hold is what the first usage costs with that output, a
		// picodollar less, or one more.
		var u Usage
		var shown int64
		edge := r.IntN(3) == 0
		if edge {
			for range 4 {
				u = randomUsage(r, u)
			}
			u.OutputTokens = min(u.OutputTokens, now.outHeld)
			shown = now.outHeld - int64(r.IntN(2))
			ceiling := u
			ceiling.OutputTokens = now.outHeld
			now.hold.Amount = now.price.Cost(ceiling) + Money(r.IntN(3)-1)
			before.hold.Amount = now.hold.Amount
		}
		if now.hold.Amount <= 0 {
			continue
		}
		// Some ledgers grant every slice; others refuse at a limit
		// between the first hold and ten times it.
		limit := Money(1<<62 - 1)
		if r.IntN(2) == 0 {
			limit = now.hold.Amount + Money(r.Int64N(int64(min(now.hold.Amount, 1<<58))*9+1))
		}
		nowLog, beforeLog := &extendLog{limit: limit}, &extendLog{limit: limit}
		pNow, pBefore := &Proxy{Ledger: nowLog}, &Proxy{Ledger: beforeLog}
		pNow.SetPolicy(Policy{Location: time.UTC})
		pBefore.SetPolicy(Policy{Location: time.UTC})
		nowFlushes, beforeFlushes := 0, 0
		flushNow := func() error { nowFlushes++; return nil }
		flushBefore := func() error { beforeFlushes++; return nil }

		streams++
		for ev := range 1 + r.IntN(60) {
			if ev > 0 || !edge {
				if r.IntN(3) == 0 {
					u = randomUsage(r, u)
				}
				shown += int64(r.IntN(int(slice/2 + 100)))
			}
			events++
			covered := now.sliced && max(u.OutputTokens, shown) <= now.outHeld
			if covered {
				c := u
				c.OutputTokens = now.outHeld
				covered = now.price.Cost(c) <= now.hold.Amount
			}
			got := pNow.growHold(now, u, shown, flushNow)
			want := growHoldBefore(pBefore, before, u, shown, flushBefore)
			where := fmt.Sprintf("stream %d (%s, sliced %v, slice %d), event %d, usage %+v, shown %d", i, row.Ref(), now.sliced, now.slice, ev, u, shown)
			if got != want {
				t.Fatalf("%s: growHold = %q, before %q", where, got, want)
			}
			if now.hold.Amount != before.hold.Amount || now.outHeld != before.outHeld || now.rec.Held != before.rec.Held {
				t.Fatalf("%s: holds %s for %d tokens (record %s), before %s for %d (record %s)", where,
					now.hold.Amount, now.outHeld, now.rec.Held, before.hold.Amount, before.outHeld, before.rec.Held)
			}
			if fmt.Sprint(nowLog.asked) != fmt.Sprint(beforeLog.asked) || nowFlushes != beforeFlushes {
				t.Fatalf("%s: asked the ledger for %v after %d flushes, before %v after %d", where, nowLog.asked, nowFlushes, beforeLog.asked, beforeFlushes)
			}
			if got != "" {
				cut++
				break
			}
			seen := u
			if now.sliced {
				seen.OutputTokens = max(seen.OutputTokens, shown)
				if seen.OutputTokens > now.outHeld {
					t.Fatalf("%s: let on with %d output tokens, %d held", where, seen.OutputTokens, now.outHeld)
				}
			}
			if c := now.price.Cost(seen); c > now.hold.Amount {
				t.Fatalf("%s: let on costing %s, %s held", where, c, now.hold.Amount)
			}
			if covered {
				shortcuts++
			}
		}
		if len(nowLog.asked) > 0 {
			extended++
		}
	}
	t.Logf("%d streams, %d events (%d within the ceiling of their slice), %d extended, %d cut", streams, events, shortcuts, extended, cut)
	if shortcuts < events/4 || extended < streams/10 || cut < streams/20 {
		t.Errorf("%d streams, %d events (%d within the ceiling), %d extended, %d cut: too few of each to compare", streams, events, shortcuts, extended, cut)
	}
}

// TestCostGrowsWithOutput is what sliceCovers rests on: with the other
// counts the same, a usage costs no more than it does with more output
// tokens, at every row of the table and random rows, for random usages.
func TestCostGrowsWithOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	rows := DefaultPrices().All()
	for range 500 {
		rows = append(rows, randomRow(r))
	}
	when := []time.Time{time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 17, 30, 0, 0, time.UTC)}
	for _, row := range rows {
		for _, at := range when {
			for _, alt := range row.alternatives(at) {
				var u Usage
				for range 50 {
					u = randomUsage(r, u)
					u.OutputTokens = int64(r.IntN(50_000))
					more := u
					more.OutputTokens += []int64{0, 1, int64(r.IntN(100_000)), 1 << 40}[r.IntN(4)]
					if lo, hi := alt.Cost(u), alt.Cost(more); lo > hi {
						t.Fatalf("%s at %v: %+v costs %s, with %d output tokens %s", alt.Ref(), at, u, lo, more.OutputTokens, hi)
					}
				}
			}
		}
	}
}
