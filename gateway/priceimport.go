package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Formats of price tables that ImportPrices reads.
const (
	// FormatSluice is Sluice's own file: a PriceFile, as in prices.json.
	FormatSluice = "sluice-prices"
	// FormatGenAIPrices is pydantic/genai-prices' prices/data.json: an
	// array of providers, each with models, match rules and per-million
	// prices.
	FormatGenAIPrices = "genai-prices"
	// FormatLiteLLM is LiteLLM's model_prices_and_context_window.json: an
	// object of model keys with per-token costs.
	FormatLiteLLM = "litellm"
)

// ErrPriceFormat is returned for input that is none of the formats
// ImportPrices reads.
var ErrPriceFormat = errors.New("not a price table in a known format (Sluice, genai-prices or LiteLLM JSON)")

// PriceFile is Sluice's own price table format, the one prices.json uses.
type PriceFile struct {
	Format  string `json:"format"`  // FormatSluice
	Version string `json:"version"` // date of the data, YYYY-MM-DD
	// Sources credit the data the rows derive from.
	Sources []string `json:"sources,omitempty"`
	Prices  []Price  `json:"prices"`
}

// PriceImport is the result of reading a price table.
type PriceImport struct {
	Format string // FormatSluice, FormatGenAIPrices or FormatLiteLLM
	// Prices are the rows Sluice can use. Source is the format's name;
	// Updated is empty unless the file says it (only Sluice files do): the
	// caller knows the date of the data.
	Prices []Price
	// Skipped are models of Sluice providers that were left out because
	// their price cannot be held or metered here, with the reason.
	Skipped []SkippedPrice
}

// SkippedPrice is a model ImportPrices left out, and why.
type SkippedPrice struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
	Reason   string `json:"reason"`
}

// ParsePrices reads a price table in any format ImportPrices knows and
// returns its usable rows and the format's name.
func ParsePrices(b []byte) ([]Price, string, error) {
	imp, err := ImportPrices(b)
	if err != nil {
		return nil, "", err
	}
	return imp.Prices, imp.Format, nil
}

// ImportPrices reads a price table, telling the format from its shape:
// a Sluice PriceFile, genai-prices' data.json or LiteLLM's
// model_prices_and_context_window.json.
//
// Rows come out for Sluice's providers only, under Sluice's names, as
// each provider's PriceLists names it (genai-prices' "google" is
// "gemini", "x-ai" is "xai"; LiteLLM's "together_ai" is "together", and so
// on); Ollama rows are dropped, its models being free anyway. Models are skipped, and listed in Skipped,
// when their price is not a per-token rate Sluice can meter: audio or
// image output, per-request or per-image fees, prices that change with
// the time of day, or no price at all. A genai-prices model with prices
// that changed over time gets the newest ones; LiteLLM's priority, flex
// and batch rates are not read (Sluice charges the standard tier).
func ImportPrices(b []byte) (PriceImport, error) {
	return importPrices(b, defaultProviders)
}

// importPrices is ImportPrices for the providers in ps.
func importPrices(b []byte, ps map[string]Provider) (PriceImport, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return PriceImport{}, fmt.Errorf("read prices: empty input: %w", ErrPriceFormat)
	case b[0] == '[':
		return importGenAIPrices(b, ps)
	case b[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return PriceImport{}, fmt.Errorf("read prices: %w: %v", ErrPriceFormat, err)
		}
		if f, ok := probe["format"]; ok {
			var name string
			if json.Unmarshal(f, &name) == nil && name == FormatSluice {
				return importSluicePrices(b)
			}
		}
		for k, v := range probe {
			if k == "sample_spec" {
				continue
			}
			var entry map[string]json.RawMessage
			if json.Unmarshal(v, &entry) == nil {
				if _, ok := entry["litellm_provider"]; ok {
					return importLiteLLM(probe, ps)
				}
			}
		}
	}
	return PriceImport{}, fmt.Errorf("read prices: %w", ErrPriceFormat)
}

