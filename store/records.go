package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// recordKey orders the log by request time, then by the order of
// settlement: eight bytes of time, eight of sequence, big-endian. The sign
// bit of the time is flipped so that the bytes sort as the numbers do.
func recordKey(t time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, timeBits(t))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func timeBits(t time.Time) uint64 { return uint64(t.UnixNano()) ^ 1<<63 }

// LogQuery selects records from the log. Zero fields select everything.
type LogQuery struct {
	// Limit is the most records returned; 0 means 100.
	Limit int
	// Before is a record ID: only records older than it are returned, so
	// the last ID of one page is the cursor of the next.
	Before string
	// Provider, Token, Outcome and Status must match exactly; Model is an
	// exact name or a path.Match pattern, matched as budgets match models
	// (gateway.ModelCovers).
	Provider, Model, Token string
	Outcome                gateway.Outcome
	Status                 int
	// Reason keeps only refusals for that reason (gateway.ReasonLoop...),
	// Budget only refusals by that budget.
	Reason, Budget string
	// Prompt keeps only the calls of that saved prompt.
	Prompt string
	// Estimated keeps only records whose cost is an estimate.
	Estimated bool
	// Since drops records older than it.
	Since time.Time
}

// DefaultLogLimit is the page size of a LogQuery without a Limit.
const DefaultLogLimit = 100

// Records returns the records q selects, newest first. A Before that
// names no record is an error wrapping ErrNotFound.
func (db *DB) Records(q LogQuery) ([]gateway.Record, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	if q.Model != "" {
		if _, err := path.Match(q.Model, ""); err != nil {
			return nil, invalidf("model pattern %q is malformed", q.Model)
		}
	}
	var since []byte
	if !q.Since.IsZero() {
		since = binary.BigEndian.AppendUint64(nil, timeBits(q.Since))
	}
	out := []gateway.Record{}
	err := db.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		var k, v []byte
		if q.Before != "" {
			key := tx.Bucket(bucketRecordIDs).Get([]byte(q.Before))
			if key == nil {
				return fmt.Errorf("record %q: %w", q.Before, ErrNotFound)
			}
			c.Seek(key)
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			if since != nil && bytes.Compare(k[:8], since) < 0 {
				break
			}
			var r gateway.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode record: %w", err)
			}
			if q.matches(r) {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return out, nil
}

// RecordTimes returns the times of the records made at or after since,
// newest first. It reads only the log's keys, which lead with the time,
// so counting a busy hour's requests decodes none of them.
func (db *DB) RecordTimes(since time.Time) ([]time.Time, error) {
	limit := binary.BigEndian.AppendUint64(nil, timeBits(since))
	var out []time.Time
	err := db.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		for k, _ := c.Last(); k != nil && bytes.Compare(k[:8], limit) >= 0; k, _ = c.Prev() {
			out = append(out, time.Unix(0, int64(binary.BigEndian.Uint64(k)^1<<63)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read log times: %w", err)
	}
	return out, nil
}

func (q LogQuery) matches(r gateway.Record) bool {
	switch {
	case q.Provider != "" && r.Provider != q.Provider,
		q.Token != "" && r.Token != q.Token,
		q.Prompt != "" && r.Prompt != q.Prompt,
		q.Outcome != "" && r.Outcome != q.Outcome,
		q.Status != 0 && r.Status != q.Status,
		q.Reason != "" && r.Reason != q.Reason,
		q.Budget != "" && r.Budget != q.Budget,
		q.Estimated && !r.Estimated:
		return false
	case q.Model != "" && r.Model != q.Model:
		// As budgets match models: in any case, and a model's snapshots
		// with it ("gpt-4o" finds "gpt-4o-2024-11-20").
		return gateway.ModelCovers(q.Model, r.Provider, r.Model)
	}
	return true
}

// Record returns the record with that ID, or an error wrapping
// ErrNotFound.
func (db *DB) Record(id string) (gateway.Record, error) {
	var r gateway.Record
	err := db.view(func(tx *bolt.Tx) error {
		key := tx.Bucket(bucketRecordIDs).Get([]byte(id))
		if key == nil {
			return ErrNotFound
		}
		ok, err := getJSON(tx.Bucket(bucketRecords), key, &r)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return gateway.Record{}, fmt.Errorf("record %q: %w", id, err)
	}
	return r, nil
}

// PruneRecords deletes the log records made before t and returns how
// many. Rollups, and so Spend and budgets, keep counting them.
func (db *DB) PruneRecords(t time.Time) (int, error) {
	limit := binary.BigEndian.AppendUint64(nil, timeBits(t))
	if err := db.flush(); err != nil {
		return 0, fmt.Errorf("prune log: %w", err)
	}
	total := 0
	for {
		// Delete in slices so no one transaction grows without bound.
		n := 0
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			n = 0
			ids := tx.Bucket(bucketRecordIDs)
			c := tx.Bucket(bucketRecords).Cursor()
			for k, v := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0 && n < 5000; k, v = c.First() {
				var r struct{ ID string }
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("decode record: %w", err)
				}
				if err := ids.Delete([]byte(r.ID)); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune log: %w", err)
		}
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}

// Feed is a live feed of the records appended after Subscribe made it.
// It is safe for concurrent use.
type Feed struct {
	// C yields the records. Close closes it, and so does the store's.
	C <-chan gateway.Record

	ch      chan gateway.Record
	dropped atomic.Int64
	stop    func()
}

// Dropped returns how many records were dropped for the feed since the
// last call, because its reader had fallen subscribeBuffer behind.
func (f *Feed) Dropped() int64 { return f.dropped.Swap(0) }

// Close ends the feed and closes C.
func (f *Feed) Close() { f.stop() }

// subscribeBuffer is how many records a Subscribe feed holds for a reader
// that has fallen behind.
const subscribeBuffer = 256

// Subscribe returns a live feed of the records appended from now on. Close
// ends every feed.
//
// The feed never slows the ledger: when a reader falls subscribeBuffer
// records behind, further records are dropped for it, and counted (see
// Feed.Dropped), until it catches up. A reader that must see every record
// reads the log with Records.
func (db *DB) Subscribe() *Feed {
	ch := make(chan gateway.Record, subscribeBuffer)
	f := &Feed{C: ch, ch: ch, stop: func() {}}
	db.subMu.Lock()
	defer db.subMu.Unlock()
	if db.closed {
		close(ch)
		return f
	}
	db.subs[f] = struct{}{}
	f.stop = sync.OnceFunc(func() {
		db.subMu.Lock()
		defer db.subMu.Unlock()
		if _, ok := db.subs[f]; ok {
			delete(db.subs, f)
			close(ch)
		}
	})
	return f
}

// publish hands recs to every feed that has room.
func (db *DB) publish(recs ...gateway.Record) {
	for i := range recs {
		db.publishRecord(&recs[i])
	}
}

// publishRecord hands *r to every feed that has room.
func (db *DB) publishRecord(r *gateway.Record) {
	db.subMu.Lock()
	defer db.subMu.Unlock()
	for f := range db.subs {
		select {
		case f.ch <- *r:
		default:
			f.dropped.Add(1)
		}
	}
}
