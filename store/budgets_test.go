package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func TestPutBudget(t *testing.T) {
	clock := newClock(t0)
	db, path := openTest(t, Options{Now: clock.Now})
	b := mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: 5 * gateway.Dollar, Period: gateway.PeriodDay})
	if !strings.HasPrefix(b.ID, "bud_") || b.Soft != gateway.DefaultSoft || !b.Created.Equal(t0) {
		t.Errorf("PutBudget = %+v, want an ID, soft 80, created %s", b, t0)
	}
	if _, err := db.PutBudget(gateway.Budget{Name: "Daily", Limit: gateway.Dollar, Period: gateway.PeriodWeek}); !errors.Is(err, ErrExists) {
		t.Errorf("PutBudget(Daily again) = %v, want ErrExists", err)
	}
	for _, bad := range []gateway.Budget{
		{Name: "", Limit: 1, Period: gateway.PeriodDay},
		{Name: "x", Limit: 1, Period: "fortnight"},
		{Name: "x", Limit: 1, Period: gateway.PeriodDay, Provider: "openai", Token: "ci"},
		{Name: "x", Limit: -1, Period: gateway.PeriodDay},
	} {
		_, err := db.PutBudget(bad)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, gateway.ErrInvalidBudget) {
			t.Errorf("PutBudget(%+v) = %v, want ErrInvalid and gateway.ErrInvalidBudget", bad, err)
		}
	}

	// Updating keeps the ID and the creation time.
	clock.Add(time.Hour)
	b.Limit = 7 * gateway.Dollar
	b.Created = time.Time{}
	b2 := mustPutBudget(t, db, b)
	if b2.ID != b.ID || !b2.Created.Equal(t0) || b2.Limit != 7*gateway.Dollar {
		t.Errorf("PutBudget(update) = %+v, want ID %s, created %s, limit 7", b2, b.ID, t0)
	}
	mustPutBudget(t, db, gateway.Budget{Name: "anthropic week", Limit: gateway.Dollar, Period: gateway.PeriodWeek, Provider: "anthropic", Soft: 50})
	all, _ := db.Budgets()
	if len(all) != 2 || all[0].Name != "anthropic week" || all[1].Name != "daily" || all[1].LimitNow != 7*gateway.Dollar {
		t.Errorf("Budgets() = %+v, want anthropic week then daily (7)", all)
	}

	// They survive reopening.
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	got := mustBudget(t, db, b.ID)
	if got.Budget != b2 {
		t.Errorf("reopened Budget(%s) = %+v, want %+v", b.ID, got.Budget, b2)
	}
	if err := db.DeleteBudget("DAILY"); err != nil {
		t.Errorf("DeleteBudget(DAILY) = %v", err)
	}
	if err := db.DeleteBudget("daily"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteBudget(daily) again = %v, want ErrNotFound", err)
	}
	if _, err := db.budgetStatus("daily"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Budget(daily) = %v, want ErrNotFound", err)
	}
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	if all, _ := db.Budgets(); len(all) != 1 {
		t.Errorf("after delete and reopen: %d budgets, want 1", len(all))
	}
}

// TestNewBudgetSeesPastSpendAndHolds creates budgets after spending:
// their spend is read from the rollups and open holds count at once.
func TestNewBudgetSeesPastSpendAndHolds(t *testing.T) {
	clock := newClock(t0)
	db, _ := openTest(t, Options{Now: clock.Now})
	spend := func(id, provider, model, token string, c int64, at time.Time) {
		t.Helper()
		mustSettle(t, db, gateway.Record{ID: id, Time: at, Provider: provider, Model: model, Token: token, Outcome: gateway.OutcomeOK, Cost: cents(c), Priced: true})
	}
	spend("a", "openai", "gpt-4o", "ci", 10, t0.Add(-time.Hour))
	spend("b", "anthropic", "claude-opus-4-1", "ci", 20, t0.Add(-2*time.Hour))
	spend("c", "anthropic", "claude-sonnet-4-5", "laptop", 40, t0.Add(-3*time.Hour))
	spend("old", "anthropic", "claude-opus-4-1", "ci", 80, t0.Add(-72*time.Hour)) // Tuesday, same week
	mustHold(t, db, gateway.Hold{ID: "h", Provider: "anthropic", Model: "claude-opus-4-1", Token: "laptop", Amount: cents(5)})

	tests := []struct {
		b           gateway.Budget
		spent, held gateway.Money
	}{
		{gateway.Budget{Name: "all", Period: gateway.PeriodDay}, cents(70), cents(5)},
		{gateway.Budget{Name: "week", Period: gateway.PeriodWeek}, cents(150), cents(5)},
		{gateway.Budget{Name: "total opus", Period: gateway.PeriodTotal, Model: "claude-opus-*"}, cents(100), cents(5)},
		{gateway.Budget{Name: "anthropic", Period: gateway.PeriodDay, Provider: "anthropic"}, cents(60), cents(5)},
		{gateway.Budget{Name: "ci", Period: gateway.PeriodMonth, Token: "ci"}, cents(110), 0},
		{gateway.Budget{Name: "gpt", Period: gateway.PeriodDay, Model: "gpt-4o"}, cents(10), 0},
	}
	for _, tt := range tests {
		tt.b.Limit = 10 * gateway.Dollar
		mustPutBudget(t, db, tt.b)
		st := mustBudget(t, db, tt.b.Name)
		if st.Spent != tt.spent || st.Held != tt.held {
			t.Errorf("new budget %s (%s): spent %s held %s, want %s and %s", tt.b.Name, tt.b.Scope(), st.Spent, st.Held, tt.spent, tt.held)
		}
	}

	// Changing a budget's scope recounts its holds and spend.
	b := mustBudget(t, db, "gpt").Budget
	b.Model = "claude-opus-*"
	mustPutBudget(t, db, b)
	if st := mustBudget(t, db, "gpt"); st.Spent != cents(20) || st.Held != cents(5) {
		t.Errorf("rescoped: spent %s held %s, want 0.2 and 0.05", st.Spent, st.Held)
	}
	b.Model = "gpt-*"
	mustPutBudget(t, db, b)
	mustSettle(t, db, gateway.Record{ID: "h", Provider: "anthropic", Model: "claude-opus-4-1", Token: "laptop", Outcome: gateway.OutcomeOK, Cost: cents(1), Priced: true})
	for _, name := range []string{"gpt", "all", "total opus"} {
		if st := mustBudget(t, db, name); st.Held != 0 {
			t.Errorf("%s: held %s after settling, want 0", name, st.Held)
		}
	}
	if st := mustBudget(t, db, "gpt"); st.Spent != cents(10) {
		t.Errorf("gpt-*: spent %s, want 0.1", st.Spent)
	}
}

