package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// Prompts are kept with every version: the bucket "prompts" holds one
// bucket per prompt name, whose keys are version numbers (8 bytes, big
// endian) and values the JSON gateway.Prompt. Every change, a removal and
// a rollback included, adds a version; none is ever rewritten, so any
// earlier one can be read back and restored.
//
// Spend by prompt is rolled up beside the other rollups, in the bucket
// "prompt_rollups" (key: day, a zero byte, the prompt's name), so that a
// budget scoped to a prompt reads its window's spend without a scan.

var (
	bucketPrompts       = []byte("prompts")
	bucketPromptRollups = []byte("prompt_rollups")
)

func versionKey(v int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// PutPrompt saves p as the next version of the prompt p.Name and returns
// it as stored, with its version and time. An invalid prompt is an error
// wrapping both ErrInvalid and gateway.ErrInvalidPrompt.
func (db *DB) PutPrompt(p gateway.Prompt) (gateway.Prompt, error) {
	p.Deleted, p.Note = false, ""
	if err := p.Validate(); err != nil {
		return gateway.Prompt{}, &invalidError{err}
	}
	return db.appendPrompt(p)
}

// appendPrompt writes p as the version after the prompt's last.
func (db *DB) appendPrompt(p gateway.Prompt) (gateway.Prompt, error) {
	p.Created = db.now()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketPrompts).CreateBucketIfNotExists([]byte(p.Name))
		if err != nil {
			return err
		}
		p.Version = 1
		if k, _ := b.Cursor().Last(); k != nil {
			p.Version = int(binary.BigEndian.Uint64(k)) + 1
		}
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return b.Put(versionKey(p.Version), data)
	})
	if err != nil {
		return gateway.Prompt{}, fmt.Errorf("save prompt %s: %w", p.Name, err)
	}
	return p, nil
}

// lastPrompt reads the prompt's last version, deleted or not.
func lastPrompt(tx *bolt.Tx, name string) (gateway.Prompt, bool, error) {
	var p gateway.Prompt
	b := tx.Bucket(bucketPrompts).Bucket([]byte(name))
	if b == nil {
		return p, false, nil
	}
	_, v := b.Cursor().Last()
	if v == nil {
		return p, false, nil
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, false, fmt.Errorf("decode prompt %s: %w", name, err)
	}
	return p, true, nil
}

// GetPrompt returns the current version of the prompt name; a prompt that
// never existed or was removed is an error wrapping ErrNotFound and
// gateway.ErrNoPrompt.
func (db *DB) GetPrompt(name string) (gateway.Prompt, error) {
	var p gateway.Prompt
	var ok bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		p, ok, err = lastPrompt(tx, name)
		return err
	})
	if err != nil {
		return p, err
	}
	if !ok {
		return p, fmt.Errorf("prompt %q: %w", name, errNoPrompt)
	}
	if p.Deleted {
		return gateway.Prompt{}, fmt.Errorf("prompt %q was removed (its versions are kept): %w", name, errNoPrompt)
	}
	return p, nil
}

// errNoPrompt is both ErrNotFound and gateway.ErrNoPrompt.
var errNoPrompt = &notFoundPrompt{}

type notFoundPrompt struct{}

func (*notFoundPrompt) Error() string { return "no such prompt" }
func (*notFoundPrompt) Is(target error) bool {
	return target == ErrNotFound || target == gateway.ErrNoPrompt
}

// PromptVersion returns version v of the prompt name.
func (db *DB) PromptVersion(name string, v int) (gateway.Prompt, error) {
	var p gateway.Prompt
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPrompts).Bucket([]byte(name))
		if b == nil {
			return fmt.Errorf("prompt %q: %w", name, errNoPrompt)
		}
		data := b.Get(versionKey(v))
		if data == nil {
			return fmt.Errorf("prompt %q has no version %d: %w", name, v, ErrNotFound)
		}
		return json.Unmarshal(data, &p)
	})
	return p, err
}

