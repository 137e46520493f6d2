package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// budgetState is what admission knows of one budget: its spend in the
// current window and the holds open against it. Guarded by DB.mu.
type budgetState struct {
	b          gateway.Budget
	start, end time.Time     // current window; both zero for a total budget
	settled    gateway.Money // settled spend with record times in the window
	held       gateway.Money // open holds reserved against this budget
	// later is settled spend of windows after the current one, by window
	// start (Unix nanoseconds): records whose time passed the window's end
	// before anything asked for the new window. It becomes settled when
	// the window rolls over.
	later map[int64]gateway.Money
	// rolling is the length of a rolling budget's window, 0 for a
	// calendar one. minutes is its settled spend by minute, oldest first,
	// kept for the window or gateway.RateWindow, whichever is longer.
	rolling time.Duration
	minutes []gateway.MinuteSpend

	softFired  bool // a soft event was sent in this window
	limitFired bool // a limit event was sent in this window
}

// standing is where st stands, for admission. Guarded by DB.mu.
func (st *budgetState) standing() gateway.Standing {
	return gateway.Standing{Settled: st.settled, Held: st.held, End: st.end, Minutes: st.minutes}
}

// keepFrom is the oldest minute a rolling budget keeps at now.
func (st *budgetState) keepFrom(now time.Time) time.Time {
	return now.Truncate(time.Minute).Add(time.Minute - max(st.rolling, gateway.RateWindow))
}

// slide moves a rolling budget's window to now: spend of minutes before
// it ages out, and the events re-arm once spend is below them again.
func (st *budgetState) slide(now time.Time) {
	start, end := st.b.Window(now, nil)
	if !end.After(st.end) {
		return
	}
	st.start, st.end = start, end
	keep := st.keepFrom(now)
	i := 0
	for i < len(st.minutes) && st.minutes[i].Minute.Before(keep) {
		i++
	}
	st.minutes = st.minutes[i:]
	st.settled = 0
	for _, m := range st.minutes {
		if !m.Minute.Before(start) {
			st.settled += m.Spent
		}
	}
	st.rearm(now)
}

// settledAt is when r's spend counts for a rolling budget: when the
// request ended, so that a long stream's cost does not age out as it
// settles.
func settledAt(r *gateway.Record) time.Time {
	return r.Time.Add(time.Duration(r.LatencyMS) * time.Millisecond)
}

// addMinute counts cost, settled at t, in a rolling budget's minutes.
func (st *budgetState) addMinute(t time.Time, cost gateway.Money) {
	m := t.Truncate(time.Minute)
	if m.Before(st.end.Add(-max(st.rolling, gateway.RateWindow))) {
		return // aged out already
	}
	if !m.Before(st.start) {
		st.settled += cost
	}
	i := len(st.minutes)
	for i > 0 && st.minutes[i-1].Minute.After(m) {
		i--
	}
	if i > 0 && st.minutes[i-1].Minute.Equal(m) {
		st.minutes[i-1].Spent += cost
		return
	}
	st.minutes = slices.Insert(st.minutes, i, gateway.MinuteSpend{Minute: m, Spent: cost})
}

// openHold is a hold reserved in memory, and the budgets it was reserved
// against. Guarded by DB.mu.
type openHold struct {
	h       gateway.Hold
	budgets []string  // budget IDs
	room    [3]string // budgets' array, when there are three or fewer
}

// BudgetEvent says a budget crossed its soft threshold or hit its limit.
// Each kind is sent at most once per budget per window; a raise, or a
// limit changed with PutBudget, sets them off again.
type BudgetEvent struct {
	Kind   string        `json:"kind"`   // BudgetSoft or BudgetLimit
	Budget string        `json:"budget"` // its name
	Scope  string        `json:"scope"`
	Spent  gateway.Money `json:"spent_usd"` // settled in the window
	Limit  gateway.Money `json:"limit_usd"` // in force, raise included
	// Resets is when the window ends: zero for a total budget.
	Resets time.Time `json:"resets,omitzero"`
	Time   time.Time `json:"time"` // when it happened, by the store's clock
	// Rolling is a rolling budget's window; zero for a calendar one.
	Rolling time.Duration `json:"rolling,omitempty"`
}

