package gateway

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
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
	c, _ := worstCost(x.row, x.start.In(p.location()), &info, &x.billing, &x.route)
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
		if u.OutputTokens <= x.outHeld && sliceCovers(x, u) {
			return ""
		}
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

// sliceCovers reports whether x's hold covers u even with its output
// raised to all the hold covers, x.outHeld: then growHold has nothing to
// do, as u, with no more output, costs no more. The ceiling is priced
// again only when u's other counts or outHeld change, a few times a
// stream, where u itself changes with every event (the shown bytes raise
// its output).
//
// u costs no more than its ceiling because Price.Cost never falls as
// output tokens grow, all else the same: the rates are chosen by input
// tokens (a long-context tier), service tier, region and speed, never by
// output; each count of output tokenCounts makes (text, reasoning, audio,
// image, video) never falls as output grows; and mulMoney and addMoney
// never fall as a count grows (a rate at or below zero charges nothing;
// both saturate rather than wrap). The price is x.price, the row at the
// stream's start, which growHold prices every event at (time-of-day
// windows come in only at settlement), and the hold compared is the one
// growHold compares, the part held for what has no price included. When
// the ceiling costs more than is held, growHold prices u as before.
func sliceCovers(x *exchange, u Usage) bool {
	ceiling := u
	ceiling.OutputTokens = x.outHeld
	if !x.ceilingKnown || ceiling != x.ceiling {
		x.ceiling, x.ceilingCost, x.ceilingKnown = ceiling, x.price.Cost(ceiling), true
	}
	return x.ceilingCost <= x.hold.Amount
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
	skip nameSet
}

// nameSet is a few member names, kept by their length: every key of an
// event is looked up in a spec's skip names, and comparing it with the
// few names of its length, when there are any, costs less than hashing
// it as a map would.
type nameSet [][]string

// newNameSet returns the set of names.
func newNameSet(names ...string) nameSet {
	var s nameSet
	for _, name := range names {
		for len(s) <= len(name) {
			s = append(s, nil)
		}
		s[len(name)] = append(s[len(name)], name)
	}
	return s
}

// has reports whether name is in s.
func (s nameSet) has(name []byte) bool {
	if len(name) >= len(s) {
		return false
	}
	for _, n := range s[len(name)] {
		if n == string(name) {
			return true
		}
	}
	return false
}

// bytes counts the bytes of generated output an event's data carries: the
// length of its strings as encoding/json decodes them. It reads the data
// with the scanner, in place: an event costs no allocation to count. A
// member named twice is counted twice (an upper bound, as the count is).
// Data that is not one well-formed JSON object carries none.
func (sp *shownSpec) bytes(data []byte) int64 {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return 0
	}
	var ev shownEvent
	if !ev.read(sp, data) {
		return 0
	}
	switch {
	case !ev.typed:
		return ev.member
	case sp.deltaSuffix == "" || !bytes.HasSuffix(ev.typ, []byte(sp.deltaSuffix)):
		return 0
	case ev.early:
		// Members came before the type, uncounted: count the whole
		// event again, known well formed now.
		return stringBytes(data, sp.skip)
	}
	return ev.total
}

// shownEvent is what one walk over an event's data finds for bytes.
type shownEvent struct {
	// typed: the event has a member "type"; typ is the text of the last
	// one, nil when it is not a string.
	typed bool
	typ   []byte
	// member is the count of the last member named as the spec's member.
	member int64
	// total is the count of the members not skipped, from the first
	// "type" on; early says members came before it, which total misses.
	// A typed event's output is in all its members, but which event is
	// typed is known only once its type is found, first in nearly all.
	total int64
	early bool
}

