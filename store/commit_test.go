package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openBolt(t *testing.T) *bolt.DB {
	t.Helper()
	bdb, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bdb.Close() })
	if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return bdb
}

func put(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte(key), []byte("v")) }
}

func keys(t *testing.T, bdb *bolt.DB) int {
	n := 0
	bdb.View(func(tx *bolt.Tx) error { n = tx.Bucket([]byte("b")).Stats().KeyN; return nil })
	return n
}

// TestCommitFailureIsolated puts a failing and a panicking write in a
// batch: they get their errors, the others are committed.
func TestCommitFailureIsolated(t *testing.T) {
	bdb := openBolt(t)
	c := &committer{db: bdb}
	boom := errors.New("boom")
	var runs atomic.Int32
	ops := []*commitOp{
		{fn: func(tx *bolt.Tx) error { runs.Add(1); return put("a")(tx) }},
		{fn: func(tx *bolt.Tx) error { put("bad")(tx); return boom }},
		{fn: put("b")},
		{fn: func(tx *bolt.Tx) error { panic("oops") }},
		{fn: put("c")},
	}
	for _, op := range ops {
		op.done = make(chan commitResult, 1)
	}
	c.commit(ops)
	want := []string{"", "boom", "", "write panicked: oops", ""}
	for i, op := range ops {
		r := <-op.done
		got := ""
		if r.err != nil {
			got = r.err.Error()
		}
		if got != want[i] {
			t.Errorf("op %d: err = %q, want %q", i, got, want[i])
		}
	}
	if n := keys(t, bdb); n != 3 {
		t.Errorf("%d keys committed, want 3 (a, b, c)", n)
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("first write ran %d times, want 3 (once per attempt)", n)
	}
}

// TestCommitGroups checks that concurrent writes share commits and all
// of them land.
func TestCommitGroups(t *testing.T) {
	bdb := openBolt(t)
	c := &committer{db: bdb}
	var wg sync.WaitGroup
	const n = 300
	for i := range n {
		wg.Go(func() {
			if err := c.do(put(fmt.Sprint("k", i))); err != nil {
				t.Errorf("do(k%d) = %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := keys(t, bdb); got != n {
		t.Errorf("%d keys committed, want %d", got, n)
	}
	if err := c.do(func(*bolt.Tx) error { return errors.New("no") }); err == nil || err.Error() != "no" {
		t.Errorf("do(failing) = %v, want no", err)
	}
	c.mu.Lock()
	busy, queued := c.busy, len(c.queue)
	c.mu.Unlock()
	if busy || queued != 0 {
		t.Errorf("committer idle: busy %v, %d queued, want false, 0", busy, queued)
	}
}