// Kinds of BudgetEvent.
const (
	// BudgetSoft: settled spend reached the soft threshold.
	BudgetSoft = "soft"
	// BudgetLimit: settled spend reached the limit, or the budget refused
	// a request.
	BudgetLimit = "limit"
)

// roll moves st to the window holding now, if now is past its end. A clock
// that went backwards keeps the later window until it catches up.
func (db *DB) roll(st *budgetState, now time.Time) {
	if st.end.IsZero() || now.Before(st.end) {
		return
	}
	if st.rolling > 0 {
		st.slide(now)
		return
	}
	start, end := st.b.Window(now, db.loc)
	if !start.After(st.start) {
		return
	}
	st.start, st.end = start, end
	st.settled = st.later[start.UnixNano()]
	for k := range st.later {
		if k <= start.UnixNano() {
			delete(st.later, k)
		}
	}
	st.softFired, st.limitFired = false, false
}

// addSettled counts cost, of a record made at t, in st's window of t.
// Spend of a window before the current one no longer matters.
func (db *DB) addSettled(st *budgetState, t time.Time, cost gateway.Money) {
	if st.rolling > 0 {
		st.addMinute(t, cost)
		return
	}
	if st.end.IsZero() || (!t.Before(st.start) && t.Before(st.end)) {
		st.settled += cost
		return
	}
	if start, _ := st.b.Window(t, db.loc); start.After(st.start) {
		if st.later == nil {
			st.later = make(map[int64]gateway.Money)
		}
		st.later[start.UnixNano()] += cost
	}
}

// events returns the events st has newly earned at now, and re-arms those
// a raise has taken back.
func (st *budgetState) events(now time.Time) []BudgetEvent {
	limit, soft := st.b.LimitAt(now), st.b.SoftAt(now)
	var evs []BudgetEvent
	if st.settled < soft {
		st.softFired = false
	} else if !st.softFired {
		st.softFired = true
		evs = append(evs, st.event(BudgetSoft, now))
	}
	// The limit event, which a refusal may have fired too, is re-armed by
	// a new window or a new limit (see rearm), not by spend alone.
	if st.settled >= limit && !st.limitFired {
		st.limitFired = true
		evs = append(evs, st.event(BudgetLimit, now))
	}
	return evs
}

// rearm lets both events fire again if spend is below their thresholds
// at now, after the limit changed.
func (st *budgetState) rearm(now time.Time) {
	if st.settled < st.b.SoftAt(now) {
		st.softFired = false
	}
	if st.settled+st.held < st.b.LimitAt(now) {
		st.limitFired = false
	}
}

func (st *budgetState) event(kind string, now time.Time) BudgetEvent {
	return BudgetEvent{
		Kind:    kind,
		Budget:  st.b.Name,
		Scope:   st.b.Scope(),
		Spent:   st.settled,
		Limit:   st.b.LimitAt(now),
		Resets:  st.end,
		Time:    now,
		Rolling: st.rolling,
	}
}

func (db *DB) fire(evs []BudgetEvent) {
	if db.onEvent == nil {
		return
	}
	for _, ev := range evs {
		db.onEvent(ev)
	}
}

