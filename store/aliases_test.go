package store

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func TestAliasLifecycle(t *testing.T) {
	clock := newClock(t0)
	db, path := openTest(t, Options{Now: clock.Now})
	var _ gateway.AliasSource = db
	var _ gateway.SoftWatcher = db

	a, err := db.PutAlias(gateway.Alias{Name: "Claude-Haiku-4-5", Target: "openai/gpt-5-mini", Fallbacks: []string{"deepseek/deepseek-chat"}, OverSoft: "openai/gpt-5-nano"})
	if err != nil {
		t.Fatalf("PutAlias = %v", err)
	}
	if !a.Updated.Equal(t0) {
		t.Errorf("PutAlias().Updated = %v, want %v", a.Updated, t0)
	}
	if got, ok := db.Alias(" claude-haiku-4-5 "); !ok || !reflect.DeepEqual(got, a) {
		t.Errorf("Alias(other case) = %+v, %v; want %+v", got, ok, a)
	}
	if _, err := db.PutAlias(gateway.Alias{Name: "fast", Target: "claude-haiku-4-5"}); err != nil {
		t.Fatalf("PutAlias(fast → an alias) = %v", err)
	}
	// Setting a name again replaces it.
	a.Fallbacks = nil
	if _, err := db.PutAlias(a); err != nil {
		t.Fatalf("PutAlias(again) = %v", err)
	}
	if got := db.Aliases(); len(got) != 2 || got[0].Name != "Claude-Haiku-4-5" || got[0].Fallbacks != nil || got[1].Name != "fast" {
		t.Errorf("Aliases() = %+v", got)
	}

	// Refused, and nothing written: invalid aliases and loops.
	for _, bad := range []struct {
		a    gateway.Alias
		want string
	}{
		{gateway.Alias{Name: "x"}, "has no target"},
		{gateway.Alias{Name: "has space", Target: "openai/gpt-5"}, "space"},
		{gateway.Alias{Name: "claude-haiku-4-5", Target: "fast"}, "aliases would loop: claude-haiku-4-5 → fast → claude-haiku-4-5"},
	} {
		_, err := db.PutAlias(bad.a)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, gateway.ErrInvalidAlias) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("PutAlias(%+v) = %v, want ErrInvalid saying %q", bad.a, err, bad.want)
		}
	}
	if got, _ := db.Alias("claude-haiku-4-5"); got.Target != "openai/gpt-5-mini" {
		t.Errorf("a refused alias replaced the stored one: %+v", got)
	}

	// Kept across a restart.
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	if got := db.Aliases(); len(got) != 2 {
		t.Fatalf("Aliases() after reopening = %+v", got)
	}
	if err := db.DeleteAlias("FAST"); err != nil {
		t.Fatalf("DeleteAlias = %v", err)
	}
	if err := db.DeleteAlias("fast"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteAlias(gone) = %v, want ErrNotFound", err)
	}
	if _, ok := db.Alias("fast"); ok {
		t.Error("Alias(fast) found after DeleteAlias")
	}
}

// TestAliasLoopsRace: two aliases set at once that would name each other
// never both land.
func TestAliasLoopsRace(t *testing.T) {
	db, _ := openTest(t, Options{})
	for i := 0; i < 20; i++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, a := range []gateway.Alias{{Name: "a", Target: "b"}, {Name: "b", Target: "a"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = db.PutAlias(a)
			}()
		}
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("both halves of a loop were saved")
		}
		if err := gateway.CheckAliasLoops(db.Aliases()); err != nil {
			t.Fatalf("stored aliases loop: %v", err)
		}
		for _, n := range []string{"a", "b"} {
			db.DeleteAlias(n)
		}
	}
}

func TestPastSoft(t *testing.T) {
	clock := newClock(t0)
	db, _ := openTest(t, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "openai-day", Limit: gateway.Dollar, Period: gateway.PeriodDay, Provider: "openai", Soft: 50})
	mustPutBudget(t, db, gateway.Budget{Name: "all-day", Limit: 10 * gateway.Dollar, Period: gateway.PeriodDay})
	h := gateway.Hold{ID: "h1", Time: t0, Provider: "openai", Model: "gpt-5", Amount: cents(40)}
	if b, past := db.PastSoft(h); past {
		t.Errorf("PastSoft(nothing spent) = %s, true", b)
	}
	mustHold(t, db, h)
	// A hold alone is not spend.
	if b, past := db.PastSoft(h); past {
		t.Errorf("PastSoft(only held) = %s, true", b)
	}
	mustSettle(t, db, gateway.Record{ID: "h1", Time: t0, Provider: "openai", Model: "gpt-5", Outcome: gateway.OutcomeOK, Cost: cents(50), Priced: true})
	if b, past := db.PastSoft(h); !past || b != "openai-day" {
		t.Errorf("PastSoft(at 50%%) = %q, %v; want openai-day", b, past)
	}
	// Another provider's request: the global budget is at 5%, short of 80%.
	if b, past := db.PastSoft(gateway.Hold{Provider: "anthropic", Model: "claude-haiku-4-5"}); past {
		t.Errorf("PastSoft(anthropic) = %s, true", b)
	}
	// The next day starts from zero.
	clock.Add(24 * time.Hour)
	if b, past := db.PastSoft(h); past {
		t.Errorf("PastSoft(next day) = %s, true", b)
	}
}

// TestAliasNameSpelling: a name is kept without surrounding space, and a
// name differing from an existing alias's only in case is refused rather
// than replacing it unseen.
func TestAliasNameSpelling(t *testing.T) {
	db, _ := openTest(t, Options{})
	if _, err := db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-5-mini", Fallbacks: []string{"deepseek/deepseek-chat"}}); err != nil {
		t.Fatal(err)
	}
	_, err := db.PutAlias(gateway.Alias{Name: "Smart ", Target: "openai/gpt-5"})
	var ce *AliasCaseError
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, gateway.ErrInvalidAlias) || !errors.As(err, &ce) || ce.Existing != "smart" || ce.Name != "Smart" ||
		!strings.Contains(err.Error(), "alias smart exists") || strings.Contains(err.Error(), "sluice") {
		t.Errorf("PutAlias(Smart ) = %v, want an *AliasCaseError naming smart, in no command's words", err)
	}
	if a, _ := db.Alias("smart"); a.Name != "smart" || len(a.Fallbacks) != 1 {
		t.Errorf("smart after the refusal = %+v", a)
	}
	a, err := db.PutAlias(gateway.Alias{Name: "ui5\n", Target: " openai/gpt-5 "})
	if err != nil || a.Name != "ui5" || a.Target != "openai/gpt-5" {
		t.Fatalf("PutAlias(ui5\\n) = %+v, %v", a, err)
	}
	if got, _ := db.Alias("ui5"); got.Name != "ui5" {
		t.Errorf("stored as %q", got.Name)
	}
	// The same spelling replaces, as before.
	if _, err := db.PutAlias(gateway.Alias{Name: "smart", Target: "openai/gpt-5"}); err != nil {
		t.Errorf("PutAlias(smart again) = %v", err)
	}
}
