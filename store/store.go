// Package store keeps Sluice's data: one bbolt file holding the ledger
// (open holds, settled records and their daily rollups), budgets with
// their atomic admission, local-token hashes, settings and price
// overrides; and, beside it, the keyring wrapper for provider keys.
//
// A DB satisfies gateway.Ledger and gateway.TokenSource. It is safe for
// concurrent use. Only one process can have a data file open: a second
// Open fails with ErrLocked.
//
// Writes of money are group-committed: every write that arrives while one
// batch is being synced joins the next, so a lone request pays one sync
// and many concurrent ones share them. Holds and settlements go to a
// journal beside the data file (one write and one fdatasync per batch);
// settlements are folded into bbolt in batches behind the request path,
// holds when the journal fills and at Open (see journal.go, fold.go). A
// write that fails returns its error and leaves the in-memory state as it
// was, consistent with the files.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors a caller may test for with errors.Is.
var (
	// ErrLocked means another process has the data file open.
	ErrLocked = errors.New("data directory is in use by another sluice")
	// ErrNotFound means no budget, token or record has that name or ID.
	ErrNotFound = errors.New("not found")
	// ErrExists means the name or ID is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid means the input was refused before anything was written;
	// the message says why, in words fit for the user.
	ErrInvalid = errors.New("invalid")
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Now returns the current time; nil means time.Now. Budget windows,
	// raises, hold times and token last-use times come from it.
	Now func() time.Time
	// Location is the time zone of budget windows and of the days that
	// spend is rolled up by. nil means the TimeZone of the stored
	// Settings, or time.Local when that is empty.
	Location *time.Location
	// Timeout is how long Open waits for another process to let go of the
	// file before it fails with ErrLocked; 0 means one second.
	Timeout time.Duration
	// OnBudgetEvent, if not nil, is called when a budget crosses its soft
	// threshold or hits its limit; see BudgetEvent. It is called without
	// the store's locks held, on the goroutine of the Hold or Settle that
	// caused the event, so it must return quickly (hand the event to a
	// channel or a goroutine).
	OnBudgetEvent func(BudgetEvent)
}

// Bucket names.
var (
	bucketMeta      = []byte("meta")       // "version", "settings", "prices"
	bucketHolds     = []byte("holds")      // hold ID → JSON gateway.Hold
	bucketRecords   = []byte("records")    // recordKey → JSON gateway.Record
	bucketRecordIDs = []byte("record_ids") // record ID → recordKey
	bucketRollups   = []byte("rollups")    // rollupKey → encoded rollup
	bucketBudgets   = []byte("budgets")    // budget ID → JSON gateway.Budget
	bucketTokens    = []byte("tokens")     // token name → JSON tokenDoc
	bucketMinutes   = []byte("minutes")    // minuteKey → varint cost, for rolling budgets
)

var allBuckets = [][]byte{bucketMeta, bucketHolds, bucketRecords, bucketRecordIDs, bucketRollups, bucketBudgets, bucketTokens,
	bucketPrompts, bucketPromptRollups, bucketMinutes, bucketDeferred, bucketAliases}

// schemaVersion is the layout of the buckets this code reads and writes.
const schemaVersion = "1"

// DB is an open Sluice data file. It is safe for concurrent use.
type DB struct {
	bolt     *bolt.DB
	now      func() time.Time
	fixedLoc bool // Options.Location was set: settings do not change it
	onEvent  func(BudgetEvent)
	commits  committer
	journal  *journal // open holds, durable before they reach bbolt

	// settleMu orders settlements against loading a budget's spend from
	// disk. A settlement holds it shared from its write until its amount
	// is in memory; PutBudget and friends hold it exclusively, so the spend
	// they read from the file is exactly the spend memory has applied.
	settleMu sync.RWMutex

	mu      sync.Mutex // guards the fields below
	loc     *time.Location
	budgets map[string]*budgetState // by budget ID
	holds   map[string]*openHold    // by hold ID
	orphans map[string]bool         // hold IDs found open at Open, for Recover
	// deferred are holds kept open after their request (a background
	// response), by hold ID.
	deferred map[string]deferral

	tokMu  sync.RWMutex           // guards tokens
	tokens map[string]*tokenEntry // by SHA-256 of the secret

	aliases aliasCache
	prices  priceJSONs // the JSON of price rows settled records carry

	subMu  sync.Mutex // guards subs and closed
	subs   map[*Feed]struct{}
	closed bool

	stopFlush chan struct{} // closed by Close to end the last-used flusher
	flushDone chan struct{} // closed when the flusher has ended

	// Settlements on disk in the journal, waiting to be folded into
	// bbolt (see fold.go).
	foldMu   sync.Mutex // held by the fold under way
	pendMu   sync.Mutex // guards pending, spare and settling
	pending  []pendingRecord
	spare    []pendingRecord // an emptied batch's array, for pending to fill next
	settling map[string]bool // IDs claimed by a settlement not yet in the log
	foldKick chan struct{}   // wakes the folder
	stopFold chan struct{}   // closed by stopFolder to end the folder
	foldDone chan struct{}   // closed when the folder has ended
	// logTop is at least the greatest ID in the log: an ID above it is
	// not there (see inLog).
	logTop    atomic.Pointer[string]
	stopOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

// pageSize is the page size of a new data file; a file keeps the size it
// was made with (files made with 32 KB pages by earlier builds keep them).
// It is 4 KB, not the OS's page size (16 KB on some laptops), because a
// lone developer's folds are small: the folder folds foldDelay after the
// first settlement and every read folds first, so most commits carry one
// record or a few, and each rewrites some ten pages whatever their size,
// every byte fdatasync'd. BenchmarkFoldOne (a single-record fold on a
// 20,000-record file) writes 54 KB per fold at 4 KB pages, 87 KB at 8, 165
// KB at 16 and 296 KB at 32, and takes the least CPU at 4 KB too. Larger
// pages pay off only in full batches under load (BenchmarkFold: about 0.8
// µs less CPU per settlement at 32 KB, under 1% of a request's), where
// BenchmarkHoldSettle shows no difference within its noise.
const pageSize = 4 << 10

// Open opens the data file at path, creating it (and its directory) if
// needed. It does not recover holds left open by a crash: the caller must
// call Recover before serving requests.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, PageSize: pageSize})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{
		bolt:      bdb,
		now:       opts.Now,
		fixedLoc:  opts.Location != nil,
		onEvent:   opts.OnBudgetEvent,
		loc:       opts.Location,
		budgets:   make(map[string]*budgetState),
		holds:     make(map[string]*openHold),
		orphans:   make(map[string]bool),
		tokens:    make(map[string]*tokenEntry),
		subs:      make(map[*Feed]struct{}),
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
		settling:  make(map[string]bool),
		foldKick:  make(chan struct{}, 1),
		stopFold:  make(chan struct{}),
		foldDone:  make(chan struct{}),
	}
	db.commits.db = bdb
	// The journal is opened only once bbolt's lock is held: one process
	// at a time.
	j, entries, err := openJournal(path + journalSuffix)
	if err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	j.fold = func() error { return db.fold(true) }
	j.settled = db.pend
	db.journal = j
	if err := db.init(entries); err != nil {
		bdb.Close()
		j.close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go db.flushTokensLoop()
	go db.foldLoop()
	return db, nil
}