func importSluicePrices(b []byte) (PriceImport, error) {
	var f PriceFile
	if err := json.Unmarshal(b, &f); err != nil {
		return PriceImport{}, fmt.Errorf("read %s file: %w", FormatSluice, err)
	}
	for i, p := range f.Prices {
		if err := checkPrice(p); err != nil {
			return PriceImport{}, fmt.Errorf("read %s file: row %d: %w", FormatSluice, i, err)
		}
	}
	return PriceImport{Format: FormatSluice, Prices: f.Prices}, nil
}

// ErrInvalidPrice is wrapped by the errors about a price row that no
// table should hold: CheckPrices', and ImportPrices' for such a row.
var ErrInvalidPrice = errors.New("invalid price")

// CheckPrices reports what is wrong with rows as a set of the user's
// price overrides, if anything: a row no table should hold (no provider
// or model, a negative rate or tier threshold anywhere in it, a malformed
// date, window or region multiplier), or a provider
// and model given twice (compared as a table compares them, the model
// without regard to case). The error wraps ErrInvalidPrice.
func CheckPrices(rows []Price) error {
	seen := make(map[string]bool, len(rows))
	for i, p := range rows {
		if err := checkPrice(p); err != nil {
			return fmt.Errorf("price row %d: %w", i+1, err)
		}
		k := p.Key()
		if seen[k] {
			return fmt.Errorf("%w: %s/%s given twice", ErrInvalidPrice, p.Provider, p.Model)
		}
		seen[k] = true
	}
	return nil
}

// checkPrice reports what is wrong with a row no table should hold, if
// anything: no provider or model, a negative rate or tier threshold
// anywhere in it, a malformed date, window or region multiplier. The
// error wraps ErrInvalidPrice.
func checkPrice(p Price) error {
	if err := rowFault(p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPrice, err)
	}
	return nil
}

func rowFault(p Price) error {
	if strings.TrimSpace(p.Provider) == "" || strings.TrimSpace(p.Model) == "" {
		return errors.New("provider and model are required")
	}
	var rates []Money
	addRates := func(r Rates) error {
		a := r.arr()
		rates = append(rates, a[:]...)
		for _, t := range r.Tiers {
			if t.AboveInputTokens < 0 {
				return fmt.Errorf("%s: negative tier threshold", p.Ref())
			}
			ta := t.arr()
			rates = append(rates, ta[:]...)
		}
		return nil
	}
	if err := addRates(p.RatesOf()); err != nil {
		return err
	}
	for _, st := range p.ServiceTiers {
		if err := addRates(st.Rates); err != nil {
			return err
		}
	}
	for _, e := range p.Earlier {
		if _, err := time.Parse("2006-01-02", e.Until); err != nil {
			return fmt.Errorf("%s: price change date %q is not YYYY-MM-DD", p.Ref(), e.Until)
		}
		if err := addRates(e.Rates); err != nil {
			return err
		}
	}
	for _, w := range p.Windows {
		if _, err := time.Parse("15:04", w.From); err != nil {
			return fmt.Errorf("%s: window start %q is not HH:MM", p.Ref(), w.From)
		}
		if _, err := time.Parse("15:04", w.To); err != nil {
			return fmt.Errorf("%s: window end %q is not HH:MM", p.Ref(), w.To)
		}
		if err := addRates(w.Rates); err != nil {
			return err
		}
	}
	for _, rg := range p.Regions {
		if _, _, ok := p.region(strings.ToLower(rg.Name)); !ok {
			return fmt.Errorf("%s: region %s multiplier %q is not a positive decimal", p.Ref(), rg.Name, rg.Multiplier)
		}
	}
	rates = append(rates, p.WebSearch)
	for _, r := range rates {
		if r < 0 {
			return fmt.Errorf("%s: negative rate", p.Ref())
		}
	}
	return nil
}

type genaiProvider struct {
	ID     string        `json:"id"`
	Models *[]genaiModel `json:"models"`
}

type genaiModel struct {
	ID            string          `json:"id"`
	Match         json.RawMessage `json:"match"`
	ContextWindow int64           `json:"context_window"`
	Prices        json.RawMessage `json:"prices"`
}