// Hold reserves h.Amount against every budget that applies to h and makes
// the hold durable before it returns.
//
// Admission is atomic: under one lock Hold checks that each applicable
// budget's limit at now, less its settled spend and open holds, covers
// h.Amount, and reserves it in memory; then it appends the hold to the
// journal and waits for the write to reach the disk. If the write fails the reservation is
// undone and the error returned. A hold of zero is always admitted.
//
// When a budget cannot cover the hold, Hold returns an error wrapping a
// *gateway.Refusal naming the refusing budget with the least remaining.
// ctx is consulted only before anything is reserved: once the write has
// started, Hold waits for it, so that a hold on disk is never unknown to
// its caller.
func (db *DB) Hold(ctx context.Context, h gateway.Hold) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hold %s: %w", h.ID, err)
	}
	if h.ID == "" {
		return invalidf("hold: no ID")
	}
	if h.Amount < 0 {
		return invalidf("hold %s: negative amount %s", h.ID, h.Amount)
	}
	now := db.now()
	if h.Time.IsZero() {
		h.Time = now
	}
	// The entry is encoded in a buffer an earlier hold gave back: the
	// journal is done with it once append returns.
	buf := holdBufs.Get().(*entryBuf)
	data, err := appendHold(buf.b[:0], h)
	defer func() {
		if cap(data) <= entryBufMax {
			buf.b = data[:0]
			holdBufs.Put(buf)
		}
	}()
	if err != nil {
		return fmt.Errorf("hold %s: %w", h.ID, err)
	}

	ref, evs, err := db.reserve(h, now)
	db.fire(evs)
	if err != nil {
		return err
	}
	if ref != nil {
		return fmt.Errorf("hold %s: %w", h.ID, ref)
	}

	// settling is read before logTop: a fold raises logTop before its IDs
	// leave settling, so an ID settled meanwhile is seen in one or the
	// other.
	settled := db.pendingSettle(h.ID)
	if !settled {
		settled, err = db.inLog(h.ID)
	}
	if err == nil && settled {
		err = fmt.Errorf("already settled: %w", ErrExists)
	}
	if err == nil {
		err = db.journal.append(data)
	}
	if err != nil {
		db.unreserve(h.ID)
		return fmt.Errorf("hold %s: %w", h.ID, err)
	}
	return nil
}

// holdBufs keeps the buffers holds are encoded in, for holds to come.
var holdBufs = sync.Pool{New: func() any { return new(entryBuf) }}

// foldHold puts h, encoded as data, in the holds bucket, unless its
// request is already in the log or bbolt holds it at an amount as high:
// a journal entry read again, or late, changes nothing.
func foldHold(tx *bolt.Tx, h gateway.Hold, data []byte) error {
	id := []byte(h.ID)
	if tx.Bucket(bucketRecordIDs).Get(id) != nil {
		return nil
	}
	holds := tx.Bucket(bucketHolds)
	if v := holds.Get(id); v != nil {
		var old gateway.Hold
		if json.Unmarshal(v, &old) == nil && old.Amount >= h.Amount {
			return nil
		}
	}
	return holds.Put(id, data)
}

// reserve admits h in memory, or says which budget refuses it.
func (db *DB) reserve(h gateway.Hold, now time.Time) (*gateway.Refusal, []BudgetEvent, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.holds[h.ID]; ok {
		return nil, nil, fmt.Errorf("hold %s: already open: %w", h.ID, ErrExists)
	}
	var (
		// Room for the budgets that apply to most holds, on the stack.
		room    [4]*budgetState
		applies = room[:0]
		evs     []BudgetEvent
	)
	adm := gateway.Admission{Now: now, Want: h.Amount}
	for _, st := range db.budgets {
		if !st.b.Applies(h) {
			continue
		}
		db.roll(st, now)
		applies = append(applies, st)
		if adm.Refuses(st.b, st.standing()) && !st.limitFired {
			st.limitFired = true
			evs = append(evs, st.event(BudgetLimit, now))
		}
	}
	if refusal := adm.Refusal(); refusal != nil {
		return refusal, evs, nil
	}
	// The budget IDs go in the hold's own room when they fit: one
	// allocation, not two.
	oh := &openHold{h: h}
	if len(applies) <= len(oh.room) {
		oh.budgets = oh.room[:len(applies):len(applies)]
	} else {
		oh.budgets = make([]string, len(applies))
	}
	for i, st := range applies {
		st.held += h.Amount
		oh.budgets[i] = st.b.ID
	}
	db.holds[h.ID] = oh
	return nil, evs, nil
}

// unreserve takes back a reservation whose hold never reached the disk.
func (db *DB) unreserve(id string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	oh, ok := db.holds[id]
	if !ok {
		return
	}
	delete(db.holds, id)
	for _, bid := range oh.budgets {
		if st, ok := db.budgets[bid]; ok {
			st.held -= oh.h.Amount
		}
	}
}

