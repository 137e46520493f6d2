package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// journal is the hold journal: an append-only file beside the data file
// that makes a hold, or a settlement, durable with one write and one
// fdatasync, shared by every entry written meanwhile. A bbolt commit
// costs two fdatasyncs and the page writes of a copy-on-write B+tree; a
// hold, which lives for the few seconds of its request, needs neither,
// and settlements are folded into bbolt many at a time (fold.go).
//
// The file is preallocated (written with zeros and synced once), so an
// append overwrites blocks the file already owns and fdatasync need not
// write the file system's metadata. It starts with a header (magic and
// epoch); each entry is a length, a CRC-32C of the epoch and payload, the
// epoch, and the payload (a hold as JSON, or recordEntry and a settled
// record as JSON). Reading stops at the first
// entry that is cut, fails its checksum or carries another epoch: a torn
// write at a crash was never acknowledged. When the file is full, every
// hold still open is folded into bbolt's holds bucket (one commit), and
// the journal starts over under the next epoch, so entries of the last
// round are no longer read; settlements waiting to be folded go into
// bbolt in the same commit.
//
// At Open the entries are folded into bbolt, in order, before anything
// else, so the rest of the store (Recover, the holds bucket, the log)
// sees one set of open holds and every settlement. Reading an entry
// again changes nothing: a hold or a settlement whose ID is already in
// the log is skipped, and so is a hold whose amount is below the one
// bbolt has.
//
// A journal is safe for concurrent use.
type journal struct {
	f *os.File
	// ring, if not nil, makes the entries durable instead of fdatasync:
	// the same sync, without a P blocked in it (see syncRing). Set at
	// open.
	ring *syncRing

	// fold puts every hold open in memory into bbolt and returns once
	// that is on disk; the journal calls it before starting over.
	fold func() error
	// settled is given each settlement appended with appendLazy once its
	// entry is on disk, by the leader, before any later batch is written:
	// a fold that starts the journal over sees what it did. It must not
	// keep the pointer.
	settled func(*pendingRecord)

	mu    sync.Mutex // guards queue, busy, lazy and armed
	queue []*journalOp
	busy  bool // a leader is writing or has been chosen
	// lazy starts a batch for entries that may wait (appendLazy) when no
	// other entry has come to start one. It is made the first time it is
	// needed and reset after: under load it is armed and stopped every
	// few batches. armed says it is set to fire.
	lazy  *time.Timer
	armed bool
	// lazyWait is how long that timer waits: lazyDelay, longer in tests
	// that must see an entry still waiting.
	lazyWait time.Duration

	// limit is where a round of entries ends and the journal is folded;
	// 0 means journalSize. Tests set it low.
	limit int64

	// Owned by the leader of the moment.
	epoch uint64
	off   int64 // where the next entry goes
	size  int64 // bytes the file owns
	buf   []byte

	syncs atomic.Int64 // fdatasyncs done, for benchmarks
}

type journalOp struct {
	payload []byte
	// settlement is the settlement the entry holds, if settles: the
	// leader hands it to journal.settled.
	settlement pendingRecord
	settles    bool
	done       chan journalResult // buffered: a lead signal, then the result
}

// journalOps keeps ops, with their channels, for appends to come: every
// request appends twice.
var journalOps = sync.Pool{New: func() any { return &journalOp{done: make(chan journalResult, 1)} }}

// newOp returns an op for payload from journalOps.
func newOp(payload []byte) *journalOp {
	op := journalOps.Get().(*journalOp)
	op.payload = payload
	return op
}

// wait waits for op's result, leading the batch it is in if lead says
// it is to or it is given the lead, and gives op back to journalOps: the
// leader, and the queue, are done with it once it has its result.
func (j *journal) wait(op *journalOp, lead bool) error {
	r := journalResult{lead: lead}
	if !lead {
		r = <-op.done
	}
	if r.lead {
		j.lead()
		r = <-op.done
	}
	op.payload = nil
	if op.settles {
		op.settlement, op.settles = pendingRecord{}, false
	}
	journalOps.Put(op)
	return r.err
}

type journalResult struct {
	err  error
	lead bool
}

