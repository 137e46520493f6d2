package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func TestDeferSurvivesRestartAndExpires(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sluice.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutBudget(gateway.Budget{Name: "day", Limit: 10 * gateway.Dollar, Period: gateway.PeriodTotal}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := gateway.Hold{ID: "bg1", Time: now, Provider: "openai", Model: "gpt-4o-mini", Route: "openai.responses", Amount: 3 * gateway.Dollar}
	if err := db.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	rec := gateway.Record{ID: "bg1", Time: now, Provider: "openai", Model: "gpt-4o-mini", Route: "openai.responses", Status: 200, Outcome: gateway.OutcomeOK, Held: h.Amount}
	if err := db.Defer(ctx, "openai/resp_1", rec, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.Defer(ctx, "openai/resp_2", gateway.Record{ID: "nohold"}, now.Add(time.Hour)); err == nil {
		t.Errorf("Defer of a hold that is not open = nil, want an error")
	}
	db.Close()

	// A restart is not a crash for a deferred hold: it stays open and
	// reserved against the budget.
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("Recover = %d, %v; want nothing charged", n, err)
	}
	if db.OpenHolds() != 1 || heldTotal(db) != h.Amount {
		t.Fatalf("after restart %d holds open, %v held; want the deferred hold", db.OpenHolds(), heldTotal(db))
	}
	got, ok, err := db.Deferred(ctx, "openai/resp_1")
	if err != nil || !ok || got.ID != "bg1" {
		t.Fatalf("Deferred(openai/resp_1) = %+v, %v, %v; want the record", got, ok, err)
	}
	if err := db.Hold(ctx, gateway.Hold{ID: "big", Provider: "openai", Model: "gpt-4o", Amount: 8 * gateway.Dollar}); err == nil {
		t.Errorf("a hold past what the deferred hold leaves was admitted")
	}
	if n, err := db.Expire(ctx, now.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("Expire before its time = %d, %v; want 0", n, err)
	}
	if n, err := db.Expire(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Expire after its time = %d, %v; want 1", n, err)
	}
	recs, err := db.Records(LogQuery{})
	if err != nil || len(recs) != 1 || recs[0].Cost != h.Amount || recs[0].Outcome != gateway.OutcomeExpired || !recs[0].Estimated {
		t.Fatalf("records %+v, %v; want one expired charge of the hold", recs, err)
	}
	if db.OpenHolds() != 0 || db.Deferrals() != 0 {
		t.Errorf("%d holds, %d deferrals left; want none", db.OpenHolds(), db.Deferrals())
	}
	if _, ok, _ := db.Deferred(ctx, "openai/resp_1"); ok {
		t.Errorf("the deferral outlived its charge")
	}
	// Charged once: a late read-back settling the same ID changes nothing.
	late := rec
	late.Cost = gateway.Dollar
	if err := db.Settle(ctx, late); err != nil {
		t.Fatal(err)
	}
	if recs, _ := db.Records(LogQuery{}); len(recs) != 1 {
		t.Errorf("%d records after a late settle, want 1", len(recs))
	}
}

func TestRecordsModelFilterCoversSnapshots(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "sluice.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, m := range []string{"gpt-4o-2024-11-20", "gpt-4o-mini", "gpt-4o"} {
		if err := db.Settle(ctx, gateway.Record{ID: fmt.Sprint("r", i), Provider: "openai", Model: m, Outcome: gateway.OutcomeOK, Cost: 1}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := db.Records(LogQuery{Model: "GPT-4o"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("Records(model GPT-4o) = %d records, %v; want gpt-4o and its snapshot", len(recs), err)
	}
}
