package store

import (
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// Settlements reach the disk through the hold journal, like holds: one
// entry, sharing its fdatasync with every hold and settlement written
// meanwhile. They are folded into bbolt (the log, the rollups) later, many
// to a transaction, by the folder: when foldBatch are waiting, foldDelay
// after the first of them, when the journal is full, before anything
// reads the log or the rollups, and at Close. A crash before the fold
// loses nothing: Open folds the journal's settlements as it folds its
// holds, and a settlement already in the log is skipped.
//
// A bbolt commit costs two fdatasyncs and the page writes of every
// B+tree node it touches; folding a few hundred settlements at once costs
// that once for all of them, where settling each request in bbolt cost it
// every few requests.

// recordEntry marks a journal entry that is a settlement: the byte, then
// the record as JSON. A hold's entry is its JSON object, which starts
// with '{'.
const recordEntry = 'R'

const (
	// foldBatch is how many settlements wait before the folder writes
	// them at once.
	foldBatch = 512
	// foldDelay is how long the first waiting settlement waits at most.
	foldDelay = 100 * time.Millisecond
)

// pendingRecord is a settlement on disk in the journal, not yet in bbolt.
// It keeps its record by value: the queue's array, used again batch after
// batch, holds them, where a record of its own on the heap cost every
// settlement an allocation.
type pendingRecord struct {
	r    gateway.Record // the settlement's own copy
	data []byte         // r as JSON, what the log keeps
	loc  *time.Location
	// buf, if not nil, holds data (its journal entry): the fold gives it
	// back to entryBufs once data is in bbolt.
	buf *entryBuf
}

// entryBuf is the buffer a settlement's journal entry is encoded in.
type entryBuf struct{ b []byte }

// entryBufs keeps the buffers of settlements folded, for settlements to
// come: every request settles once, and its entry is a kilobyte or so.
var entryBufs = sync.Pool{New: func() any { return new(entryBuf) }}

// entryBufMax is the largest buffer entryBufs keeps: a record that
// carries a request or response body may be far larger than most.
const entryBufMax = 16 << 10

// putEntryBuf gives b back to entryBufs, unless it grew too large to keep.
func putEntryBuf(b *entryBuf) {
	if cap(b.b) <= entryBufMax {
		b.b = b.b[:0]
		entryBufs.Put(b)
	}
}

// pend queues a settlement whose journal entry is on disk. The journal's
// leader calls it (see journal.settled), so no fold that starts the
// journal over can miss it.
func (db *DB) pend(p *pendingRecord) {
	db.pendMu.Lock()
	db.pending = append(db.pending, *p)
	n := len(db.pending)
	db.pendMu.Unlock()
	if n == 1 || n >= foldBatch {
		select {
		case db.foldKick <- struct{}{}:
		default:
		}
	}
}

// claim marks id as being settled, and reports false if it already is
// (settled in the log, or in the journal and not yet folded): Settle is
// exactly once per ID.
func (db *DB) claim(id string) (bool, error) {
	db.pendMu.Lock()
	defer db.pendMu.Unlock()
	if db.settling[id] {
		return false, nil
	}
	// The log is read under pendMu: a fold takes its IDs out of settling
	// only once they are in the log, so an ID is always in one or the
	// other.
	inLog, err := db.inLog(id)
	if err != nil || inLog {
		return false, err
	}
	db.settling[id] = true
	return true, nil
}

// inLog reports whether id is in the log, reading the file only when id
// is not above logTop: request IDs sort by time (gateway.NewID), so a
// request being held or settled is nearly always newer than every record
// in the log, and neither Hold nor Settle reads the file for it.
func (db *DB) inLog(id string) (bool, error) {
	if top := db.logTop.Load(); top == nil || id > *top {
		return false, nil
	}
	var in bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		in = tx.Bucket(bucketRecordIDs).Get([]byte(id)) != nil
		return nil
	})
	return in, err
}

// raiseLogTop makes logTop at least id. It is called before id goes in
// the log, inside the transaction that puts it there; a transaction
// rolled back leaves logTop higher than it need be, which only costs a
// read.
func (db *DB) raiseLogTop(id string) {
	for {
		top := db.logTop.Load()
		if top != nil && id <= *top {
			return
		}
		if db.logTop.CompareAndSwap(top, &id) {
			return
		}
	}
}

// unclaim gives back a claim whose settlement never reached the disk.
func (db *DB) unclaim(id string) {
	db.pendMu.Lock()
	delete(db.settling, id)
	db.pendMu.Unlock()
}

// pendingSettle reports whether id is settled in the journal and not yet
// folded into the log. Never call it inside a transaction: claim reads
// the file while holding pendMu.
func (db *DB) pendingSettle(id string) bool {
	db.pendMu.Lock()
	defer db.pendMu.Unlock()
	return db.settling[id]
}

