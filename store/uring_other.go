//go:build !linux

package store

import (
	"errors"
	"os"
)

// syncRing is io_uring's on Linux; elsewhere there is none, and the
// journal calls fdatasync.
type syncRing struct{}

func newSyncRing() (*syncRing, error) {
	return nil, errors.New("io_uring: Linux only")
}

func (r *syncRing) datasync(f *os.File) error { return fdatasync(f) }

func (r *syncRing) close() error { return nil }
