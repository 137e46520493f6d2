package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// bucketDeferred holds the deferrals: hold ID → JSON deferral.
var bucketDeferred = []byte("deferred")

// deferral is a hold kept open after its request, waiting for work the
// provider finishes later (a background response).
type deferral struct {
	Key    string         `json:"key"` // "openai/resp_..."
	Record gateway.Record `json:"record"`
	Until  time.Time      `json:"until"`
}

// Defer keeps the open hold r.ID until the work named key is reported
// finished (Settle of r.ID) or until until has passed (Expire), and makes
// that durable before it returns. The hold stays reserved against its
// budgets throughout, across restarts: Recover does not charge a deferred
// hold as crashed until its time has passed.
func (db *DB) Defer(ctx context.Context, key string, r gateway.Record, until time.Time) error {
	if r.ID == "" || key == "" {
		return invalidf("defer: no ID or key")
	}
	db.mu.Lock()
	oh, ok := db.holds[r.ID]
	var h gateway.Hold
	if ok {
		h = oh.h
	}
	db.mu.Unlock()
	if !ok {
		return fmt.Errorf("defer hold %s: %w", r.ID, ErrNotFound)
	}
	d := deferral{Key: key, Record: r, Until: until}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("defer hold %s: %w", r.ID, err)
	}
	hold, err := encodeHold(h)
	if err != nil {
		return fmt.Errorf("defer hold %s: %w", r.ID, err)
	}
	id := []byte(r.ID)
	if db.pendingSettle(r.ID) {
		return fmt.Errorf("defer hold %s: already settled: %w", r.ID, ErrExists)
	}
	err = db.commits.do(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRecordIDs).Get(id) != nil {
			return fmt.Errorf("already settled: %w", ErrExists)
		}
		// The hold may be only in the journal, which starts over at the
		// next open: put it in bbolt beside its deferral.
		if err := foldHold(tx, h, hold); err != nil {
			return err
		}
		return tx.Bucket(bucketDeferred).Put(id, data)
	})
	if err != nil {
		return fmt.Errorf("defer hold %s: %w", r.ID, err)
	}
	db.mu.Lock()
	if db.deferred == nil {
		db.deferred = make(map[string]deferral)
	}
	db.deferred[r.ID] = d
	db.mu.Unlock()
	return nil
}

// Deferred returns the record waiting on key.
func (db *DB) Deferred(ctx context.Context, key string) (gateway.Record, bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, d := range db.deferred {
		if d.Key == key {
			return d.Record, true, nil
		}
	}
	return gateway.Record{}, false, nil
}

// Deferrals returns the number of deferred holds.
func (db *DB) Deferrals() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.deferred)
}

// Expire settles every deferral whose time has passed by now at its held
// amount, with outcome "expired", marked estimated.
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	db.mu.Lock()
	var due []deferral
	for _, d := range db.deferred {
		if !now.Before(d.Until) {
			due = append(due, d)
		}
	}
	db.mu.Unlock()
	slices.SortFunc(due, func(a, b deferral) int { return a.Until.Compare(b.Until) })
	n := 0
	for _, d := range due {
		r := expiredRecord(d)
		if err := db.Settle(ctx, r); err != nil {
			return n, fmt.Errorf("expire deferred %s: %w", r.ID, err)
		}
		n++
	}
	return n, nil
}

// expiredRecord is the charge for a deferral never read back in time.
func expiredRecord(d deferral) gateway.Record {
	r := d.Record
	r.Outcome = gateway.OutcomeExpired
	r.Cost = r.Held
	r.Usage = gateway.Usage{}
	r.Estimated = true
	r.Error = "the background response was not read back by " + d.Until.UTC().Format(time.RFC3339) +
		" (or Sluice could not tell it finished); charged the amount held for it"
	return r
}

// forgetDeferred drops deferrals whose holds are settled. Guarded by
// db.mu.
func (db *DB) forgetDeferred(id string) {
	delete(db.deferred, id)
}

// loadDeferred reads the deferrals in memory; their holds are not
// orphans: Recover leaves them to Expire.
func (db *DB) loadDeferred(tx *bolt.Tx) error {
	db.deferred = make(map[string]deferral)
	return tx.Bucket(bucketDeferred).ForEach(func(k, v []byte) error {
		var d deferral
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode deferral %s: %w", k, err)
		}
		db.deferred[string(k)] = d
		delete(db.orphans, string(k))
		return nil
	})
}
