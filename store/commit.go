package store

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// committer group-commits small writes: every write that arrives while a
// transaction is being committed joins the next one, so concurrent writes
// share fsyncs and a lone write waits for nothing but its own.
//
// bbolt's own DB.Batch does the same but waits up to MaxBatchDelay for
// company first, which adds that delay to every request when traffic is
// light; here a batch starts as soon as the previous one is on disk.
//
// The contract is DB.Batch's: a write function may run more than once
// (when another function in its batch fails, the batch is rolled back and
// the others run again without it), so it must be idempotent and must
// only touch state outside the transaction in ways a rerun overwrites.
type committer struct {
	db *bolt.DB

	mu    sync.Mutex // guards queue and busy
	queue []*commitOp
	busy  bool // a leader is committing or has been chosen

	txs atomic.Int64 // transactions committed or tried, for benchmarks
}

type commitOp struct {
	fn   func(*bolt.Tx) error
	done chan commitResult // buffered: a lead signal, then the result
}

type commitResult struct {
	err  error
	lead bool // the receiver is to commit the queue
}

// do runs fn in a read-write transaction shared with other writes and
// returns once that transaction is committed (or failed).
//
// The first caller to find nobody committing becomes the leader: it
// commits everything queued, including its own write, then hands the
// lead to the first write that queued meanwhile, so no caller commits for
// others longer than one transaction.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	op := &commitOp{fn: fn, done: make(chan commitResult, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, op)
	if c.busy {
		c.mu.Unlock()
		r := <-op.done
		if !r.lead {
			return r.err
		}
	} else {
		c.busy = true
		c.mu.Unlock()
	}
	c.lead()
	return (<-op.done).err
}

// lead commits the queue as one batch and passes the lead on.
func (c *committer) lead() {
	// Let the goroutines that are ready to run go first, so that those
	// about to write join this batch. With one P (one core, or a process
	// pinned to one) the leader would otherwise commit its own write
	// alone before anyone else ran, and commits would not group at all.
	runtime.Gosched()
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()

	c.commit(batch)

	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- commitResult{lead: true}
	} else {
		c.busy = false
	}
	c.mu.Unlock()
}

// commit runs batch in one transaction and tells each op how it went. A
// function that fails gets its error and the rest run again without it.
func (c *committer) commit(batch []*commitOp) {
	for len(batch) > 0 {
		failed := -1
		var failErr error
		c.txs.Add(1)
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, op := range batch {
				if err := callWrite(op.fn, tx); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].done <- commitResult{err: failErr}
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		for _, op := range batch {
			op.done <- commitResult{err: err}
		}
		return
	}
}

// callWrite runs fn, turning a panic into an error so one bad write cannot
// leave the writes batched with it waiting forever.
func callWrite(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return fn(tx)
}
