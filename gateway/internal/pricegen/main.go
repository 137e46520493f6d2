// Command pricegen builds gateway/prices.json, Sluice's built-in price
// table, from two MIT-licensed sources: pydantic/genai-prices' data.json
// and LiteLLM's model_prices_and_context_window.json.
//
// genai-prices rows come first (they carry long-context tiers and match
// rules). A LiteLLM row for the same model, at the same input and output
// rates, fills what the genai-prices row lacks: one-hour cache writes,
// cache rates, tiers, context window, maximum output. A LiteLLM row for a
// model genai-prices does not price, or for a dated snapshot that Lookup
// would otherwise price at its family's different rate, becomes a row of
// its own. Where the two disagree about a model genai-prices names, its
// rate stands. Models
// genai-prices deliberately leaves unpriceable (prices by time of day,
// audio output) are not priced from LiteLLM either.
//
// OpenRouter gets a subset: rows for models of vendors Sluice also serves
// directly only where OpenRouter's price differs from the vendor's own
// (Lookup falls back to the vendor's row otherwise), and rows for the
// open-weight vendors most used through it. Ollama gets one free row that
// answers for every model.
//
// Run it with go generate ./gateway. With -check it writes nothing and
// fails if prices.json differs from what it would write.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/gateway"
)

// providers are Sluice's provider names; the table must price models of
// every one.
var providers = []string{"openai", "anthropic", "gemini", "mistral", "groq", "deepseek", "xai", "openrouter", "together", "fireworks", "ollama"}

// openRouterFamilies are the id prefixes of OpenRouter models of other
// vendors that are kept: the current open-weight families most used
// through it. The rest of OpenRouter's hundreds of models stay unpriced
// rather than bloat the table; a price override or an import adds them.
var openRouterFamilies = []string{
	"meta-llama/llama-3.1", "meta-llama/llama-3.3", "meta-llama/llama-4",
	"qwen/qwen3.", "qwen/qwen3-coder", "qwen/qwen3-max",
	"moonshotai/", "z-ai/", "minimax/",
	"~anthropic/", "~openai/", "~google/", "~moonshotai/",
}

// directVendors are OpenRouter vendor prefixes of models Sluice's own
// providers sell; Lookup falls back to those providers' rows.
var directVendors = map[string]bool{
	"openai":    true,
	"anthropic": true,
	"google":    true,
	"mistralai": true,
	"deepseek":  true,
	"x-ai":      true,
}

type config struct {
	genaiPath, genaiRef, genaiDate       string
	litellmPath, litellmRef, litellmDate string
	out                                  string
	check, verbose                       bool
}

func main() {
	var c config
	flag.StringVar(&c.genaiPath, "genai", "../../shared/data/genai-prices.json", "genai-prices data.json")
	flag.StringVar(&c.genaiRef, "genai-ref", "47df840a", "genai-prices commit the data is from")
	flag.StringVar(&c.genaiDate, "genai-date", "2026-08-21", "date of the genai-prices data")
	flag.StringVar(&c.litellmPath, "litellm", "../../shared/data/litellm-model-prices.json", "LiteLLM model_prices_and_context_window.json")
	flag.StringVar(&c.litellmRef, "litellm-ref", "f9ff1473", "commit the LiteLLM data is from")
	flag.StringVar(&c.litellmDate, "litellm-date", "2026-07-24", "date of the LiteLLM data")
	flag.StringVar(&c.out, "out", "prices.json", "file to write, or with -check to compare")
	flag.BoolVar(&c.check, "check", false, "fail if -out differs from what would be written; write nothing")
	flag.BoolVar(&c.verbose, "v", false, "list skipped, filled and conflicting rows on stderr")
	flag.Parse()
	if err := run(c, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pricegen:", err)
		os.Exit(1)
	}
}

