package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// TestJournalEntries reads back what was appended, stops at a torn or
// corrupt entry, and after a reset reads only the new round.
func TestJournalEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.holds")
	j, got, err := openJournal(path)
	if err != nil || len(got) != 0 {
		t.Fatalf("openJournal(new) = %q, %v; want nothing", got, err)
	}
	j.fold = func() error { return nil }
	if err := j.reset(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"one", "two", "three"} {
		if err := j.append([]byte(p)); err != nil {
			t.Fatalf("append(%s) = %v", p, err)
		}
	}
	read := func() []string {
		t.Helper()
		j2, entries, err := openJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		j2.close()
		var out []string
		for _, e := range entries {
			out = append(out, string(e))
		}
		return out
	}
	if got := read(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("entries = %q, want one two three", got)
	}

	// A bit flipped in the last entry: it is dropped, the others stay.
	data, _ := os.ReadFile(path)
	end := journalHeader + 3*journalEntry + len("onetwothree")
	data[end-1] ^= 0x40
	os.WriteFile(path, data, 0o600)
	if got := read(); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("entries after corrupting the last = %q, want one two", got)
	}
	// A length running past the end of the file: dropped too.
	data[end-1] ^= 0x40
	copy(data[end:], []byte{0xff, 0xff, 0x0f, 0x00})
	os.WriteFile(path, data, 0o600)
	if got := read(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("entries before a bad length = %q, want one two three", got)
	}

	// A new round: the old entries are not read, even where they were
	// not written over.
	if err := j.reset(); err != nil {
		t.Fatal(err)
	}
	if err := j.append([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := read(); !slices.Equal(got, []string{"x"}) {
		t.Errorf("entries after a reset = %q, want x", got)
	}
	j.close()
}

// TestJournalCrashAcrossFolds holds, extends and settles from many
// goroutines while a small journal is folded into bbolt again and again,
// then takes the files as a crash would leave them: every open hold must
// come back at its amount, extended ones at the extended amount, and no
// settled request may be charged again.
func TestJournalCrashAcrossFolds(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "all", Limit: 1000 * gateway.Dollar, Period: gateway.PeriodTotal})
	db.journal.limit = 1500 // a fold every few holds
	ctx := context.Background()
	const n = 60
	amount := func(i int) gateway.Money { return cents(int64(i + 1)) }
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("h%02d", i)
			if err := db.Hold(ctx, gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: amount(i)}); err != nil {
				t.Errorf("Hold(%s) = %v", id, err)
				return
			}
			if i%3 == 0 {
				if err := db.Extend(ctx, id, 2*amount(i)); err != nil {
					t.Errorf("Extend(%s) = %v", id, err)
				}
			}
			if i%2 == 0 {
				mustSettle(t, db, gateway.Record{ID: id, Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: cents(1), Priced: true})
			}
		})
	}
	wg.Wait()
	if db.journal.epoch < 3 {
		t.Errorf("journal epoch %d after %d holds, want several folds", db.journal.epoch, n)
	}

	db2 := openAt(t, crashCopy(t, db), Options{})
	var wantHeld gateway.Money
	for i := 1; i < n; i += 2 {
		a := amount(i)
		if i%3 == 0 {
			a *= 2
		}
		wantHeld += a
	}
	if got, open := heldTotal(db2), db2.OpenHolds(); got != wantHeld || open != n/2 {
		t.Errorf("after the crash: %d holds open, %s held; want %d and %s", open, got, n/2, wantHeld)
	}
	if k, err := db2.Recover(ctx); err != nil || k != n/2 {
		t.Fatalf("Recover() = %d, %v; want %d", k, err, n/2)
	}
	recs, err := db2.Records(LogQuery{Limit: 1000})
	if err != nil || len(recs) != n {
		t.Fatalf("Records() = %d records, %v; want %d", len(recs), err, n)
	}
	for _, r := range recs {
		var i int
		fmt.Sscanf(r.ID, "h%02d", &i)
		want := cents(1)
		if i%2 == 1 {
			want = amount(i)
			if i%3 == 0 {
				want *= 2
			}
		}
		if r.Cost != want {
			t.Errorf("record %s (%s) costs %s, want %s", r.ID, r.Outcome, r.Cost, want)
		}
	}
	if st := mustBudget(t, db2, "all"); st.Held != 0 {
		t.Errorf("held %s after Recover, want 0", st.Held)
	}
}

