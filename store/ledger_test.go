package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC) // a Friday

func TestHoldSettleExactlyOnce(t *testing.T) {
	clock := newClock(t0)
	db, _ := openTest(t, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	ctx := context.Background()

	h := gateway.Hold{ID: "r1", Provider: "openai", Model: "gpt-4o", Token: "ci", Amount: cents(30)}
	mustHold(t, db, h)
	if st := mustBudget(t, db, "daily"); st.Held != cents(30) || st.Spent != 0 || st.Remaining != cents(70) {
		t.Fatalf("after Hold: held %s spent %s remaining %s, want 0.3 0 0.7", st.Held, st.Spent, st.Remaining)
	}
	if err := db.Hold(ctx, h); !errors.Is(err, ErrExists) {
		t.Errorf("Hold(r1) again = %v, want ErrExists", err)
	}

	r := gateway.Record{ID: "r1", Time: t0, Provider: "openai", Model: "gpt-4o", Token: "ci", Status: 200, Outcome: gateway.OutcomeOK,
		Usage: gateway.Usage{InputTokens: 100, OutputTokens: 20}, Cost: cents(12), Priced: true}
	mustSettle(t, db, r)
	mustSettle(t, db, r) // a second settle is a no-op
	r2 := r
	r2.Cost = cents(50)
	mustSettle(t, db, r2) // even with another amount

	st := mustBudget(t, db, "daily")
	if st.Held != 0 || st.Spent != cents(12) || st.Remaining != cents(88) {
		t.Errorf("after Settle: held %s spent %s remaining %s, want 0 0.12 0.88", st.Held, st.Spent, st.Remaining)
	}
	got, err := db.Record("r1")
	if err != nil {
		t.Fatalf("Record(r1) = %v", err)
	}
	if got.Cost != cents(12) || got.Held != cents(30) || got.InputTokens != 100 {
		t.Errorf("Record(r1) = cost %s held %s input %d, want 0.12 0.3 100", got.Cost, got.Held, got.InputTokens)
	}
	recs, _ := db.Records(LogQuery{})
	if len(recs) != 1 {
		t.Errorf("Records() has %d records, want 1", len(recs))
	}
	rows, _ := db.Spend(SpendQuery{})
	if len(rows) != 1 || rows[0].Requests != 1 || rows[0].Cost != cents(12) {
		t.Errorf("Spend() = %+v, want one request costing 0.12", rows)
	}
	if err := db.Hold(ctx, h); !errors.Is(err, ErrExists) {
		t.Errorf("Hold(settled r1) = %v, want ErrExists", err)
	}
	if n := db.OpenHolds(); n != 0 {
		t.Errorf("OpenHolds() = %d after the failed Hold, want 0", n)
	}
	if st := mustBudget(t, db, "daily"); st.Held != 0 {
		t.Errorf("held %s after the failed Hold, want 0", st.Held)
	}
}

// TestSettleConcurrentDuplicates settles the same ID from many goroutines
// at once, so that duplicates share a group commit.
func TestSettleConcurrentDuplicates(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "all", Limit: 100 * gateway.Dollar, Period: gateway.PeriodTotal})
	for i := range 20 {
		id := fmt.Sprintf("r%d", i)
		mustHold(t, db, gateway.Hold{ID: id, Amount: cents(10)})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				mustSettle(t, db, gateway.Record{ID: id, Outcome: gateway.OutcomeOK, Cost: cents(5), Priced: true})
			})
		}
		wg.Wait()
	}
	st := mustBudget(t, db, "all")
	if st.Spent != cents(100) || st.Held != 0 {
		t.Errorf("spent %s held %s, want 1 and 0", st.Spent, st.Held)
	}
	rows, _ := db.Spend(SpendQuery{})
	if len(rows) != 1 || rows[0].Requests != 20 {
		t.Errorf("Spend() = %+v, want 20 requests", rows)
	}
}

func TestRefusedRecordsCostNothing(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "all", Limit: gateway.Dollar, Period: gateway.PeriodTotal})
	rem := cents(3)
	for i, outcome := range []gateway.Outcome{gateway.OutcomeRefused, gateway.OutcomeBlocked} {
		mustSettle(t, db, gateway.Record{ID: fmt.Sprint("x", i), Status: 402, Outcome: outcome, Cost: gateway.Dollar, Held: cents(5), Budget: "all", Remaining: &rem})
	}
	if st := mustBudget(t, db, "all"); st.Spent != 0 {
		t.Errorf("spent %s after refusals, want 0", st.Spent)
	}
	r, err := db.Record("x0")
	if err != nil || r.Cost != 0 || r.Budget != "all" || r.Remaining == nil || *r.Remaining != rem {
		t.Errorf("Record(x0) = %+v, %v; want cost 0, budget all, remaining 0.03", r, err)
	}
	rows, _ := db.Spend(SpendQuery{})
	if len(rows) != 1 || rows[0].Requests != 2 || rows[0].Refused != 2 || rows[0].Cost != 0 {
		t.Errorf("Spend() = %+v, want 2 requests, 2 refused, cost 0", rows)
	}
}

