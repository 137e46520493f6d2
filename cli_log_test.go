package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// TestLogCostOfUnforwarded: sluice log shows a request Sluice never
// forwarded (blocked before its model was known, or refused) as costing
// $0, not as "unpriced", while a forwarded request with no price is.
func TestLogCostOfUnforwarded(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, app.DataFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, r := range []gateway.Record{
		{Outcome: gateway.OutcomeBlocked, Reason: gateway.ReasonAuth, Status: 401, Route: "openai.chat"},
		{Outcome: gateway.OutcomeRefused, Reason: gateway.ReasonUnpriced, Status: 402, Provider: "openai", Model: "gpt-new", Route: "openai.chat"},
		{Outcome: gateway.OutcomeOK, Status: 200, Provider: "ollama", Model: "llama3", Route: "openai.chat", Usage: gateway.Usage{InputTokens: 10, OutputTokens: 5}},
	} {
		r.Time = now.Add(time.Duration(i) * time.Second)
		r.ID = gateway.NewID(r.Time)
		if err := db.Settle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	out, _, err := sluice(t, "", "log", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("sluice log printed %d lines, want a header and 3 rows:\n%s", len(lines), out)
	}
	for _, c := range []struct {
		line  string
		outc  string
		cost  string
		never string
	}{
		{lines[1], "blocked (auth)", "$0.00", "unpriced"},
		{lines[2], "refused (unpriced)", "$0.00", " unpriced "},
		{lines[3], "ok", "unpriced", "$0.00"},
	} {
		if !strings.Contains(c.line, c.outc) || !strings.Contains(c.line, c.cost) || strings.Contains(c.line, c.never) {
			t.Errorf("row %q: want %s costing %s, not %q", c.line, c.outc, c.cost, c.never)
		}
	}
}