// crashCopy copies db's data file and journal beside them as a crash
// would leave them, and returns the copy's path. Nothing may be writing.
func crashCopy(t *testing.T, db *DB) string {
	t.Helper()
	path := db.bolt.Path()
	crashed := filepath.Join(filepath.Dir(path), "crashed.db")
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
	return crashed
}

// TestJournalAfterFold: the batch that fills the journal is written as
// the first entries of the next round, and what is appended after it in
// that round is read back after a crash: a hold, and an extension of a
// hold that the fold put in bbolt at its old amount.
func TestJournalAfterFold(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	ctx := context.Background()
	hold := func(id string, amount gateway.Money) {
		t.Helper()
		if err := db.Hold(ctx, gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: amount}); err != nil {
			t.Fatalf("Hold(%s) = %v", id, err)
		}
	}
	hold("a", cents(10))
	epoch := db.journal.epoch
	db.journal.limit = db.journal.off // the next append folds
	hold("b", cents(20))
	if db.journal.epoch != epoch+1 {
		t.Fatalf("journal epoch %d after filling it, want %d", db.journal.epoch, epoch+1)
	}
	db.journal.limit = 0
	if err := db.Extend(ctx, "a", cents(15)); err != nil {
		t.Fatalf("Extend(a) = %v", err)
	}
	hold("c", cents(30))

	db2 := openAt(t, crashCopy(t, db), Options{})
	if got, open := heldTotal(db2), db2.OpenHolds(); got != cents(65) || open != 3 {
		t.Errorf("after the crash: %d holds open, %s held; want 3 and %s", open, got, cents(65))
	}
	if k, err := db2.Recover(ctx); err != nil || k != 3 {
		t.Fatalf("Recover() = %d, %v; want 3", k, err)
	}
	recs, err := db2.Records(LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]gateway.Money{"a": cents(15), "b": cents(20), "c": cents(30)}
	for _, r := range recs {
		if r.Cost != want[r.ID] {
			t.Errorf("record %s (%s) costs %s, want %s", r.ID, r.Outcome, r.Cost, want[r.ID])
		}
		delete(want, r.ID)
	}
	for id := range want {
		t.Errorf("hold %s was lost", id)
	}
}