func TestRefusal(t *testing.T) {
	clock := newClock(t0)
	db, _ := openTest(t, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustPutBudget(t, db, gateway.Budget{Name: "opus week", Limit: 2 * gateway.Dollar, Period: gateway.PeriodWeek, Model: "claude-opus-*"})
	mustPutBudget(t, db, gateway.Budget{Name: "openai", Limit: cents(10), Period: gateway.PeriodMonth, Provider: "openai"})

	opus := gateway.Hold{Provider: "anthropic", Model: "claude-opus-4-1"}
	h := opus
	h.ID, h.Amount = "a", cents(60)
	mustHold(t, db, h)
	mustSettle(t, db, gateway.Record{ID: "a", Provider: "anthropic", Model: "claude-opus-4-1", Outcome: gateway.OutcomeOK, Cost: cents(50), Priced: true})

	// 0.5 of the daily dollar is left; the opus week has 1.5 left.
	h.ID, h.Amount = "b", cents(70)
	err := db.Hold(context.Background(), h)
	ref := refusalOf(t, err)
	want := gateway.Refusal{
		Budget: "daily", Scope: "all requests", Limit: gateway.Dollar, Spent: cents(50), Remaining: cents(50), Wanted: cents(70),
	}
	if resets := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC); !ref.Resets.Equal(resets) {
		t.Errorf("Hold(0.7) refusal resets %s, want %s", ref.Resets, resets)
	}
	got := *ref
	got.Resets = time.Time{}
	// It suggests a raise of the shortfall, $0.20, in whole dollars; the
	// answer to the caller words it (refusalMessage), the store does not.
	want.Raise = gateway.Dollar
	if got != want {
		t.Errorf("Hold(0.7) refusal = %+v, want %+v", got, want)
	}

	// Both refuse a $1.60 hold; the daily budget has less left.
	h.ID, h.Amount = "c", cents(160)
	ref = refusalOf(t, db.Hold(context.Background(), h))
	if ref.Budget != "daily" {
		t.Errorf("refusing budget = %q, want daily (least remaining)", ref.Budget)
	}

	// A hold that fits is admitted; the held amount counts in Spent.
	h.ID, h.Amount = "d", cents(40)
	mustHold(t, db, h)
	h.ID, h.Amount = "e", cents(20)
	ref = refusalOf(t, db.Hold(context.Background(), h))
	if ref.Spent != cents(90) || ref.Remaining != cents(10) {
		t.Errorf("refusal spent %s remaining %s, want 0.9 and 0.1", ref.Spent, ref.Remaining)
	}

	// A hold of zero passes even an exhausted budget.
	mustHold(t, db, gateway.Hold{ID: "free", Provider: "ollama", Model: "llama3", Amount: 0})

	// Three budgets refuse with 0.1 left each: the names break the tie.
	mustPutBudget(t, db, gateway.Budget{Name: "it's openai", Limit: cents(10), Period: gateway.PeriodMonth, Provider: "openai"})
	ref = refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "f", Provider: "openai", Model: "gpt-4o", Amount: cents(15)}))
	if ref.Budget != "daily" {
		t.Errorf("refusing budget = %q, want daily", ref.Budget)
	}
	// Without the daily budget, an openai one refuses; it resets at the
	// month's end, and its name is quoted for a shell.
	if err := db.DeleteBudget("daily"); err != nil {
		t.Fatal(err)
	}
	ref = refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "g", Provider: "openai", Model: "gpt-4o", Amount: cents(11)}))
	if ref.Budget != "it's openai" || ref.Scope != "provider openai" {
		t.Errorf("refusing budget = %q (%s), want \"it's openai\" (provider openai)", ref.Budget, ref.Scope)
	}
	if ref.Raise != gateway.Dollar {
		t.Errorf("Raise = %s, want $1", ref.Raise.Format())
	}
	if want := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC); !ref.Resets.Equal(want) {
		t.Errorf("Resets = %s, want %s", ref.Resets, want)
	}
}

// TestHoldRace runs 200 concurrent holds against a small budget: the
// holds admitted must be exactly what the limit allows, and settled spend
// must never pass it.
func TestHoldRace(t *testing.T) {
	iterations := 5
	if testing.Short() {
		iterations = 2
	}
	for it := range iterations {
		t.Run(fmt.Sprint("equal/", it), func(t *testing.T) { raceEqual(t) })
		t.Run(fmt.Sprint("random/", it), func(t *testing.T) { raceRandom(t, uint64(it)) })
		t.Run(fmt.Sprint("mixed/", it), func(t *testing.T) { raceMixed(t, uint64(it)) })
	}
}