const (
	journalMagic  = "SLHOLDS1"
	journalHeader = 16                 // magic, epoch
	journalEntry  = 16                 // length, CRC, epoch
	journalSize   = 4 << 20            // preallocated bytes
	journalMax    = 1 << 20            // the largest payload read back
	journalSuffix = ".holds"           // after the data file's name
	journalPerm   = os.FileMode(0o600) // as the data file
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openJournal opens (or makes) the journal at path and returns it with
// the payloads of the current epoch's entries, oldest first. The caller
// must fold them into bbolt and then call reset before appending.
func openJournal(path string) (*journal, [][]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, journalPerm)
	if err != nil {
		return nil, nil, fmt.Errorf("open hold journal: %w", err)
	}
	j := &journal{f: f, lazyWait: lazyDelay}
	entries, err := j.read()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	// Without a ring, as where the kernel refuses one, fdatasync. A ring
	// must first sync the journal once: one that cannot (an io_uring that
	// refuses the operation, as an emulated or restricted one may) would
	// otherwise fail every hold, while fdatasync works.
	if j.ring, _ = newSyncRing(); j.ring != nil {
		if err := j.ring.datasync(f); err != nil {
			j.ring.close()
			j.ring = nil
		}
	}
	return j, entries, nil
}

// read returns the payloads of the entries of the file's epoch.
func (j *journal) read() ([][]byte, error) {
	fi, err := j.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read hold journal: %w", err)
	}
	j.size = fi.Size()
	data := make([]byte, j.size)
	if _, err := io.ReadFull(io.NewSectionReader(j.f, 0, j.size), data); err != nil {
		return nil, fmt.Errorf("read hold journal: %w", err)
	}
	if len(data) < journalHeader || string(data[:8]) != journalMagic {
		return nil, nil // new, or never written past its zeros
	}
	j.epoch = binary.LittleEndian.Uint64(data[8:16])
	var out [][]byte
	for off := journalHeader; off+journalEntry <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		epoch := binary.LittleEndian.Uint64(data[off+8:])
		end := off + journalEntry + n
		if n == 0 || n > journalMax || end > len(data) || epoch != j.epoch ||
			crc32.Checksum(data[off+8:end], crcTable) != sum {
			break
		}
		out = append(out, data[off+journalEntry:end])
		off = end
	}
	return out, nil
}

// reset starts the journal over under the next epoch, preallocating it
// if it is short, and syncs it. Only the leader (or Open, before any
// append) may call it; whatever was in the journal must be in bbolt.
func (j *journal) reset() error {
	if j.size < journalSize {
		if _, err := j.f.WriteAt(make([]byte, journalSize-j.size), j.size); err != nil {
			return fmt.Errorf("preallocate hold journal: %w", err)
		}
		j.size = journalSize
	}
	j.epoch++
	var h [journalHeader]byte
	copy(h[:], journalMagic)
	binary.LittleEndian.PutUint64(h[8:], j.epoch)
	if _, err := j.f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("reset hold journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync hold journal: %w", err)
	}
	j.off = journalHeader
	return nil
}

// append writes payload as an entry and returns once it is on disk,
// sharing the write and its fdatasync with every append that arrives
// while another batch is being written.
func (j *journal) append(payload []byte) error {
	op := newOp(payload)
	j.mu.Lock()
	j.queue = append(j.queue, op)
	lead := !j.busy
	j.busy = true
	j.mu.Unlock()
	return j.wait(op, lead)
}

// lazyDelay is how long an entry appended with appendLazy waits for an
// entry that cannot wait to share its fdatasync.
const lazyDelay = 2 * time.Millisecond

// appendLazy is append for an entry that can wait: it starts no batch of
// its own at once, but joins the next one another append starts, or
// starts one after lazyDelay. A settlement is such an entry: until it is
// on disk its hold stays reserved, and a crash meanwhile charges the
// hold. Joining the next request's hold, it shares that hold's
// fdatasync instead of making the hold wait behind one of its own.
//
// r, if not nil, is the record the entry settles, data its JSON, loc the
// time zone of its rollups and buf what holds the entry: *r is copied,
// and handed to journal.settled with the rest once the entry is on disk.
func (j *journal) appendLazy(payload []byte, r *gateway.Record, data []byte, loc *time.Location, buf *entryBuf) error {
	op := newOp(payload)
	if r != nil {
		s := &op.settlement
		s.r, s.data, s.loc, s.buf = *r, data, loc, buf
		op.settles = true
	}
	j.mu.Lock()
	j.queue = append(j.queue, op)
	if !j.busy && !j.armed {
		j.armed = true
		if j.lazy == nil {
			j.lazy = time.AfterFunc(j.lazyWait, j.kick)
		} else {
			j.lazy.Reset(j.lazyWait)
		}
	}
	j.mu.Unlock()
	return j.wait(op, false)
}

