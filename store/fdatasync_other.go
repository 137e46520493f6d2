//go:build !linux

package store

import "os"

// fdatasync flushes f's data; outside Linux that is a full Sync.
func fdatasync(f *os.File) error { return f.Sync() }