// raceEqual: 200 holds of 7 cents against $1 admit exactly 14.
func raceEqual(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "small", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustPutBudget(t, db, gateway.Budget{Name: "big", Limit: 100 * gateway.Dollar, Period: gateway.PeriodTotal})
	const n, amount = 200, 7
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	var ids sync.Map
	for i := range n {
		wg.Go(func() {
			<-start
			id := fmt.Sprint("h", i)
			err := db.Hold(context.Background(), gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: cents(amount)})
			switch {
			case err == nil:
				admitted.Add(1)
				ids.Store(id, true)
			case !errors.As(err, new(*gateway.Refusal)):
				t.Errorf("Hold(%s) = %v, want nil or a refusal", id, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got, want := admitted.Load(), int64(100/amount); got != want {
		t.Fatalf("admitted %d holds of %d cents against $1, want %d", got, amount, want)
	}
	r := rand.New(rand.NewPCG(7, uint64(admitted.Load())))
	var total atomic.Int64
	ids.Range(func(k, _ any) bool {
		cost := gateway.Money(r.Int64N(int64(cents(amount)) + 1))
		total.Add(int64(cost))
		wg.Go(func() {
			mustSettle(t, db, gateway.Record{ID: k.(string), Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: cost, Priced: true})
		})
		return true
	})
	wg.Wait()
	st := mustBudget(t, db, "small")
	if st.Held != 0 || st.Spent != gateway.Money(total.Load()) || st.Spent > gateway.Dollar {
		t.Errorf("after settling: spent %s held %s, want spent %s ≤ $1 and nothing held", st.Spent, st.Held, gateway.Money(total.Load()))
	}
	if big := mustBudget(t, db, "big"); big.Spent != st.Spent {
		t.Errorf("big budget spent %s, want %s", big.Spent, st.Spent)
	}
}

// raceRandom: 200 holds of random sizes; no refused hold would have fit
// in what the admitted ones left.
func raceRandom(t *testing.T, seed uint64) {
	db, _ := openTest(t, Options{})
	limit := 2 * gateway.Dollar
	mustPutBudget(t, db, gateway.Budget{Name: "small", Limit: limit, Period: gateway.PeriodDay})
	r := rand.New(rand.NewPCG(seed, 99))
	const n = 200
	amounts := make([]gateway.Money, n)
	for i := range amounts {
		amounts[i] = gateway.Money(1 + r.Int64N(int64(cents(10))))
	}
	admitted := make([]bool, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := db.Hold(context.Background(), gateway.Hold{ID: fmt.Sprint("h", i), Amount: amounts[i]})
			if err == nil {
				admitted[i] = true
			} else if !errors.As(err, new(*gateway.Refusal)) {
				t.Errorf("Hold(h%d) = %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	var held gateway.Money
	for i, ok := range admitted {
		if ok {
			held += amounts[i]
		}
	}
	if held > limit {
		t.Fatalf("admitted %s of holds against a limit of %s", held, limit)
	}
	for i, ok := range admitted {
		if !ok && amounts[i] <= limit-held {
			t.Fatalf("refused h%d for %s though %s was left after every hold", i, amounts[i], limit-held)
		}
	}
	if st := mustBudget(t, db, "small"); st.Held != held {
		t.Fatalf("budget holds %s, want %s", st.Held, held)
	}
	var spent gateway.Money
	for i, ok := range admitted {
		if !ok {
			continue
		}
		cost := gateway.Money(r.Int64N(int64(amounts[i]) + 1))
		spent += cost
		wg.Go(func() {
			mustSettle(t, db, gateway.Record{ID: fmt.Sprint("h", i), Outcome: gateway.OutcomeOK, Cost: cost, Priced: true})
		})
	}
	wg.Wait()
	if st := mustBudget(t, db, "small"); st.Spent != spent || st.Held != 0 || st.Spent > limit {
		t.Errorf("spent %s held %s, want %s ≤ %s and nothing held", st.Spent, st.Held, spent, limit)
	}
}

// raceMixed: 200 goroutines each hold, then settle at once for a random
// amount up to the hold; spend plus holds never pass the limit at any
// moment anyone looks, and nothing is left held at the end.
func raceMixed(t *testing.T, seed uint64) {
	db, _ := openTest(t, Options{})
	limit := gateway.Dollar
	mustPutBudget(t, db, gateway.Budget{Name: "small", Limit: limit, Period: gateway.PeriodDay})
	var wg sync.WaitGroup
	var spent atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			amount := gateway.Money(1 + r.Int64N(int64(cents(15))))
			id := fmt.Sprint("h", i)
			err := db.Hold(context.Background(), gateway.Hold{ID: id, Amount: amount})
			if err != nil {
				if !errors.As(err, new(*gateway.Refusal)) {
					t.Errorf("Hold(%s) = %v", id, err)
				}
				mustSettle(t, db, gateway.Record{ID: id, Status: 402, Outcome: gateway.OutcomeRefused})
				return
			}
			if st := mustBudget(t, db, "small"); st.Spent+st.Held > limit {
				t.Errorf("spent %s + held %s passes %s", st.Spent, st.Held, limit)
			}
			cost := gateway.Money(r.Int64N(int64(amount) + 1))
			spent.Add(int64(cost))
			mustSettle(t, db, gateway.Record{ID: id, Outcome: gateway.OutcomeOK, Cost: cost, Priced: true})
		})
	}
	wg.Wait()
	st := mustBudget(t, db, "small")
	if st.Spent != gateway.Money(spent.Load()) || st.Spent > limit || st.Held != 0 {
		t.Errorf("spent %s held %s, want %s ≤ %s and nothing held", st.Spent, st.Held, gateway.Money(spent.Load()), limit)
	}
	if rows, _ := db.Spend(SpendQuery{}); len(rows) != 1 || rows[0].Requests != 200 || rows[0].Cost != st.Spent {
		t.Errorf("Spend() = %+v, want 200 requests costing %s", rows, st.Spent)
	}
}

func TestCrashRecovery(t *testing.T) {
	clock := newClock(t0)
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.db")
	db := openAt(t, path, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustHold(t, db, gateway.Hold{ID: "settled", Provider: "openai", Model: "gpt-4o", Amount: cents(10)})
	mustHold(t, db, gateway.Hold{ID: "open1", Time: t0, Token: "ci", Provider: "openai", Model: "gpt-4o", Route: "openai.chat", Stream: true, Amount: cents(20)})
	mustHold(t, db, gateway.Hold{ID: "open2", Provider: "mystery", Model: "m1", Amount: cents(30), Estimated: true})
	mustSettle(t, db, gateway.Record{ID: "settled", Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: cents(5), Priced: true})

	// What a crash leaves: the file as the last commit wrote it, and the
	// hold journal as the last append wrote it.
	crashed := filepath.Join(dir, "crashed.db")
	if err := db.bolt.View(func(tx *bolt.Tx) error { return tx.CopyFile(crashed, 0o600) }); err != nil {
		t.Fatal(err)
	}
	journaled, err := os.ReadFile(path + journalSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed+journalSuffix, journaled, 0o600); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, p := range []string{crashed, path} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			db := openAt(t, p, Options{Now: clock.Now})
			if n := db.OpenHolds(); n != 2 {
				t.Errorf("OpenHolds() = %d before Recover, want 2", n)
			}
			// Until Recover, the holds still count against budgets.
			if st := mustBudget(t, db, "daily"); st.Held != cents(50) || st.Spent != cents(5) {
				t.Errorf("before Recover: held %s spent %s, want 0.5 and 0.05", st.Held, st.Spent)
			}
			n, err := db.Recover(context.Background())
			if err != nil || n != 2 {
				t.Fatalf("Recover() = %d, %v, want 2, nil", n, err)
			}
			r, err := db.Record("open1")
			if err != nil {
				t.Fatalf("Record(open1) = %v", err)
			}
			want := gateway.Record{ID: "open1", Time: t0, Token: "ci", Provider: "openai", Model: "gpt-4o", Route: "openai.chat", Stream: true,
				Outcome: gateway.OutcomeCrashed, Cost: cents(20), Priced: true, Estimated: true, Held: cents(20), Error: r.Error}
			if !r.Time.Equal(want.Time) || r.Error == "" {
				t.Errorf("Record(open1) time %s error %q, want %s and an explanation", r.Time, r.Error, want.Time)
			}
			r.Time = want.Time
			if fmt.Sprint(r) != fmt.Sprint(want) {
				t.Errorf("Record(open1) = %+v, want %+v", r, want)
			}
			if r, _ := db.Record("open2"); r.Priced || !r.Estimated || r.Cost != cents(30) {
				t.Errorf("Record(open2) = %+v, want unpriced, estimated, cost 0.3", r)
			}
			st := mustBudget(t, db, "daily")
			if st.Held != 0 || st.Spent != cents(55) || db.OpenHolds() != 0 {
				t.Errorf("after Recover: held %s spent %s open %d, want 0, 0.55, 0", st.Held, st.Spent, db.OpenHolds())
			}
			if n, err := db.Recover(context.Background()); n != 0 || err != nil {
				t.Errorf("second Recover() = %d, %v, want 0, nil", n, err)
			}
			if rows, _ := db.Spend(SpendQuery{}); len(rows) != 1 || rows[0].Requests != 3 || rows[0].Cost != cents(55) || rows[0].Unpriced != 1 {
				t.Errorf("Spend() = %+v, want 3 requests costing 0.55, one unpriced", rows)
			}
			if err := db.Check(); err != nil {
				t.Errorf("Check() = %v", err)
			}
			db.Close()
			// Reopened, nothing is left to recover and the spend is the same.
			db = openAt(t, p, Options{Now: clock.Now})
			if n, err := db.Recover(context.Background()); n != 0 || err != nil {
				t.Errorf("Recover() after reopening = %d, %v, want 0, nil", n, err)
			}
			if st := mustBudget(t, db, "daily"); st.Spent != cents(55) || st.Held != 0 {
				t.Errorf("reopened: spent %s held %s, want 0.55 and 0", st.Spent, st.Held)
			}
		})
	}
}

// TestRecoverLeavesNewHolds checks that Recover charges only what a crash
// left, not holds this process made.
func TestRecoverLeavesNewHolds(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustHold(t, db, gateway.Hold{ID: "live", Amount: cents(1)})
	if n, err := db.Recover(context.Background()); n != 0 || err != nil {
		t.Errorf("Recover() = %d, %v, want 0, nil", n, err)
	}
	if db.OpenHolds() != 1 {
		t.Errorf("OpenHolds() = %d, want 1", db.OpenHolds())
	}
}

// TestFailedWritesLeaveMemoryAlone makes writes fail under Hold and Settle
// and checks that memory still matches the file.
func TestFailedWritesLeaveMemoryAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.db")
	db := openAt(t, path, Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "all", Limit: gateway.Dollar, Period: gateway.PeriodTotal})
	mustHold(t, db, gateway.Hold{ID: "a", Amount: cents(10)})

	// Take the files away from under the store: every write now fails,
	// to the journal (a hold, a settlement) as to bbolt.
	if err := db.bolt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.journal.f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Hold(context.Background(), gateway.Hold{ID: "b", Amount: cents(20)}); err == nil {
		t.Fatalf("Hold on a closed file = nil, want an error")
	}
	if err := db.Settle(context.Background(), gateway.Record{ID: "a", Cost: cents(5), Outcome: gateway.OutcomeOK}); err == nil {
		t.Fatalf("Settle on a closed file = nil, want an error")
	}
	st := mustBudget(t, db, "all")
	if st.Held != cents(10) || st.Spent != 0 || db.OpenHolds() != 1 {
		t.Errorf("after failed writes: held %s spent %s open %d, want 0.1, 0, 1", st.Held, st.Spent, db.OpenHolds())
	}

	// Reopened, the file agrees: hold a is open, b never was.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.bolt = bdb
	db.commits.db = bdb
	if db.journal.f, err = os.OpenFile(path+journalSuffix, os.O_RDWR, journalPerm); err != nil {
		t.Fatal(err)
	}
	mustSettle(t, db, gateway.Record{ID: "a", Cost: cents(5), Outcome: gateway.OutcomeOK})
	if st := mustBudget(t, db, "all"); st.Held != 0 || st.Spent != cents(5) {
		t.Errorf("after settling: held %s spent %s, want 0 and 0.05", st.Held, st.Spent)
	}
}