func run(c config, log io.Writer) error {
	genaiJSON, err := os.ReadFile(c.genaiPath)
	if err != nil {
		return err
	}
	litellmJSON, err := os.ReadFile(c.litellmPath)
	if err != nil {
		return err
	}
	out, notes, err := generate(c, genaiJSON, litellmJSON)
	if err != nil {
		return err
	}
	if c.verbose {
		for _, n := range notes {
			fmt.Fprintln(log, n)
		}
	}
	if c.check {
		old, err := os.ReadFile(c.out)
		if err != nil {
			return err
		}
		if !bytes.Equal(old, out) {
			return fmt.Errorf("%s is stale: run go generate ./gateway", c.out)
		}
		return nil
	}
	return os.WriteFile(c.out, out, 0o644)
}

// generate returns the contents of prices.json and notes on what was
// skipped, filled or left in conflict.
func generate(c config, genaiJSON, litellmJSON []byte) ([]byte, []string, error) {
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }

	gimp, err := gateway.ImportPrices(genaiJSON)
	if err != nil {
		return nil, nil, err
	}
	if gimp.Format != gateway.FormatGenAIPrices {
		return nil, nil, fmt.Errorf("%s: %s data, want %s", c.genaiPath, gimp.Format, gateway.FormatGenAIPrices)
	}
	limp, err := gateway.ImportPrices(litellmJSON)
	if err != nil {
		return nil, nil, err
	}
	if limp.Format != gateway.FormatLiteLLM {
		return nil, nil, fmt.Errorf("%s: %s data, want %s", c.litellmPath, limp.Format, gateway.FormatLiteLLM)
	}
	genaiSource := "genai-prices " + c.genaiRef
	litellmSource := "litellm " + c.litellmRef
	for _, s := range gimp.Skipped {
		note("skip genai-prices %s/%s: %s", s.Provider, s.Model, s.Reason)
	}
	for _, s := range limp.Skipped {
		note("skip litellm %s/%s: %s", s.Provider, s.Model, s.Reason)
	}

	var direct, openrouter []gateway.Price
	for _, p := range gimp.Prices {
		p.Source, p.Updated = genaiSource, c.genaiDate
		if p.Provider == "openrouter" {
			openrouter = append(openrouter, p)
		} else {
			direct = append(direct, p)
		}
	}
	// Models genai-prices skipped stay unpriced: a LiteLLM rate for them
	// would be the misprice genai-prices declined to make.
	var skipped []gateway.Price
	skipReason := map[string]string{}
	for _, s := range gimp.Skipped {
		skipped = append(skipped, gateway.Price{Provider: s.Provider, Model: s.Model, Input: 1, Source: "skipped"})
		skipReason[s.Provider+"/"+strings.ToLower(s.Model)] = s.Reason
	}
	skippedTable := gateway.NewPrices(skipped)

	index := func() map[string]int {
		m := map[string]int{}
		for i, p := range direct {
			m[key(p)] = i
		}
		return m
	}
	byKey := index()
	table := gateway.NewPrices(direct)
	for _, l := range limp.Prices {
		l.Source, l.Updated = litellmSource, c.litellmDate
		if l.Provider == "openrouter" {
			openrouter = append(openrouter, l)
			continue
		}
		// A model genai-prices skips for a modality it lists no rates of
		// is priced from LiteLLM where LiteLLM lists them.
		if s, ok := skippedTable.Lookup(l.Provider, l.Model); ok && !litellmHasModality(l, skipReason[s.Provider+"/"+strings.ToLower(s.Model)]) {
			note("skip litellm %s/%s: genai-prices skips %s: %s", l.Provider, l.Model, s.Model, skipReason[s.Provider+"/"+strings.ToLower(s.Model)])
			continue
		}
		g, found := table.Lookup(l.Provider, l.Model)
		switch {
		case found && g.Input == l.Input && g.Output == l.Output:
			i := byKey[key(g)]
			filled, rejected := fill(&direct[i], l)
			if len(rejected) > 0 {
				note("keep %s: litellm %s has %s", g.Ref(), l.Model, strings.Join(rejected, ", "))
			}
			if len(filled) > 0 {
				if !strings.Contains(direct[i].Source, litellmSource) {
					direct[i].Source += " + " + litellmSource
				}
				note("fill %s from litellm %s: %s", g.Ref(), l.Model, strings.Join(filled, ", "))
			}
		case found && strongMatch(g, l.Model):
			note("conflict %s: genai-prices %s/%s per M, litellm %s has %s/%s; kept genai-prices",
				g.Ref(), perM(g.Input), perM(g.Output), l.Model, perM(l.Input), perM(l.Output))
			// A model's limits do not depend on whose price is right.
			i := byKey[key(g)]
			if filled := fillLimits(&direct[i], l); len(filled) > 0 {
				if !strings.Contains(direct[i].Source, litellmSource) {
					direct[i].Source += " + " + litellmSource
				}
				note("fill %s from litellm %s: %s", g.Ref(), l.Model, strings.Join(filled, ", "))
			}
		default:
			if found {
				note("add litellm %s/%s: its own rate, unlike %s", l.Provider, l.Model, g.Ref())
			} else {
				note("add litellm %s/%s", l.Provider, l.Model)
			}
			direct = append(direct, l)
			byKey = index()
			table = gateway.NewPrices(direct)
		}
	}

	for i := range direct {
		for _, n := range providerRules(&direct[i]) {
			note("derive %s: %s", direct[i].Ref(), n)
		}
	}

	rows := append([]gateway.Price(nil), direct...)
	for _, p := range openrouter {
		vendor, _, _ := strings.Cut(p.Model, "/")
		if directVendors[vendor] {
			if v, ok := table.Lookup("openrouter", p.Model); ok && subsumed(p, v) {
				continue
			}
			rows = append(rows, p)
			continue
		}
		for _, f := range openRouterFamilies {
			if strings.HasPrefix(p.Model, f) {
				rows = append(rows, p)
				break
			}
		}
	}
	rows = append(rows, gateway.Price{
		Provider: "ollama",
		Model:    "*",
		Match:    []string{"*"},
		Source:   "local, free",
		Updated:  c.genaiDate,
	})

	t := gateway.NewPrices(rows)
	all := t.All()
	if err := validate(all); err != nil {
		return nil, nil, err
	}
	out, err := encode(gateway.PriceFile{
		Format:  gateway.FormatSluice,
		Version: t.Version(),
		Sources: []string{
			"genai-prices: github.com/pydantic/genai-prices prices/data.json @ " + c.genaiRef + ", " + c.genaiDate + "; MIT License, Copyright (c) Pydantic Services Inc. 2025 to present",
			"litellm: LiteLLM's model_prices_and_context_window.json, as synced by github.com/Wei-Shaw/model-price-repo @ " + c.litellmRef + ", " + c.litellmDate + "; MIT License, Copyright (c) 2026 Wesley Liddick",
			"See PRICES-LICENSES.md.",
		},
		Prices: all,
	})
	return out, notes, err
}