// read walks the object data (no white space around it) once, checking
// it as scanObject does and counting as it goes: the strings of the
// output member, and those of every member once the event is known to
// be typed. The other members are only checked. It reports whether data
// is well formed.
func (ev *shownEvent) read(sp *shownSpec, data []byte) bool {
	i := spaceEnd(data, 1)
	if i < len(data) && data[i] == '}' {
		return spaceEnd(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		ke, name, err := keyEnd(data, i)
		if err != nil {
			return false
		}
		isType := string(name) == "type"
		isMember := !isType && sp.member != "" && string(name) == sp.member
		tally := ev.typed || isType
		if !tally {
			ev.early = true
		} else if sp.skip.has(name) {
			tally = false
		}
		if i = spaceEnd(data, ke); i >= len(data) || data[i] != ':' {
			return false
		}
		vs := spaceEnd(data, i+1)
		var n int64
		var ve int
		if tally || isMember {
			n, ve, err = sp.countedEnd(data, vs, 1)
		} else {
			ve, err = valueEndDepth(data, vs, 1)
		}
		if err != nil {
			return false
		}
		switch {
		case isType:
			ev.typed, ev.typ = true, nil
			if data[vs] == '"' {
				ev.typ = nameText(data[vs:ve])
			}
		case isMember:
			ev.member = n
		}
		if tally {
			ev.total += n
		}
		var last bool
		if i, last, err = nextElement(data, ve, '}'); err != nil {
			return false
		}
		if last {
			return spaceEnd(data, i) == len(data)
		}
		i = spaceEnd(data, i)
	}
}

// countedEnd is valueEndDepth that also counts: stringBytes of the value
// at b[i], found as the value is checked, in one walk. Members in skip
// are checked and not counted.
func (sp *shownSpec) countedEnd(b []byte, i, depth int) (int64, int, error) {
	if i >= len(b) {
		return 0, i, errScan
	}
	switch b[i] {
	case '"':
		e, err := stringEnd(b, i)
		if err != nil {
			return 0, e, err
		}
		return stringLen(b[i:e]), e, nil
	case '[':
		return sp.countedArrayEnd(b, i, depth)
	case '{':
		return sp.countedObjectEnd(b, i, depth)
	}
	// A number, a literal, or no value: nothing to count.
	e, err := valueEndDepth(b, i, depth)
	return 0, e, err
}

// countedArrayEnd is countedEnd of the array at b[i].
func (sp *shownSpec) countedArrayEnd(b []byte, i, depth int) (int64, int, error) {
	if depth >= maxScanDepth {
		return 0, i, errScan
	}
	if i = spaceEnd(b, i+1); i < len(b) && b[i] == ']' {
		return 0, i + 1, nil
	}
	var n int64
	for {
		m, e, err := sp.countedEnd(b, i, depth+1)
		if err != nil {
			return 0, e, err
		}
		n += m
		var last bool
		if i, last, err = nextElement(b, e, ']'); err != nil {
			return 0, i, err
		} else if last {
			return n, i, nil
		}
		i = spaceEnd(b, i)
	}
}

// countedObjectEnd is countedEnd of the object at b[i].
func (sp *shownSpec) countedObjectEnd(b []byte, i, depth int) (int64, int, error) {
	if depth >= maxScanDepth {
		return 0, i, errScan
	}
	if i = spaceEnd(b, i+1); i < len(b) && b[i] == '}' {
		return 0, i + 1, nil
	}
	var n int64
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, i, errScan
		}
		ke, name, err := keyEnd(b, i)
		if err != nil {
			return 0, ke, err
		}
		skipped := sp.skip.has(name)
		if i = spaceEnd(b, ke); i >= len(b) || b[i] != ':' {
			return 0, i, errScan
		}
		var m int64
		var ve int
		if skipped {
			ve, err = valueEndDepth(b, spaceEnd(b, i+1), depth+1)
		} else {
			m, ve, err = sp.countedEnd(b, spaceEnd(b, i+1), depth+1)
		}
		if err != nil {
			return 0, ve, err
		}
		n += m
		var last bool
		if i, last, err = nextElement(b, ve, '}'); err != nil {
			return 0, i, err
		} else if last {
			return n, i, nil
		}
		i = spaceEnd(b, i)
	}
}