type genaiConditional struct {
	Constraint *struct {
		StartDate string `json:"start_date"`
		StartTime string `json:"start_time"`
		EndTime   string `json:"end_time"`
	} `json:"constraint"`
	Prices map[string]json.RawMessage `json:"prices"`
}

func importGenAIPrices(b []byte, ps map[string]Provider) (PriceImport, error) {
	var provs []genaiProvider
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&provs); err != nil {
		return PriceImport{}, fmt.Errorf("read %s: %w: %v", FormatGenAIPrices, ErrPriceFormat, err)
	}
	if len(provs) == 0 {
		return PriceImport{}, fmt.Errorf("read prices: empty array: %w", ErrPriceFormat)
	}
	byID := map[string]Provider{}
	for _, p := range ps {
		if p.PriceLists.GenAI != "" {
			byID[p.PriceLists.GenAI] = p
		}
	}
	imp := PriceImport{Format: FormatGenAIPrices}
	for _, gp := range provs {
		if gp.ID == "" || gp.Models == nil {
			return PriceImport{}, fmt.Errorf("read %s: an entry is not a provider with an id and models: %w", FormatGenAIPrices, ErrPriceFormat)
		}
		prov, ok := byID[gp.ID]
		if !ok {
			continue
		}
		for _, m := range *gp.Models {
			p, reason, err := genaiPrice(prov, m)
			if err != nil {
				return PriceImport{}, fmt.Errorf("read %s: %s/%s: %w", FormatGenAIPrices, gp.ID, m.ID, err)
			}
			if reason != "" {
				imp.Skipped = append(imp.Skipped, SkippedPrice{Provider: prov.Name, Model: m.ID, Reason: reason})
				continue
			}
			imp.Prices = append(imp.Prices, p)
		}
	}
	return imp, nil
}

// genaiPrice converts one genai-prices model, or says why it is skipped.
func genaiPrice(prov Provider, m genaiModel) (Price, string, error) {
	if m.ID == "" {
		return Price{}, "", errors.New("model without an id")
	}
	for pre, why := range prov.PriceLists.NotServed {
		if strings.HasPrefix(strings.ToLower(m.ID), pre) {
			return Price{}, why, nil
		}
	}
	periods, reason, err := genaiPeriods(m.Prices)
	if err != nil || reason != "" {
		return Price{}, reason, err
	}
	p := Price{Provider: prov.Name, Model: m.ID, ContextWindow: m.ContextWindow, Source: FormatGenAIPrices}
	for i, per := range periods {
		r, reason, err := genaiRates(per.fields)
		if err != nil || reason != "" {
			return Price{}, reason, err
		}
		switch {
		case per.until != "":
			p.Earlier = append(p.Earlier, DatedRates{Until: per.until, Rates: r})
		case per.window != nil:
			w := *per.window
			w.Rates = r
			p.Windows = append(p.Windows, w)
		case i >= 0:
			p.SetRates(r)
		}
	}
	if p.Input == 0 && p.Output == 0 {
		return Price{}, "no price listed (free or unpublished)", nil
	}
	if reason := unmeteredModality(m.ID); reason != "" && !modalityModel(m.ID, p.RatesOf()) {
		return Price{}, reason, nil
	}
	match, err := genaiMatch(prov.Name, m.ID, m.Match)
	if err != nil {
		return Price{}, "", err
	}
	p.Match = match
	return p, "", nil
}

