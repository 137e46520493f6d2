package gateway

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// aliasMap is an AliasSource for tests.
type aliasMap map[string]Alias

func (m aliasMap) Alias(name string) (Alias, bool) {
	a, ok := m[AliasKey(name)]
	return a, ok
}

func aliasesOf(as ...Alias) aliasMap {
	m := aliasMap{}
	for _, a := range as {
		m[AliasKey(a.Name)] = a
	}
	return m
}

func TestAliasValidate(t *testing.T) {
	for _, tc := range []struct {
		a    Alias
		want string // "" when valid
	}{
		{Alias{Name: "fast", Target: "openai/gpt-5-mini"}, ""},
		{Alias{Name: "claude-haiku-4-5", Target: "gpt-5-mini", Fallbacks: []string{"deepseek/deepseek-chat"}, OverSoft: "deepseek/deepseek-chat"}, ""},
		{Alias{Name: "", Target: "openai/gpt-5-mini"}, "alias name is empty"},
		{Alias{Name: "my model", Target: "openai/gpt-5-mini"}, "space or a control character"},
		{Alias{Name: "fast"}, "has no target"},
		{Alias{Name: "fast", Target: "FAST"}, "names itself"},
		{Alias{Name: "fast", Target: "a", Fallbacks: []string{"b", "A"}}, "names A twice"},
		{Alias{Name: "fast", Target: "a", Fallbacks: []string{" "}}, "target is empty"},
		{Alias{Name: "fast", Target: "a", OverSoft: "a"}, "over-soft target is the target itself"},
		{Alias{Name: "fast", Target: "a", Fallbacks: strings.Fields("b c d e f g h i j")}, "at most 8"},
	} {
		err := tc.a.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v.Validate() = %v, want nil", tc.a, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidAlias) {
			t.Errorf("%+v.Validate() = %v, want an ErrInvalidAlias saying %q", tc.a, err, tc.want)
		}
	}
}

func TestCheckAliasLoops(t *testing.T) {
	ok := []Alias{
		{Name: "a", Target: "b"},
		{Name: "b", Target: "openai/gpt-5-mini", Fallbacks: []string{"c"}},
		{Name: "c", Target: "anthropic/claude-haiku-4-5"},
	}
	if err := CheckAliasLoops(ok); err != nil {
		t.Errorf("CheckAliasLoops(no loop) = %v", err)
	}
	for _, tc := range []struct {
		as   []Alias
		want string
	}{
		{[]Alias{{Name: "a", Target: "b"}, {Name: "B", Target: "a"}}, "a → B → a"},
		{[]Alias{{Name: "a", Target: "x", Fallbacks: []string{"b"}}, {Name: "b", Target: "c"}, {Name: "c", Target: "y", OverSoft: "a"}}, "a → b → c → a"},
	} {
		err := CheckAliasLoops(tc.as)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidAlias) {
			t.Errorf("CheckAliasLoops(%v) = %v, want a loop %q", tc.as, err, tc.want)
		}
	}
}

