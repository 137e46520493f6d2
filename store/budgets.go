package store

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// BudgetStatus is a budget and where it stands now.
type BudgetStatus struct {
	gateway.Budget
	// LimitNow is the limit in force: Limit, plus Raise while it lasts.
	LimitNow gateway.Money `json:"limit_now_usd"`
	// Spent is what settled requests spent in the current window.
	Spent gateway.Money `json:"spent_usd"`
	// Held is what requests in flight have reserved.
	Held gateway.Money `json:"held_usd"`
	// Remaining is LimitNow - Spent - Held, never below zero: the most the
	// next request may be held for.
	Remaining gateway.Money `json:"remaining_usd"`
	// Start and Resets bound the current window; both are zero for a
	// total budget.
	Start  time.Time `json:"start,omitzero"`
	Resets time.Time `json:"resets,omitzero"`
	// SoftNow is the soft threshold in force, in percent of the limit
	// (gateway.Budget.SoftPercent: Soft, or the default when it is 0).
	SoftNow int `json:"soft_now_pct"`
	// SoftReached is true once Spent reaches the soft threshold.
	SoftReached bool `json:"soft_reached"`
	// Rate is a rolling budget's spend per minute over the last
	// gateway.RateWindow; zero for a calendar budget.
	Rate gateway.Money `json:"rate_usd_per_min"`
	// Rolling is true for a rolling budget. Its Start and Resets are the
	// window now, which slides minute by minute; AgesOut is when the
	// oldest spend in it ages out, zero when there is none.
	Rolling bool      `json:"rolling,omitempty"`
	AgesOut time.Time `json:"ages_out,omitzero"`
}

func (db *DB) status(st *budgetState, now time.Time) BudgetStatus {
	limit := st.b.LimitAt(now)
	bs := BudgetStatus{
		Budget:      st.b,
		LimitNow:    limit,
		Spent:       st.settled,
		Held:        st.held,
		Remaining:   max(limit-st.settled-st.held, 0),
		Start:       st.start,
		Resets:      st.end,
		SoftNow:     st.b.SoftPercent(),
		SoftReached: st.settled >= st.b.SoftAt(now),
	}
	if st.rolling > 0 {
		bs.Rolling = true
		bs.Rate = gateway.Rate(st.minutes, now)
		for _, m := range st.minutes {
			if !m.Minute.Before(st.start) && m.Spent > 0 {
				bs.AgesOut = m.Minute.Add(st.rolling)
				break
			}
		}
	}
	return bs
}

// Budgets returns every budget and where it stands, by name.
func (db *DB) Budgets() ([]BudgetStatus, error) {
	now := db.now()
	db.mu.Lock()
	out := make([]BudgetStatus, 0, len(db.budgets))
	for _, st := range db.budgets {
		db.roll(st, now)
		out = append(out, db.status(st, now))
	}
	db.mu.Unlock()
	slices.SortFunc(out, func(a, b BudgetStatus) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// budgetStatus returns the budget with that ID or name (names match regardless
// of case), or an error wrapping ErrNotFound.
func (db *DB) budgetStatus(nameOrID string) (BudgetStatus, error) {
	now := db.now()
	db.mu.Lock()
	defer db.mu.Unlock()
	st := db.findBudget(nameOrID)
	if st == nil {
		return BudgetStatus{}, fmt.Errorf("budget %q: %w", nameOrID, ErrNotFound)
	}
	db.roll(st, now)
	return db.status(st, now), nil
}

// findBudget returns the budget with ID nameOrID, or else the one with
// that name, or nil. Guarded by db.mu.
func (db *DB) findBudget(nameOrID string) *budgetState {
	if st, ok := db.budgets[nameOrID]; ok {
		return st
	}
	for _, st := range db.budgets {
		if strings.EqualFold(st.b.Name, nameOrID) {
			return st
		}
	}
	return nil
}

// PutBudget creates b, or replaces the budget with b's ID, and returns it
// as stored: with an ID assigned if it had none, a creation time, and a
// soft threshold of gateway.DefaultSoft if it had none. Names are unique
// regardless of case (ErrExists). An invalid budget is an error wrapping
// both ErrInvalid and gateway.ErrInvalidBudget.
//
// The budget's spend in its current window is read from the rollups, and
// the holds open now count against it at once.
func (db *DB) PutBudget(b gateway.Budget) (gateway.Budget, error) {
	if b.Soft == 0 {
		b.Soft = gateway.DefaultSoft
	}
	if err := b.Validate(); err != nil {
		return gateway.Budget{}, &invalidError{err}
	}
	db.settleMu.Lock()
	defer db.settleMu.Unlock()
	// The spend is read from the rollups: every settlement in them.
	if err := db.flush(); err != nil {
		return gateway.Budget{}, fmt.Errorf("save budget %q: %w", b.Name, err)
	}
	now := db.now()

	db.mu.Lock()
	for _, st := range db.budgets {
		if st.b.ID != b.ID && strings.EqualFold(st.b.Name, b.Name) {
			db.mu.Unlock()
			return gateway.Budget{}, fmt.Errorf("budget %q: %w", b.Name, ErrExists)
		}
	}
	if old, ok := db.budgets[b.ID]; ok && b.Created.IsZero() {
		b.Created = old.b.Created
	}
	loc := db.loc
	db.mu.Unlock()

	if b.ID == "" {
		b.ID = newBudgetID()
	}
	if b.Created.IsZero() {
		b.Created = now
	}
	data, err := json.Marshal(b)
	if err != nil {
		return gateway.Budget{}, fmt.Errorf("save budget %q: %w", b.Name, err)
	}
	var st *budgetState
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketBudgets).Put([]byte(b.ID), data); err != nil {
			return err
		}
		st, err = newBudgetState(tx, b, now, loc)
		return err
	})
	if err != nil {
		return gateway.Budget{}, fmt.Errorf("save budget %q: %w", b.Name, err)
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	db.install(st, now)
	return b, nil
}