// genaiRates converts one set of genai-prices prices.
func genaiRates(fields map[string]json.RawMessage) (Rates, string, error) {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch k {
		case "input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
			"input_audio_mtok", "cache_audio_read_mtok", "output_audio_mtok":
		case "requests_kcount":
			return Rates{}, "charges per request as well as per token", nil
		default:
			return Rates{}, "unknown price field " + k, nil
		}
	}
	var r Rates
	type dest struct {
		base *Money
		tier func(*Tier) *Money // nil: the source has no tiers for it
	}
	dests := map[string]dest{
		"input_mtok":            {&r.Input, func(t *Tier) *Money { return &t.Input }},
		"output_mtok":           {&r.Output, func(t *Tier) *Money { return &t.Output }},
		"cache_read_mtok":       {&r.CachedInput, func(t *Tier) *Money { return &t.CachedInput }},
		"cache_write_mtok":      {&r.CacheWrite, func(t *Tier) *Money { return &t.CacheWrite }},
		"input_audio_mtok":      {&r.InputAudio, func(t *Tier) *Money { return &t.InputAudio }},
		"cache_audio_read_mtok": {&r.CachedInputAudio, func(t *Tier) *Money { return &t.CachedInputAudio }},
		"output_audio_mtok":     {&r.OutputAudio, nil},
	}
	tiered := map[string][]genaiTierStep{}
	for k, d := range dests {
		raw, ok := fields[k]
		if !ok {
			continue
		}
		base, steps, err := genaiRate(raw)
		if err != nil {
			return Rates{}, "", fmt.Errorf("%s: %w", k, err)
		}
		*d.base = base
		if len(steps) > 0 {
			if d.tier == nil {
				return Rates{}, k + " has long-context tiers, which Sluice cannot hold", nil
			}
			tiered[k] = steps
		}
	}
	r.Tiers = buildTiers(tiered, func(k string, t *Tier) *Money { return dests[k].tier(t) })
	return r, "", nil
}

// genaiPeriod is one set of a model's prices and when it applies: before
// until (a date), in window (a time of day), or otherwise.
type genaiPeriod struct {
	fields map[string]json.RawMessage
	until  string
	window *WindowRates
}

// genaiPeriods reads a model's prices: a plain object, or conditional
// prices. Prices with start dates become periods, each in force until the
// next one's date; the newest is the row's own. Of prices for a time of
// day (DeepSeek's standard hours), the constrained ones are the row's own
// and the unconstrained ones apply in the rest of the day (the off-peak
// window).
func genaiPeriods(raw json.RawMessage) ([]genaiPeriod, string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, "", fmt.Errorf("prices: %w", err)
		}
		return []genaiPeriod{{fields: fields}}, "", nil
	}
	var conds []genaiConditional
	if err := json.Unmarshal(raw, &conds); err != nil {
		return nil, "", fmt.Errorf("prices: %w", err)
	}
	if len(conds) == 0 {
		return nil, "no price listed (free or unpublished)", nil
	}
	var timed, plain []genaiConditional
	for _, c := range conds {
		if c.Constraint != nil && (c.Constraint.StartTime != "" || c.Constraint.EndTime != "") {
			timed = append(timed, c)
		} else {
			plain = append(plain, c)
		}
	}
	if len(timed) > 0 {
		if len(timed) != 1 || len(plain) != 1 {
			return []genaiPeriod{{fields: dearest(conds)}}, "", nil
		}
		c := timed[0].Constraint
		from, to := clock(c.EndTime), clock(c.StartTime)
		if from == "" || to == "" {
			return nil, "prices by time of day with unreadable times", nil
		}
		return []genaiPeriod{
			{fields: timed[0].Prices},
			{fields: plain[0].Prices, window: &WindowRates{From: from, To: to, Name: "off-peak"}},
		}, "", nil
	}
	sort.SliceStable(plain, func(i, j int) bool { return startDate(plain[i]) < startDate(plain[j]) })
	var out []genaiPeriod
	for i, c := range plain {
		per := genaiPeriod{fields: c.Prices}
		if i < len(plain)-1 {
			per.until = startDate(plain[i+1])
			if per.until == "" || per.until == startDate(c) {
				continue
			}
		}
		out = append(out, per)
	}
	return out, "", nil
}

func startDate(c genaiConditional) string {
	if c.Constraint == nil {
		return ""
	}
	return c.Constraint.StartDate
}

// clock turns genai-prices' "16:30:00Z" into "16:30"; "" when it is not a
// UTC time of day.
func clock(s string) string {
	t, err := time.Parse("15:04:05Z", s)
	if err != nil {
		return ""
	}
	return t.Format("15:04")
}

// dearest returns the prices of conds with the highest input rate.
func dearest(conds []genaiConditional) map[string]json.RawMessage {
	var best map[string]json.RawMessage
	var bestRate Money = -1
	for _, c := range conds {
		r, _, err := genaiRate(c.Prices["input_mtok"])
		if err == nil && r > bestRate {
			best, bestRate = c.Prices, r
		}
	}
	return best
}