// Settle replaces the hold named by r.ID, if there is one, with r: in one
// transaction it deletes the hold, appends r to the log and adds r to the
// day's rollup; then, in memory, it moves the money from held to settled.
//
// Settle is exactly once per ID: settling an ID that is already in the
// log does nothing and returns nil. A record with no hold (a refusal, a
// request that failed authentication) is just appended. Records whose
// outcome is refused or blocked cost nothing, whatever r.Cost says, and
// never count against a budget. A zero r.Time means now; a zero r.Held is
// filled in from the hold.
//
// ctx is not consulted: a settlement must not be lost because the client
// that made the request went away. If the write fails, the hold stays
// open, on disk and in memory, and the error is returned.
func (db *DB) Settle(ctx context.Context, r gateway.Record) error {
	if r.ID == "" {
		return invalidf("settle: no ID")
	}
	if r.Time.IsZero() {
		r.Time = db.now()
	}
	if !r.Outcome.Forwarded() {
		r.Cost = 0
	}

	applied, evs, err := db.settle(&r)
	if err != nil {
		return fmt.Errorf("settle %s: %w", r.ID, err)
	}
	if applied {
		db.publishRecord(&r)
		db.fire(evs)
	}
	return nil
}

// settle writes *r and applies it in memory, holding settleMu shared from
// the write until memory agrees with the file. It fills in r.Held from an
// open hold and reports false if the ID was settled already.
//
// r is written as an entry of the hold journal, which shares its
// fdatasync with every hold and settlement written meanwhile, and folded
// into the log and the rollups later (see fold.go); what reads them folds
// first. The ID is claimed before the write, so that a second settlement
// of it, concurrent or later, does nothing.
//
// The record goes in and out by pointer and slice, never as a copy on the
// stack: a request's handler may settle its own record, and its stack
// must stay within 16 KB (gateway's TestHandlerStack).
func (db *DB) settle(r *gateway.Record) (applied bool, evs []BudgetEvent, err error) {
	db.settleMu.RLock()
	defer db.settleMu.RUnlock()
	loc := db.location()
	if ok, err := db.claim(r.ID); err != nil || !ok {
		return false, nil, err
	}
	if r.Held == 0 {
		// The hold may be only in the journal: take its amount from memory.
		db.mu.Lock()
		if oh, open := db.holds[r.ID]; open {
			r.Held = oh.h.Amount
		}
		db.mu.Unlock()
	}
	// The entry is encoded in a buffer an earlier settlement's fold gave
	// back, and its record copied into the journal's op, not allocated.
	buf := entryBufs.Get().(*entryBuf)
	entry, data, err := appendRecordEntry(buf.b[:0], r, &db.prices)
	if err != nil {
		db.unclaim(r.ID)
		putEntryBuf(buf)
		return false, nil, err
	}
	buf.b = entry
	err = db.journal.appendLazy(entry, r, data, loc, buf)
	if err != nil {
		// The journal is done with the entry: the write failed.
		db.unclaim(r.ID)
		putEntryBuf(buf)
		return false, nil, err
	}
	return true, db.applyRecord(r), nil
}

// settleBatch writes settlements (and, before them, holds) in one
// transaction: a fold, the journal read back at Open, Recover. It looks
// up the buckets once, and with cursors it keeps, so that a lookup
// allocates nothing; it asks the holds and deferrals buckets whether they
// are empty once, rather than looking up each settlement's hold in them
// (a hold nearly always lived in the journal only); it raises logTop once,
// at finish, to the greatest ID it wrote.
//
// A batch lives for one run of a write function: a function the
// committer runs again makes a new one.
type settleBatch struct {
	db *DB
	tx *bolt.Tx

	records, ids       *bolt.Bucket
	idc, holdc, deferc *bolt.Cursor
	// holdsState and deferredState say what the batch knows of whether
	// those buckets are empty.
	holdsState, deferredState bucketState

	top  string // logTop, and the greatest ID written since
	keys []byte // room for record keys, which bbolt keeps until commit
	id   []byte // the ID being settled: bbolt copies a key it puts
	sums rollupSums
}

type bucketState uint8

const (
	bucketUnknown  bucketState = iota // not looked at yet
	bucketEmpty                       // empty, and the batch put nothing in it
	bucketNotEmpty                    // has keys, or may have
)

