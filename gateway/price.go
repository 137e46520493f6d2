package gateway

import (
	_ "embed"
	"encoding/json"
	"math"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

//go:generate go run ./internal/pricegen -genai ../../shared/data/genai-prices.json -litellm ../../shared/data/litellm-model-prices.json -out prices.json

// Price is what one model of one provider costs.
//
// Every token rate is Money per token: $X per million tokens is
// PerMillion(X). What a zero rate means depends on the rate, as the
// sources list them (see Cost): a zero CachedInput charges cached tokens
// as input, a zero Reasoning charges reasoning as output, zero InputImage
// and InputVideo charge those tokens as input; a zero CacheWrite,
// CacheWrite1h, InputAudio, CachedInputAudio, OutputAudio, OutputImage,
// OutputVideo or WebSearch means no rate is known, and tokens or calls of
// that kind are left unpriced rather than charged at another kind's rate.
// A zero Output is a real zero: embedding models have no output.
type Price struct {
	Provider string `json:"provider"`
	// Model is the canonical model id, e.g. "gpt-4o-mini",
	// "claude-sonnet-4-5", "gemini-2.5-pro".
	Model string `json:"model"`
	// Match lists the other ids this row answers for, compared without
	// regard to case:
	//
	//   "gpt-4o-2024-08-06"   exactly this id;
	//   "claude-sonnet-4-5*"  this prefix, followed by nothing, by '-' or
	//                         by '@' ("claude-sonnet-4-5-20250929" yes,
	//                         "claude-sonnet-4-50" no); a prefix that itself
	//                         ends in a character other than a letter or
	//                         digit ("ft:gpt-4o-2024-*") takes any rest;
	//                         either way, never a rest that names an audio
	//                         or image variant ("-tts", "-image-generation");
	//   "*"                   every model of the provider (how Ollama is
	//                         free).
	Match        []string `json:"match,omitempty"`
	Input        Money    `json:"input"`
	Output       Money    `json:"output"`
	CachedInput  Money    `json:"cached_input,omitempty"`
	CacheWrite   Money    `json:"cache_write,omitempty"`
	CacheWrite1h Money    `json:"cache_write_1h,omitempty"`
	// Rates by modality, where the provider bills one apart from text.
	InputAudio       Money `json:"input_audio,omitempty"`
	CachedInputAudio Money `json:"cached_input_audio,omitempty"`
	InputImage       Money `json:"input_image,omitempty"`
	InputVideo       Money `json:"input_video,omitempty"`
	OutputAudio      Money `json:"output_audio,omitempty"`
	OutputImage      Money `json:"output_image,omitempty"`
	OutputVideo      Money `json:"output_video,omitempty"`
	// Reasoning is the rate of reasoning tokens where it is not Output's.
	Reasoning Money `json:"reasoning,omitempty"`
	// Tiers are long-context rates, by ascending AboveInputTokens.
	Tiers []Tier `json:"tiers,omitempty"`

	// WebSearch is the fee of one server-side web search: per query, or
	// with WebSearchPerRequest per request that searched at all (Gemini
	// 2.x grounding is billed per grounded prompt).
	WebSearch           Money `json:"web_search,omitempty"`
	WebSearchPerRequest bool  `json:"web_search_per_request,omitempty"`

	// ServiceTiers are the rates of service tiers other than the standard
	// one (OpenAI "flex" and "priority"), used when the provider's usage
	// says the request was served in that tier.
	ServiceTiers []ServiceTier `json:"service_tiers,omitempty"`
	// Regions are multipliers on every rate when the provider says where
	// the request ran (Anthropic's inference_geo "us").
	Regions []Region `json:"regions,omitempty"`
	// Earlier are the rates in force before a price change, oldest first:
	// each applies to requests made before its Until date, in the user's
	// time zone. The row's own rates apply from the last change on.
	Earlier []DatedRates `json:"earlier,omitempty"`
	// Windows are rates for times of day (DeepSeek's off-peak discount).
	Windows []WindowRates `json:"windows,omitempty"`
	// Applied says which dated or time-of-day rates At chose; it is set
	// only on a row returned by At.
	Applied string `json:"applied,omitempty"`

	ContextWindow int64 `json:"context_window,omitempty"`
	MaxOutput     int64 `json:"max_output,omitempty"`
	// Source says where the rates come from: "genai-prices 47df840a",
	// "litellm f9ff1473", "override", "local, free".
	Source string `json:"source"`
	// Updated is the date of the source data, YYYY-MM-DD.
	Updated string `json:"updated"`
}

// Tier is a long-context rate: when a request's total input tokens (cached
// and cache-write ones included) exceed AboveInputTokens, every token of
// that request is charged at the tier's rates, not just the excess. Of
// several tiers, the one with the highest threshold below the input wins.
// A zero field keeps the rate the Price has without the tier.
type Tier struct {
	AboveInputTokens int64 `json:"above_input_tokens"`
	Input            Money `json:"input,omitempty"`
	Output           Money `json:"output,omitempty"`
	CachedInput      Money `json:"cached_input,omitempty"`
	CacheWrite       Money `json:"cache_write,omitempty"`
	CacheWrite1h     Money `json:"cache_write_1h,omitempty"`
	InputAudio       Money `json:"input_audio,omitempty"`
	CachedInputAudio Money `json:"cached_input_audio,omitempty"`
}

// Rates are the per-token rates of a Price, apart from its identity and
// its alternatives: what a service tier, a date or a time of day replaces.
type Rates struct {
	Input            Money  `json:"input"`
	Output           Money  `json:"output"`
	CachedInput      Money  `json:"cached_input,omitempty"`
	CacheWrite       Money  `json:"cache_write,omitempty"`
	CacheWrite1h     Money  `json:"cache_write_1h,omitempty"`
	InputAudio       Money  `json:"input_audio,omitempty"`
	CachedInputAudio Money  `json:"cached_input_audio,omitempty"`
	InputImage       Money  `json:"input_image,omitempty"`
	InputVideo       Money  `json:"input_video,omitempty"`
	OutputAudio      Money  `json:"output_audio,omitempty"`
	OutputImage      Money  `json:"output_image,omitempty"`
	OutputVideo      Money  `json:"output_video,omitempty"`
	Reasoning        Money  `json:"reasoning,omitempty"`
	Tiers            []Tier `json:"tiers,omitempty"`
}

// ServiceTier is the rates of one named service tier. A zero rate in it
// is unknown for that tier, never the standard rate.
type ServiceTier struct {
	Name string `json:"name"`
	Rates
}

// Region is a multiplier on every rate for requests run in one region.
type Region struct {
	Name string `json:"name"` // as the provider reports it: "us"
	// Multiplier is an exact decimal: "1.1".
	Multiplier string `json:"multiplier"`
}

// DatedRates are the rates in force before Until (YYYY-MM-DD).
type DatedRates struct {
	Until string `json:"until"`
	Rates
}

// WindowRates are the rates for requests made between From and To
// (HH:MM, UTC; To before From wraps past midnight).
type WindowRates struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Name says what the window is: "off-peak".
	Name string `json:"name,omitempty"`
	Rates
}

