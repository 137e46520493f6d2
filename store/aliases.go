package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// Aliases are kept in the bucket "aliases" (key: gateway.AliasKey of the
// name; value: the JSON gateway.Alias) and in memory, where the proxy reads
// them on every request (DB satisfies gateway.AliasSource).

var bucketAliases = []byte("aliases")

// aliasCache is the aliases in memory, by gateway.AliasKey.
type aliasCache struct {
	mu sync.RWMutex // guards m
	m  map[string]gateway.Alias
}

// Alias returns the alias named name; it satisfies gateway.AliasSource.
func (db *DB) Alias(name string) (gateway.Alias, bool) {
	db.aliases.mu.RLock()
	defer db.aliases.mu.RUnlock()
	a, ok := db.aliases.m[gateway.AliasKey(name)]
	return a, ok
}

// Aliases returns every alias, by name.
func (db *DB) Aliases() []gateway.Alias {
	db.aliases.mu.RLock()
	out := make([]gateway.Alias, 0, len(db.aliases.m))
	for _, a := range db.aliases.m {
		out = append(out, a)
	}
	db.aliases.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return gateway.AliasKey(out[i].Name) < gateway.AliasKey(out[j].Name) })
	return out
}

// PutAlias saves a, replacing the alias of the same name, and returns it
// as stored. An alias that is not valid (gateway.Alias.Validate), or that
// would make aliases loop through one another, is an error wrapping both
// ErrInvalid and gateway.ErrInvalidAlias, and nothing is written; so is
// a name that differs from an existing alias's only in case, an
// *AliasCaseError naming the existing alias. Its name and
// targets are kept without surrounding space. Whether
// its targets are models Sluice can reach is for the caller to check: the
// store knows neither providers nor prices.
func (db *DB) PutAlias(a gateway.Alias) (gateway.Alias, error) {
	a = a.Trimmed()
	a.Warnings = nil
	if err := a.Validate(); err != nil {
		return gateway.Alias{}, &invalidError{err}
	}
	a.Updated = db.now().UTC()
	key := gateway.AliasKey(a.Name)
	data, err := json.Marshal(a)
	if err != nil {
		return gateway.Alias{}, fmt.Errorf("save alias %s: %w", a.Name, err)
	}
	// The loop check and the write happen under the lock, so two aliases
	// set at once cannot close a loop between them.
	db.aliases.mu.Lock()
	defer db.aliases.mu.Unlock()
	all := []gateway.Alias{a}
	for k, o := range db.aliases.m {
		if k != key {
			all = append(all, o)
		}
	}
	if err := gateway.CheckAliasLoops(all); err != nil {
		return gateway.Alias{}, &invalidError{err}
	}
	if o, ok := db.aliases.m[key]; ok && o.Name != a.Name {
		// Names compare without regard to case: say so rather than
		// replace another alias unseen.
		return gateway.Alias{}, &AliasCaseError{Name: a.Name, Existing: o.Name}
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAliases).Put([]byte(key), data)
	})
	if err != nil {
		return gateway.Alias{}, fmt.Errorf("save alias %s: %w", a.Name, err)
	}
	db.aliases.m[key] = a
	return a, nil
}

// AliasCaseError refuses an alias whose name differs from an existing
// alias's only in case, rather than replace that alias unseen. It is an
// ErrInvalid error and wraps gateway.ErrInvalidAlias. Its message says what to do in no interface's
// words: the CLI and the dashboard add how to remove Existing.
type AliasCaseError struct {
	Name     string // the name given
	Existing string // the existing alias's name, as it was saved
}

func (e *AliasCaseError) Error() string {
	return fmt.Sprintf("%v: alias %s exists, and %s is the same name in other letters: change it as %s, or remove it first",
		gateway.ErrInvalidAlias, e.Existing, e.Name, e.Existing)
}

func (e *AliasCaseError) Unwrap() error        { return gateway.ErrInvalidAlias }
func (e *AliasCaseError) Is(target error) bool { return target == ErrInvalid }

// DeleteAlias removes the alias name; an unknown name is an error wrapping
// ErrNotFound. Aliases whose targets named it then name the model of that
// name, if there is one.
func (db *DB) DeleteAlias(name string) error {
	key := gateway.AliasKey(name)
	db.aliases.mu.Lock()
	defer db.aliases.mu.Unlock()
	if _, ok := db.aliases.m[key]; !ok {
		return fmt.Errorf("alias %q: %w", name, ErrNotFound)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAliases).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("remove alias %s: %w", name, err)
	}
	delete(db.aliases.m, key)
	return nil
}

// loadAliases reads the aliases at Open.
func (db *DB) loadAliases(tx *bolt.Tx) error {
	m := map[string]gateway.Alias{}
	err := tx.Bucket(bucketAliases).ForEach(func(k, v []byte) error {
		var a gateway.Alias
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("decode alias %s: %w", k, err)
		}
		m[string(k)] = a
		return nil
	})
	if err != nil {
		return err
	}
	db.aliases.mu.Lock()
	db.aliases.m = m
	db.aliases.mu.Unlock()
	return nil
}

// PastSoft reports whether a budget that applies to h has settled spend
// past its soft threshold in its current window, and names the first such
// budget by name; it satisfies gateway.SoftWatcher, which routes an
// alias's requests to its over-soft target.
func (db *DB) PastSoft(h gateway.Hold) (string, bool) {
	now := db.now()
	db.mu.Lock()
	defer db.mu.Unlock()
	var names []string
	for _, st := range db.budgets {
		if !st.b.Applies(h) {
			continue
		}
		db.roll(st, now)
		if st.settled >= st.b.SoftAt(now) {
			names = append(names, st.b.Name)
		}
	}
	if len(names) == 0 {
		return "", false
	}
	sort.Strings(names)
	return names[0], true
}
