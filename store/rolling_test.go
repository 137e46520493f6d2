package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestRollingBudget runs a "$2 in any ten minutes" budget on an injected
// clock: it admits, refuses while the spend is in the window, admits again
// as spend ages out minute by minute, and keeps all this across a restart.
func TestRollingBudget(t *testing.T) {
	start := time.Date(2026, 11, 30, 10, 0, 30, 0, time.UTC)
	clock := newClock(start)
	db, path := openTest(t, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "rate", Limit: 2 * gateway.Dollar, Period: "10m"})
	mustPutBudget(t, db, gateway.Budget{Name: "day", Limit: 100 * gateway.Dollar, Period: gateway.PeriodDay})

	n := 0
	spend := func(c gateway.Money) error {
		t.Helper()
		n++
		id := fmt.Sprintf("r%d", n)
		if err := db.Hold(context.Background(), gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: c}); err != nil {
			return err
		}
		mustSettle(t, db, gateway.Record{ID: id, Time: clock.Now(), Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: c, Priced: true})
		return nil
	}
	// $0.50 at 10:00, 10:03, 10:06: $1.50 in the window.
	for i := 0; i < 3; i++ {
		if err := spend(cents(50)); err != nil {
			t.Fatalf("spend $0.50 at %s: %v", clock.Now().Format("15:04"), err)
		}
		clock.Add(3 * time.Minute)
	}
	// 10:09:30: $1.50 spent, $0.60 does not fit.
	err := spend(cents(60))
	ref := refusalOf(t, err)
	if ref.Budget != "rate" || ref.Spent != cents(150) || ref.Remaining != cents(50) || ref.Window != 10*time.Minute {
		t.Errorf("refusal at 10:09 = %+v, want rate with $1.50 spent, $0.50 left, a 10m window", ref)
	}
	// The first $0.50 ages out at 10:10: that frees enough.
	if want := time.Date(2026, 11, 30, 10, 10, 0, 0, time.UTC); !ref.Resets.Equal(want) {
		t.Errorf("refusal Resets = %s, want %s (when the 10:00 spend ages out)", ref.Resets, want)
	}
	st := mustBudget(t, db, "rate")
	if !st.Rolling || st.Spent != cents(150) || st.Rate != cents(10) {
		// 10:05–10:09 holds $0.50 (10:06): $0.10 a minute.
		t.Errorf("rate status at 10:09 = rolling %v spent %s rate %s, want rolling, $1.50, $0.10/min", st.Rolling, st.Spent, st.Rate)
	}
	// A restart keeps the spend by minute.
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	if st := mustBudget(t, db, "rate"); st.Spent != cents(150) {
		t.Errorf("after restart: rate spent %s, want $1.50", st.Spent)
	}
	if err := spend(cents(60)); refusalOf(t, err).Budget != "rate" {
		t.Errorf("after restart: $0.60 at 10:09 = %v, want refused by rate", err)
	}
	// 10:10:00: the 10:00 spend has aged out; $0.60 fits again.
	clock.Set(time.Date(2026, 11, 30, 10, 10, 0, 0, time.UTC))
	if st := mustBudget(t, db, "rate"); st.Spent != cents(100) {
		t.Errorf("at 10:10 rate spent %s, want $1.00 (10:00 aged out)", st.Spent)
	}
	if err := spend(cents(60)); err != nil {
		t.Fatalf("$0.60 at 10:10 = %v, want admitted", err)
	}
	// The calendar budget counted everything.
	if st := mustBudget(t, db, "day"); st.Spent != cents(210) {
		t.Errorf("day spent %s, want $2.10", st.Spent)
	}
	// Much later everything has aged out, across another restart.
	clock.Add(30 * time.Minute)
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	if st := mustBudget(t, db, "rate"); st.Spent != 0 || st.Rate != 0 || !st.AgesOut.IsZero() {
		t.Errorf("30 minutes later: rate spent %s rate %s ages out %s, want all zero", st.Spent, st.Rate, st.AgesOut)
	}
	if err := spend(2 * gateway.Dollar); err != nil {
		t.Errorf("$2 after the window emptied = %v, want admitted", err)
	}
}

// TestRollingBudgetSeesPastSpend: a rolling budget made after spending
// counts the spend of its window at once, and a hold counts as soon as it
// is open.
func TestRollingBudgetSeesPastSpend(t *testing.T) {
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	clock := newClock(start)
	db, _ := openTest(t, Options{Now: clock.Now})
	mustSettle(t, db, gateway.Record{ID: "old", Time: start, Provider: "openai", Model: "m", Token: "ci", Outcome: gateway.OutcomeOK, Cost: cents(70), Priced: true})
	clock.Add(20 * time.Minute)
	mustSettle(t, db, gateway.Record{ID: "new", Time: clock.Now(), Provider: "openai", Model: "m", Token: "ci", Outcome: gateway.OutcomeOK, Cost: cents(30), Priced: true})
	mustSettle(t, db, gateway.Record{ID: "other", Time: clock.Now(), Provider: "openai", Model: "m", Token: "dev", Outcome: gateway.OutcomeOK, Cost: cents(40), Priced: true})
	mustPutBudget(t, db, gateway.Budget{Name: "ci rate", Limit: gateway.Dollar, Period: "15m", Token: "ci"})
	if st := mustBudget(t, db, "ci rate"); st.Spent != cents(30) {
		t.Errorf("new 15m budget spent %s, want $0.30 (the 10:00 spend is out of it, token dev is not covered)", st.Spent)
	}
	mustHold(t, db, gateway.Hold{ID: "h", Token: "ci", Provider: "openai", Model: "m", Amount: cents(60)})
	err := db.Hold(context.Background(), gateway.Hold{ID: "h2", Token: "ci", Provider: "openai", Model: "m", Amount: cents(20)})
	if ref := refusalOf(t, err); ref.Budget != "ci rate" || !ref.Resets.IsZero() && ref.Resets.Before(clock.Now()) {
		t.Errorf("second hold = %+v, want refused by ci rate", ref)
	}
}

func TestRollingPeriod(t *testing.T) {
	for _, tt := range []struct {
		p    gateway.Period
		want time.Duration
		ok   bool
	}{
		{"10m", 10 * time.Minute, true},
		{"1h", time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"31d", 31 * 24 * time.Hour, true},
		{"1m", time.Minute, true},
		{"32d", 0, false},
		{"0m", 0, false},
		{"30s", 0, false},
		{"m", 0, false},
		{"10", 0, false},
		{"day", 0, false},
		{"-5m", 0, false},
	} {
		got, ok := tt.p.Rolling()
		if got != tt.want || ok != tt.ok {
			t.Errorf("Period(%q).Rolling() = %v, %v, want %v, %v", tt.p, got, ok, tt.want, tt.ok)
		}
	}
}