type genaiTierStep struct {
	start int64
	rate  Money
}

// genaiRate reads a price in dollars per million tokens: a number, or
// {"base": n, "tiers": [{"start": tokens, "price": n}]}.
func genaiRate(raw json.RawMessage) (Money, []genaiTierStep, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var t struct {
			Base  json.Number `json:"base"`
			Tiers []struct {
				Start json.Number `json:"start"`
				Price json.Number `json:"price"`
			} `json:"tiers"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&t); err != nil {
			return 0, nil, err
		}
		base, err := decimalRate(string(t.Base), 1_000_000)
		if err != nil {
			return 0, nil, err
		}
		var steps []genaiTierStep
		for _, s := range t.Tiers {
			start, err := strconv.ParseInt(string(s.Start), 10, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("tier start %q: %w", s.Start, err)
			}
			rate, err := decimalRate(string(s.Price), 1_000_000)
			if err != nil {
				return 0, nil, err
			}
			steps = append(steps, genaiTierStep{start, rate})
		}
		return base, steps, nil
	}
	r, err := decimalRate(string(raw), 1_000_000)
	return r, nil, err
}

// buildTiers turns per-field tier steps into Tiers: one per distinct
// threshold, each field at its own highest step not above it.
func buildTiers(steps map[string][]genaiTierStep, field func(string, *Tier) *Money) []Tier {
	starts := map[int64]bool{}
	for _, ss := range steps {
		for _, s := range ss {
			starts[s.start] = true
		}
	}
	if len(starts) == 0 {
		return nil
	}
	var tiers []Tier
	for start := range starts {
		t := Tier{AboveInputTokens: start}
		for k, ss := range steps {
			best := int64(-1)
			for _, s := range ss {
				if s.start <= start && s.start > best {
					best = s.start
					*field(k, &t) = s.rate
				}
			}
		}
		tiers = append(tiers, t)
	}
	sort.Slice(tiers, func(i, j int) bool { return tiers[i].AboveInputTokens < tiers[j].AboveInputTokens })
	return tiers
}

// genaiMatch converts a genai-prices match rule into Match entries:
// equals and ends_with become exact ids, starts_with and contains become
// prefixes (Sluice compares whole ids, so "contains" reads as "starts
// with"). Regular expressions are dropped: the ones genai-prices uses name
// dated snapshots, which Lookup finds by removing the date.
func genaiMatch(prov, model string, raw json.RawMessage) ([]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{priceModelID(prov, model): true}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var rule map[string]json.RawMessage
		if err := json.Unmarshal(raw, &rule); err != nil {
			return fmt.Errorf("match: %w", err)
		}
		keys := make([]string, 0, len(rule))
		for k := range rule {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := rule[k]
			switch k {
			case "or":
				var subs []json.RawMessage
				if err := json.Unmarshal(v, &subs); err != nil {
					return fmt.Errorf("match: %w", err)
				}
				for _, s := range subs {
					if err := walk(s); err != nil {
						return err
					}
				}
			case "equals", "ends_with", "starts_with", "contains":
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return fmt.Errorf("match %s: %w", k, err)
				}
				id := priceModelID(prov, s)
				if id == "" {
					continue
				}
				if k == "starts_with" || k == "contains" {
					id += "*"
				}
				add(id)
			}
		}
		return nil
	}
	if err := walk(raw); err != nil {
		return nil, err
	}
	return out, nil
}

// unmeteredModality says why a model named id is skipped when its name
// marks it as audio, speech or image generation: those are billed by
// output modality, per image or per second, which Usage does not carry.
func unmeteredModality(id string) string {
	m := strings.ToLower(id)
	for _, w := range []string{"audio", "realtime", "transcribe", "tts", "whisper", "speech", "live"} {
		if containsWord(m, w) {
			return "audio model; audio tokens have their own rates, which Sluice cannot meter"
		}
	}
	for _, w := range []string{"image", "imagen", "dall-e"} {
		if containsWord(m, w) {
			return "image model; image output is billed per image or image token, which Sluice cannot meter"
		}
	}
	return ""
}

// modalityModel reports whether id names an audio or image model of the
// chat APIs ("gpt-audio", "gpt-4o-audio-preview", "gemini-2.5-flash-image")
// whose rates for that modality r lists: its usage splits tokens by
// modality, so it can be metered. Speech, transcription, realtime and
// per-image models cannot: their endpoints report no usage Sluice reads.
func modalityModel(id string, r Rates) bool {
	m := strings.ToLower(id)
	audio := containsWord(m, "audio") && (r.InputAudio != 0 || r.OutputAudio != 0)
	image := containsWord(m, "image") && r.OutputImage != 0
	if !audio && !image {
		return false
	}
	for _, w := range []string{"realtime", "transcribe", "tts", "whisper", "speech", "live", "imagen", "dall-e", "gpt-image", "generation"} {
		if containsWord(m, w) || strings.Contains(m, w) && strings.Contains(w, "-") {
			return false
		}
	}
	return true
}

// containsWord reports whether w appears in s as a whole '-', '/', '.',
// ':' or '_' separated word.
func containsWord(s, w string) bool {
	for _, part := range strings.FieldsFunc(s, func(r rune) bool {
		return r == '-' || r == '/' || r == '.' || r == ':' || r == '_' || r == '@'
	}) {
		if part == w {
			return true
		}
	}
	return false
}

// decimalRate converts a decimal number of dollars per perTokens tokens
// into Money per token, exactly when it can be and otherwise rounded to the
// nearest picodollar.
func decimalRate(s string, perTokens int64) (Money, error) {
	s = strings.TrimSpace(s)
	r, ok := new(big.Rat).SetString(s)
	if !ok || s == "" {
		return 0, fmt.Errorf("price %q is not a number", s)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("price %q is negative", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(Dollar)))
	r.Quo(r, new(big.Rat).SetInt64(perTokens))
	// Round half up: add one half, take the floor.
	r.Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("price %q is too large", s)
	}
	return Money(n.Int64()), nil
}

// litellmRates maps LiteLLM's per-token cost fields to Rates fields;
// long-context variants ("..._above_200k_tokens") go to a Tier's field of
// the same name, where a Tier has one.
var litellmRates = map[string]func(*Rates, *Tier) *Money{
	"input_cost_per_token": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.Input
		}
		return &r.Input
	},
	"output_cost_per_token": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.Output
		}
		return &r.Output
	},
	"cache_read_input_token_cost": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.CachedInput
		}
		return &r.CachedInput
	},
	"cache_creation_input_token_cost": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.CacheWrite
		}
		return &r.CacheWrite
	},
	"cache_creation_input_token_cost_above_1hr": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.CacheWrite1h
		}
		return &r.CacheWrite1h
	},
	"input_cost_per_audio_token": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.InputAudio
		}
		return &r.InputAudio
	},
	"cache_read_input_audio_token_cost": func(r *Rates, t *Tier) *Money {
		if t != nil {
			return &t.CachedInputAudio
		}
		return &r.CachedInputAudio
	},
	"input_cost_per_image_token":      baseRate(func(r *Rates) *Money { return &r.InputImage }),
	"output_cost_per_audio_token":     baseRate(func(r *Rates) *Money { return &r.OutputAudio }),
	"output_cost_per_image_token":     baseRate(func(r *Rates) *Money { return &r.OutputImage }),
	"output_cost_per_video_token":     baseRate(func(r *Rates) *Money { return &r.OutputVideo }),
	"output_cost_per_reasoning_token": baseRate(func(r *Rates) *Money { return &r.Reasoning }),
}

// baseRate is a litellmRates entry for a rate that has no long-context
// variant: a tier's is dropped.
func baseRate(f func(*Rates) *Money) func(*Rates, *Tier) *Money {
	return func(r *Rates, t *Tier) *Money {
		if t != nil {
			return new(Money)
		}
		return f(r)
	}
}

// litellmServiceTiers maps the suffixes of LiteLLM's service-tier rates
// to the service_tier values providers report.
var litellmServiceTiers = map[string]string{"_priority": "priority", "_flex": "flex", "_batches": "batch"}

func importLiteLLM(entries map[string]json.RawMessage, ps map[string]Provider) (PriceImport, error) {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		if k != "sample_spec" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	byID := map[string]Provider{}
	for _, p := range ps {
		for _, id := range p.PriceLists.LiteLLM {
			byID[id] = p
		}
	}
	imp := PriceImport{Format: FormatLiteLLM}
	type kept struct {
		p     Price
		exact bool // litellm_provider names the Sluice provider itself
	}
	rows := map[string]kept{}
	var order []string
	for _, key := range keys {
		var e map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(entries[key]))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			return PriceImport{}, fmt.Errorf("read %s: %s: %w", FormatLiteLLM, key, err)
		}
		var lp string
		if raw, ok := e["litellm_provider"]; ok {
			if err := json.Unmarshal(raw, &lp); err != nil {
				return PriceImport{}, fmt.Errorf("read %s: %s: litellm_provider: %w", FormatLiteLLM, key, err)
			}
		}
		prov, ok := byID[lp]
		if !ok {
			continue
		}
		// LiteLLM puts its provider before the model: the row's
		// litellm_provider, or what it names before a "-"
		// ("vertex_ai/" for vertex_ai-language-models).
		model := key
		if seg, rest, ok := strings.Cut(key, "/"); ok && (seg == lp || strings.HasPrefix(lp, seg+"-")) {
			model = rest
		}
		if pre, ok := prov.PriceLists.LiteLLMModels[lp]; ok && !strings.HasPrefix(strings.ToLower(model), pre) {
			continue
		}
		p, reason, err := litellmPrice(prov, model, e)
		if err != nil {
			return PriceImport{}, fmt.Errorf("read %s: %s: %w", FormatLiteLLM, key, err)
		}
		if reason != "" {
			imp.Skipped = append(imp.Skipped, SkippedPrice{Provider: prov.Name, Model: model, Reason: reason})
			continue
		}
		id := prov.Name + "\x00" + priceModelID(prov.Name, model)
		exact := lp == prov.Name
		if old, dup := rows[id]; dup {
			if old.exact || !exact {
				continue
			}
		} else {
			order = append(order, id)
		}
		rows[id] = kept{p, exact}
	}
	for _, id := range order {
		imp.Prices = append(imp.Prices, rows[id].p)
	}
	return imp, nil
}

// litellmPrice converts one LiteLLM entry, or says why it is skipped.
func litellmPrice(prov Provider, model string, e map[string]json.RawMessage) (Price, string, error) {
	var mode string
	if raw, ok := e["mode"]; ok {
		if err := json.Unmarshal(raw, &mode); err != nil {
			return Price{}, "", fmt.Errorf("mode: %w", err)
		}
	}
	switch mode {
	case "", "chat", "completion", "responses", "embedding":
	case "image_generation":
		// An image model is metered where the provider reports image
		// tokens in usage (PriceLists.ImageTokens).
		if _, ok := e["output_cost_per_image_token"]; !prov.PriceLists.ImageTokens || !ok {
			return Price{}, "mode " + mode + " is not billed per text token", nil
		}
	default:
		return Price{}, "mode " + mode + " is not billed per text token", nil
	}
	// Output priced per image or per second, without a per-token rate,
	// cannot be metered from usage.
	for k, perToken := range map[string]string{
		"output_cost_per_image":  "output_cost_per_image_token",
		"output_cost_per_second": "",
	} {
		if _, ok := e[k]; ok {
			if _, tok := e[perToken]; perToken == "" || !tok {
				return Price{}, "output other than text (" + k + ") has its own rate, which Sluice cannot meter", nil
			}
		}
	}
	if _, ok := e["input_cost_per_token"]; !ok {
		return Price{}, "no per-token input price", nil
	}

	p := Price{Provider: prov.Name, Model: model, Source: FormatLiteLLM}
	base := Rates{}
	tiers := map[string]*Rates{} // service tier → its rates
	steps := map[string]map[string][]genaiTierStep{}
	for k, raw := range e {
		if strings.HasPrefix(k, "regional_processing_uplift_multiplier_") {
			var n json.Number
			if json.Unmarshal(raw, &n) == nil {
				p.Regions = append(p.Regions, Region{Name: strings.TrimPrefix(k, "regional_processing_uplift_multiplier_"), Multiplier: n.String()})
			}
			continue
		}
		// Service-tier rates end in "_priority", "_flex" or "_batches".
		field, tier := k, ""
		for suffix, name := range litellmServiceTiers {
			if rest, ok := strings.CutSuffix(k, suffix); ok {
				field, tier = rest, name
			}
		}
		// Long-context rates are "<field>_above_<N>k_tokens"; the field
		// itself may be "cache_creation_input_token_cost_above_1hr".
		threshold := int64(0)
		if i := strings.LastIndex(field, "_above_"); i > 0 && strings.HasSuffix(field, "k_tokens") {
			n, err := strconv.ParseInt(field[i+len("_above_"):len(field)-len("k_tokens")], 10, 64)
			if err != nil || n <= 0 {
				continue
			}
			field, threshold = field[:i], n*1000
		}
		set, ok := litellmRates[field]
		if !ok {
			continue
		}
		rate, err := litellmNumber(raw)
		if err != nil {
			return Price{}, "", fmt.Errorf("%s: %w", k, err)
		}
		dst := &base
		if tier != "" {
			if tiers[tier] == nil {
				tiers[tier] = &Rates{}
			}
			dst = tiers[tier]
		}
		if threshold == 0 {
			*set(dst, nil) = rate
		} else {
			if steps[tier] == nil {
				steps[tier] = map[string][]genaiTierStep{}
			}
			steps[tier][field] = append(steps[tier][field], genaiTierStep{threshold, rate})
		}
	}
	if reason := unmeteredModality(model); reason != "" && !modalityModel(model, base) {
		return Price{}, reason, nil
	}
	// A reasoning rate equal to the output rate says nothing.
	if base.Reasoning == base.Output {
		base.Reasoning = 0
	}
	mkTiers := func(tier string) []Tier {
		return buildTiers(steps[tier], func(k string, t *Tier) *Money { return litellmRates[k](nil, t) })
	}
	base.Tiers = mkTiers("")
	p.SetRates(base)
	names := make([]string, 0, len(tiers))
	for name := range tiers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := *tiers[name]
		if r.Reasoning == r.Output {
			r.Reasoning = 0
		}
		r.Tiers = mkTiers(name)
		p.ServiceTiers = append(p.ServiceTiers, ServiceTier{Name: name, Rates: r})
	}
	sort.Slice(p.Regions, func(i, j int) bool { return p.Regions[i].Name < p.Regions[j].Name })
	if p.Input == 0 && p.Output == 0 {
		return Price{}, "no price listed (free or unpublished)", nil
	}
	if raw, ok := e["search_context_cost_per_query"]; ok {
		var sizes map[string]json.Number
		if json.Unmarshal(raw, &sizes) == nil {
			// The dearest context size: the request's choice is not
			// in its usage.
			for _, v := range sizes {
				if fee, err := decimalRate(v.String(), 1); err == nil && fee > p.WebSearch {
					p.WebSearch = fee
				}
			}
		}
		var unit string
		if raw, ok := e["web_search_billing_unit"]; ok {
			_ = json.Unmarshal(raw, &unit)
		}
		// Per prompt that searched, where the provider bills so
		// (PriceLists.SearchPerPrompt), unless the row says per query.
		p.WebSearchPerRequest = prov.PriceLists.SearchPerPrompt && unit != "per_query" && p.WebSearch > 0
	}
	p.ContextWindow, _ = litellmInt(e["max_input_tokens"])
	p.MaxOutput, _ = litellmInt(e["max_output_tokens"])
	return p, "", nil
}

// litellmNumber reads a LiteLLM per-token cost in dollars.
func litellmNumber(raw json.RawMessage) (Money, error) {
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return 0, err
	}
	return decimalRate(string(n), 1)
}

func litellmInt(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	v, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil {
			return 0, false
		}
		v = int64(f)
	}
	return v, true
}