// RatesOf returns p's own rates.
func (p Price) RatesOf() Rates {
	return Rates{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput, CacheWrite: p.CacheWrite,
		CacheWrite1h: p.CacheWrite1h, InputAudio: p.InputAudio, CachedInputAudio: p.CachedInputAudio,
		InputImage: p.InputImage, InputVideo: p.InputVideo, OutputAudio: p.OutputAudio, OutputImage: p.OutputImage,
		OutputVideo: p.OutputVideo, Reasoning: p.Reasoning, Tiers: p.Tiers}
}

// SetRates replaces p's rates with r.
func (p *Price) SetRates(r Rates) {
	p.Input, p.Output, p.CachedInput, p.CacheWrite, p.CacheWrite1h = r.Input, r.Output, r.CachedInput, r.CacheWrite, r.CacheWrite1h
	p.InputAudio, p.CachedInputAudio, p.InputImage, p.InputVideo = r.InputAudio, r.CachedInputAudio, r.InputImage, r.InputVideo
	p.OutputAudio, p.OutputImage, p.OutputVideo, p.Reasoning = r.OutputAudio, r.OutputImage, r.OutputVideo, r.Reasoning
	p.Tiers = r.Tiers
}

// Ref names the row: "provider/model@updated", or "provider/model" when
// the row has no date.
func (p Price) Ref() string {
	if p.Updated == "" {
		return p.Provider + "/" + p.Model
	}
	return p.Provider + "/" + p.Model + "@" + p.Updated
}

