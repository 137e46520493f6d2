package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// A stream need not hold its worst case up front. It holds its input bound
// and one slice of output; as the answer is relayed, each event is
// counted before it is written, and when the output would pass what is
// held the hold grows by another slice, durably, before the event goes on.
// When a budget cannot cover the next slice the stream is cut with the
// dialect's terminal error event. So a budget is never passed by more than
// what was held before it was relayed.
//
// Output is counted as the larger of what the provider reported so far and
// the bytes of generated text, arguments and reasoning the events carried:
// every token is at least one byte of text, so the bytes bound the tokens
// from above. Output a provider generates without showing it (hidden
// reasoning) is known only when it reports usage, at the end of most
// streams; a stream whose hidden reasoning outgrows its slice can pass a
// limit by that much. StrictHolds holds the worst case instead.

// streamSlice is the slice a request is held for, or 0 when it is held for
// its worst case: it does not stream events Sluice reads one by one, it
// runs in the background, the ledger cannot extend a hold, or the policy
// wants strict holds.
func (p *Proxy) streamSlice(x *exchange) int64 {
	if !x.sse || x.route.embeds || x.info.Background {
		// A background response runs on when its stream is left: it is
		// held for its worst case until it is read back.
		return 0
	}
	if _, ok := p.Ledger.(Extender); !ok {
		return 0
	}
	pol := p.Policy()
	if pol.StrictHolds {
		return 0
	}
	if pol.StreamSlice > 0 {
		return pol.StreamSlice
	}
	return DefaultStreamSlice
}

// sliceCost is what x holds for out output tokens: its input bound at the
// dearest input rate and out tokens of output.
func (p *Proxy) sliceCost(x *exchange, out int64) Money {
	info := x.info
	info.MaxOutput, info.Choices = out, 1
	c, _ := worstCost(x.row, x.start.In(p.location()), info, x.billing, x.route)
	return c
}

// isClaudeCode reports whether a User-Agent is Claude Code's
// ("claude-cli/2.1.332 (external, sdk-cli)").
func isClaudeCode(ua string) bool { return strings.HasPrefix(ua, "claude-cli/") }

// growHold makes sure x's hold covers the usage u seen so far, with output
// counted as at least shown bytes; it returns why not when the stream must
// stop before relaying more. Before it waits on the ledger to hold more it
// calls flush, so what was relayed already does not wait with it.
func (p *Proxy) growHold(x *exchange, u Usage, shown int64, flush func() error) string {
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

// extend asks the ledger to raise x's hold to amount, covering out output
// tokens; it returns why not when the stream must stop. flush runs
// before the ledger is asked.
func (p *Proxy) extend(x *exchange, amount Money, out int64, flush func() error) string {
	e, ok := p.Ledger.(Extender)
	if !ok {
		return "its cost passed the amount held for it"
	}
	if amount <= x.hold.Amount {
		x.outHeld = max(x.outHeld, out)
		return ""
	}
	// A client that left is found at the next write.
	flush()
	err := e.Extend(context.Background(), x.hold.ID, amount)
	var ref *Refusal
	switch {
	case err == nil:
		x.hold.Amount, x.rec.Held = amount, amount
		x.outHeld = max(x.outHeld, out)
		return ""
	case errors.As(err, &ref):
		return refusalMessage(ref, "")
	default:
		p.logf("sluice: extend hold %s: %v", x.hold.ID, err)
		return "its cost passed the amount held for it, and no more could be held"
	}
}

// shownSpec says where a format's stream events carry generated output:
// its text, arguments and reasoning, but not ids, names of types, roles
// or signatures. Other events repeat what deltas carried, or carry none.
type shownSpec struct {
	// deltaSuffix: an event whose "type" ends so carries output in its
	// members ("delta": Anthropic's content_block_delta, the Responses
	// API's *.delta events); an event of another type carries none. ""
	// for a format whose events have no type.
	deltaSuffix string
	// member holds the output of an event without a type (a chat
	// chunk's choices, Gemini's candidates); "" for none.
	member string
	// skip are the members whose strings are not generated output.
	skip map[string]bool
}

// bytes counts the bytes of generated output an event's data carries.
func (sp *shownSpec) bytes(data []byte) int64 {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return 0
	}
	var ev map[string]json.RawMessage
	if json.Unmarshal(data, &ev) != nil {
		return 0
	}
	if t, ok := ev["type"]; ok {
		var typ string
		json.Unmarshal(t, &typ)
		if sp.deltaSuffix == "" || !strings.HasSuffix(typ, sp.deltaSuffix) {
			return 0
		}
		var n int64
		for k, v := range ev {
			if !sp.skip[k] {
				n += stringBytes(v, sp.skip)
			}
		}
		return n
	}
	if sp.member == "" {
		return 0
	}
	return stringBytes(ev[sp.member], sp.skip)
}

// stringBytes sums the lengths of the strings in a JSON value, members in
// skip left out.
func stringBytes(raw json.RawMessage, skip map[string]bool) int64 {
	if len(raw) == 0 {
		return 0
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return int64(len(raw))
	}
	return walkStrings(v, skip)
}

func walkStrings(v any, skip map[string]bool) int64 {
	switch v := v.(type) {
	case string:
		return int64(len(v))
	case []any:
		var n int64
		for _, x := range v {
			n += walkStrings(x, skip)
		}
		return n
	case map[string]any:
		var n int64
		for k, x := range v {
			if !skip[k] {
				n += walkStrings(x, skip)
			}
		}
		return n
	}
	return 0
}