// providerRules fills rates the sources leave out but the provider's
// published rules fix, and names what it filled:
//
//   - Gemini Pro models bill audio input at the text input rate (their
//     price list gives one input rate for text, image, video and audio;
//     the sources list an audio rate only where it differs): such rows
//     get InputAudio = Input and CachedInputAudio = CachedInput, in each
//     tier too. Without them an audio request would be partially priced.
//   - Anthropic bills one-hour cache writes at twice the base input rate,
//     for every model: rows without a one-hour rate get it, in each tier
//     and dated period too.
//   - Anthropic bills web search at $10 per thousand searches whatever
//     the model (LiteLLM lists that fee for every Claude model it lists
//     one for): Claude 4 and newer rows without it get it.
//   - OpenAI bills its web search tool at $10 per thousand calls on
//     reasoning models (gpt-5 and the o-series), whichever version of the
//     tool asked for it (web_search or web_search_preview); the search
//     content tokens arrive as input tokens in the usage. Those rows get
//     the fee where the sources lack it: without it every Codex request,
//     which offers the model web search, would be partially priced.
//     Non-reasoning models (gpt-4o, gpt-4.1) bill $10 or $25 by the
//     tool's version, which the usage does not say: they stay unpriced
//     for search unless a source lists their fee.
//   - Anthropic bills requests run with inference_geo "us" at 1.1 times
//     every rate, for Claude Opus 4.6 and newer models: those rows get a
//     "us" region.
func providerRules(p *gateway.Price) []string {
	var notes []string
	switch p.Provider {
	case "gemini":
		// Only Pro models: Flash models list audio apart, and one whose
		// audio rate the sources lack stays unpriced for audio.
		if p.InputAudio == 0 && p.Output != 0 && strings.Contains(strings.ToLower(p.Model), "-pro") {
			p.InputAudio = p.Input
			if p.CachedInputAudio == 0 {
				p.CachedInputAudio = p.CachedInput
			}
			for i := range p.Tiers {
				p.Tiers[i].InputAudio, p.Tiers[i].CachedInputAudio = p.Tiers[i].Input, p.Tiers[i].CachedInput
			}
			notes = append(notes, "audio input at the text input rate")
		}
	case "openai":
		if p.WebSearch == 0 && p.Output != 0 && openAIReasoning(p.Model) {
			p.WebSearch = gateway.Dollar / 100
			notes = append(notes, "web search at $10 per thousand calls")
		}
	case "anthropic":
		twice := func(r *gateway.Rates) bool {
			changed := false
			if r.CacheWrite1h == 0 && r.Input != 0 {
				r.CacheWrite1h, changed = 2*r.Input, true
			}
			for i := range r.Tiers {
				if t := &r.Tiers[i]; t.CacheWrite1h == 0 && t.Input != 0 {
					t.CacheWrite1h, changed = 2*t.Input, true
				}
			}
			return changed
		}
		r := p.RatesOf()
		r.Tiers = append([]gateway.Tier(nil), r.Tiers...)
		changed := twice(&r)
		p.SetRates(r)
		for i := range p.Earlier {
			p.Earlier[i].Tiers = append([]gateway.Tier(nil), p.Earlier[i].Tiers...)
			changed = twice(&p.Earlier[i].Rates) || changed
		}
		if changed {
			notes = append(notes, "one-hour cache writes at twice the input rate")
		}
		if p.WebSearch == 0 && claudeAtLeast(p.Model, 4, 0) {
			p.WebSearch = gateway.Dollar / 100
			notes = append(notes, "web search at $10 per thousand searches")
		}
		if len(p.Regions) == 0 && claudeAtLeast(p.Model, 4, 6) {
			p.Regions = []gateway.Region{{Name: "us", Multiplier: "1.1"}}
			notes = append(notes, "inference_geo us at 1.1 times every rate")
		}
	}
	return notes
}

