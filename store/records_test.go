package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func ids(recs []gateway.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestRecordsQuery(t *testing.T) {
	db, _ := openTest(t, Options{})
	base := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	recs := []gateway.Record{
		{ID: "r0", Provider: "openai", Model: "gpt-4o", Token: "ci", Status: 200, Outcome: gateway.OutcomeOK},
		{ID: "r1", Provider: "anthropic", Model: "claude-opus-4-1", Token: "ci", Status: 200, Outcome: gateway.OutcomeOK},
		{ID: "r2", Provider: "anthropic", Model: "claude-sonnet-4-5", Token: "laptop", Status: 402, Outcome: gateway.OutcomeRefused},
		{ID: "r3", Provider: "openai", Model: "gpt-4o-mini", Token: "laptop", Status: 500, Outcome: gateway.OutcomeError},
		{ID: "r4", Provider: "anthropic", Model: "claude-opus-4-1", Token: "ci", Status: 200, Outcome: gateway.OutcomeCut},
	}
	// Settled out of order: the log is ordered by request time.
	for _, i := range []int{2, 0, 4, 1, 3} {
		r := recs[i]
		r.Time = base.Add(time.Duration(i) * time.Minute)
		mustSettle(t, db, r)
	}
	tests := []struct {
		q    LogQuery
		want []string
	}{
		{LogQuery{}, []string{"r4", "r3", "r2", "r1", "r0"}},
		{LogQuery{Limit: 2}, []string{"r4", "r3"}},
		{LogQuery{Limit: 2, Before: "r3"}, []string{"r2", "r1"}},
		{LogQuery{Before: "r1"}, []string{"r0"}},
		{LogQuery{Before: "r0"}, nil},
		{LogQuery{Provider: "anthropic"}, []string{"r4", "r2", "r1"}},
		{LogQuery{Model: "claude-opus-*"}, []string{"r4", "r1"}},
		{LogQuery{Model: "gpt-4o"}, []string{"r0"}},
		{LogQuery{Token: "laptop"}, []string{"r3", "r2"}},
		{LogQuery{Outcome: gateway.OutcomeRefused}, []string{"r2"}},
		{LogQuery{Status: 200}, []string{"r4", "r1", "r0"}},
		{LogQuery{Since: base.Add(2 * time.Minute)}, []string{"r4", "r3", "r2"}},
		{LogQuery{Since: base.Add(90 * time.Second), Token: "ci"}, []string{"r4"}},
		{LogQuery{Provider: "anthropic", Limit: 1, Before: "r4"}, []string{"r2"}},
	}
	for _, tt := range tests {
		got, err := db.Records(tt.q)
		if err != nil {
			t.Errorf("Records(%+v) = %v", tt.q, err)
			continue
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("Records(%+v) = %v, want %v", tt.q, ids(got), tt.want)
		}
	}
	if _, err := db.Records(LogQuery{Before: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Records(Before: nope) = %v, want ErrNotFound", err)
	}
	if _, err := db.Records(LogQuery{Model: "[bad"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Records(Model: [bad) = %v, want ErrInvalid", err)
	}
	r, err := db.Record("r2")
	if err != nil || r.Model != "claude-sonnet-4-5" || r.Status != 402 || !r.Time.Equal(base.Add(2*time.Minute)) {
		t.Errorf("Record(r2) = %+v, %v", r, err)
	}
	if _, err := db.Record("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Record(nope) = %v, want ErrNotFound", err)
	}
	if got, _ := db.Records(LogQuery{}); got == nil {
		t.Errorf("Records() = nil, want an empty or full slice, never nil")
	}
	times, err := db.RecordTimes(base.Add(2 * time.Minute))
	want := []time.Time{base.Add(4 * time.Minute), base.Add(3 * time.Minute), base.Add(2 * time.Minute)}
	if err != nil || !slices.EqualFunc(times, want, time.Time.Equal) {
		t.Errorf("RecordTimes(base+2m) = %v, %v; want %v", times, err, want)
	}
}

func TestRecordsEmpty(t *testing.T) {
	db, _ := openTest(t, Options{})
	got, err := db.Records(LogQuery{})
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Records() on an empty log = %v, %v; want [], nil", got, err)
	}
}

func TestPruneRecords(t *testing.T) {
	db, _ := openTest(t, Options{})
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		mustSettle(t, db, gateway.Record{ID: fmt.Sprint("r", i), Time: base.Add(time.Duration(i) * 24 * time.Hour), Outcome: gateway.OutcomeOK, Cost: cents(1), Priced: true})
	}
	n, err := db.PruneRecords(base.Add(4 * 24 * time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("PruneRecords = %d, %v, want 4, nil", n, err)
	}
	got, _ := db.Records(LogQuery{})
	if want := []string{"r9", "r8", "r7", "r6", "r5", "r4"}; !slices.Equal(ids(got), want) {
		t.Errorf("Records() after pruning = %v, want %v", ids(got), want)
	}
	if _, err := db.Record("r1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Record(pruned) = %v, want ErrNotFound", err)
	}
	// Spend still counts the pruned days.
	if rows, _ := db.Spend(SpendQuery{}); len(rows) != 1 || rows[0].Requests != 10 || rows[0].Cost != cents(10) {
		t.Errorf("Spend() after pruning = %+v, want 10 requests costing 0.1", rows)
	}
}

func TestSubscribe(t *testing.T) {
	db, _ := openTest(t, Options{})
	feed := db.Subscribe()
	slow := db.Subscribe()
	defer slow.Close()

	mustSettle(t, db, gateway.Record{ID: "a", Outcome: gateway.OutcomeOK})
	select {
	case r := <-feed.C:
		if r.ID != "a" {
			t.Errorf("feed got %q, want a", r.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("feed got nothing")
	}

	// A reader that never reads does not hold up settlement.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range subscribeBuffer + 50 {
			mustSettle(t, db, gateway.Record{ID: fmt.Sprint("b", i), Outcome: gateway.OutcomeOK})
		}
	}()
	n := 0
	for n < subscribeBuffer+50 {
		select {
		case <-feed.C:
			n++
		case <-time.After(10 * time.Second):
			t.Fatalf("feed got %d records, want %d", n, subscribeBuffer+50)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("settlement stalled behind a slow subscriber")
	}
	if got := len(slow.C); got != subscribeBuffer {
		t.Errorf("slow feed holds %d records, want %d", got, subscribeBuffer)
	}
	// What the slow feed could not hold is counted, once.
	if got, want := slow.Dropped(), int64(1+subscribeBuffer+50-subscribeBuffer); got != want {
		t.Errorf("slow.Dropped() = %d, want %d", got, want)
	}
	if got := slow.Dropped(); got != 0 {
		t.Errorf("slow.Dropped() again = %d, want 0", got)
	}

	feed.Close()
	feed.Close()
	if _, ok := <-feed.C; ok {
		t.Errorf("feed open after unsubscribing")
	}
	mustSettle(t, db, gateway.Record{ID: "c", Outcome: gateway.OutcomeOK})

	db.Close()
	for range slow.C {
	}
	late := db.Subscribe()
	late.Close()
	if _, ok := <-late.C; ok {
		t.Errorf("Subscribe after Close gave an open feed")
	}
}
