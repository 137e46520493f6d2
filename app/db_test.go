package app

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/store"
)

// testDB opens a data file of the test's own, closed when the test ends.
func testDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "sluice.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