// openAIReasoning reports whether model names an OpenAI reasoning model
// that can call the web search tool: the gpt-5 family (its chat variants
// and search-, audio-, image- or realtime-only models aside) and the
// o-series (o1, o3, o4-mini...).
func openAIReasoning(model string) bool {
	m := strings.ToLower(model)
	for _, not := range []string{"-chat", "search", "audio", "image", "realtime", "transcribe", "tts", "embedding"} {
		if strings.Contains(m, not) {
			return false
		}
	}
	if strings.HasPrefix(m, "gpt-5") {
		return true
	}
	return len(m) >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9'
}

// claudeAtLeast reports whether model names a Claude model of version
// major.minor or newer: "claude-opus-4-6", "claude-sonnet-5",
// "claude-fable-5-1" (the older "claude-3-5-sonnet" order is older anyway).
func claudeAtLeast(model string, major, minor int) bool {
	parts := strings.Split(strings.ToLower(model), "-")
	if len(parts) < 3 || parts[0] != "claude" {
		return false
	}
	ma, err := strconv.Atoi(parts[2])
	if err != nil || parts[1] == "" || parts[1][0] >= '0' && parts[1][0] <= '9' {
		return false
	}
	mi := 0
	if len(parts) > 3 && len(parts[3]) <= 2 {
		if n, err := strconv.Atoi(parts[3]); err == nil {
			mi = n
		}
	}
	return ma > major || ma == major && mi >= minor
}