func TestHoldCanceledContext(t *testing.T) {
	db, _ := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Hold(ctx, gateway.Hold{ID: "a", Amount: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Hold(canceled) = %v, want context.Canceled", err)
	}
	if db.OpenHolds() != 0 {
		t.Errorf("OpenHolds() = %d, want 0", db.OpenHolds())
	}
	// Settle ignores ctx: money is recorded even if the client left.
	mustHold(t, db, gateway.Hold{ID: "b", Amount: 1})
	if err := db.Settle(ctx, gateway.Record{ID: "b", Outcome: gateway.OutcomeCanceled, Cost: 1}); err != nil {
		t.Errorf("Settle(canceled ctx) = %v, want nil", err)
	}
}

func TestBadInput(t *testing.T) {
	db, _ := openTest(t, Options{})
	ctx := context.Background()
	for _, h := range []gateway.Hold{{}, {ID: "neg", Amount: -1}} {
		if err := db.Hold(ctx, h); !errors.Is(err, ErrInvalid) {
			t.Errorf("Hold(%+v) = %v, want ErrInvalid", h, err)
		}
	}
	if err := db.Settle(ctx, gateway.Record{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Settle(no ID) = %v, want ErrInvalid", err)
	}
}

func TestWindowRollover(t *testing.T) {
	clock := newClock(time.Date(2025, 3, 14, 23, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.db")
	db := openAt(t, path, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustPutBudget(t, db, gateway.Budget{Name: "weekly", Limit: 3 * gateway.Dollar, Period: gateway.PeriodWeek})

	mustHold(t, db, gateway.Hold{ID: "a", Amount: cents(80)})
	mustSettle(t, db, gateway.Record{ID: "a", Time: clock.Now(), Outcome: gateway.OutcomeOK, Cost: cents(80), Priced: true})
	refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "b", Amount: cents(50)}))

	// A hold made before midnight and settled after counts in the day it
	// was made, which is over.
	mustHold(t, db, gateway.Hold{ID: "late", Amount: cents(20)})
	clock.Set(time.Date(2025, 3, 15, 0, 0, 1, 0, time.UTC))
	mustHold(t, db, gateway.Hold{ID: "b", Amount: cents(50)})
	st := mustBudget(t, db, "daily")
	if st.Spent != 0 || st.Held != cents(70) || !st.Start.Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("new day: spent %s held %s start %s, want 0, 0.7, Mar 15", st.Spent, st.Held, st.Start)
	}
	mustSettle(t, db, gateway.Record{ID: "late", Time: time.Date(2025, 3, 14, 23, 59, 0, 0, time.UTC), Outcome: gateway.OutcomeOK, Cost: cents(20), Priced: true})
	mustSettle(t, db, gateway.Record{ID: "b", Outcome: gateway.OutcomeOK, Cost: cents(30), Priced: true})
	if st := mustBudget(t, db, "daily"); st.Spent != cents(30) || st.Held != 0 {
		t.Errorf("new day after settling: spent %s held %s, want 0.3 and 0", st.Spent, st.Held)
	}
	if st := mustBudget(t, db, "weekly"); st.Spent != cents(130) {
		t.Errorf("weekly spent %s, want 1.3", st.Spent)
	}

	// A record stamped in the next day, settled before anything asked
	// for it, counts once the day comes.
	mustSettle(t, db, gateway.Record{ID: "skew", Time: time.Date(2025, 3, 16, 0, 0, 0, 5, time.UTC), Outcome: gateway.OutcomeOK, Cost: cents(7), Priced: true})
	if st := mustBudget(t, db, "daily"); st.Spent != cents(30) {
		t.Errorf("spent %s before the next day, want 0.3", st.Spent)
	}
	clock.Set(time.Date(2025, 3, 16, 12, 0, 0, 0, time.UTC)) // Sunday
	if st := mustBudget(t, db, "daily"); st.Spent != cents(7) {
		t.Errorf("next day: spent %s, want 0.07", st.Spent)
	}
	if st := mustBudget(t, db, "weekly"); st.Spent != cents(137) {
		t.Errorf("Sunday: weekly spent %s, want 1.37", st.Spent)
	}

	// Reopened, spend is read back from the rollups and agrees.
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	if st := mustBudget(t, db, "daily"); st.Spent != cents(7) {
		t.Errorf("reopened: daily spent %s, want 0.07", st.Spent)
	}
	if st := mustBudget(t, db, "weekly"); st.Spent != cents(137) {
		t.Errorf("reopened: weekly spent %s, want 1.37", st.Spent)
	}
	clock.Set(time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC)) // Monday
	if st := mustBudget(t, db, "weekly"); st.Spent != 0 || !st.Resets.Equal(time.Date(2025, 3, 24, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Monday: weekly spent %s resets %s, want 0 and Mar 24", st.Spent, st.Resets)
	}
}

func TestRaiseExpires(t *testing.T) {
	clock := newClock(t0)
	db, _ := openTest(t, Options{Now: clock.Now})
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustHold(t, db, gateway.Hold{ID: "a", Amount: gateway.Dollar})
	mustSettle(t, db, gateway.Record{ID: "a", Outcome: gateway.OutcomeOK, Cost: gateway.Dollar, Priced: true})
	refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "b", Amount: cents(50)}))

	b, err := db.RaiseBudget("DAILY", gateway.Dollar, time.Hour)
	if err != nil {
		t.Fatalf("RaiseBudget = %v", err)
	}
	if b.Raise != gateway.Dollar || !b.RaiseUntil.Equal(t0.Add(time.Hour)) {
		t.Errorf("RaiseBudget = raise %s until %s, want 1 until %s", b.Raise, b.RaiseUntil, t0.Add(time.Hour))
	}
	mustHold(t, db, gateway.Hold{ID: "b", Amount: cents(50)})
	mustSettle(t, db, gateway.Record{ID: "b", Outcome: gateway.OutcomeOK, Cost: cents(50), Priced: true})

	// A second raise while the first lasts adds to it.
	clock.Add(30 * time.Minute)
	b, err = db.RaiseBudget("daily", cents(25), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b.Raise != cents(125) || !b.RaiseUntil.Equal(t0.Add(time.Hour)) {
		t.Errorf("second raise = %s until %s, want 1.25 until %s", b.Raise, b.RaiseUntil, t0.Add(time.Hour))
	}
	if st := mustBudget(t, db, "daily"); st.LimitNow != cents(225) || st.Remaining != cents(75) {
		t.Errorf("limit now %s remaining %s, want 2.25 and 0.75", st.LimitNow, st.Remaining)
	}

	clock.Set(t0.Add(time.Hour))
	ref := refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "c", Amount: cents(1)}))
	if ref.Limit != gateway.Dollar || ref.Remaining != 0 || ref.Spent != cents(150) {
		t.Errorf("after the raise expired: refusal %+v, want limit 1, spent 1.5, remaining 0", ref)
	}
	if _, err := db.RaiseBudget("daily", 0, time.Hour); !errors.Is(err, ErrInvalid) {
		t.Errorf("RaiseBudget(by 0) = %v, want ErrInvalid", err)
	}
	if _, err := db.RaiseBudget("nope", gateway.Dollar, time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("RaiseBudget(nope) = %v, want ErrNotFound", err)
	}
}

