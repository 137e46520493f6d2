package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// Rollups sum the log by day (in the store's time zone) × provider ×
// model × token, so that summaries and budget windows are read without
// scanning every request. A key is the day as YYYY-MM-DD and the three
// names, separated by zero bytes; keys sort by day first.

const dayLayout = "2006-01-02"

// appendRollupKey appends the rollup key of day, provider, model and
// token to b.
func appendRollupKey(b []byte, day, provider, model, token string) []byte {
	b = append(b, day...)
	b = append(b, 0)
	b = append(b, provider...)
	b = append(b, 0)
	b = append(b, model...)
	b = append(b, 0)
	return append(b, token...)
}

// splitRollupKey returns the parts of a rollup key. The strings are copies.
func splitRollupKey(k []byte) (day, provider, model, token string, ok bool) {
	parts := bytes.SplitN(k, []byte{0}, 4)
	if len(parts) != 4 {
		return "", "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), string(parts[3]), true
}

// rollup is the sum of a set of records.
type rollup struct {
	Requests int64 // every record, refusals included
	Refused  int64 // records Sluice refused or blocked
	Unpriced int64 // forwarded records with no known price
	gateway.Usage
	Cost gateway.Money
}

func (r *rollup) add(o rollup) {
	r.Requests += o.Requests
	r.Refused += o.Refused
	r.Unpriced += o.Unpriced
	r.InputTokens += o.InputTokens
	r.OutputTokens += o.OutputTokens
	r.CachedInputTokens += o.CachedInputTokens
	r.CacheWriteTokens += o.CacheWriteTokens
	r.CacheWrite1hTokens += o.CacheWrite1hTokens
	r.ReasoningTokens += o.ReasoningTokens
	r.Cost += o.Cost
}

func recordRollup(r *gateway.Record) rollup {
	ru := rollup{Requests: 1, Usage: r.Usage, Cost: r.Cost}
	switch {
	case !r.Outcome.Forwarded():
		ru.Refused = 1
	case !r.Priced:
		ru.Unpriced = 1
	}
	return ru
}

// rollupVersion leads every encoded rollup.
const rollupVersion = 1

func (r rollup) encode() []byte {
	b := make([]byte, 0, 48)
	b = append(b, rollupVersion)
	for _, v := range r.fields() {
		b = binary.AppendVarint(b, *v)
	}
	return b
}

func (r *rollup) fields() []*int64 {
	return []*int64{&r.Requests, &r.Refused, &r.Unpriced,
		&r.InputTokens, &r.OutputTokens, &r.CachedInputTokens, &r.CacheWriteTokens,
		&r.CacheWrite1hTokens, &r.ReasoningTokens, (*int64)(&r.Cost)}
}

var errBadRollup = errors.New("malformed rollup")

func decodeRollup(b []byte) (rollup, error) {
	var r rollup
	if len(b) == 0 || b[0] != rollupVersion {
		return r, errBadRollup
	}
	b = b[1:]
	for _, f := range r.fields() {
		v, n := binary.Varint(b)
		if n <= 0 {
			return r, errBadRollup
		}
		*f, b = v, b[n:]
	}
	return r, nil
}

// rollupSums gathers what settlements add to the rollups, the prompt
// rollups and the spend by minute, so that a transaction settling many of
// them (a fold) reads and writes each key once rather than once per
// settlement. The zero value is empty and ready to use.
//
// A settlement whose keys are already there adds to their sums without
// allocating: the maps hold pointers, and keys are built in scratch and
// looked up before any is copied into a string.
type rollupSums struct {
	days    map[string]*rollup        // rollupKey → sum
	prompts map[string]*rollup        // promptRollupKey → sum
	minutes map[string]*gateway.Money // minuteKey → spend
	latest  time.Time                 // the latest minute added

	// The day of the last record added, as a key writes it, by its date
	// in dayLoc.
	dayLoc     *time.Location
	dayY, dayD int
	dayM       time.Month
	day        string
	scratch    []byte
}

// add adds r, whose day is taken in loc.
func (s *rollupSums) add(r *gateway.Record, loc *time.Location) {
	day := s.dayOf(r.Time, loc)
	ru := recordRollup(r)
	if s.days == nil {
		s.days = make(map[string]*rollup)
	}
	s.scratch = appendRollupKey(s.scratch[:0], day, r.Provider, r.Model, r.Token)
	addSum(s.days, s.scratch, ru)
	if r.Prompt != "" {
		// Records made for no prompt are not counted by prompt.
		if s.prompts == nil {
			s.prompts = make(map[string]*rollup)
		}
		s.scratch = appendPromptRollupKey(s.scratch[:0], day, r.Prompt)
		addSum(s.prompts, s.scratch, ru)
	}
	if r.Cost != 0 && r.Outcome.Forwarded() {
		t := settledAt(r)
		if s.minutes == nil {
			s.minutes = make(map[string]*gateway.Money)
		}
		s.scratch = appendMinuteKey(s.scratch[:0], t, r.Provider, r.Model, r.Token, r.Prompt)
		if sum := s.minutes[string(s.scratch)]; sum != nil {
			*sum += r.Cost
		} else {
			cost := r.Cost
			s.minutes[string(s.scratch)] = &cost
		}
		if t.After(s.latest) {
			s.latest = t
		}
	}
}

// dayOf is t's day in loc as a rollup key writes it. The settlements of
// a fold nearly all fall on one day: it is formatted once.
func (s *rollupSums) dayOf(t time.Time, loc *time.Location) string {
	y, m, d := t.In(loc).Date()
	if s.day == "" || loc != s.dayLoc || y != s.dayY || m != s.dayM || d != s.dayD {
		s.day = t.In(loc).Format(dayLayout)
		s.dayLoc, s.dayY, s.dayM, s.dayD = loc, y, m, d
	}
	return s.day
}

func addSum(m map[string]*rollup, key []byte, ru rollup) {
	if sum := m[string(key)]; sum != nil {
		sum.add(ru)
		return
	}
	sum := new(rollup)
	*sum = ru
	m[string(key)] = sum
}

// write adds the sums to what tx holds, and deletes the minutes that have
// aged out of every window by the latest minute added.
func (s *rollupSums) write(tx *bolt.Tx) error {
	if err := addRollups(tx.Bucket(bucketRollups), s.days); err != nil {
		return err
	}
	if err := addRollups(tx.Bucket(bucketPromptRollups), s.prompts); err != nil {
		return fmt.Errorf("prompt %w", err)
	}
	if len(s.minutes) == 0 {
		return nil
	}
	b := tx.Bucket(bucketMinutes)
	for key, spend := range s.minutes {
		sum := *spend
		if v := b.Get([]byte(key)); v != nil {
			old, n := binary.Varint(v)
			if n <= 0 {
				return fmt.Errorf("minute spend %x: %w", key, errBadRollup)
			}
			sum += gateway.Money(old)
		}
		if err := b.Put([]byte(key), binary.AppendVarint(nil, int64(sum))); err != nil {
			return err
		}
	}
	cut := binary.BigEndian.AppendUint64(nil, uint64(s.latest.Add(-minuteKeep).Unix()/60))
	c := b.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cut) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// addRollups adds each sum to the rollup under its key in b.
func addRollups(b *bolt.Bucket, sums map[string]*rollup) error {
	for key, p := range sums {
		k, sum := []byte(key), *p
		if v := b.Get(k); v != nil {
			old, err := decodeRollup(v)
			if err != nil {
				return fmt.Errorf("rollup %q: %w", key, err)
			}
			sum.add(old)
		}
		if err := b.Put(k, sum.encode()); err != nil {
			return err
		}
	}
	return nil
}

// forEachRollup calls fn for each rollup of the days from first to last,
// inclusive; an empty first or last leaves that end open.
func forEachRollup(tx *bolt.Tx, first, last string, fn func(day, provider, model, token string, r rollup) error) error {
	c := tx.Bucket(bucketRollups).Cursor()
	var k, v []byte
	if first != "" {
		k, v = c.Seek([]byte(first))
	} else {
		k, v = c.First()
	}
	for ; k != nil; k, v = c.Next() {
		day, provider, model, token, ok := splitRollupKey(k)
		if !ok {
			return fmt.Errorf("rollup key %q: %w", k, errBadRollup)
		}
		if last != "" && day > last {
			return nil
		}
		r, err := decodeRollup(v)
		if err != nil {
			return fmt.Errorf("rollup %q: %w", k, err)
		}
		if err := fn(day, provider, model, token, r); err != nil {
			return err
		}
	}
	return nil
}

// windowSpend sums the cost of the records b applies to within the window
// [start, end), read from the rollups; zero times leave that end open.
// Windows are whole days in loc, as rollups are.
func windowSpend(tx *bolt.Tx, b gateway.Budget, start, end time.Time, loc *time.Location) (gateway.Money, error) {
	var first, last string
	if !start.IsZero() {
		first = start.In(loc).Format(dayLayout)
	}
	if !end.IsZero() {
		last = end.Add(-time.Nanosecond).In(loc).Format(dayLayout)
	}
	if b.Prompt != "" {
		// Spend by prompt is rolled up on its own.
		return promptWindowSpend(tx, b.Prompt, first, last)
	}
	var sum gateway.Money
	err := forEachRollup(tx, first, last, func(_, provider, model, token string, r rollup) error {
		if b.Applies(gateway.Hold{Provider: provider, Model: model, Token: token}) {
			sum += r.Cost
		}
		return nil
	})
	return sum, err
}

// SpendQuery selects and groups spend.
type SpendQuery struct {
	// Since and Until bound the days summed, Until exclusive; zero leaves
	// that end open. Spend is kept by day, so a bound inside a day takes
	// in the whole day.
	Since, Until time.Time
	// By is "day", "provider", "model", "token" or "prompt" (the calls of
	// each prompt endpoint; no Then); "" sums everything in one row with
	// the key "total".
	By string
	// Then, when set, splits each row of By further by "provider",
	// "model" or "token", into rows that share Key and differ in Sub.
	Then string
}

// SpendRow is the sum of the records that share a key.
type SpendRow struct {
	Key string `json:"key"`
	Sub string `json:"sub,omitempty"` // the Then key
	// Requests counts every record, refused ones included; Refused is the
	// part of them Sluice refused or blocked.
	Requests int64 `json:"requests"`
	Refused  int64 `json:"refused"`
	gateway.Usage
	Cost gateway.Money `json:"cost_usd"`
	// Unpriced counts forwarded requests whose model had no known price;
	// their cost is not in Cost unless it was estimated.
	Unpriced int64 `json:"unpriced"`
}

// Spend sums spend from the rollups, grouped by q.By: days oldest first;
// providers, models and tokens by cost, highest first.
func (db *DB) Spend(q SpendQuery) ([]SpendRow, error) {
	switch q.By {
	case "", "day", "provider", "model", "token":
	case "prompt":
		// Calls of prompt endpoints, rolled up on their own.
		if q.Then != "" {
			return nil, invalidf("spend by prompt cannot be split further")
		}
		return db.PromptSpend(q.Since, q.Until)
	default:
		return nil, invalidf("spend by %q: use day, provider, model, token or prompt", q.By)
	}
	switch q.Then {
	case "", "provider", "model", "token":
	default:
		return nil, invalidf("spend then by %q: use provider, model or token", q.Then)
	}
	type groupKey struct{ key, sub string }
	loc := db.location()
	var first, last string
	if !q.Since.IsZero() {
		first = q.Since.In(loc).Format(dayLayout)
	}
	if !q.Until.IsZero() {
		last = q.Until.Add(-time.Nanosecond).In(loc).Format(dayLayout)
	}
	groups := map[groupKey]*rollup{}
	err := db.view(func(tx *bolt.Tx) error {
		return forEachRollup(tx, first, last, func(day, provider, model, token string, r rollup) error {
			pick := func(by string) string {
				switch by {
				case "day":
					return day
				case "provider":
					return provider
				case "model":
					return model
				case "token":
					return token
				}
				return ""
			}
			key := groupKey{pick(q.By), pick(q.Then)}
			if q.By == "" {
				key.key = "total"
			}
			g := groups[key]
			if g == nil {
				g = &rollup{}
				groups[key] = g
			}
			g.add(r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read spend: %w", err)
	}
	rows := make([]SpendRow, 0, len(groups))
	for k, g := range groups {
		rows = append(rows, SpendRow{Key: k.key, Sub: k.sub, Requests: g.Requests, Refused: g.Refused, Usage: g.Usage, Cost: g.Cost, Unpriced: g.Unpriced})
	}
	slices.SortFunc(rows, func(a, b SpendRow) int {
		if q.By == "day" {
			return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(b.Cost, a.Cost), cmp.Compare(a.Sub, b.Sub))
		}
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Key, b.Key))
	})
	return rows, nil
}

// Spend by minute, for rolling budgets: a key is the minute as eight
// big-endian bytes of Unix minutes, then the provider, model, token and
// prompt, each after a zero byte; the value is the settled cost as a varint.
// Minutes older than the longest rolling window are deleted as new ones
// are written.

// minuteKeep is how long spend by minute is kept: the longest rolling
// window.
const minuteKeep = gateway.MaxRolling

// appendMinuteKey appends the minute key of t, provider, model, token
// and prompt to b.
func appendMinuteKey(b []byte, t time.Time, provider, model, token, prompt string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()/60))
	for _, s := range [...]string{provider, model, token, prompt} {
		b = append(b, 0)
		b = append(b, s...)
	}
	return b
}