// PromptVersions returns every version of the prompt name, oldest first.
func (db *DB) PromptVersions(name string) ([]gateway.Prompt, error) {
	var out []gateway.Prompt
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPrompts).Bucket([]byte(name))
		if b == nil {
			return fmt.Errorf("prompt %q: %w", name, errNoPrompt)
		}
		return b.ForEach(func(_, v []byte) error {
			var p gateway.Prompt
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode prompt %s: %w", name, err)
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// ListPrompts returns the current version of every prompt not removed,
// by name.
func (db *DB) ListPrompts() ([]gateway.Prompt, error) {
	out := []gateway.Prompt{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPrompts).ForEachBucket(func(k []byte) error {
			p, ok, err := lastPrompt(tx, string(k))
			if err != nil || !ok || p.Deleted {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeletePrompt removes the prompt name: it adds a version that marks it
// removed, so that a rollback brings it back.
func (db *DB) DeletePrompt(name string) error {
	p, err := db.GetPrompt(name)
	if err != nil {
		return err
	}
	p.Deleted, p.Note = true, fmt.Sprintf("removed (was v%d)", p.Version)
	_, err = db.appendPrompt(p)
	return err
}

// RollbackPrompt makes version to of the prompt name current again, as a
// new version; to 0 means the version before the current one (for a
// removed prompt, the one it was removed at).
func (db *DB) RollbackPrompt(name string, to int) (gateway.Prompt, error) {
	versions, err := db.PromptVersions(name)
	if err != nil {
		return gateway.Prompt{}, err
	}
	cur := versions[len(versions)-1]
	if to == 0 {
		to = cur.Version - 1
		for to > 0 && versions[to-1].Deleted {
			to--
		}
		if to < 1 {
			return gateway.Prompt{}, invalidf("prompt %s has no earlier version to roll back to", name)
		}
	}
	if to < 1 || to > len(versions) {
		return gateway.Prompt{}, fmt.Errorf("prompt %q has no version %d (it has 1 to %d): %w", name, to, len(versions), ErrNotFound)
	}
	p := versions[to-1]
	if p.Deleted {
		return gateway.Prompt{}, invalidf("version %d of prompt %s is its removal; roll back to another", to, name)
	}
	if to == cur.Version {
		return gateway.Prompt{}, invalidf("version %d of prompt %s is already current", to, name)
	}
	p.Note = fmt.Sprintf("rollback to v%d", to)
	return db.appendPrompt(p)
}

// Prompt and Prompts satisfy gateway.PromptSource.
func (db *DB) Prompt(ctx context.Context, name string) (gateway.Prompt, error) {
	return db.GetPrompt(name)
}

// Prompts returns the current version of every prompt.
func (db *DB) Prompts(ctx context.Context) ([]gateway.Prompt, error) { return db.ListPrompts() }

var _ gateway.PromptSource = (*DB)(nil)

func appendPromptRollupKey(b []byte, day, prompt string) []byte {
	b = append(b, day...)
	b = append(b, 0)
	return append(b, prompt...)
}

// promptWindowSpend sums what calls to prompt cost on the days from first
// to last, inclusive; an empty first or last leaves that end open.
func promptWindowSpend(tx *bolt.Tx, prompt, first, last string) (gateway.Money, error) {
	var sum gateway.Money
	err := forEachPromptRollup(tx, first, last, func(_, name string, r rollup) error {
		if name == prompt {
			sum += r.Cost
		}
		return nil
	})
	return sum, err
}

// forEachPromptRollup calls fn for each prompt rollup of the days from
// first to last, inclusive; an empty first or last leaves that end open.
func forEachPromptRollup(tx *bolt.Tx, first, last string, fn func(day, prompt string, r rollup) error) error {
	c := tx.Bucket(bucketPromptRollups).Cursor()
	var k, v []byte
	if first != "" {
		k, v = c.Seek([]byte(first))
	} else {
		k, v = c.First()
	}
	for ; k != nil; k, v = c.Next() {
		day, name, ok := cutZero(k)
		if !ok {
			return fmt.Errorf("prompt rollup key %q: %w", k, errBadRollup)
		}
		if last != "" && day > last {
			break
		}
		r, err := decodeRollup(v)
		if err != nil {
			return fmt.Errorf("prompt rollup %q: %w", k, err)
		}
		if err := fn(day, name, r); err != nil {
			return err
		}
	}
	return nil
}

func cutZero(k []byte) (string, string, bool) {
	for i, c := range k {
		if c == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return "", "", false
}

// PromptSpend sums spend by prompt over the days from since to until
// (until exclusive; zero leaves that end open), highest cost first.
func (db *DB) PromptSpend(since, until time.Time) ([]SpendRow, error) {
	loc := db.location()
	var first, last string
	if !since.IsZero() {
		first = since.In(loc).Format(dayLayout)
	}
	if !until.IsZero() {
		last = until.Add(-time.Nanosecond).In(loc).Format(dayLayout)
	}
	sums := map[string]*rollup{}
	err := db.view(func(tx *bolt.Tx) error {
		return forEachPromptRollup(tx, first, last, func(_, name string, r rollup) error {
			if sums[name] == nil {
				sums[name] = &rollup{}
			}
			sums[name].add(r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read prompt spend: %w", err)
	}
	out := make([]SpendRow, 0, len(sums))
	for name, r := range sums {
		out = append(out, SpendRow{Key: name, Requests: r.Requests, Refused: r.Refused, Usage: r.Usage, Cost: r.Cost, Unpriced: r.Unpriced})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cost != out[j].Cost {
			return out[i].Cost > out[j].Cost
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}