// TestTimeZoneChange moves budget windows with the TimeZone setting.
func TestTimeZoneChange(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skipf("no Asia/Tokyo zone: %v", err)
	}
	now := time.Date(2025, 3, 14, 20, 0, 0, 0, time.UTC) // already the 15th in Tokyo
	clock := newClock(now)
	path := filepath.Join(t.TempDir(), "sluice.db")
	db, err := Open(path, Options{Now: clock.Now}) // no fixed Location
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	s := defaultSettings()
	s.TimeZone = "UTC"
	if err := db.PutSettings(s); err != nil {
		t.Fatal(err)
	}
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustHold(t, db, gateway.Hold{ID: "h", Amount: cents(10)})
	mustSettle(t, db, gateway.Record{ID: "a", Time: now.Add(-time.Hour), Outcome: gateway.OutcomeOK, Cost: cents(30), Priced: true})
	if st := mustBudget(t, db, "daily"); !st.Resets.Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) || st.Spent != cents(30) {
		t.Fatalf("UTC: resets %s spent %s, want Mar 15 00:00 UTC and 0.3", st.Resets, st.Spent)
	}
	s.TimeZone = "Asia/Tokyo"
	if err := db.PutSettings(s); err != nil {
		t.Fatal(err)
	}
	st := mustBudget(t, db, "daily")
	if want := time.Date(2025, 3, 16, 0, 0, 0, 0, tokyo); !st.Resets.Equal(want) {
		t.Errorf("Tokyo: resets %s, want %s", st.Resets, want)
	}
	// The spend was rolled up under the 14th (UTC), which in Tokyo is
	// before this window; the open hold still counts.
	if st.Spent != 0 || st.Held != cents(10) {
		t.Errorf("Tokyo: spent %s held %s, want 0 and 0.1", st.Spent, st.Held)
	}
	mustSettle(t, db, gateway.Record{ID: "h", Outcome: gateway.OutcomeOK, Cost: cents(10), Priced: true})
	if st := mustBudget(t, db, "daily"); st.Spent != cents(10) || st.Held != 0 {
		t.Errorf("Tokyo after settling: spent %s held %s, want 0.1 and 0", st.Spent, st.Held)
	}
	db.Close()
	// Reopened without a Location, the setting holds.
	db, err = Open(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if st := mustBudget(t, db, "daily"); !st.Resets.Equal(time.Date(2025, 3, 16, 0, 0, 0, 0, tokyo)) || st.Spent != cents(10) {
		t.Errorf("reopened: resets %s spent %s, want Mar 16 00:00 in Tokyo and 0.1", st.Resets, st.Spent)
	}
}

func TestBudgetScopes(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "ci", Limit: cents(1), Period: gateway.PeriodTotal, Token: "ci"})
	if err := db.Hold(context.Background(), gateway.Hold{ID: "x", Token: "laptop", Amount: gateway.Dollar}); err != nil {
		t.Errorf("Hold(laptop) = %v, want nil: the ci budget does not apply", err)
	}
	ref := refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "y", Token: "ci", Amount: cents(2)}))
	if !ref.Resets.IsZero() || ref.Scope != "token ci" {
		t.Errorf("total budget refusal: resets %s scope %q, want zero and token ci", ref.Resets, ref.Scope)
	}
}
