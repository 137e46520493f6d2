package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// newRingOrSkip returns a ring, or skips where the kernel refuses one
// (the journal then calls fdatasync, which the other tests cover).
func newRingOrSkip(t *testing.T) *syncRing {
	t.Helper()
	r, err := newSyncRing()
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	t.Cleanup(func() { r.close() })
	return r
}

// The ring syncs a file, sync after sync, and reports the fsync's own
// error as such, not as the ring's.
func TestSyncRing(t *testing.T) {
	r := newRingOrSkip(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 5 {
		if _, err := f.Write([]byte("entry")); err != nil {
			t.Fatal(err)
		}
		if err := r.datasync(f); err != nil {
			t.Fatalf("datasync #%d = %v", i, err)
		}
	}
	// A descriptor that is not open: the fsync fails with EBADF.
	if err := r.sync(-1); !errors.Is(err, syscall.EBADF) || errors.Is(err, errRing) {
		t.Errorf("sync(-1) = %v, want EBADF, not the ring's error", err)
	}
	// The ring goes on after a failed sync.
	if err := r.datasync(f); err != nil {
		t.Errorf("datasync after a failed sync = %v", err)
	}
	// Closed (twice: the second does nothing), it syncs no more, and says
	// the failure is its own.
	if err := r.close(); err != nil {
		t.Errorf("close() = %v", err)
	}
	if err := r.close(); err != nil {
		t.Errorf("close() again = %v", err)
	}
	if err := r.datasync(f); !errors.Is(err, errRing) {
		t.Errorf("datasync after close = %v, want errRing", err)
	}
}

// A journal whose ring fails syncs with fdatasync instead, and from then
// on without the ring: no entry is lost to it.
func TestJournalRingFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.holds")
	j, _, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if j.ring == nil {
		t.Skip("no io_uring here: the journal calls fdatasync")
	}
	j.fold = func() error { return nil }
	if err := j.reset(); err != nil {
		t.Fatal(err)
	}
	if err := j.append([]byte("ringed")); err != nil {
		t.Fatal(err)
	}
	// The ring's descriptor gone: io_uring_enter fails.
	fd := j.ring.fd
	j.ring.fd = -1
	defer syscall.Close(fd)
	if err := j.append([]byte("after")); err != nil {
		t.Fatalf("append with a broken ring = %v, want nil (fdatasync instead)", err)
	}
	j.ring.mu.Lock()
	broken := j.ring.broken
	j.ring.mu.Unlock()
	if !broken {
		t.Errorf("the ring is not marked broken after failing")
	}
	if err := j.append([]byte("later")); err != nil {
		t.Fatal(err)
	}
	j2, got, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	j2.close()
	var entries []string
	for _, e := range got {
		entries = append(entries, string(e))
	}
	if want := []string{"ringed", "after", "later"}; !slices.Equal(entries, want) {
		t.Errorf("entries = %q, want %q", entries, want)
	}
}

// setRingResult makes every sync through a ring complete with res, as a
// kernel would answer, whatever the fsync did, until the test ends.
func setRingResult(t *testing.T, res syscall.Errno) {
	t.Helper()
	f := func(int32) int32 { return -int32(res) }
	ringResult.Store(&f)
	t.Cleanup(func() { ringResult.Store(nil) })
}

// An io_uring that refuses the fsync (an emulated or restricted one, or
// a worker that leaks a restart code) costs the journal its ring, not
// its holds: at open, where it cannot sync the journal once, and later,
// where a sync's completion says the fsync did not run. A failed fsync
// (EIO) is the journal's own error and keeps the ring: after it the file
// has no writeback error left for fdatasync to report.
func TestJournalRingRefuses(t *testing.T) {
	newRingOrSkip(t) // the kernel gives rings here
	open := func() *journal {
		t.Helper()
		j, _, err := openJournal(filepath.Join(t.TempDir(), "j.holds"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.close() })
		j.fold = func() error { return nil }
		if err := j.reset(); err != nil {
			t.Fatal(err)
		}
		return j
	}
	broken := func(j *journal) bool {
		j.ring.mu.Lock()
		defer j.ring.mu.Unlock()
		return j.ring.broken
	}

	t.Run("at open", func(t *testing.T) {
		setRingResult(t, syscall.EINVAL)
		j := open()
		if j.ring != nil {
			t.Errorf("the journal kept a ring that cannot sync it")
		}
		if err := j.append([]byte("held")); err != nil {
			t.Errorf("append = %v, want nil (fdatasync)", err)
		}
	})

	for _, errno := range []syscall.Errno{syscall.EINVAL, syscall.EOPNOTSUPP, syscall.ENOSYS, errRestartSys, syscall.EINTR, syscall.ECANCELED} {
		t.Run("later "+errno.Error(), func(t *testing.T) {
			j := open()
			if j.ring == nil {
				t.Fatal("no ring after a sync through it worked")
			}
			setRingResult(t, errno)
			for i := range 3 {
				if err := j.append([]byte("held")); err != nil {
					t.Fatalf("append #%d = %v, want nil (fdatasync)", i, err)
				}
			}
			if !broken(j) {
				t.Errorf("the ring is kept after %v", errno)
			}
		})
	}

	t.Run("EIO", func(t *testing.T) {
		j := open()
		if j.ring == nil {
			t.Fatal("no ring after a sync through it worked")
		}
		setRingResult(t, syscall.EIO)
		if err := j.append([]byte("lost")); !errors.Is(err, syscall.EIO) || errors.Is(err, errRing) {
			t.Errorf("append = %v, want the fsync's EIO", err)
		}
		if broken(j) {
			t.Errorf("the ring is dropped after the fsync's own error, for an fdatasync that would report none")
		}
	})
}