// newSettleBatch starts a batch of about n settlements in tx.
func (db *DB) newSettleBatch(tx *bolt.Tx, n int) *settleBatch {
	b := &settleBatch{
		db:      db,
		tx:      tx,
		records: tx.Bucket(bucketRecords),
		ids:     tx.Bucket(bucketRecordIDs),
		idc:     tx.Bucket(bucketRecordIDs).Cursor(),
		holdc:   tx.Bucket(bucketHolds).Cursor(),
		deferc:  tx.Bucket(bucketDeferred).Cursor(),
		keys:    make([]byte, 0, 16*max(n, 1)),
	}
	if top := db.logTop.Load(); top != nil {
		b.top = *top
	}
	// Records and their IDs are keyed by time (a request ID sorts by
	// time too), so nearly every one goes at the end of its bucket: fill
	// the pages a fold writes there, rather than split them half empty.
	b.records.FillPercent, b.ids.FillPercent = appendFill, appendFill
	return b
}

// hold puts h, encoded as data, in the holds bucket, as foldHold does.
func (b *settleBatch) hold(h gateway.Hold, data []byte) error {
	b.holdsState = bucketNotEmpty
	return foldHold(b.tx, h, data)
}

// has reports whether c's bucket holds key, looking only if state says
// the bucket may have keys; it returns the key's value, and leaves c at
// the key.
func has(c *bolt.Cursor, state *bucketState, key []byte) []byte {
	if *state == bucketUnknown {
		*state = bucketNotEmpty
		if k, _ := c.First(); k == nil {
			*state = bucketEmpty
		}
	}
	if *state == bucketEmpty {
		return nil
	}
	if k, v := c.Seek(key); bytes.Equal(k, key) {
		return v
	}
	return nil
}

// settle writes *r unless its ID is already in the log, and reports
// whether it did. Where r.Held is 0 and a hold of r's is in bbolt, the
// record written carries the hold's amount; *r itself, which may be
// published already, is not changed. data is r as
// JSON, or nil to encode it here; loc is the time zone of the rollups. It
// is idempotent, as a batched write must be.
func (b *settleBatch) settle(r *gateway.Record, data []byte, loc *time.Location) (bool, error) {
	b.id = append(b.id[:0], r.ID...)
	id := b.id
	// An ID above logTop is not in the log (see inLog): a fold's records
	// nearly all are, and need not be looked up.
	if b.top != "" && r.ID <= b.top {
		if k, _ := b.idc.Seek(id); bytes.Equal(k, id) {
			return false, nil
		}
	}
	if v := has(b.holdc, &b.holdsState, id); v != nil {
		if r.Held == 0 {
			var h gateway.Hold
			if err := json.Unmarshal(v, &h); err != nil {
				return false, fmt.Errorf("decode hold: %w", err)
			}
			// A copy: *r may have been published as settled.
			held := new(gateway.Record)
			*held = *r
			held.Held = h.Amount
			r, data = held, nil
		}
		// The cursor is at the hold; Bucket.Delete would keep id.
		if err := b.holdc.Delete(); err != nil {
			return false, err
		}
	}
	if has(b.deferc, &b.deferredState, id) != nil {
		if err := b.deferc.Delete(); err != nil {
			return false, err
		}
	}
	seq, err := b.records.NextSequence()
	if err != nil {
		return false, err
	}
	if data == nil {
		if _, data, err = encodeRecordEntry(r, &b.db.prices); err != nil {
			return false, err
		}
	}
	// bbolt keeps the key, as the ID's value, until the commit: it is cut
	// from room that lives as long.
	if cap(b.keys)-len(b.keys) < 16 {
		b.keys = make([]byte, 0, 16*64)
	}
	n := len(b.keys)
	b.keys = binary.BigEndian.AppendUint64(b.keys, timeBits(r.Time))
	b.keys = binary.BigEndian.AppendUint64(b.keys, seq)
	key := b.keys[n : n+16 : n+16]
	if err := b.records.Put(key, data); err != nil {
		return false, err
	}
	if err := b.ids.Put(id, key); err != nil {
		return false, err
	}
	if r.ID > b.top {
		b.top = r.ID
	}
	b.sums.add(r, loc)
	return true, nil
}

// finish writes the rollups of the batch's settlements and raises logTop
// to its greatest ID, before the transaction commits (see raiseLogTop).
func (b *settleBatch) finish() error {
	if b.top != "" {
		b.db.raiseLogTop(b.top)
	}
	return b.sums.write(b.tx)
}

// appendFill is the FillPercent of the buckets settlements are
// appended to.
const appendFill = 1.0