// TestSettlementsInJournal: a settlement is durable once it is in the
// journal, before it is folded into the log. A crash then loses none,
// charges no settled request again, and the log and the rollups read
// before the fold see it.
func TestSettlementsInJournal(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	mustPutBudget(t, db, gateway.Budget{Name: "all", Limit: gateway.Dollar, Period: gateway.PeriodTotal})
	db.stopFolder() // nothing is folded but by a flush
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		mustHold(t, db, gateway.Hold{ID: id, Provider: "openai", Model: "gpt-4o", Amount: cents(10)})
	}
	ok := func(id string, cost gateway.Money) gateway.Record {
		return gateway.Record{ID: id, Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeOK, Cost: cost, Priced: true}
	}
	mustSettle(t, db, ok("a", cents(3)))
	mustSettle(t, db, ok("b", cents(4)))
	mustSettle(t, db, ok("a", cents(9))) // a second settlement: nothing
	mustSettle(t, db, gateway.Record{ID: "r", Provider: "openai", Model: "gpt-4o", Outcome: gateway.OutcomeRefused, Reason: gateway.ReasonBudget})
	if err := db.Hold(ctx, gateway.Hold{ID: "a", Amount: cents(1)}); !errors.Is(err, ErrExists) {
		t.Errorf("Hold(a) after its settlement = %v, want ErrExists", err)
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketRecords).Stats().KeyN; n != 0 {
			t.Errorf("%d records in the log before a fold, want 0", n)
		}
		return nil
	})
	crashed := crashCopy(t, db)

	// Read now, the log folds first and has every settlement once.
	check := func(db *DB, wantIDs int) {
		t.Helper()
		recs, err := db.Records(LogQuery{})
		if err != nil || len(recs) != wantIDs {
			t.Errorf("Records() = %d records, %v; want %d", len(recs), err, wantIDs)
		}
		if r, err := db.Record("a"); err != nil || r.Cost != cents(3) || r.Held != cents(10) {
			t.Errorf("Record(a) = %+v, %v; want cost 0.03, held 0.1", r, err)
		}
		if st := mustBudget(t, db, "all"); st.Spent != cents(7) || st.Held != cents(10) {
			t.Errorf("budget: spent %s held %s, want 0.07 and 0.1", st.Spent, st.Held)
		}
	}
	check(db, 3)
	if rows, err := db.Spend(SpendQuery{}); err != nil || len(rows) != 1 || rows[0].Requests != 3 || rows[0].Cost != cents(7) {
		t.Errorf("Spend() = %+v, %v; want 3 requests costing 0.07", rows, err)
	}

	// After the crash: the settlements come back from the journal, c
	// is still open and is charged as crashed.
	db2 := openAt(t, crashed, Options{})
	if n := db2.OpenHolds(); n != 1 {
		t.Errorf("OpenHolds() after the crash = %d, want 1", n)
	}
	check(db2, 3)
	if n, err := db2.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover() = %d, %v; want 1", n, err)
	}
	if r, err := db2.Record("c"); err != nil || r.Outcome != gateway.OutcomeCrashed {
		t.Errorf("Record(c) = %+v, %v; want crashed", r, err)
	}
	if st := mustBudget(t, db2, "all"); st.Spent != cents(17) || st.Held != 0 {
		t.Errorf("after Recover: spent %s held %s, want 0.17 and 0", st.Spent, st.Held)
	}
	mustSettle(t, db2, ok("b", cents(50))) // already in the log: nothing
	if rows, err := db2.Spend(SpendQuery{}); err != nil || len(rows) != 1 || rows[0].Requests != 4 || rows[0].Cost != cents(17) {
		t.Errorf("Spend() after Recover = %+v, %v; want 4 requests costing 0.17", rows, err)
	}
}