// litellmHasModality reports whether l lists the rates whose absence
// made genai-prices' row unpriceable, as reason says.
func litellmHasModality(l gateway.Price, reason string) bool {
	switch {
	case strings.HasPrefix(reason, "image model"):
		return l.OutputImage != 0
	case strings.HasPrefix(reason, "audio model"):
		return l.InputAudio != 0 || l.OutputAudio != 0
	}
	return false
}

func key(p gateway.Price) string { return p.Provider + "\x00" + strings.ToLower(p.Model) }

func perM(m gateway.Money) string { return "$" + (m * 1_000_000).String() }

// fill copies into g what l has and g lacks, and names what it copied and
// what it declined to copy.
func fill(g *gateway.Price, l gateway.Price) (filled, rejected []string) {
	set := func(name string, dst *gateway.Money, v gateway.Money) {
		if *dst == 0 && v != 0 {
			*dst = v
			filled = append(filled, name)
		}
	}
	set("cached_input", &g.CachedInput, l.CachedInput)
	set("cache_write", &g.CacheWrite, l.CacheWrite)
	if plausible1h(g.Input, g.CacheWrite, l.CacheWrite1h) {
		set("cache_write_1h", &g.CacheWrite1h, l.CacheWrite1h)
	} else if g.CacheWrite1h == 0 && l.CacheWrite1h != 0 {
		rejected = append(rejected, "cache_write_1h "+perM(l.CacheWrite1h)+" (implausible for input "+perM(g.Input)+")")
	}
	if len(g.Tiers) == 0 && len(l.Tiers) > 0 {
		g.Tiers = append([]gateway.Tier(nil), l.Tiers...)
		filled = append(filled, "tiers")
	} else {
		for i := range g.Tiers {
			for _, lt := range l.Tiers {
				if lt.AboveInputTokens == g.Tiers[i].AboveInputTokens && plausible1h(g.Tiers[i].Input, g.Tiers[i].CacheWrite, lt.CacheWrite1h) {
					set(fmt.Sprintf("tier %d cache_write_1h", lt.AboveInputTokens), &g.Tiers[i].CacheWrite1h, lt.CacheWrite1h)
				}
			}
		}
	}
	for _, f := range []struct {
		name   string
		dst, v *gateway.Money
	}{
		{"input_audio", &g.InputAudio, &l.InputAudio},
		{"cached_input_audio", &g.CachedInputAudio, &l.CachedInputAudio},
		{"input_image", &g.InputImage, &l.InputImage},
		{"input_video", &g.InputVideo, &l.InputVideo},
		{"output_audio", &g.OutputAudio, &l.OutputAudio},
		{"output_image", &g.OutputImage, &l.OutputImage},
		{"output_video", &g.OutputVideo, &l.OutputVideo},
		{"reasoning", &g.Reasoning, &l.Reasoning},
	} {
		set(f.name, f.dst, *f.v)
	}
	if g.WebSearch == 0 && l.WebSearch != 0 {
		g.WebSearch, g.WebSearchPerRequest = l.WebSearch, l.WebSearchPerRequest
		filled = append(filled, "web_search")
	}
	if len(g.ServiceTiers) == 0 && len(l.ServiceTiers) > 0 {
		g.ServiceTiers = append([]gateway.ServiceTier(nil), l.ServiceTiers...)
		filled = append(filled, "service_tiers")
	}
	if len(g.Regions) == 0 && len(l.Regions) > 0 {
		g.Regions = append([]gateway.Region(nil), l.Regions...)
		filled = append(filled, "regions")
	}
	return append(filled, fillLimits(g, l)...), rejected
}

