package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// Local tokens are secrets gateway.NewLocalToken makes. Only the SHA-256
// of a secret is stored; a secret is shown once, by NewToken, and cannot
// be read back.

// tokenFlushInterval is how often last-use times reach the disk. A crash
// loses at most this much of them, and a busy gateway pays one write per
// interval instead of one per request.
const tokenFlushInterval = 10 * time.Second

// TokenInfo describes a local token; the secret is not kept.
type TokenInfo struct {
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// tokenDoc is a token as stored, under its name.
type tokenDoc struct {
	Name     string    `json:"name"`
	Hash     string    `json:"sha256"` // hex SHA-256 of the secret
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// tokenEntry is a token in memory. Its fields after name are read and
// written without db.tokMu, atomically.
type tokenEntry struct {
	name    string
	hash    string
	created time.Time
	used    atomic.Int64 // last use, Unix nanoseconds; 0 for never
	flushed atomic.Int64 // the last use that is on disk
}

func (e *tokenEntry) info() TokenInfo {
	ti := TokenInfo{Name: e.name, Created: e.created}
	if u := e.used.Load(); u != 0 {
		ti.LastUsed = time.Unix(0, u)
	}
	return ti
}

func hashSecret(secret string) string {
	var h [2 * sha256.Size]byte
	return string(appendSecretHash(h[:0], secret))
}

// appendSecretHash appends hashSecret(secret) to b. With b on the
// caller's stack it allocates nothing for a secret of up to 128 bytes:
// Token hashes the secret of every request.
func appendSecretHash(b []byte, secret string) []byte {
	var sum [sha256.Size]byte
	if len(secret) <= 128 {
		var room [128]byte
		sum = sha256.Sum256(append(room[:0], secret...))
	} else {
		sum = sha256.Sum256([]byte(secret))
	}
	return hex.AppendEncode(b, sum[:])
}

// validTokenName reports whether name can name a token: 1 to 64 letters,
// digits, '.', '-' and '_', so it reads plainly in headers, logs and CLI
// arguments.
func validTokenName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// NewToken creates a local token called name and returns its secret,
// which is not stored and cannot be shown again. Names are unique
// (ErrExists) and are 1 to 64 letters, digits, '.', '-' or '_'.
func (db *DB) NewToken(name string) (string, error) {
	if !validTokenName(name) {
		return "", invalidf("token name %q: use 1 to 64 letters, digits, '.', '-' and '_'", name)
	}
	secret := gateway.NewLocalToken()
	doc := tokenDoc{Name: name, Hash: hashSecret(secret), Created: db.now()}
	data, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("new token %q: %w", name, err)
	}
	db.tokMu.Lock()
	defer db.tokMu.Unlock()
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(name)) != nil {
			return ErrExists
		}
		return b.Put([]byte(name), data)
	})
	if err != nil {
		return "", fmt.Errorf("new token %q: %w", name, err)
	}
	db.tokens[doc.Hash] = &tokenEntry{name: name, hash: doc.Hash, created: doc.Created}
	return secret, nil
}

// Tokens returns every local token, by name.
func (db *DB) Tokens() ([]TokenInfo, error) {
	db.tokMu.RLock()
	out := make([]TokenInfo, 0, len(db.tokens))
	for _, e := range db.tokens {
		out = append(out, e.info())
	}
	db.tokMu.RUnlock()
	slices.SortFunc(out, func(a, b TokenInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteToken deletes the local token called name; its secret stops
// working at once.
func (db *DB) DeleteToken(name string) error {
	db.tokMu.Lock()
	defer db.tokMu.Unlock()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	for h, e := range db.tokens {
		if e.name == name {
			delete(db.tokens, h)
		}
	}
	return nil
}

// Token returns the name of the local token whose secret is secret, or an
// error wrapping gateway.ErrUnknownToken. It answers from memory and notes
// the use, which reaches the disk with the next periodic flush.
func (db *DB) Token(ctx context.Context, secret string) (string, error) {
	if !gateway.IsLocalToken(secret) {
		return "", gateway.ErrUnknownToken
	}
	var room [2 * sha256.Size]byte
	h := appendSecretHash(room[:0], secret)
	db.tokMu.RLock()
	e := db.tokens[string(h)] // a look-up: the conversion allocates nothing
	db.tokMu.RUnlock()
	if e == nil {
		return "", gateway.ErrUnknownToken
	}
	e.used.Store(db.now().UnixNano())
	return e.name, nil
}

// loadTokens reads the tokens at Open.
func (db *DB) loadTokens(tx *bolt.Tx) error {
	return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		var doc tokenDoc
		if err := json.Unmarshal(v, &doc); err != nil {
			return fmt.Errorf("decode token %s: %w", k, err)
		}
		e := &tokenEntry{name: doc.Name, hash: doc.Hash, created: doc.Created}
		if !doc.LastUsed.IsZero() {
			e.used.Store(doc.LastUsed.UnixNano())
			e.flushed.Store(doc.LastUsed.UnixNano())
		}
		db.tokens[doc.Hash] = e
		return nil
	})
}

// flushTokensLoop writes last-use times every tokenFlushInterval until
// Close. A failed flush is tried again at the next tick.
func (db *DB) flushTokensLoop() {
	defer close(db.flushDone)
	t := time.NewTicker(tokenFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stopFlush:
			return
		case <-t.C:
			db.flushTokens()
		}
	}
}

// flushTokens writes the last-use times that changed since the last flush.
func (db *DB) flushTokens() error {
	type pending struct {
		e    *tokenEntry
		used int64
	}
	db.tokMu.RLock()
	var todo []pending
	for _, e := range db.tokens {
		if u := e.used.Load(); u != e.flushed.Load() {
			todo = append(todo, pending{e, u})
		}
	}
	db.tokMu.RUnlock()
	if len(todo) == 0 {
		return nil
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		for _, p := range todo {
			var doc tokenDoc
			ok, err := getJSON(b, []byte(p.e.name), &doc)
			if err != nil {
				return err
			}
			if !ok || doc.Hash != p.e.hash {
				continue // deleted, or deleted and made anew
			}
			doc.LastUsed = time.Unix(0, p.used)
			data, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(p.e.name), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save token last use: %w", err)
	}
	for _, p := range todo {
		p.e.flushed.Store(p.used)
	}
	return nil
}