// TestJournalLazyEntries: an entry that can wait shares the fdatasync of
// the next entry that cannot, and is written within lazyDelay when none
// comes.
func TestJournalLazyEntries(t *testing.T) {
	j, _, err := openJournal(filepath.Join(t.TempDir(), "j.holds"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	j.fold = func() error { return nil }
	if err := j.reset(); err != nil {
		t.Fatal(err)
	}
	// The lazy entry must still be waiting when the hold comes, however
	// slowly this test is scheduled: its timer is set far off.
	j.lazyWait = time.Hour
	var durable sync.WaitGroup
	durable.Add(1)
	j.settled = func(p *pendingRecord) {
		if p.r.ID == "s" {
			durable.Done()
		}
	}
	lazyDone := make(chan error, 1)
	go func() { lazyDone <- j.appendLazy([]byte("settled"), &gateway.Record{ID: "s"}, nil, nil, nil) }()
	for {
		j.mu.Lock()
		queued := len(j.queue)
		j.mu.Unlock()
		if queued == 1 {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	before := j.syncs.Load()
	if err := j.append([]byte("hold")); err != nil {
		t.Fatal(err)
	}
	if err := <-lazyDone; err != nil {
		t.Fatal(err)
	}
	durable.Wait()
	if n := j.syncs.Load() - before; n != 1 {
		t.Errorf("%d fdatasyncs for a lazy entry and the hold after it, want 1", n)
	}

	// Alone, it is written all the same.
	j.lazyWait = lazyDelay
	start := time.Now()
	if err := j.appendLazy([]byte("alone"), nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < lazyDelay {
		t.Errorf("a lone lazy entry was written after %v, sooner than lazyDelay: it did not wait for company", d)
	}
	_, entries, err := openJournal(j.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, string(e))
	}
	if !slices.Equal(got, []string{"settled", "hold", "alone"}) {
		t.Errorf("entries %q, want settled, hold, alone", got)
	}
}

// TestFoldDeletesHoldsInBolt: a settlement folded into the log deletes
// its hold and its deferral from bbolt when they are there (a hold the
// journal folded as it started over, a deferred one), and looks for none
// that never left the journal; a restart then finds nothing open.
func TestFoldDeletesHoldsInBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	db := openAt(t, path, Options{})
	ctx := context.Background()
	now := time.Now()
	hold := func(id string) {
		t.Helper()
		if err := db.Hold(ctx, gateway.Hold{ID: id, Time: now, Provider: "openai", Model: "gpt-4o", Amount: cents(10)}); err != nil {
			t.Fatalf("Hold(%s) = %v", id, err)
		}
	}
	settle := func(id string, cost gateway.Money) {
		t.Helper()
		r := gateway.Record{ID: id, Time: now, Provider: "openai", Model: "gpt-4o", Status: 200, Outcome: gateway.OutcomeOK, Cost: cost, Priced: true}
		if err := db.Settle(ctx, r); err != nil {
			t.Fatalf("Settle(%s) = %v", id, err)
		}
	}
	hold("a")
	hold("b")
	hold("c")
	db.journal.limit = db.journal.off // the next append folds a, b and c into bbolt
	hold("d")
	db.journal.limit = 0
	rec := gateway.Record{ID: "c", Time: now, Provider: "openai", Model: "gpt-4o", Status: 200, Outcome: gateway.OutcomeOK}
	if err := db.Defer(ctx, "openai/resp_c", rec, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	hold("e") // only ever in the journal
	settle("a", cents(1))
	settle("e", cents(2))
	if err := db.flush(); err != nil {
		t.Fatal(err)
	}
	settle("b", cents(3))
	settle("c", cents(4))
	settle("d", cents(5))
	db.Close()

	db = openAt(t, path, Options{})
	if n, err := db.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("Recover() = %d, %v; want nothing charged", n, err)
	}
	if db.OpenHolds() != 0 || db.Deferrals() != 0 {
		t.Errorf("after a restart %d holds and %d deferrals open, want none", db.OpenHolds(), db.Deferrals())
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHolds, bucketDeferred} {
			if k, _ := tx.Bucket(b).Cursor().First(); k != nil {
				t.Errorf("bucket %s still has %q", b, k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Records(LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]gateway.Money{"a": cents(1), "b": cents(3), "c": cents(4), "d": cents(5), "e": cents(2)}
	for _, r := range recs {
		if r.Cost != want[r.ID] || r.Held != cents(10) {
			t.Errorf("record %s costs %s held %s, want %s held %s", r.ID, r.Cost, r.Held, want[r.ID], cents(10))
		}
		delete(want, r.ID)
	}
	for id := range want {
		t.Errorf("settlement %s was lost", id)
	}
}

// TestJournalReadBackDeletesItsHolds: read back at Open, a hold in the
// journal that is settled later in it leaves nothing open, though the
// settlement before it found no hold at all.
func TestJournalReadBackDeletesItsHolds(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	db.stopFolder() // nothing is folded but by a flush
	ctx := context.Background()
	now := time.Now()
	refused := gateway.Record{ID: "a", Time: now, Provider: "openai", Model: "gpt-4o", Status: 429, Outcome: gateway.OutcomeRefused}
	if err := db.Settle(ctx, refused); err != nil {
		t.Fatal(err)
	}
	if err := db.Hold(ctx, gateway.Hold{ID: "b", Time: now, Provider: "openai", Model: "gpt-4o", Amount: cents(10)}); err != nil {
		t.Fatal(err)
	}
	r := gateway.Record{ID: "b", Time: now, Provider: "openai", Model: "gpt-4o", Status: 200, Outcome: gateway.OutcomeOK, Cost: cents(4), Priced: true}
	if err := db.Settle(ctx, r); err != nil {
		t.Fatal(err)
	}

	db2 := openAt(t, crashCopy(t, db), Options{})
	if n, err := db2.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("Recover() = %d, %v; want nothing charged", n, err)
	}
	if n := db2.OpenHolds(); n != 0 {
		t.Errorf("%d holds open after the journal was read back, want none", n)
	}
	recs, err := db2.Records(LogQuery{Limit: 10})
	if err != nil || len(recs) != 2 {
		t.Fatalf("Records() = %d records, %v; want 2", len(recs), err)
	}
	for _, rec := range recs {
		if rec.ID == "b" && (rec.Cost != cents(4) || rec.Held != cents(10)) {
			t.Errorf("record b costs %s held %s, want %s held %s", rec.Cost, rec.Held, cents(4), cents(10))
		}
	}
}