// fillLimits fills the context window and output limit g lacks from l,
// and returns the names of the fields it filled.
func fillLimits(g *gateway.Price, l gateway.Price) (filled []string) {
	if g.ContextWindow == 0 && l.ContextWindow != 0 {
		g.ContextWindow = l.ContextWindow
		filled = append(filled, "context_window")
	}
	if g.MaxOutput == 0 && l.MaxOutput != 0 {
		g.MaxOutput = l.MaxOutput
		filled = append(filled, "max_output")
	}
	return filled
}

// plausible1h reports whether v can be a one-hour cache-write rate for a
// model with the given input and cache-write rates: no cheaper than a
// default cache write, no dearer than twice the input rate (Anthropic's
// rule). LiteLLM has copy-paste slips here (Claude 3 Haiku at 24 times its
// input rate), which this keeps out.
func plausible1h(input, write, v gateway.Money) bool {
	if write == 0 {
		write = input
	}
	return v >= write && v <= 2*input
}

// strongMatch reports whether g names id itself, by its model or a Match
// entry, rather than by Lookup's date-stripping rule.
func strongMatch(g gateway.Price, id string) bool {
	id = strings.ToLower(id)
	if strings.ToLower(g.Model) == id {
		return true
	}
	for _, m := range g.Match {
		m = strings.ToLower(m)
		if prefix, ok := strings.CutSuffix(m, "*"); ok {
			if strings.HasPrefix(id, prefix) {
				return true
			}
		} else if m == id {
			return true
		}
	}
	return false
}

// subsumed reports whether the vendor's own row v charges what the
// OpenRouter row o lists: the same input and output rates, and the same
// cache rates and tiers where o lists any. Rates o leaves out are not
// differences: genai-prices often lists fewer of them for OpenRouter.
func subsumed(o, v gateway.Price) bool {
	if o.Input != v.Input || o.Output != v.Output {
		return false
	}
	same := func(a, b gateway.Money) bool { return a == 0 || a == b }
	if !same(o.CachedInput, v.CachedInput) || !same(o.CacheWrite, v.CacheWrite) || !same(o.CacheWrite1h, v.CacheWrite1h) {
		return false
	}
	for _, ot := range o.Tiers {
		found := false
		for _, vt := range v.Tiers {
			if vt.AboveInputTokens == ot.AboveInputTokens {
				found = same(ot.Input, vt.Input) && same(ot.Output, vt.Output) && same(ot.CachedInput, vt.CachedInput) &&
					same(ot.CacheWrite, vt.CacheWrite) && same(ot.CacheWrite1h, vt.CacheWrite1h)
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// validate checks what the table promises: rows for every provider, and
// no model priced at zero but Ollama's.
func validate(rows []gateway.Price) error {
	have := map[string]bool{}
	var errs []error
	for _, p := range rows {
		have[p.Provider] = true
		if p.Provider != "ollama" && p.Input == 0 && p.Output == 0 {
			errs = append(errs, fmt.Errorf("%s: zero price", p.Ref()))
		}
	}
	for _, prov := range providers {
		if !have[prov] {
			errs = append(errs, fmt.Errorf("no rows for provider %s", prov))
		}
	}
	return errors.Join(errs...)
}

// encode writes f with one row per line, so that a price change is a
// one-line diff.
func encode(f gateway.PriceFile) ([]byte, error) {
	var b bytes.Buffer
	head := func(k string, v any) error {
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%q: %s,\n", k, j)
		return nil
	}
	b.WriteString("{\n")
	for _, kv := range []struct {
		k string
		v any
	}{{"format", f.Format}, {"version", f.Version}, {"sources", f.Sources}} {
		if err := head(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	b.WriteString("\"prices\": [\n")
	for i, p := range f.Prices {
		j, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		b.Write(j)
		if i < len(f.Prices)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n}\n")
	return b.Bytes(), nil
}