// install puts st in place of any budget with its ID, counts the open
// holds that apply to it, and marks as already sent the events its
// current spend would earn: events report spending, not configuration.
// Guarded by db.mu.
func (db *DB) install(st *budgetState, now time.Time) {
	id := st.b.ID
	for _, oh := range db.holds {
		oh.budgets = slices.DeleteFunc(oh.budgets, func(bid string) bool { return bid == id })
		if st.b.Applies(oh.h) {
			st.held += oh.h.Amount
			oh.budgets = append(oh.budgets, id)
		}
	}
	st.softFired = st.settled >= st.b.SoftAt(now)
	st.limitFired = st.settled >= st.b.LimitAt(now)
	db.budgets[id] = st
}

// DeleteBudget deletes the budget with that ID or name.
func (db *DB) DeleteBudget(nameOrID string) error {
	db.settleMu.Lock()
	defer db.settleMu.Unlock()
	db.mu.Lock()
	st := db.findBudget(nameOrID)
	db.mu.Unlock()
	if st == nil {
		return fmt.Errorf("budget %q: %w", nameOrID, ErrNotFound)
	}
	id := st.b.ID
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBudgets).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete budget %q: %w", st.b.Name, err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	delete(db.budgets, id)
	for _, oh := range db.holds {
		oh.budgets = slices.DeleteFunc(oh.budgets, func(bid string) bool { return bid == id })
	}
	return nil
}

// RaiseBudget raises the budget with that ID or name as
// gateway.Budget.Raised does, by by for d from now, and saves it. A raise
// Raised refuses is an error wrapping ErrInvalid, and nothing is written.
func (db *DB) RaiseBudget(nameOrID string, by gateway.Money, d time.Duration) (gateway.Budget, error) {
	db.settleMu.Lock()
	defer db.settleMu.Unlock()
	now := db.now()
	db.mu.Lock()
	st := db.findBudget(nameOrID)
	var b gateway.Budget
	if st != nil {
		b = st.b
	}
	db.mu.Unlock()
	if st == nil {
		return gateway.Budget{}, fmt.Errorf("budget %q: %w", nameOrID, ErrNotFound)
	}
	b, err := b.Raised(by, d, now)
	if err != nil {
		return gateway.Budget{}, &invalidError{fmt.Errorf("raise budget %q: %w", nameOrID, err)}
	}
	data, err := json.Marshal(b)
	if err != nil {
		return gateway.Budget{}, fmt.Errorf("raise budget %q: %w", b.Name, err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBudgets).Put([]byte(b.ID), data)
	})
	if err != nil {
		return gateway.Budget{}, fmt.Errorf("raise budget %q: %w", b.Name, err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	st.b = b
	st.rearm(now)
	return b, nil
}

// readBudgets reads every budget and its spend in its window of now.
func readBudgets(tx *bolt.Tx, now time.Time, loc *time.Location) ([]*budgetState, error) {
	var out []*budgetState
	err := tx.Bucket(bucketBudgets).ForEach(func(k, v []byte) error {
		var b gateway.Budget
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("decode budget %s: %w", k, err)
		}
		st, err := newBudgetState(tx, b, now, loc)
		if err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

// newBudgetState reads b's spend in its window of now: from the daily
// rollups for a calendar budget, from spend by minute for a rolling one.
func newBudgetState(tx *bolt.Tx, b gateway.Budget, now time.Time, loc *time.Location) (*budgetState, error) {
	start, end := b.Window(now, loc)
	st := &budgetState{b: b, start: start, end: end}
	if d, ok := b.Period.Rolling(); ok {
		st.rolling = d
		minutes, err := minuteSpend(tx, b, st.keepFrom(now))
		if err != nil {
			return nil, err
		}
		st.minutes = minutes
		for _, m := range minutes {
			if !m.Minute.Before(start) {
				st.settled += m.Spent
			}
		}
		return st, nil
	}
	settled, err := windowSpend(tx, b, start, end, loc)
	st.settled = settled
	return st, err
}

// loadBudgets reads the budgets at Open, before the DB is shared.
func (db *DB) loadBudgets(tx *bolt.Tx) error {
	now := db.now()
	states, err := readBudgets(tx, now, db.loc)
	if err != nil {
		return err
	}
	for _, st := range states {
		db.install(st, now)
	}
	return nil
}

// reloadBudgets recomputes every budget's window and spend in loc, the new
// time zone. The caller holds settleMu exclusively, so the spend read from
// the file is all there is.
func (db *DB) reloadBudgets(loc *time.Location) error {
	now := db.now()
	var states []*budgetState
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		states, err = readBudgets(tx, now, loc)
		return err
	})
	if err != nil {
		return fmt.Errorf("reload budgets: %w", err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.loc = loc
	db.budgets = make(map[string]*budgetState, len(states))
	for _, oh := range db.holds {
		oh.budgets = oh.budgets[:0]
	}
	for _, st := range states {
		db.install(st, now)
	}
	return nil
}

func newBudgetID() string { return "bud_" + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}
