package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestRecordDetailCostLines: a partially priced record's detail shows a
// line per kind and modality, the unpriced ones marked, and the unpriced-
// model policy's charge as a line of its own, so the lines add up to what
// was charged.
func TestRecordDetailCostLines(t *testing.T) {
	db := testDB(t)
	s := &Service{DB: db, Proxy: &gateway.Proxy{Ledger: db}}
	ctx := context.Background()

	row, ok := gateway.DefaultPrices().Lookup("gemini", "gemini-2.5-flash")
	if !ok {
		t.Fatal("no price for gemini-2.5-flash")
	}
	// Audio in (priced at the audio rate), audio out (no rate listed).
	u := gateway.Usage{InputTokens: 1000, InputAudioTokens: 800, OutputTokens: 500, OutputAudioTokens: 400}
	priced := row.Cost(u)
	unknown := row.Unpriced(u)
	if len(unknown) != 1 {
		t.Fatalf("Unpriced(%+v) = %q, want the audio output", u, unknown)
	}
	now := time.Now()
	rates := row
	rec := gateway.Record{ID: gateway.NewID(now), Time: now, Provider: "gemini", Model: "gemini-2.5-flash",
		Route: "gemini.generateContent", Status: 200, Outcome: gateway.OutcomeOK, Usage: u,
		Cost: priced + gateway.Dollar, Priced: true, Estimated: true, Unpriced: unknown, Rates: &rates}
	if err := db.Settle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	d, err := s.RecordDetail(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sum gateway.Money
	seen := map[string]gateway.CostLine{}
	for _, l := range d.Lines {
		sum += l.Amount
		seen[l.Kind+"/"+l.Modality] = l
	}
	if sum != rec.Cost {
		t.Errorf("lines %+v add up to %s, want the %s charged", d.Lines, sum, rec.Cost)
	}
	// 200 text tokens at 0.3, 800 audio at 1 per million.
	if l := seen["input/text"]; l.Tokens != 200 || l.PerMillion != "0.3" {
		t.Errorf("text input line = %+v, want 200 tokens at 0.3", l)
	}
	if l := seen["input/audio"]; l.Tokens != 800 || l.PerMillion != "1" || l.Amount != 800*gateway.Microdollar {
		t.Errorf("audio input line = %+v, want 800 tokens at 1", l)
	}
	if l := seen["output/audio"]; !l.Unpriced || l.Amount != 0 || l.Tokens != 400 {
		t.Errorf("audio output line = %+v, want 400 tokens marked unpriced", l)
	}
	if l := seen[gateway.CostUnpricedEstimate+"/"]; l.Amount != gateway.Dollar || !strings.Contains(l.Note, "output (audio)") {
		t.Errorf("estimate line = %+v, want the policy's $1 for the audio output", l)
	}
}