func TestBudgetEvents(t *testing.T) {
	clock := newClock(t0)
	var mu sync.Mutex
	var evs []BudgetEvent
	db, _ := openTest(t, Options{Now: clock.Now, OnBudgetEvent: func(ev BudgetEvent) {
		mu.Lock()
		evs = append(evs, ev)
		mu.Unlock()
	}})
	kinds := func() string {
		mu.Lock()
		defer mu.Unlock()
		var s []string
		for _, ev := range evs {
			s = append(s, ev.Kind+":"+ev.Budget)
		}
		return strings.Join(s, " ")
	}
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	spend := func(id string, c int64) {
		t.Helper()
		mustHold(t, db, gateway.Hold{ID: id, Amount: cents(c)})
		mustSettle(t, db, gateway.Record{ID: id, Outcome: gateway.OutcomeOK, Cost: cents(c), Priced: true})
	}
	spend("a", 70)
	if got := kinds(); got != "" {
		t.Errorf("events at 70%% = %q, want none", got)
	}
	spend("b", 10)
	spend("c", 5)
	if got, want := kinds(), "soft:daily"; got != want {
		t.Errorf("events at 85%% = %q, want %q", got, want)
	}
	refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "d", Amount: cents(20)}))
	refusalOf(t, db.Hold(context.Background(), gateway.Hold{ID: "e", Amount: cents(20)}))
	if got, want := kinds(), "soft:daily limit:daily"; got != want {
		t.Errorf("events after two refusals = %q, want %q", got, want)
	}
	mu.Lock()
	last := evs[len(evs)-1]
	mu.Unlock()
	if last.Spent != cents(85) || last.Limit != gateway.Dollar || !last.Resets.Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("limit event = %+v, want spent 0.85 of 1, resets Mar 15", last)
	}
	// The next day the events can fire again.
	clock.Set(time.Date(2025, 3, 15, 9, 0, 0, 0, time.UTC))
	spend("f", 100)
	if got, want := kinds(), "soft:daily limit:daily soft:daily limit:daily"; got != want {
		t.Errorf("events the next day = %q, want %q", got, want)
	}
	// A raise re-arms them.
	if _, err := db.RaiseBudget("daily", gateway.Dollar, time.Hour); err != nil {
		t.Fatal(err)
	}
	spend("g", 70)
	if got, want := kinds(), "soft:daily limit:daily soft:daily limit:daily soft:daily"; got != want {
		t.Errorf("events after a raise = %q, want %q", got, want)
	}
}