// fold writes the settlements waiting in the journal to bbolt in one
// transaction, and with holds, every hold open in memory too (what the
// journal needs before it starts over). It returns once they are on disk.
func (db *DB) fold(holds bool) error {
	db.foldMu.Lock()
	defer db.foldMu.Unlock()
	return db.foldLocked(holds)
}

// foldLocked is fold, foldMu held.
func (db *DB) foldLocked(holds bool) error {
	db.pendMu.Lock()
	batch := db.pending
	db.pending, db.spare = db.spare, nil
	db.pendMu.Unlock()

	var open []gateway.Hold
	var enc [][]byte
	if holds {
		db.mu.Lock()
		open = make([]gateway.Hold, 0, len(db.holds))
		for _, oh := range db.holds {
			open = append(open, oh.h)
		}
		db.mu.Unlock()
		enc = make([][]byte, len(open))
		for i, h := range open {
			data, err := encodeHold(h)
			if err != nil {
				return fmt.Errorf("fold hold %s: %w", h.ID, err)
			}
			enc[i] = data
		}
	}
	if len(batch) == 0 && len(open) == 0 {
		return nil
	}
	err := db.commits.do(func(tx *bolt.Tx) error {
		sb := db.newSettleBatch(tx, len(batch))
		// Holds first: a hold settled in this batch is then deleted.
		for i, h := range open {
			if err := sb.hold(h, enc[i]); err != nil {
				return err
			}
		}
		for i := range batch {
			p := &batch[i]
			if _, err := sb.settle(&p.r, p.data, p.loc); err != nil {
				return fmt.Errorf("fold settlement %s: %w", p.r.ID, err)
			}
		}
		// The rollups are written once, after the last settlement.
		if err := sb.finish(); err != nil {
			return fmt.Errorf("fold settlements' rollups: %w", err)
		}
		return nil
	})
	db.pendMu.Lock()
	defer db.pendMu.Unlock()
	if err != nil {
		// Put them back, first, for the next fold to try again.
		db.pending = append(batch, db.pending...)
		return err
	}
	for i := range batch {
		p := &batch[i]
		delete(db.settling, p.r.ID)
		// The transaction is over: bbolt no longer reads data.
		if p.buf != nil {
			putEntryBuf(p.buf)
		}
	}
	if cap(batch) <= 4*foldBatch {
		// The batch after next fills this one's array instead of growing
		// its own (the next is filling the previous one's).
		clear(batch)
		db.spare = batch[:0]
	}
	return nil
}

// flush folds the settlements waiting in the journal, so that what reads
// the log or the rollups next sees every settlement made so far.
func (db *DB) flush() error {
	// Under foldMu: a fold under way has taken its settlements out of
	// pending but may not have committed them yet.
	db.foldMu.Lock()
	defer db.foldMu.Unlock()
	db.pendMu.Lock()
	n := len(db.pending)
	db.pendMu.Unlock()
	if n == 0 {
		return nil
	}
	if err := db.foldLocked(false); err != nil {
		return fmt.Errorf("fold settlements: %w", err)
	}
	return nil
}

// view runs fn in a read transaction that sees every settlement made so
// far: those still waiting in the journal are folded first.
func (db *DB) view(fn func(*bolt.Tx) error) error {
	if err := db.flush(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

// stopFolder ends the folder and waits for it; what waits is folded by
// the next flush.
func (db *DB) stopFolder() {
	db.stopOnce.Do(func() { close(db.stopFold) })
	<-db.foldDone
}

// foldLoop folds waiting settlements foldDelay after the first arrives,
// or at once when foldBatch are waiting, until Close.
func (db *DB) foldLoop() {
	defer close(db.foldDone)
	t := time.NewTimer(foldDelay)
	t.Stop()
	for {
		select {
		case <-db.stopFold:
			return
		case <-db.foldKick:
		}
		db.pendMu.Lock()
		n := len(db.pending)
		db.pendMu.Unlock()
		if n < foldBatch {
			t.Reset(foldDelay)
			select {
			case <-db.stopFold:
				t.Stop()
				return
			case <-t.C:
			case <-db.foldKick:
				t.Stop()
			}
		}
		if err := db.fold(false); err != nil {
			// They stay in the journal, and in the queue for the next
			// fold; a reader's flush reports the error.
			select {
			case db.foldKick <- struct{}{}:
			default:
			}
			select {
			case <-db.stopFold:
				return
			case <-time.After(foldDelay):
			}
		}
	}
}

// journalLocation is the time zone of the rollups of settlements read
// back from the journal at Open: the one they were made in, since a
// change of zone folds every waiting settlement first.
func (db *DB) journalLocation(tx *bolt.Tx) (*time.Location, error) {
	if db.loc != nil {
		return db.loc, nil
	}
	s, err := readSettings(tx)
	if err != nil {
		return nil, err
	}
	return settingsLocation(s), nil
}
