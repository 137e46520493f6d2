package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
)

// TestUpdatePrices takes tables from a local server in both formats, a
// malformed one (nothing changes, a clear error), and rolls back.
func TestUpdatePrices(t *testing.T) {
	genai, err := os.ReadFile("../gateway/testdata/prices/genai-prices.json")
	if err != nil {
		t.Fatal(err)
	}
	litellm, err := os.ReadFile("../gateway/testdata/prices/litellm.json")
	if err != nil {
		t.Fatal(err)
	}
	// A model newer than the embedded table, as a tool's default may be.
	genai = []byte(strings.Replace(string(genai), `"id": "claude-opus-4-6",`, `"id": "claude-opus-9-9",`, 1))
	genai = []byte(strings.Replace(string(genai), `"starts_with": "claude-opus-4-6"`, `"starts_with": "claude-opus-9-9"`, 1))
	files := map[string][]byte{
		"/data.json":    genai,
		"/litellm.json": litellm,
		"/broken.json":  genai[:len(genai)/2],
		"/html.json":    []byte("<html>Not here</html>"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()

	db := testDB(t)
	p := &gateway.Proxy{Ledger: db}
	s := &Service{DB: db, Proxy: p}
	ctx := context.Background()
	newModel := func() bool { _, ok := p.Prices().Lookup("anthropic", "claude-opus-9-9"); return ok }
	if newModel() {
		t.Fatal("the embedded table already prices claude-opus-9-9")
	}
	before, _ := s.Prices(ctx)

	res, err := s.UpdatePrices(ctx, srv.URL+"/data.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != gateway.FormatGenAIPrices || res.Rows == 0 || !slices.Contains(res.Added, "anthropic/claude-opus-9-9") {
		t.Errorf("update from genai-prices = %+v, want its rows with claude-opus-9-9 added", res)
	}
	if !newModel() {
		t.Error("after the update the proxy still has no price for claude-opus-9-9")
	}
	l, _ := s.Prices(ctx)
	if l.Table == nil || l.Table.Source != srv.URL+"/data.json" || l.Date == "" || !l.CanRollback {
		t.Errorf("price list after update: table %+v date %q rollback %v", l.Table, l.Date, l.CanRollback)
	}
	// Rolled back, the embedded table stands alone again.
	if _, err := s.RollbackPrices(ctx); err != nil {
		t.Fatal(err)
	}
	l, _ = s.Prices(ctx)
	if newModel() || l.Table != nil || len(l.Prices) != len(before.Prices) || l.Date != before.Date {
		t.Errorf("rollback: table %+v, %d rows, date %s; want the embedded table's %d rows of %s", l.Table, len(l.Prices), l.Date, len(before.Prices), before.Date)
	}
	if _, err := s.UpdatePrices(ctx, srv.URL+"/data.json", nil); err != nil {
		t.Fatal(err)
	}

	// Bad tables change nothing and say why.
	for _, bad := range []string{"/broken.json", "/html.json", "/missing.json"} {
		_, err := s.UpdatePrices(ctx, srv.URL+bad, nil)
		if err == nil || !strings.Contains(err.Error(), "unchanged") {
			t.Errorf("update from %s: %v, want an error saying nothing changed", bad, err)
		}
		if bad != "/missing.json" && !errors.Is(err, gateway.ErrPriceFormat) {
			t.Errorf("update from %s: %v, want ErrPriceFormat", bad, err)
		}
		if !newModel() {
			t.Errorf("after the failed update from %s the table changed", bad)
		}
	}
	if _, err := s.UpdatePrices(ctx, "ftp://x/y", nil); err == nil {
		t.Error("update from ftp:// = nil error")
	}

	// LiteLLM's format, given as data (a file).
	res, err = s.UpdatePrices(ctx, "litellm.json", litellm)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != gateway.FormatLiteLLM || !slices.Contains(res.Removed, "anthropic/claude-opus-9-9") {
		t.Errorf("update from LiteLLM = %+v, want claude-opus-9-9 (only in the genai table) gone", res)
	}

	// Rollback goes back one table, the one the last update replaced.
	if _, err := s.RollbackPrices(ctx); err != nil {
		t.Fatal(err)
	}
	if !newModel() {
		t.Error("rollback did not bring back the genai-prices table")
	}
	if _, err := s.RollbackPrices(ctx); !errors.Is(err, errNotFound) {
		t.Errorf("second rollback: %v, want errNotFound", err)
	}
}