func TestResolveTarget(t *testing.T) {
	ps := DefaultProviders()
	prices := DefaultPrices()
	for _, tc := range []struct {
		in   string
		want Target
		err  string
	}{
		{"openai/gpt-5-mini", Target{"openai", "gpt-5-mini"}, ""},
		{"OpenAI/gpt-5-mini", Target{"openai", "gpt-5-mini"}, ""},
		{"ollama/llama3.2", Target{"ollama", "llama3.2"}, ""},
		{"anthropic/", Target{}, "names provider anthropic but no model"},
		// A bare name: the provider the price table knows it at, the
		// one that issues it when several sell it.
		{"gpt-5-mini", Target{"openai", "gpt-5-mini"}, ""},
		{"claude-haiku-4-5", Target{"anthropic", "claude-haiku-4-5"}, ""},
		{"claude-haiku-4-5-20251001", Target{"anthropic", "claude-haiku-4-5-20251001"}, ""},
		{"gemini-2.5-flash", Target{"gemini", "gemini-2.5-flash"}, ""},
		{"deepseek-chat", Target{"deepseek", "deepseek-chat"}, ""},
		{"no-such-model-anywhere", Target{}, "write it as provider/model"},
		// Not a provider: the whole string is a model name.
		{"meta-llama/no-such", Target{}, "write it as provider/model"},
	} {
		got, err := ResolveTarget(tc.in, ps, prices)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalidAlias) {
				t.Errorf("ResolveTarget(%q) = %v, %v; want an error saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveTarget(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestResolveTargetAmbiguous: a model sold by several providers, none of
// which issues it, must be named with its provider.
func TestResolveTargetAmbiguous(t *testing.T) {
	prices := DefaultPrices().With([]Price{
		{Provider: "together", Model: "shared-model-x", Input: 1, Output: 1},
		{Provider: "fireworks", Model: "shared-model-x", Input: 1, Output: 1},
	})
	_, err := ResolveTarget("shared-model-x", DefaultProviders(), prices)
	if err == nil || !strings.Contains(err.Error(), "fireworks/shared-model-x, together/shared-model-x") {
		t.Errorf("ResolveTarget(ambiguous) = %v, want the choices named", err)
	}
}

func TestAliasCheckTargets(t *testing.T) {
	ps, prices := DefaultProviders(), DefaultPrices()
	others := aliasesOf(Alias{Name: "cheap", Target: "openai/gpt-5-mini"})
	if err := (Alias{Name: "bg", Target: "cheap", Fallbacks: []string{"claude-haiku-4-5"}}).CheckTargets(others, ps, prices); err != nil {
		t.Errorf("CheckTargets(alias and priced model) = %v", err)
	}
	// The over-soft target may also be a fallback.
	if err := (Alias{Name: "bg", Target: "cheap", Fallbacks: []string{"deepseek-chat"}, OverSoft: "deepseek/deepseek-chat"}).CheckTargets(others, ps, prices); err != nil {
		t.Errorf("CheckTargets(over-soft also a fallback) = %v", err)
	}
	err := (Alias{Name: "bg", Target: "gpt-5-mini", Fallbacks: []string{"openai/gpt-5-mini"}}).CheckTargets(others, ps, prices)
	if err == nil || !strings.Contains(err.Error(), "gpt-5-mini and openai/gpt-5-mini are the same model") {
		t.Errorf("CheckTargets(one model twice) = %v", err)
	}
	if !SameTarget("GPT-5-mini", "openai/gpt-5-mini", ps, prices) || SameTarget("gpt-5-mini", "gpt-5-nano", ps, prices) {
		t.Error("SameTarget is wrong")
	}
	err = (Alias{Name: "bg", Target: "cheap", Fallbacks: []string{"gtp-5"}}).CheckTargets(others, ps, prices)
	if err == nil || !strings.Contains(err.Error(), `alias bg: invalid alias: target "gtp-5"`) {
		t.Errorf("CheckTargets(typo) = %v", err)
	}
}

func TestAliasPlan(t *testing.T) {
	ps, prices := DefaultProviders(), DefaultPrices()
	as := aliasesOf(
		Alias{Name: "claude-haiku-4-5-20251001", Target: "cheap", Fallbacks: []string{"anthropic/claude-haiku-4-5-20251001"}},
		Alias{Name: "cheap", Target: "openai/gpt-5-mini", Fallbacks: []string{"deepseek-chat"}, OverSoft: "openai/gpt-5-nano"},
	)
	type got struct{ target, routed string }
	plan := func(name string, past map[string]bool) []got {
		t.Helper()
		a, _ := as.Alias(name)
		pl := aliasPlanner{aliases: as, providers: ps, prices: prices, pastSoft: func(tg Target) (string, bool) {
			return "daily", past[tg.String()]
		}}
		steps, err := pl.plan(a)
		if err != nil {
			t.Fatalf("plan(%s) = %v", name, err)
		}
		var out []got
		for _, s := range steps {
			out = append(out, got{s.target.String(), s.routed})
			if !strings.Contains(s.why, "alias ") {
				t.Errorf("step %v says %q", s.target, s.why)
			}
		}
		return out
	}
	want := []got{{"openai/gpt-5-mini", RoutedTarget}, {"deepseek/deepseek-chat", RoutedFallback}, {"anthropic/claude-haiku-4-5-20251001", RoutedFallback}}
	if g := plan("CLAUDE-haiku-4-5-20251001", nil); !reflect.DeepEqual(g, want) {
		t.Errorf("plan through an alias = %v, want %v", g, want)
	}
	// Once the target's budget is past its soft threshold, the over-soft
	// target goes first; the fallbacks stay.
	want = []got{{"openai/gpt-5-nano", RoutedOverSoft}, {"deepseek/deepseek-chat", RoutedFallback}}
	if g := plan("cheap", map[string]bool{"openai/gpt-5-mini": true}); !reflect.DeepEqual(g, want) {
		t.Errorf("plan past soft = %v, want %v", g, want)
	}
	// Loops the store would refuse still end.
	loop := aliasesOf(Alias{Name: "a", Target: "b"}, Alias{Name: "b", Target: "a"})
	a, _ := loop.Alias("a")
	if _, err := (aliasPlanner{aliases: loop, providers: ps, prices: prices}).plan(a); err == nil {
		t.Error("plan(loop) = nil error")
	}
}

func TestFallsBack(t *testing.T) {
	for _, tc := range []struct {
		status  int
		err     error
		stopped bool
		want    bool
	}{
		{http.StatusServiceUnavailable, nil, false, true},
		{http.StatusInternalServerError, nil, false, true},
		{529, nil, false, true}, // Anthropic's overloaded
		{http.StatusTooManyRequests, nil, false, true},
		{0, io.ErrUnexpectedEOF, false, true}, // reset before the headers
		{http.StatusBadRequest, nil, false, false},
		{http.StatusUnauthorized, nil, false, false},
		{http.StatusNotFound, nil, false, false},
		{http.StatusPaymentRequired, nil, false, false},
		{http.StatusOK, nil, false, false},
		{0, io.ErrUnexpectedEOF, true, false}, // the caller went away
		{http.StatusServiceUnavailable, nil, true, false},
	} {
		if got := fallsBack(tc.status, tc.err, tc.stopped); got != tc.want {
			t.Errorf("fallsBack(%d, %v, %v) = %v, want %v", tc.status, tc.err, tc.stopped, got, tc.want)
		}
	}
}

// TestAliasChainDepth: a chain longer than a request follows is refused
// when it is set (CheckAliasLoops), naming the alias being set; a request
// for one (from an older data file) names the alias it asked for.
func TestAliasChainDepth(t *testing.T) {
	var as []Alias
	as = append(as, Alias{Name: "chain1", Target: "openai/gpt-4.1"})
	for i := 2; i <= maxAliasDepth; i++ {
		as = append(as, Alias{Name: "chain" + itoa(i), Target: "chain" + itoa(i-1)})
	}
	if err := CheckAliasLoops(as); err != nil {
		t.Fatalf("CheckAliasLoops(%d aliases in a chain) = %v", maxAliasDepth, err)
	}
	ps, prices := DefaultProviders(), DefaultPrices()
	m := aliasesOf(as...)
	top, _ := m.Alias("chain" + itoa(maxAliasDepth))
	if steps, err := (aliasPlanner{aliases: m, providers: ps, prices: prices}).plan(top); err != nil || len(steps) != 1 || steps[0].target.String() != "openai/gpt-4.1" {
		t.Fatalf("plan(longest chain) = %v, %v", steps, err)
	}
	deeper := Alias{Name: "chain" + itoa(maxAliasDepth+1), Target: top.Name}
	err := CheckAliasLoops(append([]Alias{deeper}, as...))
	if err == nil || !errors.Is(err, ErrInvalidAlias) || !strings.Contains(err.Error(), "alias "+deeper.Name+" passes through more than") {
		t.Errorf("CheckAliasLoops(one too deep) = %v, want an error naming %s", err, deeper.Name)
	}
	m = aliasesOf(append(as, deeper)...)
	_, err = (aliasPlanner{aliases: m, providers: ps, prices: prices}).plan(deeper)
	if err == nil || !strings.Contains(err.Error(), "alias "+deeper.Name+" passes through") {
		t.Errorf("plan(one too deep) = %v, want an error naming %s", err, deeper.Name)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestAliasNames: provider/model is refused as an alias's name; names and
// targets are kept without surrounding space; an alias named as the
// target through another alias counts as naming that model.
func TestAliasNames(t *testing.T) {
	ps, prices := DefaultProviders(), DefaultPrices()
	err := (Alias{Name: "openai/gpt-4.1", Target: "anthropic/claude-sonnet-4-5"}).CheckTargets(nil, ps, prices)
	if err == nil || !errors.Is(err, ErrInvalidAlias) || !strings.Contains(err.Error(), "names provider openai") {
		t.Errorf("CheckTargets(name provider/model) = %v", err)
	}
	if err := (Alias{Name: "meta-llama/llama-3", Target: "openai/gpt-4.1"}).CheckTargets(nil, ps, prices); err != nil {
		t.Errorf("CheckTargets(a slash, no provider) = %v", err)
	}
	a := Alias{Name: " Smart\n", Target: " openai/gpt-4.1 ", Fallbacks: []string{"deepseek-chat\t"}}.Trimmed()
	if a.Name != "Smart" || a.Target != "openai/gpt-4.1" || a.Fallbacks[0] != "deepseek-chat" {
		t.Errorf("Trimmed() = %+v", a)
	}
	others := aliasesOf(Alias{Name: "a1", Target: "openai/gpt-4.1"}, Alias{Name: "a2", Target: "a1"})
	err = (Alias{Name: "a3", Target: "a2", Fallbacks: []string{"a1"}}).CheckTargets(others, ps, prices)
	if err == nil || !strings.Contains(err.Error(), "same model") {
		t.Errorf("CheckTargets(one model twice through aliases) = %v", err)
	}
}