// mulMoney returns rate*tokens, saturating at the largest Money. Both are
// never negative here.
func mulMoney(rate Money, tokens int64) Money {
	if rate <= 0 || tokens <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(rate), uint64(tokens))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return Money(lo)
}

// addMoney returns a+b for non-negative amounts, saturating at the largest
// Money.
func addMoney(a, b Money) Money {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Prices is a price table. It is immutable once built and safe for
// concurrent use.
type Prices struct {
	rows    []Price       // sorted by provider, then model
	refs    []string      // the Ref of each of rows, made once: a request records its row's
	rates   []sharedRates // of each of rows
	byProv  map[string]*priceIndex
	version string
	sources []string
}

// sharedRates is a row's rates as a record keeps them (Record.Rates: the
// row without its Match list), made when a request is first charged at
// the row and shared, never changed, by the records of every request
// charged at it after: a copy for each was an allocation of every
// request. It is safe for concurrent use.
type sharedRates struct{ p atomic.Pointer[Price] }

// of returns the rates of row, which must be the row s belongs to.
func (s *sharedRates) of(row *Price) *Price {
	if p := s.p.Load(); p != nil {
		return p
	}
	r := *row
	r.Match = nil
	s.p.CompareAndSwap(nil, &r)
	return s.p.Load()
}

// priceIndex finds rows of one provider by model id.
type priceIndex struct {
	exact    map[string]int // normalised id → index into rows
	prefixes []pricePrefix  // longest prefix first
	catchAll int            // row with Match "*", or -1
}

type pricePrefix struct {
	prefix string
	row    int
}

// NewPrices builds a table from rows. Of rows with the same provider and
// model (compared without regard to case), the last one wins; rows without
// a provider or model are ignored. Providers are stored in lower case.
//
// When two rows claim the same id, a row whose Model is that id wins over
// another row's Match entry; otherwise the row first in provider, model
// order wins.
func NewPrices(rows []Price) *Prices {
	seen := make(map[string]int, len(rows))
	var kept []Price
	for _, r := range rows {
		r.Provider = strings.ToLower(strings.TrimSpace(r.Provider))
		r.Model = strings.TrimSpace(r.Model)
		if r.Provider == "" || r.Model == "" {
			continue
		}
		r = r.clone()
		key := r.Key()
		if i, ok := seen[key]; ok {
			kept[i] = r
			continue
		}
		seen[key] = len(kept)
		kept = append(kept, r)
	}
	sort.SliceStable(kept, func(i, j int) bool { return priceLess(kept[i], kept[j]) })

	t := &Prices{rows: kept, refs: make([]string, len(kept)), rates: make([]sharedRates, len(kept)), byProv: make(map[string]*priceIndex)}
	for i, r := range kept {
		t.refs[i] = r.Ref()
	}
	ix := func(prov string) *priceIndex {
		x := t.byProv[prov]
		if x == nil {
			x = &priceIndex{exact: make(map[string]int), catchAll: -1}
			t.byProv[prov] = x
		}
		return x
	}
	for i, r := range kept {
		ix(r.Provider).exact[priceModelID(r.Provider, r.Model)] = i
		if r.Updated > t.version {
			t.version = r.Updated
		}
	}
	for i, r := range kept {
		x := ix(r.Provider)
		for _, m := range r.Match {
			m = strings.ToLower(strings.TrimSpace(m))
			switch {
			case m == "*":
				if x.catchAll < 0 {
					x.catchAll = i
				}
			case strings.HasSuffix(m, "*"):
				x.prefixes = append(x.prefixes, pricePrefix{prefix: priceModelID(r.Provider, strings.TrimSuffix(m, "*")), row: i})
			case m != "":
				id := priceModelID(r.Provider, m)
				if _, taken := x.exact[id]; !taken {
					x.exact[id] = i
				}
			}
		}
	}
	for _, x := range t.byProv {
		sort.SliceStable(x.prefixes, func(i, j int) bool { return len(x.prefixes[i].prefix) > len(x.prefixes[j].prefix) })
	}
	return t
}

// Key is what makes two rows the same row of a table: the provider and
// the model, in any case, without surrounding space. A table holds one
// row per key, and an override replaces the row of its key.
func (p Price) Key() string {
	return strings.ToLower(strings.TrimSpace(p.Provider)) + "\x00" + strings.ToLower(strings.TrimSpace(p.Model))
}

func priceLess(a, b Price) bool {
	if a.Provider != b.Provider {
		return a.Provider < b.Provider
	}
	la, lb := strings.ToLower(a.Model), strings.ToLower(b.Model)
	if la != lb {
		return la < lb
	}
	return a.Model < b.Model
}

// With returns a new table: t's rows with overrides laid over them. An
// override replaces the row of the same provider and model and may add
// models t lacks. An override with no Match, ContextWindow or MaxOutput
// keeps those of the row it replaces, so a new rate for "gpt-4o" still
// answers for "gpt-4o-2024-08-06"; one with no Source says "override".
func (t *Prices) With(overrides []Price) *Prices {
	base := make(map[string]Price, len(t.rows))
	for _, r := range t.rows {
		base[r.Key()] = r
	}
	rows := make([]Price, 0, len(t.rows)+len(overrides))
	rows = append(rows, t.rows...)
	for _, o := range overrides {
		o.Provider = strings.ToLower(strings.TrimSpace(o.Provider))
		o.Model = strings.TrimSpace(o.Model)
		if old, ok := base[o.Key()]; ok {
			if o.Match == nil {
				o.Match = old.Match
			}
			if o.ContextWindow == 0 {
				o.ContextWindow = old.ContextWindow
			}
			if o.MaxOutput == 0 {
				o.MaxOutput = old.MaxOutput
			}
		}
		if o.Source == "" {
			o.Source = "override"
		}
		rows = append(rows, o)
	}
	t2 := NewPrices(rows)
	t2.sources = t.sources
	return t2
}

// MergePrices returns the user's price overrides rows with the rows of
// add laid over them: a row of add replaces the row of rows with the same
// provider and model (the model compared without regard to case), or
// joins them. The result is sorted by provider, then model; rows and add
// are left as they are.
func MergePrices(rows, add []Price) []Price {
	out := make([]Price, 0, len(rows)+len(add))
	at := make(map[string]int, len(rows)+len(add))
	for _, list := range [][]Price{rows, add} {
		for _, p := range list {
			k := p.Key()
			if i, ok := at[k]; ok {
				out[i] = p.clone()
				continue
			}
			at[k] = len(out)
			out = append(out, p.clone())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return priceLess(out[i], out[j]) })
	return out
}

// Sources credit the data the table derives from, as its file lists them
// (the embedded table's: genai-prices and LiteLLM, with their commits and
// dates); nil for a table built from rows alone.
func (t *Prices) Sources() []string { return append([]string(nil), t.sources...) }

// Version returns the date of the newest data in the table, YYYY-MM-DD;
// for DefaultPrices, the date of the embedded table's sources.
func (t *Prices) Version() string { return t.version }

// All returns every row, sorted by provider, then model.
func (t *Prices) All() []Price {
	out := make([]Price, len(t.rows))
	for i, r := range t.rows {
		out[i] = r.clone()
	}
	return out
}

// Lookup returns the price of model at provider, and false when the table
// has none: an unknown model is never priced at zero. Ids are compared
// without regard to case, and in this order:
//
//  1. the id as sent, exactly, against each row's Model and exact Match
//     entries; then against prefix Match entries, longest first;
//  2. the same for the id without a snapshot suffix ("-2024-08-06",
//     "-20250929", "@20250514", "-0613", "-09-2025", "-001", "-latest"),
//     removed one at a time, so "gpt-4o-2024-08-06" finds "gpt-4o" but
//     "gpt-4o-mini" never does;
//  3. the provider's catch-all row ("*"), returned with Model set to the id.
//
// The provider is named, so the rules are those of its row in the
// built-in provider table (provider.go). An id loses its provider's
// ModelPath (Gemini's "models/", Fireworks' "accounts/fireworks/models/").
// A reseller's id "vendor/model" (OpenRouter's) with no row of the
// reseller's own falls back to the row of the provider its Resells names
// for the vendor (openai, anthropic, google, mistralai, deepseek, x-ai):
// that row is returned as it is, Provider and all, with Source saying it
// stands in for the reseller's price; ids with a ":variant" suffix
// (":free", ":extended") do not fall back. Every model of a Local
// provider (Ollama) is free: with no row of its own it gets a zero price
// with Source "local, free".
func (t *Prices) Lookup(provider, model string) (Price, bool) {
	p, _, _, ok := t.lookupShared(provider, model)
	if !ok {
		return Price{}, false
	}
	return p.clone(), true
}

// lookupShared is Lookup without the copy: the row returned is the
// table's own (or, for a row a rule makes for model, one that shares its
// slices with the table), so the caller must not change it. The request
// path reads its row only. ref is the row's Ref, made once for a row of
// the table as it stands; rates are its shared rates when p is the
// table's row as it stands (not a rule's row made for model), else nil.
func (t *Prices) lookupShared(provider, model string) (p *Price, ref string, rates *sharedRates, ok bool) {
	prov := strings.ToLower(strings.TrimSpace(provider))
	id := priceModelID(prov, model)
	if id == "" {
		return nil, "", nil, false
	}
	if p, ref, rates, ok := t.find(prov, id); ok {
		return p, ref, rates, true
	}
	// Only a miss reads the provider's row: a reseller's or a local
	// provider's rule applies.
	def := defaultProviders[prov]
	if vendor, rest, ok := strings.Cut(id, "/"); ok && def.Resells != nil && !strings.Contains(rest, ":") {
		if own, ok := def.Resells[vendor]; ok {
			if p, ref, _, ok := t.find(own, priceModelID(own, rest)); ok {
				r := *p
				r.Source = r.Source + " (" + own + "'s own price; no " + prov + " row)"
				return &r, ref, nil, true
			}
		}
	}
	if def.Local {
		p := &Price{Provider: prov, Model: id, Source: "local, free"}
		return p, p.Ref(), nil, true
	}
	return nil, "", nil, false
}

// find applies Lookup's rules 1 to 3 to one provider's rows. The row it
// returns is the table's, or shares its slices with the table; ref is its
// Ref, and rates its shared rates when it is the table's row unchanged.
func (t *Prices) find(prov, id string) (*Price, string, *sharedRates, bool) {
	x := t.byProv[prov]
	if x == nil {
		return nil, "", nil, false
	}
	for cand := id; ; {
		if i, ok := x.exact[cand]; ok {
			return &t.rows[i], t.refs[i], &t.rates[i], true
		}
		for _, pp := range x.prefixes {
			if priceMatchesPrefix(pp.prefix, cand) {
				return &t.rows[pp.row], t.refs[pp.row], &t.rates[pp.row], true
			}
		}
		next, ok := snapshotBase(cand)
		if !ok {
			break
		}
		cand = next
	}
	if x.catchAll >= 0 {
		p := t.rows[x.catchAll]
		p.Model = id
		return &p, p.Ref(), nil, true
	}
	return nil, "", nil, false
}

// priceModelID normalises a model id for comparison: modelID.
func priceModelID(provider, model string) string { return modelID(provider, model) }

// priceMatchesPrefix reports whether id matches the prefix rule prefix
// (the Match entry without its '*').
func priceMatchesPrefix(prefix, id string) bool {
	if !strings.HasPrefix(id, prefix) {
		return false
	}
	rest := id[len(prefix):]
	if rest == "" || prefix == "" {
		return true
	}
	if c := rest[0]; isAlnum(prefix[len(prefix)-1]) && c != '-' && c != '@' {
		return false
	}
	if isAlnum(prefix[len(prefix)-1]) && rest[0] == '-' && !isSnapshotOf(prefix, id) {
		// "claude-opus-5*" stands for snapshots of claude-opus-5 and its
		// variants ("-preview-06-05"), never for a minor version of it
		// ("claude-opus-5-5", "claude-opus-5-5-20260101").
		seg, _, _ := strings.Cut(rest[1:], "-")
		if len(seg) <= 2 && allDigits(seg) {
			return false
		}
	}
	// "gemini-2.5-pro*" stands for snapshots of that model, not for
	// "gemini-2.5-pro-preview-tts", whose audio is priced otherwise.
	return unmeteredModality(rest) == ""
}

// isSnapshotOf reports whether id is base with snapshot suffixes only.
func isSnapshotOf(base, id string) bool {
	for _, b := range modelBases(id)[1:] {
		if b == base {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p Price) clone() Price {
	if p.Match != nil {
		p.Match = append([]string(nil), p.Match...)
	}
	if p.Tiers != nil {
		p.Tiers = append([]Tier(nil), p.Tiers...)
	}
	if p.ServiceTiers != nil {
		p.ServiceTiers = append([]ServiceTier(nil), p.ServiceTiers...)
	}
	if p.Regions != nil {
		p.Regions = append([]Region(nil), p.Regions...)
	}
	if p.Earlier != nil {
		p.Earlier = append([]DatedRates(nil), p.Earlier...)
	}
	if p.Windows != nil {
		p.Windows = append([]WindowRates(nil), p.Windows...)
	}
	return p
}

//go:embed prices.json
var embeddedPrices []byte

var defaultPrices = sync.OnceValue(func() *Prices {
	t, err := loadEmbeddedPrices()
	if err != nil {
		// Unreachable in a tested build: TestDefaultPricesEmbedded fails
		// first.
		// An empty table prices nothing, which the unknown-price policy
		// handles; a panic here would take the gateway down.
		return NewPrices(nil)
	}
	return t
})

// DefaultPrices returns the price table built into Sluice (prices.json,
// derived from genai-prices and LiteLLM; see PRICES-LICENSES.md). It is
// parsed once, on first use.
func DefaultPrices() *Prices { return defaultPrices() }

func loadEmbeddedPrices() (*Prices, error) {
	imp, err := ImportPrices(embeddedPrices)
	if err != nil {
		return nil, err
	}
	var f struct {
		Sources []string `json:"sources"`
	}
	if err := json.Unmarshal(embeddedPrices, &f); err != nil {
		return nil, err
	}
	t := NewPrices(imp.Prices)
	t.sources = f.Sources
	return t, nil
}