// TestBudgetEventCallsBack raises the budget from inside the event
// callback, as an app answering "raise it" at once might.
func TestBudgetEventCallsBack(t *testing.T) {
	var db *DB
	raised := make(chan error, 4)
	db, _ = openTest(t, Options{OnBudgetEvent: func(ev BudgetEvent) {
		if ev.Kind == BudgetLimit {
			_, err := db.RaiseBudget(ev.Budget, gateway.Dollar, time.Hour)
			raised <- err
		}
	}})
	mustPutBudget(t, db, gateway.Budget{Name: "daily", Limit: gateway.Dollar, Period: gateway.PeriodDay})
	mustHold(t, db, gateway.Hold{ID: "a", Amount: gateway.Dollar})
	mustSettle(t, db, gateway.Record{ID: "a", Outcome: gateway.OutcomeOK, Cost: gateway.Dollar, Priced: true})
	select {
	case err := <-raised:
		if err != nil {
			t.Fatalf("RaiseBudget from the callback = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no limit event")
	}
	mustHold(t, db, gateway.Hold{ID: "b", Amount: cents(50)})
}

func TestBudgeted(t *testing.T) {
	db, _ := openTest(t, Options{})
	h := gateway.Hold{Provider: "openai", Model: "gpt-4o"}
	if db.Budgeted(h) {
		t.Errorf("Budgeted(%+v) with no budgets = true, want false", h)
	}
	if _, err := db.PutBudget(gateway.Budget{Name: "anthropic", Limit: gateway.Dollar, Period: gateway.PeriodDay, Provider: "anthropic"}); err != nil {
		t.Fatal(err)
	}
	if db.Budgeted(h) {
		t.Errorf("Budgeted(%+v) with an anthropic budget = true, want false", h)
	}
	if !db.Budgeted(gateway.Hold{Provider: "anthropic", Model: "claude-x"}) {
		t.Errorf("Budgeted(anthropic hold) = false, want true")
	}
}

func TestExtend(t *testing.T) {
	db, path := openTest(t, Options{})
	if _, err := db.PutBudget(gateway.Budget{Name: "day", Limit: 10 * gateway.Dollar, Period: gateway.PeriodDay}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := gateway.Hold{ID: "h1", Provider: "openai", Model: "gpt-4o", Amount: 4 * gateway.Dollar}
	if err := db.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := db.Extend(ctx, "h1", 7*gateway.Dollar); err != nil {
		t.Fatalf("Extend to $7 within a $10 budget = %v", err)
	}
	if got := heldTotal(db); got != 7*gateway.Dollar {
		t.Errorf("Held() = %v after Extend, want 7", got)
	}
	var ref *gateway.Refusal
	if err := db.Extend(ctx, "h1", 11*gateway.Dollar); !errors.As(err, &ref) || ref.Budget != "day" {
		t.Fatalf("Extend past the budget = %v, want a refusal by day", err)
	}
	if got := heldTotal(db); got != 7*gateway.Dollar {
		t.Errorf("Held() = %v after a refused Extend, want 7 still", got)
	}
	// The extended amount is what a crash charges.
	db.Close()
	db2 := openAt(t, path, Options{})
	if n, err := db2.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	recs, err := db2.Records(LogQuery{})
	if err != nil || len(recs) != 1 || recs[0].Cost != 7*gateway.Dollar {
		t.Fatalf("records after recovery = %+v, %v; want one charged $7", recs, err)
	}
	if err := db2.Extend(ctx, "nope", gateway.Dollar); !errors.Is(err, ErrNotFound) {
		t.Errorf("Extend(unknown) = %v, want ErrNotFound", err)
	}
}

// TestHoldAndExtendRefuseAlike: when budgets with the same room left all
// refuse, a hold and an extension name the same one (the first by name),
// whatever order the budgets sit in memory.
func TestHoldAndExtendRefuseAlike(t *testing.T) {
	db, _ := openTest(t, Options{})
	for _, name := range []string{"zeta", "alpha", "mid"} {
		mustPutBudget(t, db, gateway.Budget{Name: name, Limit: 10 * gateway.Dollar, Period: gateway.PeriodDay})
	}
	ctx := context.Background()
	if err := db.Hold(ctx, gateway.Hold{ID: "h1", Provider: "openai", Model: "gpt-4o", Amount: 4 * gateway.Dollar}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // map order varies from call to call
		var ref *gateway.Refusal
		if err := db.Hold(ctx, gateway.Hold{ID: "h2", Provider: "openai", Model: "gpt-4o", Amount: 7 * gateway.Dollar}); !errors.As(err, &ref) || ref.Budget != "alpha" {
			t.Fatalf("Hold past three budgets = %v, want a refusal by alpha", err)
		}
		if err := db.Extend(ctx, "h1", 11*gateway.Dollar); !errors.As(err, &ref) || ref.Budget != "alpha" {
			t.Fatalf("Extend past three budgets = %v, want a refusal by alpha", err)
		}
	}
}

// heldTotal returns the total of the holds open in db now.
func heldTotal(db *DB) gateway.Money {
	db.mu.Lock()
	defer db.mu.Unlock()
	var sum gateway.Money
	for _, oh := range db.holds {
		sum += oh.h.Amount
	}
	return sum
}

// TestSettledIDsAroundLogTop: Hold and Settle skip reading the log for an
// ID above every ID in it (a new request's), and still find every
// settled ID, below that top or at it, in the log or in the journal, in
// the file they opened or after a crash.
func TestSettledIDsAroundLogTop(t *testing.T) {
	db, path := openTest(t, Options{})
	ctx := context.Background()
	rec := func(id string, cost gateway.Money) gateway.Record {
		return gateway.Record{ID: id, Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: cost, Priced: true}
	}
	hold := func(db *DB, id string) error {
		return db.Hold(ctx, gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: cents(10)})
	}
	for _, id := range []string{"b", "d"} {
		mustHold(t, db, gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: cents(10)})
		mustSettle(t, db, rec(id, cents(1)))
	}
	if err := db.flush(); err != nil { // b and d in the log, d its top
		t.Fatal(err)
	}
	for _, c := range []struct {
		id      string
		settled bool
	}{{"a", false}, {"b", true}, {"c", false}, {"d", true}, {"e", false}} {
		if err := hold(db, c.id); errors.Is(err, ErrExists) != c.settled || !c.settled && err != nil {
			t.Errorf("Hold(%s) = %v, want ErrExists %v", c.id, err, c.settled)
		}
	}
	for _, id := range []string{"a", "c", "e", "b", "d"} {
		mustSettle(t, db, rec(id, cents(2))) // b and d again: nothing
	}
	mustHold(t, db, gateway.Hold{ID: "f", Provider: "openai", Model: "gpt-4o", Amount: cents(10)})
	mustSettle(t, db, rec("f", cents(2))) // in the journal only
	crashed := crashCopy(t, db)

	db2 := openAt(t, crashed, Options{})
	for _, id := range []string{"a", "d", "e", "f"} {
		if err := hold(db2, id); !errors.Is(err, ErrExists) {
			t.Errorf("after the crash, Hold(%s) = %v, want ErrExists", id, err)
		}
		mustSettle(t, db2, rec(id, cents(50))) // nothing
	}
	if err := hold(db2, "g"); err != nil {
		t.Errorf("after the crash, Hold(g) = %v", err)
	}
	mustSettle(t, db2, rec("g", cents(2)))
	rows, err := db2.Spend(SpendQuery{})
	if err != nil || len(rows) != 1 || rows[0].Requests != 7 || rows[0].Cost != cents(12) {
		t.Errorf("Spend() = %+v, %v; want 7 requests costing 0.12", rows, err)
	}

	// Closed cleanly, the journal is empty: the top comes from the log.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db3 := openAt(t, path, Options{})
	if err := hold(db3, "f"); !errors.Is(err, ErrExists) {
		t.Errorf("after a clean close, Hold(f) = %v, want ErrExists", err)
	}
}