// kick starts a batch for the entries waiting, if no leader has.
func (j *journal) kick() {
	j.mu.Lock()
	// A kick that fired as lead stopped the timer finds the queue taken
	// or a leader busy; one that fired as it was armed again starts the
	// batch a little early. Either way, nothing waits unled.
	j.armed = false
	if j.busy || len(j.queue) == 0 {
		j.mu.Unlock()
		return
	}
	j.busy = true
	first := j.queue[0]
	j.mu.Unlock()
	first.done <- journalResult{lead: true}
}

// lead writes the queue as one batch and passes the lead on, as the
// committer does.
func (j *journal) lead() {
	runtime.Gosched() // let writes about to be made join this batch
	j.mu.Lock()
	batch := j.queue
	j.queue = nil
	if j.armed {
		// The lazy entries waiting go in this batch.
		j.lazy.Stop()
		j.armed = false
	}
	j.mu.Unlock()

	err := j.write(batch)
	for _, op := range batch {
		if err == nil && op.settles {
			j.settled(&op.settlement)
		}
		op.done <- journalResult{err: err}
	}

	j.mu.Lock()
	if len(j.queue) > 0 {
		j.queue[0].done <- journalResult{lead: true}
	} else {
		j.busy = false
	}
	j.mu.Unlock()
}

// write appends the batch's entries and syncs them. When they do not
// fit, the journal is folded and started over first, and they become the
// first entries of the new round: they are encoded only then, so that
// they carry its epoch. (Encoded before, under the old epoch, they would
// end the new round where they stand, and every entry written after them
// in it would be skipped when the journal is read back.)
func (j *journal) write(batch []*journalOp) error {
	var n int64
	for _, op := range batch {
		if len(op.payload) == 0 || len(op.payload) > journalMax {
			return fmt.Errorf("hold journal: entry of %d bytes", len(op.payload))
		}
		n += journalEntry + int64(len(op.payload))
	}
	limit := j.limit
	if limit <= 0 || limit > j.size {
		limit = j.size
	}
	if j.off+n > limit {
		if err := j.fold(); err != nil {
			return fmt.Errorf("hold journal full, and folding it failed: %w", err)
		}
		if need := journalHeader + n; need > j.size {
			if _, err := j.f.WriteAt(make([]byte, need-j.size), j.size); err != nil {
				return fmt.Errorf("grow hold journal: %w", err)
			}
			j.size = need
		}
		if err := j.reset(); err != nil {
			return err
		}
	}
	j.buf = j.buf[:0]
	for _, op := range batch {
		// The entry's head is written in place in buf, where the
		// checksum reads it.
		at := len(j.buf)
		j.buf = binary.LittleEndian.AppendUint32(j.buf, uint32(len(op.payload)))
		j.buf = binary.LittleEndian.AppendUint32(j.buf, 0)
		j.buf = binary.LittleEndian.AppendUint64(j.buf, j.epoch)
		j.buf = append(j.buf, op.payload...)
		binary.LittleEndian.PutUint32(j.buf[at+4:], crc32.Checksum(j.buf[at+8:], crcTable))
	}
	if _, err := j.f.WriteAt(j.buf, j.off); err != nil {
		return fmt.Errorf("write hold journal: %w", err)
	}
	j.syncs.Add(1)
	if err := j.datasync(); err != nil {
		// What was written may or may not be on disk: never write over
		// it, so that a later entry is not mistaken for part of it.
		j.off += int64(len(j.buf))
		return fmt.Errorf("sync hold journal: %w", err)
	}
	j.off += int64(len(j.buf))
	return nil
}

// datasync makes what was written to the file durable: through the ring
// if there is one, else, or if the ring fails (and from then on), with
// fdatasync.
func (j *journal) datasync() error {
	if j.ring != nil {
		if err := j.ring.datasync(j.f); !errors.Is(err, errRing) {
			return err
		}
	}
	return fdatasync(j.f)
}

func (j *journal) close() error {
	if j == nil {
		return nil
	}
	return errors.Join(j.ring.close(), j.f.Close())
}
