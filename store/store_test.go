package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openAt opens a data file at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openTest opens a fresh data file in a temporary directory.
func openTest(t testing.TB, opts Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.db")
	return openAt(t, path, opts), path
}

func mustPutBudget(t testing.TB, db *DB, b gateway.Budget) gateway.Budget {
	t.Helper()
	got, err := db.PutBudget(b)
	if err != nil {
		t.Fatalf("PutBudget(%+v) = %v", b, err)
	}
	return got
}

func mustBudget(t testing.TB, db *DB, name string) BudgetStatus {
	t.Helper()
	st, err := db.budgetStatus(name)
	if err != nil {
		t.Fatalf("Budget(%q) = %v", name, err)
	}
	return st
}

func mustHold(t testing.TB, db *DB, h gateway.Hold) {
	t.Helper()
	if err := db.Hold(context.Background(), h); err != nil {
		t.Fatalf("Hold(%s, %s) = %v", h.ID, h.Amount, err)
	}
}

func mustSettle(t testing.TB, db *DB, r gateway.Record) {
	t.Helper()
	if err := db.Settle(context.Background(), r); err != nil {
		t.Fatalf("Settle(%s) = %v", r.ID, err)
	}
}

func refusalOf(t testing.TB, err error) *gateway.Refusal {
	t.Helper()
	var ref *gateway.Refusal
	if !errors.As(err, &ref) {
		t.Fatalf("Hold error = %v, want a *gateway.Refusal", err)
	}
	return ref
}

func cents(n int64) gateway.Money { return gateway.Money(n) * gateway.Dollar / 100 }

func TestOpenTwiceIsLocked(t *testing.T) {
	db, path := openTest(t, Options{})
	_ = db
	start := time.Now()
	db2, err := Open(path, Options{})
	if err == nil {
		db2.Close()
		t.Fatalf("second Open(%s) = nil error, want ErrLocked", path)
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open(%s) = %v, want ErrLocked", path, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v, want about a second", d)
	}
	if got, want := ErrLocked.Error(), "data directory is in use by another sluice"; got != want {
		t.Errorf("ErrLocked = %q, want %q", got, want)
	}
}

func TestOpenAfterCloseAndCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "sluice.db")
	db, err := Open(path, Options{Location: time.UTC})
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	db = openAt(t, path, Options{})
	if err := db.Check(); err != nil {
		t.Errorf("Check() = %v", err)
	}
}

func TestOpenNotADataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	if err := os.WriteFile(path, []byte("this is not a bbolt file, but it is long enough to look like one maybe"), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(path, Options{}); err == nil {
		db.Close()
		t.Fatalf("Open(garbage) = nil error, want one")
	}
}

// A new file has pages of pageSize; one made with other pages (the OS's
// 4 KB, as before pageSize was set, or the 32 KB of some earlier builds)
// keeps them, and takes holds, settlements and folds as before.
func TestPageSize(t *testing.T) {
	db, _ := openTest(t, Options{})
	if got := db.bolt.Info().PageSize; got != pageSize {
		t.Errorf("new file's page size = %d, want %d", got, pageSize)
	}

	for _, size := range []int{4 << 10, 32 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			if err := bdb.Close(); err != nil {
				t.Fatal(err)
			}
			old := openAt(t, path, Options{})
			if got := old.bolt.Info().PageSize; got != size {
				t.Errorf("old file's page size = %d, want %d", got, size)
			}
			ctx := context.Background()
			n := foldBatch + foldBatch/2 // one fold of a full batch, and more
			for i := range n {
				id := fmt.Sprintf("r%06d", i)
				mustHold(t, old, gateway.Hold{ID: id, Amount: cents(2)})
				mustSettle(t, old, gateway.Record{ID: id, Cost: cents(1), Outcome: gateway.OutcomeOK})
			}
			if err := old.flush(); err != nil {
				t.Fatal(err)
			}
			if err := old.Check(); err != nil {
				t.Errorf("Check() = %v", err)
			}
			recs, err := old.Records(LogQuery{Limit: 5000})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != n {
				t.Errorf("%d records in the log, want %d", len(recs), n)
			}
			if n, err := old.Recover(ctx); err != nil || n != 0 {
				t.Errorf("Recover() = %d, %v; want 0, nil", n, err)
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			if got := openAt(t, path, Options{}).bolt.Info().PageSize; got != size {
				t.Errorf("page size once reopened = %d, want %d", got, size)
			}
		})
	}
}