// minuteSpend returns the spend by minute from from on of the records b
// applies to, oldest first.
func minuteSpend(tx *bolt.Tx, b gateway.Budget, from time.Time) ([]gateway.MinuteSpend, error) {
	var out []gateway.MinuteSpend
	c := tx.Bucket(bucketMinutes).Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(from.Unix()/60))); k != nil; k, v = c.Next() {
		parts := bytes.SplitN(k[min(len(k), 9):], []byte{0}, 4)
		if len(k) < 9 || len(parts) != 4 {
			return nil, fmt.Errorf("minute spend key %x: %w", k, errBadRollup)
		}
		if !b.Applies(gateway.Hold{Provider: string(parts[0]), Model: string(parts[1]), Token: string(parts[2]), Prompt: string(parts[3])}) {
			continue
		}
		cost, n := binary.Varint(v)
		if n <= 0 {
			return nil, fmt.Errorf("minute spend %x: %w", k, errBadRollup)
		}
		m := time.Unix(int64(binary.BigEndian.Uint64(k[:8]))*60, 0)
		if l := len(out); l > 0 && out[l-1].Minute.Equal(m) {
			out[l-1].Spent += gateway.Money(cost)
		} else {
			out = append(out, gateway.MinuteSpend{Minute: m, Spent: gateway.Money(cost)})
		}
	}
	return out, nil
}
