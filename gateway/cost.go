package gateway

import (
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Kinds of CostLine.
const (
	CostInput         = "input"          // input tokens neither read from nor written to a cache
	CostCachedInput   = "cached_input"   // input tokens read from a cache
	CostCacheWrite    = "cache_write"    // input tokens written to a cache (default lifetime)
	CostCacheWrite1h  = "cache_write_1h" // input tokens written to a one-hour cache
	CostOutput        = "output"         // output tokens other than reasoning ones
	CostReasoning     = "reasoning"      // reasoning tokens
	CostWebSearch     = "web_search"     // server-side web searches, per call
	CostWebFetch      = "web_fetch"      // server-side web fetches, per call
	CostCodeExecution = "code_execution" // server-side code execution runs
	CostServiceTier   = "service_tier"   // a service tier's surcharge the table cannot price
	CostRegion        = "region"         // a region's surcharge the table cannot price
	CostSpeed         = "speed"          // a faster output speed's surcharge the table cannot price
	// CostUnpricedEstimate is what the unpriced-model policy charged for
	// the lines marked Unpriced (a record's detail adds it).
	CostUnpricedEstimate = "unpriced_estimate"
)

// Modalities of a CostLine's tokens.
const (
	ModalityText  = "text"
	ModalityAudio = "audio"
	ModalityImage = "image"
	ModalityVideo = "video"
)

// CostLine is one term of a request's cost: Tokens at PerMillion dollars
// per million tokens, or Calls at PerCall dollars each, make Amount.
type CostLine struct {
	Kind     string `json:"kind"`
	Modality string `json:"modality,omitempty"`
	Tokens   int64  `json:"tokens"`
	Calls    int64  `json:"calls,omitempty"`
	// PerMillion is the rate in dollars per million tokens, as an exact
	// decimal: "0.15". PerCall is a fee in dollars per call.
	PerMillion string `json:"per_million,omitempty"`
	PerCall    string `json:"per_call,omitempty"`
	Amount     Money  `json:"amount"`
	// Note says why this rate applies when it is not the plain one: a
	// long-context tier, a service tier, a region, a dated or off-peak
	// rate, a missing cache rate charged as input.
	Note string `json:"note,omitempty"`
	// Unpriced is set when the table has no rate for this line: its
	// Amount is zero and the unpriced-model policy covers it.
	Unpriced bool `json:"unpriced,omitempty"`
}

// Cost returns what the priced part of u costs at p, in exact integer
// arithmetic; Unpriced lists what it leaves out.
//
// Input tokens other than cached and cache-write ones are charged at
// Input, or at their modality's rate (audio at InputAudio; image and
// video at InputImage and InputVideo, or at Input when the row lists
// none, as providers bill them); cached ones at CachedInput (CachedInputAudio
// for audio; Input when the row lists no cached rate); cache writes at
// CacheWrite, the CacheWrite1hTokens part at CacheWrite1h. Output tokens
// are charged at Output or their modality's rate, reasoning ones at
// Reasoning (Output when the row lists none). Server-side web searches
// are charged WebSearch per call. A long-context tier, the service tier
// and the region the usage names choose or scale the rates.
//
// Counts that contradict each other (more cached tokens than input
// tokens) are charged as reported rather than netted to less. The result
// saturates at the largest Money instead of wrapping.
//
// Cost never falls as u.OutputTokens grows with the rest of u the same:
// no rate is chosen by output, and no count of tokens falls as output
// grows. A sliced stream's hold relies on it (sliceCovers): a rate or a
// count that broke it would let a stream pass its hold unnoticed.
// TestCostGrowsWithOutput checks it; a new rate, tier or count belongs
// in its randomRow too.
//
// Cost and the methods it calls take a *Price, though they change
// nothing: a Price is some 360 bytes, and a copy of it in each frame of
// a request's deepest calls (finish, setCost, Unpriced, pricesAll,
// resolveRates) left the handler within a kilobyte of its 16 KB stack
// (TestHandlerStack).
func (p *Price) Cost(u Usage) Money {
	if u.IsZero() {
		// What costWith finds, without resolving rates: a stream's
		// events before its usage are weighed against its hold so.
		return 0
	}
	r, _ := p.resolveRates(u, max(u.InputTokens, 0), false)
	return p.costWith(u, &r)
}

// costWith is Cost(u) at r, the rates resolveRates returns for u (or for
// any usage with u's input tokens, service tier, region and speed): the
// sum of the Amounts of costParts(u) that are known, without building
// them.
func (p *Price) costWith(u Usage, r *[nRates]rate) Money {
	n := tokenCounts(u)
	var total Money
	for i := range n {
		if r[i].ok {
			total = addMoney(total, mulMoney(r[i].v, n[i]))
		}
	}
	if p.WebSearch > 0 {
		calls := max(u.WebSearchCalls, 0)
		if p.WebSearchPerRequest && calls > 0 {
			calls = 1
		}
		total = addMoney(total, mulMoney(p.WebSearch, calls))
	}
	// Web fetches are free; code execution, service tier, region and
	// speed surcharges are never priced.
	return total
}

// Explain returns the arithmetic of Cost(u), one line per kind and
// modality of token, and per kind of tool call, that u has; the Amounts
// add up to Cost(u). Lines the table cannot price are marked Unpriced.
// It returns nil for a zero u.
func (p *Price) Explain(u Usage) []CostLine {
	var lines []CostLine
	for _, c := range p.costParts(u) {
		if c.tokens == 0 && c.calls == 0 && !c.surcharge {
			continue
		}
		l := CostLine{Kind: c.kind, Modality: c.modality, Tokens: c.tokens, Calls: c.calls, Note: c.note, Unpriced: !c.known}
		if c.known {
			l.Amount = c.amount
			if c.calls > 0 || c.perCall {
				l.PerCall = c.rate.String()
			} else {
				l.PerMillion = mulMoney(c.rate, 1_000_000).String()
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// Unpriced returns, for each part of u that p cannot price, what it is
// and why; nil when p prices all of u.
func (p *Price) Unpriced(u Usage) []string {
	if p.pricesAll(u) {
		return nil // what nearly every request finds, without Explain's lines
	}
	var out []string
	for _, l := range p.Explain(u) {
		if !l.Unpriced {
			continue
		}
		what := l.Kind
		if l.Modality != "" && l.Modality != ModalityText {
			what += " (" + l.Modality + ")"
		}
		if l.Note != "" {
			what += ": " + l.Note
		}
		out = append(out, what)
	}
	return out
}

// pricesAll reports that p prices every part of u: that Explain(u) has no
// line marked Unpriced. False means it may have one.
func (p *Price) pricesAll(u Usage) bool {
	if u.CodeExecutionCalls > 0 || u.WebSearchCalls > 0 && p.WebSearch <= 0 {
		return false
	}
	// Surcharges Explain lists as lines of their own.
	if speed := normalName(u.Speed); speed != "" && speed != "standard" {
		return false
	}
	if name := normalName(u.ServiceTier); !standardTiers[name] {
		if _, found := p.serviceTier(name); !found {
			return false
		}
	}
	if geo := normalName(u.InferenceGeo); !standardRegions[geo] {
		if _, _, found := p.region(geo); !found {
			return false
		}
	}
	r, _ := p.resolveRates(u, max(u.InputTokens, 0), false)
	for i, n := range tokenCounts(u) {
		if n != 0 && !r[i].ok {
			return false
		}
	}
	return true
}

type costPart struct {
	kind, modality string
	tokens, calls  int64
	rate           Money // per token, or per call for tool fees
	known          bool
	perCall        bool
	surcharge      bool // a line that stands for an unknown surcharge
	amount         Money
	note           string
}

// tokenCounts splits u's tokens by the rate each is charged at, indexed
// like the rates resolveRates returns. No count may fall as
// u.OutputTokens grows (see Cost).
func tokenCounts(u Usage) [nRates]int64 {
	in := max(u.InputTokens, 0)
	cached := max(u.CachedInputTokens, 0)
	w1h := max(u.CacheWrite1hTokens, 0)
	writes := max(u.CacheWriteTokens, w1h)
	w5m := writes - w1h
	take := func(n int64, from *int64) int64 {
		n = min(max(n, 0), *from)
		*from -= n
		return n
	}
	cachedText := cached
	cachedAudio := take(u.CachedAudioTokens, &cachedText)
	inText := max(in-cached-writes, 0)
	inAudio := take(u.InputAudioTokens, &inText)
	inImage := take(u.InputImageTokens, &inText)
	inVideo := take(u.InputVideoTokens, &inText)
	reasoning := max(u.ReasoningTokens, 0)
	outText := max(u.OutputTokens, reasoning) - reasoning
	outAudio := take(u.OutputAudioTokens, &outText)
	outImage := take(u.OutputImageTokens, &outText)
	outVideo := take(u.OutputVideoTokens, &outText)

	var n [nRates]int64
	n[rInput], n[rInputAudio], n[rInputImage], n[rInputVideo] = inText, inAudio, inImage, inVideo
	n[rCached], n[rCachedAudio], n[rWrite], n[rWrite1h] = cachedText, cachedAudio, w5m, w1h
	n[rOutput], n[rReasoning], n[rOutputAudio], n[rOutputImage], n[rOutputVideo] = outText, reasoning, outAudio, outImage, outVideo
	return n
}

// costParts splits u into the lines Cost charges, with the rate of each.
func (p *Price) costParts(u Usage) []costPart {
	n := tokenCounts(u)
	r, extra := p.resolveRates(u, max(u.InputTokens, 0), true)
	tok := func(kind, modality string, n int64, i int) costPart {
		return costPart{kind: kind, modality: modality, tokens: n, rate: r[i].v, known: r[i].ok, note: r[i].note}
	}
	parts := []costPart{
		tok(CostInput, ModalityText, n[rInput], rInput),
		tok(CostInput, ModalityAudio, n[rInputAudio], rInputAudio),
		tok(CostInput, ModalityImage, n[rInputImage], rInputImage),
		tok(CostInput, ModalityVideo, n[rInputVideo], rInputVideo),
		tok(CostCachedInput, ModalityText, n[rCached], rCached),
		tok(CostCachedInput, ModalityAudio, n[rCachedAudio], rCachedAudio),
		tok(CostCacheWrite, "", n[rWrite], rWrite),
		tok(CostCacheWrite1h, "", n[rWrite1h], rWrite1h),
		tok(CostOutput, ModalityText, n[rOutput], rOutput),
		tok(CostReasoning, "", n[rReasoning], rReasoning),
		tok(CostOutput, ModalityAudio, n[rOutputAudio], rOutputAudio),
		tok(CostOutput, ModalityImage, n[rOutputImage], rOutputImage),
		tok(CostOutput, ModalityVideo, n[rOutputVideo], rOutputVideo),
	}
	for i := range parts {
		parts[i].amount = mulMoney(parts[i].rate, parts[i].tokens)
	}

	searches := max(u.WebSearchCalls, 0)
	search := costPart{kind: CostWebSearch, calls: searches, perCall: true, rate: p.WebSearch, known: p.WebSearch > 0}
	switch {
	case !search.known:
		search.note = "no web search fee listed for this model"
	case p.WebSearchPerRequest && searches > 0:
		search.calls = 1
		search.note = "billed per request that searched (" + strconv.FormatInt(searches, 10) + " queries)"
	}
	search.amount = mulMoney(search.rate, search.calls)
	parts = append(parts, search,
		costPart{kind: CostWebFetch, calls: max(u.WebFetchCalls, 0), perCall: true, known: true,
			note: "no fee per fetch: the fetched content is billed as input tokens"},
		costPart{kind: CostCodeExecution, calls: max(u.CodeExecutionCalls, 0), perCall: true,
			note: "code execution is billed by container time or session, at a rate the price table does not list"},
	)
	return append(parts, extra...)
}

// Indexes of the rates resolveRates returns.
const (
	rInput = iota
	rOutput
	rCached
	rWrite
	rWrite1h
	rInputAudio
	rCachedAudio
	rInputImage
	rInputVideo
	rOutputAudio
	rOutputImage
	rOutputVideo
	rReasoning
	nRates
)

var rateNames = [nRates]string{"input", "output", "cached-input", "cache-write", "one-hour cache-write",
	"audio input", "cached audio input", "image input", "video input", "audio output", "image output",
	"video output", "reasoning"}

func (r Rates) arr() [nRates]Money {
	return [nRates]Money{r.Input, r.Output, r.CachedInput, r.CacheWrite, r.CacheWrite1h, r.InputAudio,
		r.CachedInputAudio, r.InputImage, r.InputVideo, r.OutputAudio, r.OutputImage, r.OutputVideo, r.Reasoning}
}

func (t Tier) arr() [nRates]Money {
	var a [nRates]Money
	a[rInput], a[rOutput], a[rCached], a[rWrite], a[rWrite1h] = t.Input, t.Output, t.CachedInput, t.CacheWrite, t.CacheWrite1h
	a[rInputAudio], a[rCachedAudio] = t.InputAudio, t.CachedInputAudio
	return a
}

type rate struct {
	v    Money
	ok   bool
	note string
}

// standardTiers are the service_tier values that mean the standard rates.
var standardTiers = map[string]bool{"": true, "default": true, "standard": true, "auto": true, "standard_only": true, "on_demand": true}

// standardRegions are the inference_geo values that mean no surcharge.
var standardRegions = map[string]bool{"": true, "global": true, "not_available": true}

// resolveRates returns the rate of each kind of token for usage u with
// in input tokens, after service tier, long-context tier, fallbacks and
// region; and, with notes, lines for surcharges the table cannot price
// and each rate's note. Without notes it leaves both out (what Cost
// needs), and the values and ok of the rates are the same. It never
// reads u's output tokens (see Cost).
func (p *Price) resolveRates(u Usage, in int64, notes bool) ([nRates]rate, []costPart) {
	var r [nRates]rate
	var extra []costPart
	v := [nRates]Money{p.Input, p.Output, p.CachedInput, p.CacheWrite, p.CacheWrite1h, p.InputAudio,
		p.CachedInputAudio, p.InputImage, p.InputVideo, p.OutputAudio, p.OutputImage, p.OutputVideo, p.Reasoning}
	applied := ""
	if notes {
		applied = p.Applied
	}
	for i := range r {
		r[i] = rate{v: v[i], ok: true, note: applied}
	}
	tiers := p.Tiers

	if name := normalName(u.ServiceTier); !standardTiers[name] {
		st, found := p.serviceTier(name)
		switch {
		case !found:
			if notes {
				extra = append(extra, costPart{kind: CostServiceTier, surcharge: true,
					note: "service tier " + name + ": no rates listed; tokens are charged at the standard rates"})
			}
		default:
			note := ""
			if notes {
				note = "service tier " + name
			}
			sv := st.arr()
			for i := range r {
				r[i].v = sv[i]
				if notes {
					r[i].note = joinNote(r[i].note, note)
				}
				if sv[i] == 0 && v[i] != 0 {
					r[i].ok = false
					if notes {
						r[i].note = joinNote(r[i].note, "no "+rateNames[i]+" rate listed for it")
					}
				}
			}
			if tierFor(p.Tiers, in) != nil && tierFor(st.Tiers, in) == nil {
				for i := range r {
					r[i].ok = false
					if notes {
						r[i].note = joinNote(r[i].note, "no long-context rate listed for it")
					}
				}
			}
			tiers = st.Tiers
		}
	}
	if t := tierFor(tiers, in); t != nil {
		note := ""
		if notes {
			note = "long-context rate: more than " + strconv.FormatInt(t.AboveInputTokens, 10) + " input tokens"
		}
		for i, tv := range t.arr() {
			if tv != 0 {
				r[i].v = tv
				if notes {
					r[i].note = joinNote(r[i].note, note)
				}
			}
		}
	}

	// What a missing rate means, kind by kind.
	fallback := func(i, to int, note string) {
		if r[i].v == 0 && r[i].ok {
			r[i] = rate{v: r[to].v, ok: r[to].ok}
			if notes {
				r[i].note = joinNote(r[to].note, note)
			}
		}
	}
	fallback(rCached, rInput, "no cached-input rate listed: charged as input")
	fallback(rReasoning, rOutput, "")
	fallback(rInputImage, rInput, "")
	fallback(rInputVideo, rInput, "")
	for _, i := range [...]int{rWrite, rWrite1h, rInputAudio, rCachedAudio, rOutputAudio, rOutputImage, rOutputVideo} {
		if r[i].v == 0 && r[i].ok {
			r[i].ok = false
			if notes {
				r[i].note = joinNote(r[i].note, "no "+rateNames[i]+" rate listed for this model")
			}
		}
	}

	if notes {
		if speed := normalName(u.Speed); speed != "" && speed != "standard" {
			// No source lists the rates of Anthropic's fast mode.
			extra = append(extra, costPart{kind: CostSpeed, surcharge: true,
				note: "speed " + speed + ": no rates listed; tokens are charged at the standard rates"})
		}
	}
	if geo := normalName(u.InferenceGeo); !standardRegions[geo] {
		num, den, found := p.region(geo)
		if !found {
			if notes {
				extra = append(extra, costPart{kind: CostRegion, surcharge: true,
					note: "inference_geo " + geo + ": no regional multiplier listed; tokens are charged at the global rates"})
			}
		} else {
			note := ""
			if notes {
				note = "×" + p.regionMultiplier(geo) + " for inference_geo " + geo
			}
			for i := range r {
				r[i].v = scaleMoney(r[i].v, num, den)
				if notes {
					r[i].note = joinNote(r[i].note, note)
				}
			}
		}
	}
	return r, extra
}

// normalName is a service tier, region or speed as compared: trimmed and
// in lower case (without allocating when it already is).
func normalName(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

func tierFor(tiers []Tier, in int64) *Tier {
	var tier *Tier
	for i := range tiers {
		t := &tiers[i]
		if in > t.AboveInputTokens && (tier == nil || t.AboveInputTokens > tier.AboveInputTokens) {
			tier = t
		}
	}
	return tier
}

func (p *Price) serviceTier(name string) (ServiceTier, bool) {
	for _, st := range p.ServiceTiers {
		if strings.EqualFold(st.Name, name) {
			return st, true
		}
	}
	return ServiceTier{}, false
}

func (p *Price) regionMultiplier(geo string) string {
	for _, rg := range p.Regions {
		if strings.EqualFold(rg.Name, geo) {
			return rg.Multiplier
		}
	}
	return ""
}

// region returns the multiplier of geo as a fraction.
func (p *Price) region(geo string) (num, den int64, ok bool) {
	m := p.regionMultiplier(geo)
	if m == "" {
		return 0, 0, false
	}
	x, good := new(big.Rat).SetString(m)
	if !good || x.Sign() <= 0 || !x.Num().IsInt64() || !x.Denom().IsInt64() {
		return 0, 0, false
	}
	return x.Num().Int64(), x.Denom().Int64(), true
}

// scaleMoney returns m×num/den rounded up to the picodollar, so a
// multiplied rate never understates.
func scaleMoney(m Money, num, den int64) Money {
	if m <= 0 {
		return m
	}
	x := new(big.Int).Mul(big.NewInt(int64(m)), big.NewInt(num))
	x.Add(x, big.NewInt(den-1))
	x.Quo(x, big.NewInt(den))
	if !x.IsInt64() {
		return Money(1<<63 - 1)
	}
	return Money(x.Int64())
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// At returns p with the rates in force at t: the rates of the price
// change period t falls in (dates compared in t's location, which should
// be the user's time zone), and of the time-of-day window it falls in
// (windows are in UTC). The row returned has no Earlier or Windows, and
// Applied says which of them it took, if any.
func (p Price) At(t time.Time) Price {
	if len(p.Earlier) == 0 && len(p.Windows) == 0 {
		return p
	}
	p = p.clone()
	day := t.Format("2006-01-02")
	for _, e := range p.Earlier {
		if day < e.Until {
			p.SetRates(e.Rates)
			p.Applied = "rates in force until " + e.Until
			break
		}
	}
	hm := t.UTC().Format("15:04")
	for _, w := range p.Windows {
		if inWindow(hm, w.From, w.To) {
			p.SetRates(w.Rates)
			name := w.Name
			if name == "" {
				name = "time-of-day"
			}
			p.Applied = joinNote(p.Applied, name+" rate, "+w.From+"–"+w.To+" UTC")
			break
		}
	}
	p.Earlier, p.Windows = nil, nil
	return p
}

// alternatives returns the rows a request made at t may be charged at:
// p at t's date without a time-of-day window, and with each window. A
// worst case takes the dearest.
func (p Price) alternatives(t time.Time) []Price {
	var out []Price
	for i := range p.windows() {
		out = append(out, p.alternative(t, i))
	}
	return out
}

// windows is how many alternatives p has: p at its date, and one for
// each time-of-day window.
func (p *Price) windows() int { return 1 + len(p.Windows) }

// alternative is the ith of p's alternatives at t: p at t's date without
// a time-of-day window for 0, and with the (i-1)th window for the rest.
func (p *Price) alternative(t time.Time, i int) Price {
	if i == 0 {
		day := *p
		day.Windows = nil
		return day.At(t)
	}
	alt := p.At(t)
	alt.SetRates(p.Windows[i-1].Rates)
	return alt
}

// inWindow reports whether hm (HH:MM) is in [from, to), wrapping past
// midnight when to is before from.
func inWindow(hm, from, to string) bool {
	if from <= to {
		return hm >= from && hm < to
	}
	return hm >= from || hm < to
}