// applySettled moves settled records' money from held to settled in
// memory and returns the events that earns.
func (db *DB) applySettled(recs []gateway.Record) []BudgetEvent {
	now := db.now()
	db.mu.Lock()
	defer db.mu.Unlock()
	var evs []BudgetEvent
	for i := range recs {
		evs = db.applyLocked(&recs[i], now, evs) // not a copy of the record on the stack
	}
	return evs
}

// applyRecord is applySettled of one record.
func (db *DB) applyRecord(r *gateway.Record) []BudgetEvent {
	now := db.now()
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.applyLocked(r, now, nil)
}

// applyLocked applies r, db.mu held, and appends the events it earns to
// evs.
func (db *DB) applyLocked(r *gateway.Record, now time.Time, evs []BudgetEvent) []BudgetEvent {
	db.forgetDeferred(r.ID)
	if oh, ok := db.holds[r.ID]; ok {
		delete(db.holds, r.ID)
		delete(db.orphans, r.ID)
		for _, bid := range oh.budgets {
			if st, ok := db.budgets[bid]; ok {
				st.held -= oh.h.Amount
			}
		}
	}
	if r.Cost == 0 || !r.Outcome.Forwarded() {
		return evs
	}
	h := gateway.Hold{Provider: r.Provider, Model: r.Model, Token: r.Token, Prompt: r.Prompt}
	for _, st := range db.budgets {
		if !st.b.Applies(h) {
			continue
		}
		db.roll(st, now)
		t := r.Time
		if st.rolling > 0 {
			t = settledAt(r)
		}
		db.addSettled(st, t, r.Cost)
		evs = append(evs, st.events(now)...)
	}
	return evs
}

// Recover turns every hold that was open when the file was opened (left
// by a process that crashed) into a record charged at its held amount,
// with outcome "crashed" and marked estimated, and adds it to the
// rollups; a deferred hold (see Defer) stays open until its time has
// passed, and is then charged as expired. It returns how many it charged;
// a second call charges none.
// Call it once at start-up, before serving requests.
func (db *DB) Recover(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("recover holds: %w", err)
	}
	recs, evs, err := db.chargeOrphans()
	if err != nil {
		return 0, fmt.Errorf("recover holds: %w", err)
	}
	db.publish(recs...)
	db.fire(evs)
	// Deferred holds (background responses) are not orphans; those whose
	// time passed while Sluice was stopped are charged now.
	expired, err := db.Expire(ctx, db.now())
	if err != nil {
		return len(recs), fmt.Errorf("recover holds: %w", err)
	}
	return len(recs) + expired, nil
}

// chargeOrphans charges the holds a crash left open and applies the
// charges in memory, holding settleMu shared throughout.
func (db *DB) chargeOrphans() ([]gateway.Record, []BudgetEvent, error) {
	db.settleMu.RLock()
	defer db.settleMu.RUnlock()

	db.mu.Lock()
	loc := db.loc
	ids := make([]string, 0, len(db.orphans))
	for id := range db.orphans {
		ids = append(ids, id)
	}
	db.mu.Unlock()
	if len(ids) == 0 {
		return nil, nil, nil
	}
	slices.Sort(ids)
	// Claimed, an orphan cannot be settled meanwhile by anything else; one
	// already settled is skipped.
	claimed := make([]string, 0, len(ids))
	for _, id := range ids {
		ok, err := db.claim(id)
		if err != nil {
			for _, c := range claimed {
				db.unclaim(c)
			}
			return nil, nil, err
		}
		if ok {
			claimed = append(claimed, id)
		}
	}
	defer func() {
		for _, id := range claimed {
			db.unclaim(id)
		}
	}()

	var recs []gateway.Record
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		recs = recs[:0]
		batch := db.newSettleBatch(tx, len(claimed))
		holds := tx.Bucket(bucketHolds)
		for _, id := range claimed {
			var h gateway.Hold
			ok, err := getJSON(holds, []byte(id), &h)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			rec := crashedRecord(h)
			applied, err := batch.settle(&rec, nil, loc)
			if err != nil {
				return err
			}
			if applied {
				recs = append(recs, rec)
			}
		}
		return batch.finish()
	})
	if err != nil {
		return nil, nil, err
	}
	evs := db.applySettled(recs)
	db.mu.Lock()
	for _, id := range ids {
		delete(db.orphans, id)
	}
	db.mu.Unlock()
	return recs, evs, nil
}

