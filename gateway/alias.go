package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// An alias is a model name that stands for other models: a request for the
// alias goes to its target, and, when the target fails before a byte of
// its answer has reached the caller (429, 5xx, a connection error or a
// timeout), to each fallback in turn. Once a budget that applies to the
// request has passed its soft threshold, the alias's over-soft target
// serves it instead of the target, so that a day's spend slows down rather
// than stopping. An alias may have the name of a real model ("shadow" it):
// a request for that name then goes where the alias says.
//
// This file holds the rules (what an alias may be, how a target is read,
// which failures fall back) and the request path's use of them: the proxy
// asks an AliasSource (the store keeps the aliases) for the model a
// request names, and each target it tries is an attempt of its own,
// chosen, held and recorded apart (ServeHTTP's loop, relay's fallBack).

// Alias is a model name that routes to other models.
type Alias struct {
	// Name is what callers send as the model, compared without regard to
	// case or surrounding space.
	Name string `json:"name"`
	// Target serves the alias's requests: "provider/model", or a model
	// the price table knows, or the name of another alias.
	Target string `json:"target"`
	// Fallbacks are tried in order when the target fails before its
	// first byte with 429, 5xx, a connection error or a timeout.
	Fallbacks []string `json:"fallbacks,omitempty"`
	// OverSoft, when not "", serves the alias's requests instead of
	// Target once a budget that applies to the request has passed its
	// soft threshold. The fallbacks stay as they are.
	OverSoft string `json:"over_soft,omitempty"`
	// Updated is when the alias was last set.
	Updated time.Time `json:"updated"`
	// Warnings say what keeps the alias from working as written (a
	// target's provider has no key): worked out when the alias is read
	// or set, never stored.
	Warnings []string `json:"warnings,omitempty"`
}

// AliasSource gives the aliases in force. Implementations must be safe for
// concurrent use and answer from memory: the proxy asks on every request.
type AliasSource interface {
	// Alias returns the alias named name, compared as AliasKey compares,
	// and false when there is none.
	Alias(name string) (Alias, bool)
}

// SoftWatcher is the optional capability of a Ledger to say whether a
// budget that applies to h has passed its soft threshold, and which one.
// Without it, an alias's over-soft target is never used.
type SoftWatcher interface {
	PastSoft(h Hold) (budget string, past bool)
}

// ErrInvalidAlias is wrapped by the errors of Alias.Validate,
// CheckAliasLoops and ResolveTarget.
var ErrInvalidAlias = errors.New("invalid alias")

func badAlias(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAlias, fmt.Sprintf(format, args...))
}

// AliasKey is how alias names compare: lower case, without surrounding
// space.
func AliasKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// maxAliasName bounds an alias's name and each of its targets.
const maxAliasName = 256

// maxFallbacks bounds an alias's fallbacks: each is a request's worth of
// waiting when the ones before it fail.
const maxFallbacks = 8

// Trimmed returns a with its name and targets without surrounding space:
// as it is stored and shown.
func (a Alias) Trimmed() Alias {
	a.Name, a.Target, a.OverSoft = strings.TrimSpace(a.Name), strings.TrimSpace(a.Target), strings.TrimSpace(a.OverSoft)
	if a.Fallbacks != nil {
		fs := make([]string, len(a.Fallbacks))
		for i, f := range a.Fallbacks {
			fs[i] = strings.TrimSpace(f)
		}
		a.Fallbacks = fs
	}
	return a
}

// Validate checks what can be checked of a without the providers and
// prices: a name, a target, and targets that are not blank, unprintable or
// repeated. Its errors wrap ErrInvalidAlias.
func (a Alias) Validate() error {
	if err := checkAliasName("alias name", a.Name); err != nil {
		return err
	}
	if strings.TrimSpace(a.Target) == "" {
		return badAlias("alias %s has no target: give one as provider/model (openai/gpt-5-mini) or a model the price table knows", a.Name)
	}
	if len(a.Fallbacks) > maxFallbacks {
		return badAlias("alias %s has %d fallbacks: at most %d", a.Name, len(a.Fallbacks), maxFallbacks)
	}
	seen := map[string]bool{}
	for _, t := range a.targets() {
		if err := checkAliasName("target", t); err != nil {
			return err
		}
		if AliasKey(t) == AliasKey(a.Name) {
			return badAlias("alias %s names itself as a target: to reach the real model of that name, write it as provider/model", a.Name)
		}
	}
	for _, t := range append([]string{a.Target}, a.Fallbacks...) {
		k := AliasKey(t)
		if seen[k] {
			return badAlias("alias %s names %s twice among its target and fallbacks", a.Name, t)
		}
		seen[k] = true
	}
	if a.OverSoft != "" && AliasKey(a.OverSoft) == AliasKey(a.Target) {
		return badAlias("alias %s: the over-soft target is the target itself", a.Name)
	}
	return nil
}