// keyEnd is stringEnd of the member name whose quote is at b[i], and the
// name's nameText. A name is most often plain (no escape, no control
// character) and short: when the first byte plainEnd stops at is a
// quote, that quote ends the name, and the name is its own bytes, with
// no second look for an escape.
func keyEnd(b []byte, i int) (int, []byte, error) {
	if e := plainEnd(b, i+1); e < len(b) && b[e] == '"' {
		return e + 1, b[i+1 : e], nil
	}
	e, err := stringEnd(b, i)
	if err != nil {
		return e, nil, err
	}
	return e, nameText(b[i:e]), nil
}

// nameText is rawText for comparing with ASCII names (the type, member
// and skip names of a shownSpec, and its delta suffix): a string with no
// escape is its own bytes, not checked for UTF-8 first. Invalid UTF-8,
// which rawText turns to U+FFFD, matches no ASCII name either way: both
// are the same bytes where ASCII and other bytes elsewhere. An event's
// keys are short: a byte loop finds an escape sooner than a call.
func nameText(s []byte) []byte {
	in := s[1 : len(s)-1]
	for _, c := range in {
		if c == '\\' {
			return rawText(s)
		}
	}
	return in
}

// stringBytes sums the decoded lengths of the strings in raw, one JSON
// value known well formed (or nil), members in skip left out.
func stringBytes(raw []byte, skip nameSet) int64 {
	if len(raw) == 0 {
		return 0
	}
	n, _ := countValue(raw, 0, skip)
	return n
}

// countValue is stringBytes of the well-formed value at b[i], and where
// that value ends: one walk over it, where finding each element's end
// first (scanArray, scanMembers) read every level again for each level
// above it. A skipped member's value is passed over as knownEnd finds it.
func countValue(b []byte, i int, skip nameSet) (int64, int) {
	var n int64
	switch b[i] {
	case '"':
		e := knownStringEnd(b, i)
		return stringLen(b[i:e]), e
	case '[':
		if i = spaceEnd(b, i+1); b[i] == ']' {
			return 0, i + 1
		}
		for {
			m, e := countValue(b, i, skip)
			n += m
			if i = spaceEnd(b, e); b[i] == ']' {
				return n, i + 1
			}
			i = spaceEnd(b, i+1) // past ','
		}
	case '{':
		if i = spaceEnd(b, i+1); b[i] == '}' {
			return 0, i + 1
		}
		for {
			ke := knownStringEnd(b, i)
			vs := spaceEnd(b, spaceEnd(b, ke)+1) // past ':'
			var ve int
			if skip.has(nameText(b[i:ke])) {
				ve = knownEnd(b, vs)
			} else {
				var m int64
				m, ve = countValue(b, vs, skip)
				n += m
			}
			if i = spaceEnd(b, ve); b[i] == '}' {
				return n, i + 1
			}
			i = spaceEnd(b, i+1) // past ','
		}
	}
	return 0, knownEnd(b, i)
}

// stringLen is the length of the string encoding/json decodes the raw
// JSON string s (quotes included) to, found without decoding it: an
// escape stands for its character's UTF-8 bytes, a lone surrogate and a
// byte of invalid UTF-8 for U+FFFD's three.
func stringLen(s []byte) int64 {
	in := s[1 : len(s)-1]
	var n int64
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '\\' && i+1 < len(in) && in[i+1] == 'u':
			r := hex4(in, i+2)
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(in, i+2)); dec != utf8.RuneError {
						n += 4 // every pair decodes past U+FFFF
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			n += int64(utf8.RuneLen(r))
		case c == '\\':
			n++
			i += 2
		case c < utf8.RuneSelf:
			n++
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				n += 3
			} else {
				n += int64(size)
			}
			i += size
		}
	}
	return n
}

// hex4 is the value of the four hex digits at b[i:], which a well-formed
// string's \u escape has.
func hex4(b []byte, i int) rune {
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