// init creates the buckets, folds the journal's holds into bbolt, starts
// the journal over and loads what the store keeps in memory.
func (db *DB) init(journaled [][]byte) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		noMinutes := tx.Bucket(bucketMinutes) == nil && tx.Bucket(bucketRecords) != nil
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get([]byte("version")); {
		case v == nil:
			return meta.Put([]byte("version"), []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("data file has layout %s; this sluice reads layout %s", v, schemaVersion)
		}
		if top, _ := tx.Bucket(bucketRecordIDs).Cursor().Last(); top != nil {
			db.raiseLogTop(string(top))
		}
		loc, err := db.journalLocation(tx)
		if err != nil {
			return err
		}
		// The journal's settlements' rollups are written after them.
		batch := db.newSettleBatch(tx, len(journaled))
		for _, data := range journaled {
			if data[0] == recordEntry {
				var r gateway.Record
				if err := json.Unmarshal(data[1:], &r); err != nil || r.ID == "" {
					return fmt.Errorf("hold journal: malformed settlement %.80q", data)
				}
				if _, err := batch.settle(&r, data[1:], loc); err != nil {
					return err
				}
				continue
			}
			var h gateway.Hold
			if err := json.Unmarshal(data, &h); err != nil || h.ID == "" {
				return fmt.Errorf("hold journal: malformed entry %.80q", data)
			}
			if err := batch.hold(h, data); err != nil {
				return err
			}
		}
		if err := batch.finish(); err != nil {
			return err
		}
		if noMinutes {
			return backfillMinutes(tx, db.now())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.journal.reset(); err != nil {
		return err
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		if db.loc == nil {
			s, err := readSettings(tx)
			if err != nil {
				return err
			}
			db.loc = settingsLocation(s)
		}
		if err := db.loadBudgets(tx); err != nil {
			return err
		}
		if err := db.loadHolds(tx); err != nil {
			return err
		}
		if err := db.loadDeferred(tx); err != nil {
			return err
		}
		if err := db.loadAliases(tx); err != nil {
			return err
		}
		return db.loadTokens(tx)
	})
}

// backfillMinutes fills spend by minute from the log, for a file written
// before rolling budgets kept it.
func backfillMinutes(tx *bolt.Tx, now time.Time) error {
	var sums rollupSums
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.Seek(recordKey(now.Add(-minuteKeep), 0)); k != nil; k, v = c.Next() {
		var r gateway.Record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		sums.add(&r, time.UTC)
	}
	// Only the minutes: the log's records are in the rollups already.
	sums.days, sums.prompts = nil, nil
	return sums.write(tx)
}

// Close flushes token last-use times, ends every Subscribe feed and closes
// the file. Calls in flight finish first.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.stopFlush)
		<-db.flushDone
		db.stopFolder()
		// What is still waiting is in the journal, read back at the next
		// Open either way; folded now, the file alone is complete.
		foldErr := db.flush()
		flushErr := errors.Join(foldErr, db.flushTokens())
		db.subMu.Lock()
		db.closed = true
		for s := range db.subs {
			close(s.ch)
			delete(db.subs, s)
		}
		db.subMu.Unlock()
		db.closeErr = errors.Join(flushErr, db.bolt.Close(), db.journal.close())
	})
	return db.closeErr
}

// Check runs bbolt's consistency check over the whole file and returns
// every problem found, joined; nil means the file is sound.
func (db *DB) Check() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// location returns the time zone of budget windows and rollup days.
func (db *DB) location() *time.Location {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.loc
}

// invalidf returns an error wrapping ErrInvalid whose message is the
// formatted text alone.
func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Errorf(format, args...)}
}

// invalidError is input refused before anything was written. Its message
// is its cause's; errors.Is finds both ErrInvalid and whatever the cause
// wraps (such as gateway.ErrInvalidBudget).
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// getJSON decodes the value at key in bucket into v and reports whether
// there was one. The value is decoded inside the transaction, so nothing
// in v points into the file.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// Compile-time checks that DB is what the gateway consumes.
var (
	_ gateway.Ledger      = (*DB)(nil)
	_ gateway.TokenSource = (*DB)(nil)
)