// targets returns every target a names: Target, the fallbacks, then
// OverSoft when set.
func (a Alias) targets() []string {
	ts := append([]string{a.Target}, a.Fallbacks...)
	if a.OverSoft != "" {
		ts = append(ts, a.OverSoft)
	}
	return ts
}

func checkAliasName(what, s string) error {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return badAlias("%s is empty", what)
	case len(t) > maxAliasName:
		return badAlias("%s %.40q… is longer than %d bytes", what, t, maxAliasName)
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return badAlias("%s %q has a space or a control character", what, t)
		}
	}
	return nil
}

// CheckAliasLoops returns an error when an alias reaches itself through the
// aliases its targets name: every request for it would go round forever.
// A target that is an alias's name counts as naming it. The loop reported
// starts at the first alias given that is on one.
func CheckAliasLoops(aliases []Alias) error {
	byKey := make(map[string]Alias, len(aliases))
	keys := make([]string, 0, len(aliases))
	for _, a := range aliases {
		k := AliasKey(a.Name)
		if _, dup := byKey[k]; !dup {
			keys = append(keys, k)
		}
		byKey[k] = a
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(k string) error
	visit = func(k string) error {
		switch state[k] {
		case onPath:
			i := 0
			for path[i] != k {
				i++
			}
			loop := append(append([]string(nil), path[i:]...), k)
			for j, n := range loop {
				loop[j] = byKey[n].Name
			}
			return badAlias("aliases would loop: %s", strings.Join(loop, " → "))
		case done:
			return nil
		}
		state[k] = onPath
		path = append(path, k)
		for _, t := range byKey[k].targets() {
			if next := AliasKey(t); byKey[next].Name != "" {
				if err := visit(next); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		state[k] = done
		return nil
	}
	for _, k := range keys {
		if err := visit(k); err != nil {
			return err
		}
	}
	// No loop: how many aliases a request for each passes through, at
	// most, must be within what a request follows (aliasPlanner).
	chain := map[string][]string{}
	var longest func(k string) []string
	longest = func(k string) []string {
		if c, ok := chain[k]; ok {
			return c
		}
		var best []string
		for _, t := range byKey[k].targets() {
			if next := AliasKey(t); byKey[next].Name != "" {
				if c := longest(next); len(c) > len(best) {
					best = c
				}
			}
		}
		c := append([]string{byKey[k].Name}, best...)
		chain[k] = c
		return c
	}
	for _, k := range keys {
		if c := longest(k); len(c) > maxAliasDepth {
			return tooDeep(c[0], c)
		}
	}
	return nil
}

// tooDeep is the error of an alias whose requests would pass through
// more than maxAliasDepth aliases, chain among them.
func tooDeep(name string, chain []string) error {
	s := strings.Join(chain, " → ")
	if len(chain) > maxAliasDepth+1 {
		s = strings.Join(chain[:maxAliasDepth+1], " → ") + " → …"
	}
	return badAlias("alias %s passes through more than %d aliases (%s): at most %d aliases may follow one another; point it at a model instead", name, maxAliasDepth, s, maxAliasDepth)
}

// Target is a model at a provider.
type Target struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

func (t Target) String() string { return t.Provider + "/" + t.Model }

// key is t as targets compare: the model as modelID has it.
func (t Target) key() Target { return Target{t.Provider, modelID(t.Provider, t.Model)} }

// ResolveTarget reads s as an alias's target: "provider/model" for a
// provider Sluice knows, or a model the price table prices at exactly one
// provider, or at several of which one issues models named so (claude-…
// at anthropic). Local providers (ollama) are reached only as
// provider/model. Its errors wrap ErrInvalidAlias and say how to name the
// model instead.
func ResolveTarget(s string, providers map[string]Provider, prices *Prices) (Target, error) {
	s = strings.TrimSpace(s)
	if name, rest, ok := strings.Cut(s, "/"); ok {
		if p, known := providers[strings.ToLower(name)]; known {
			if strings.TrimSpace(rest) == "" {
				return Target{}, badAlias("target %q names provider %s but no model", s, p.Name)
			}
			return Target{Provider: p.Name, Model: rest}, nil
		}
	}
	var found []string
	for _, name := range ProviderNames(providers) {
		p := providers[name]
		if p.Keyless || prices == nil {
			continue
		}
		if _, ok := prices.Lookup(name, s); ok {
			found = append(found, name)
		}
	}
	if len(found) > 1 {
		var native []string
		for _, name := range found {
			for _, pre := range providers[name].Prefixes {
				if strings.HasPrefix(strings.ToLower(s), pre) {
					native = append(native, name)
					break
				}
			}
		}
		if len(native) == 1 {
			found = native
		}
	}
	switch len(found) {
	case 1:
		return Target{Provider: found[0], Model: s}, nil
	case 0:
		return Target{}, badAlias("target %q: no provider is named so and the price table knows no such model; write it as provider/model, with provider one of %s", s, strings.Join(ProviderNames(providers), ", "))
	}
	for i, name := range found {
		found[i] = name + "/" + s
	}
	return Target{}, badAlias("target %q is sold by several providers: write one of %s", s, strings.Join(found, ", "))
}

// CheckTargets checks that each target of a that names no alias in
// aliases resolves to a provider's model (ResolveTarget), and that the
// target and fallbacks name no model twice, however spelled.
func (a Alias) CheckTargets(aliases AliasSource, providers map[string]Provider, prices *Prices) error {
	if err := checkAliasNameFor(a.Name, providers); err != nil {
		return err
	}
	seen := map[Target]string{}
	pl := aliasPlanner{aliases: aliases, providers: providers, prices: prices}
	for i, t := range a.targets() {
		var tg Target
		var err error
		if _, ok := pl.alias(t); ok {
			// Another alias: the model it goes to first counts.
			if tg, err = pl.first(t, 0); err != nil {
				continue // its own problem, reported when it is set
			}
		} else if tg, err = ResolveTarget(t, providers, prices); err != nil {
			return fmt.Errorf("alias %s: %w", a.Name, err)
		}
		if i > len(a.Fallbacks) {
			break // the over-soft target may be a fallback too
		}
		if first, dup := seen[tg.key()]; dup {
			return fmt.Errorf("alias %s: %w", a.Name, badAlias("%s and %s are the same model, %s", first, t, tg))
		}
		seen[tg.key()] = t
	}
	return nil
}

// Targets returns the models a request for a may go to, in order, through
// the aliases its targets name: its target, its fallbacks, then its
// over-soft target.
func (a Alias) Targets(aliases AliasSource, providers map[string]Provider, prices *Prices) ([]Target, error) {
	pl := aliasPlanner{aliases: aliases, providers: providers, prices: prices}
	steps, err := pl.plan(a)
	if err != nil {
		return nil, err
	}
	out := make([]Target, 0, len(steps)+1)
	for _, s := range steps {
		out = append(out, s.target)
	}
	if a.OverSoft != "" {
		b := a
		b.Target, b.Fallbacks, b.OverSoft = a.OverSoft, nil, ""
		if steps, err := pl.plan(b); err == nil && len(steps) > 0 {
			out = append(out, steps[0].target)
		}
	}
	return out, nil
}

// SameTarget reports whether targets s and t name the same model: the
// same name, or the same provider's model once resolved.
func SameTarget(s, t string, providers map[string]Provider, prices *Prices) bool {
	if AliasKey(s) == AliasKey(t) {
		return true
	}
	a, err1 := ResolveTarget(s, providers, prices)
	b, err2 := ResolveTarget(t, providers, prices)
	return err1 == nil && err2 == nil && a.key() == b.key()
}

// checkAliasNameFor refuses an alias name written provider/model for a
// provider in providers: a request naming the provider explicitly reaches
// that provider's model, so such an alias could never serve a request, or,
// were it to, would send the caller's data to a provider it did not choose.
func checkAliasNameFor(name string, providers map[string]Provider) error {
	if isProviderModel(name, providers) {
		p, _, _ := strings.Cut(strings.TrimSpace(name), "/")
		return badAlias("alias name %q names provider %s: provider/model always reaches that provider's model, so an alias cannot have such a name; choose a name without the %s/ prefix", strings.TrimSpace(name), strings.ToLower(p), p)
	}
	return nil
}

// ShadowedByProvider reports whether an alias named name is never used
// because the name is written provider/model for a provider in providers
// (an alias set before such names were refused).
func ShadowedByProvider(name string, providers map[string]Provider) bool {
	return isProviderModel(name, providers)
}

// isProviderModel reports whether s is written provider/model for a
// provider in providers: such a target never names an alias.
func isProviderModel(s string, providers map[string]Provider) bool {
	name, rest, ok := strings.Cut(strings.TrimSpace(s), "/")
	_, known := providers[strings.ToLower(name)]
	return ok && known && rest != ""
}

// Why a target serves a request for an alias, as its record says.
const (
	RoutedTarget   = "target"    // the alias's target
	RoutedFallback = "fallback"  // a fallback, after the targets before it failed
	RoutedOverSoft = "over-soft" // the over-soft target, a budget being past its soft threshold
)

// step is one target a request for an alias may try.
type step struct {
	target Target
	// routed is RoutedTarget, RoutedFallback or RoutedOverSoft.
	routed string
	// why says, for the record, why this target serves the request.
	why string
}

// maxAliasDepth bounds how many aliases a request may pass through: the
// store refuses loops, and this keeps a request finite even so.
const maxAliasDepth = 8

// aliasPlanner turns an alias into the targets a request for it tries.
type aliasPlanner struct {
	aliases   AliasSource
	providers map[string]Provider
	prices    *Prices
	// pastSoft names a budget past its soft threshold for a request to
	// the target; nil means none ever is.
	pastSoft func(Target) (budget string, past bool)
}

// alias returns the alias t names, if it names one: a target written
// provider/model never does.
func (pl aliasPlanner) alias(t string) (Alias, bool) {
	if pl.aliases == nil || isProviderModel(t, pl.providers) {
		return Alias{}, false
	}
	return pl.aliases.Alias(t)
}

// first returns the target a request for t goes to first, ignoring
// over-soft targets: t itself, or the first target of the alias it names.
func (pl aliasPlanner) first(t string, depth int) (Target, error) {
	if b, ok := pl.alias(t); ok {
		if depth+1 >= maxAliasDepth {
			return Target{}, badAlias("alias %s passes through more than %d aliases", b.Name, maxAliasDepth)
		}
		return pl.first(b.Target, depth+1)
	}
	return ResolveTarget(t, pl.providers, pl.prices)
}

// plan returns the targets a request for the alias a tries, in order: its
// target, or its over-soft target once a budget that applies to a request
// for the target is past its soft threshold, then its fallbacks. A target
// that names another alias stands for that alias's own plan; a target met
// twice is tried once.
func (pl aliasPlanner) plan(a Alias) ([]step, error) {
	var out []step
	seen := map[Target]bool{}
	var expand func(b Alias, depth int, routed, why string) error
	// chain is the aliases the target being added is reached through.
	chain := []string{a.Name}
	add := func(t string, depth int, routed, why string) error {
		if b, ok := pl.alias(t); ok {
			if depth+1 >= maxAliasDepth {
				// Named for the alias the request asked for, which the
				// user can fix: the limit counts from it.
				return tooDeep(a.Name, append(chain[:depth+1:depth+1], b.Name))
			}
			chain = append(chain[:depth+1], b.Name)
			return expand(b, depth+1, routed, why)
		}
		tg, err := ResolveTarget(t, pl.providers, pl.prices)
		if err != nil {
			return fmt.Errorf("alias %s: %w", a.Name, err)
		}
		if !seen[tg.key()] {
			seen[tg.key()] = true
			out = append(out, step{target: tg, routed: routed, why: why})
		}
		return nil
	}
	expand = func(a Alias, depth int, routed, why string) error {
		first := a.Target
		if a.OverSoft != "" && pl.pastSoft != nil {
			if tg, err := pl.first(a.Target, depth); err == nil {
				if budget, past := pl.pastSoft(tg); past {
					first, routed = a.OverSoft, RoutedOverSoft
					why = fmt.Sprintf("alias %s: budget %s is past its soft threshold, so %s serves it instead of %s", a.Name, budget, a.OverSoft, a.Target)
				}
			}
		}
		if err := add(first, depth, routed, why); err != nil {
			return err
		}
		for _, f := range a.Fallbacks {
			if err := add(f, depth, RoutedFallback, "alias "+a.Name+": fallback "+f); err != nil {
				return err
			}
		}
		return nil
	}
	if err := expand(a, 0, RoutedTarget, "alias "+a.Name+": target "+a.Target); err != nil {
		return nil, err
	}
	return out, nil
}

// fallsBack reports whether an attempt that failed before a byte of its
// answer reached the caller goes on to the next target: the provider
// answered 429 or 5xx (status), or could not be reached at all (err: a
// refused or reset connection, a connection closed before the headers, a
// timeout). Never a 4xx the caller caused, and never once the attempt was
// stopped (the caller went away, or Sluice ended it: a pause).
func fallsBack(status int, err error, stopped bool) bool {
	switch {
	case stopped:
		return false
	case err != nil:
		return true
	}
	return status == http.StatusTooManyRequests || status >= 500 && status <= 599
}

// aliasAttempts is where a request for an alias stands among the targets
// it may try. It belongs to one request.
type aliasAttempts struct {
	name  string // the alias, as the caller named it
	steps []step
	i     int // the step being tried
	// failed says how the attempt before this one failed.
	failed string
	// upstream is how the first target that was tried upstream failed,
	// as the caller is told when no target after it could be tried.
	upstream *failure
}

// skips reports whether the attempt that f stopped gives way to the
// alias's next target: f says the target cannot take the request but
// another may (no key for its provider, a key that may not go there), or
// it is a budget's refusal of a fallback. A budget refusing the target
// itself refuses the request: a refusal is never a reason to spend
// elsewhere. But once the target has failed, a fallback its budget
// refuses is passed over for the next, which is held to its own budgets.
func (a *aliasAttempts) skips(x *exchange, f *failure) bool {
	if !a.more() {
		return false
	}
	if f.elsewhere {
		return true
	}
	return a.i > 0 && f.outcome == OutcomeRefused && (f.reason == ReasonBudget || f.reason == ReasonUnpriced)
}

// upstreamFailure returns what the caller is told when f stopped the
// last target the alias had, and that target was skipped (see skips)
// after an earlier one failed upstream: that earlier failure, which
// says what is wrong, with a word on the targets passed over. Nil
// otherwise.
func (a *aliasAttempts) upstreamFailure(f *failure) *failure {
	if a == nil || a.upstream == nil || a.i == 0 || !(f.elsewhere || f.outcome == OutcomeRefused && (f.reason == ReasonBudget || f.reason == ReasonUnpriced)) {
		return nil
	}
	up := *a.upstream
	up.msg += " (the alias's fallbacks could not be tried: the last, " + a.steps[a.i].target.String() + ": " + f.msg + ")"
	return &up
}

// failedUpstream keeps how the first target tried upstream failed.
func (a *aliasAttempts) failedUpstream(f *failure) {
	if a.upstream == nil {
		a.upstream = f
	}
}

// current returns the target being tried; false for a request that named
// no alias.
func (a *aliasAttempts) current() (step, bool) {
	if a == nil || a.i >= len(a.steps) {
		return step{}, false
	}
	return a.steps[a.i], true
}

// more reports whether a target is left to try after the current one.
func (a *aliasAttempts) more() bool { return a != nil && a.i+1 < len(a.steps) }

// next returns the exchange of the attempt at the next target: what the
// request was when it had been read, with a record of its own that says
// which attempt it follows.
func (a *aliasAttempts) next(x *exchange, now time.Time) *exchange {
	a.i++
	nx := &exchange{route: x.in.route, start: now, userAgent: x.userAgent, logBodies: x.logBodies, call: x.call, in: x.in, alias: a}
	nx.rec = Record{ID: NewID(now), Time: now, Route: x.rec.Route, Prompt: x.rec.Prompt, Token: x.in.token,
		RequestBody: x.rec.RequestBody, After: x.rec.ID}
	return nx
}

// use sets x up for the current target: the record says which it is and
// why, and the body (or, for a model named in the path, the route) names
// its model.
func (a *aliasAttempts) use(x *exchange, s step, body []byte) ([]byte, *failure) {
	x.rec.Alias, x.rec.Routed, x.rec.Attempt = a.name, s.routed, a.i+1
	x.rec.RouteNote = s.why
	if a.failed != "" {
		x.rec.RouteNote += ", after " + a.failed
	}
	if x.route.Model != "" {
		// The model is in the path (Gemini's): the path names the
		// target's instead.
		x.route.Path = strings.Replace(x.route.Path, "/models/"+x.route.Model, "/models/"+s.target.Model, 1)
		x.route.Model = s.target.Model
		return body, nil
	}
	nb, err := setJSONMember(body, x.route.dialect.info().modelMember, s.target.Model)
	if err != nil {
		return nil, fail(http.StatusBadRequest, kindInvalid, "Sluice could not read this request: "+err.Error()).blocked(ReasonRequest)
	}
	return nb, nil
}

// resolveAlias returns what a request for model tries when model is an
// alias, and nil when it is not.
func (p *Proxy) resolveAlias(x *exchange, model string, providers map[string]Provider) (*aliasAttempts, *failure) {
	if p.Aliases == nil || model == "" || isProviderModel(model, providers) {
		// provider/model reaches the model itself, even when an alias
		// (set before such names were refused) has its name.
		return nil, nil
	}
	a, ok := p.Aliases.Alias(model)
	if !ok {
		return nil, nil
	}
	pl := aliasPlanner{aliases: p.Aliases, providers: providers, prices: p.Prices()}
	if sw, ok := p.Ledger.(SoftWatcher); ok {
		pl.pastSoft = func(t Target) (string, bool) {
			return sw.PastSoft(Hold{Time: x.start, Token: x.rec.Token, Provider: t.Provider, Model: modelID(t.Provider, t.Model),
				Route: x.rec.Route, Prompt: x.rec.Prompt, Stream: x.info.Stream || x.route.Stream})
		}
	}
	steps, err := pl.plan(a)
	if err != nil || len(steps) == 0 {
		return nil, fail(http.StatusNotFound, kindNotFound,
			fmt.Sprintf("the model %q is an alias Sluice cannot follow (%v): fix it with `sluice alias set` or on the Aliases page", model, err)).blocked(ReasonRoute)
	}
	return &aliasAttempts{name: a.Name, steps: steps}, nil
}

// fallBack ends an attempt at an alias's target that failed before its
// first byte, when the failure is one another target may not share (see
// fallsBack) and a target is left: it records the attempt, which charges
// nothing, and reports true. The caller has been sent nothing.
func (p *Proxy) fallBack(r *http.Request, ctx context.Context, x *exchange, resp *http.Response, err error) bool {
	if !x.alias.more() {
		return false
	}
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	cause := context.Cause(ctx)
	if _, timedOut := cause.(errFirstByte); timedOut {
		cause = nil // a timeout of the fallback's own: not a stop
	}
	if !fallsBack(status, err, r.Context().Err() != nil || cause != nil) {
		return false
	}
	target := x.provider.Name + "/" + x.rec.Model
	if err != nil {
		status, outcome, kind, msg := upstreamFailure(r.Context(), err, x.provider.Name)
		x.alias.failedUpstream(fail(status, kind, msg))
		x.alias.failed = target + " failed: " + p.redactor().redact(err.Error())
		p.finish(x, status, outcome, Usage{}, err.Error())
		return true
	}
	defer resp.Body.Close()
	x.rec.UpstreamID = p.upstreamRequestID(x, resp.Header)
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	outcome, msg := classifyUpstreamError(p.dialectList(), p.redactor(), x.provider, status, b)
	up := fail(status, kindUpstream, fmt.Sprintf("%s answered %d: %s", target, status, msg))
	if status == http.StatusTooManyRequests {
		up.kind = kindRateLimit
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		up = up.with("Retry-After", ra)
	}
	x.alias.failedUpstream(up)
	x.alias.failed = fmt.Sprintf("%s answered %d", target, status)
	p.finish(x, status, outcome, Usage{}, msg)
	return true
}
