package gateway_test

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/store"
)

// openLedger opens a fresh store in a temporary directory, closed when t
// ends. Open it before serving a proxy on it (gateway.ServeForTest), so
// that it closes after the proxy's last settlement.
func openLedger(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "sluice.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