// crashedRecord is the charge for a hold a crash left open: what was held,
// since what the request really cost is unknown.
func crashedRecord(h gateway.Hold) gateway.Record {
	return gateway.Record{
		ID:        h.ID,
		Time:      h.Time,
		Token:     h.Token,
		Provider:  h.Provider,
		Model:     h.Model,
		Route:     h.Route,
		Prompt:    h.Prompt,
		Stream:    h.Stream,
		Outcome:   gateway.OutcomeCrashed,
		Cost:      h.Amount,
		Priced:    !h.Estimated,
		Estimated: true,
		Held:      h.Amount,
		Error:     "sluice stopped before the request finished; charged the amount held for it",
	}
}

// loadHolds puts the holds on disk in memory, reserved against the budgets
// that apply, and remembers them for Recover.
func (db *DB) loadHolds(tx *bolt.Tx) error {
	return tx.Bucket(bucketHolds).ForEach(func(k, v []byte) error {
		var h gateway.Hold
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("decode hold %s: %w", k, err)
		}
		oh := &openHold{h: h}
		for _, st := range db.budgets {
			if st.b.Applies(h) {
				st.held += h.Amount
				oh.budgets = append(oh.budgets, st.b.ID)
			}
		}
		db.holds[h.ID] = oh
		db.orphans[h.ID] = true
		return nil
	})
}

// OpenHolds returns the number of holds open now, those a crash left
// included until Recover charges them.
func (db *DB) OpenHolds() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.holds)
}

// Budgeted reports whether any budget applies to h; it satisfies
// gateway.Budgeter, which decides whether an unpriced model may pass.
func (db *DB) Budgeted(h gateway.Hold) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, st := range db.budgets {
		if st.b.Applies(h) {
			return true
		}
	}
	return false
}

// Extend raises the open hold id to amount, when every budget it was
// reserved against can cover the difference, and makes the new amount
// durable before it returns. It returns an error wrapping a
// *gateway.Refusal when a budget cannot; the hold then stays as it was.
// A stream whose cost outgrows its hold asks for this before it goes on.
func (db *DB) Extend(ctx context.Context, id string, amount gateway.Money) error {
	now := db.now()
	db.mu.Lock()
	oh, ok := db.holds[id]
	if !ok {
		db.mu.Unlock()
		return fmt.Errorf("extend hold %s: %w", id, ErrNotFound)
	}
	more := amount - oh.h.Amount
	if more <= 0 {
		db.mu.Unlock()
		return nil
	}
	var evs []BudgetEvent
	adm := gateway.Admission{Now: now, Want: more}
	for _, bid := range oh.budgets {
		st, ok := db.budgets[bid]
		if !ok {
			continue
		}
		db.roll(st, now)
		if adm.Refuses(st.b, st.standing()) && !st.limitFired {
			st.limitFired = true
			evs = append(evs, st.event(BudgetLimit, now))
		}
	}
	if refusal := adm.Refusal(); refusal != nil {
		db.mu.Unlock()
		db.fire(evs)
		return fmt.Errorf("extend hold %s: %w", id, refusal)
	}
	for _, bid := range oh.budgets {
		if st, ok := db.budgets[bid]; ok {
			st.held += more
		}
	}
	old := oh.h
	oh.h.Amount = amount
	h := oh.h
	db.mu.Unlock()

	data, err := encodeHold(h)
	if err == nil {
		// A later entry of the same hold with a higher amount wins when
		// the journal is read back.
		err = db.journal.append(data)
	}
	if err == nil {
		db.mu.Lock()
		if cur, ok := db.holds[id]; !ok || cur != oh {
			err = fmt.Errorf("extend hold %s: settled meanwhile: %w", id, ErrNotFound)
		}
		db.mu.Unlock()
	}
	if err != nil {
		db.mu.Lock()
		if cur, ok := db.holds[id]; ok && cur == oh {
			for _, bid := range oh.budgets {
				if st, ok := db.budgets[bid]; ok {
					st.held -= more
				}
			}
			oh.h = old
		}
		db.mu.Unlock()
		return fmt.Errorf("extend hold %s: %w", id, err)
	}
	return nil
}
