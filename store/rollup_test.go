package store

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

func TestSpend(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no Europe/Berlin zone: %v", err)
	}
	db, _ := openTest(t, Options{Location: berlin})
	day := func(d, h int) time.Time { return time.Date(2025, 3, d, h, 0, 0, 0, berlin) }
	recs := []gateway.Record{
		{Time: day(13, 10), Provider: "openai", Model: "gpt-4o", Token: "ci", Outcome: gateway.OutcomeOK, Priced: true,
			Usage: gateway.Usage{InputTokens: 1000, OutputTokens: 200, CachedInputTokens: 400, ReasoningTokens: 50}, Cost: cents(3)},
		{Time: day(13, 23), Provider: "anthropic", Model: "claude-opus-4-1", Token: "ci", Outcome: gateway.OutcomeOK, Priced: true,
			Usage: gateway.Usage{InputTokens: 2000, OutputTokens: 100, CacheWriteTokens: 1500, CacheWrite1hTokens: 500}, Cost: cents(20)},
		// 00:30 in Berlin is still the 13th in UTC: rollups go by the
		// store's zone.
		{Time: day(14, 0).Add(30 * time.Minute), Provider: "openai", Model: "gpt-4o", Token: "laptop", Outcome: gateway.OutcomeOK, Priced: true,
			Usage: gateway.Usage{InputTokens: 10, OutputTokens: 10}, Cost: cents(1)},
		{Time: day(14, 12), Provider: "mystery", Model: "m1", Token: "laptop", Outcome: gateway.OutcomeOK,
			Usage: gateway.Usage{InputTokens: 5, OutputTokens: 5}},
		{Time: day(15, 9), Provider: "anthropic", Model: "claude-opus-4-1", Token: "ci", Status: 402, Outcome: gateway.OutcomeRefused, Cost: cents(99)},
	}
	for i, r := range recs {
		r.ID = fmt.Sprint("r", i)
		mustSettle(t, db, r)
	}
	type row struct {
		key                string
		requests, refused  int64
		unpriced           int64
		in, out, cached    int64
		write, write1h, rz int64
		cost               gateway.Money
	}
	conv := func(rows []SpendRow) []row {
		var out []row
		for _, r := range rows {
			out = append(out, row{r.Key, r.Requests, r.Refused, r.Unpriced, r.InputTokens, r.OutputTokens, r.CachedInputTokens,
				r.CacheWriteTokens, r.CacheWrite1hTokens, r.ReasoningTokens, r.Cost})
		}
		return out
	}
	tests := []struct {
		q    SpendQuery
		want []row
	}{
		{SpendQuery{}, []row{{"total", 5, 1, 1, 3015, 315, 400, 1500, 500, 50, cents(24)}}},
		{SpendQuery{By: "day"}, []row{
			{"2025-03-13", 2, 0, 0, 3000, 300, 400, 1500, 500, 50, cents(23)},
			{"2025-03-14", 2, 0, 1, 15, 15, 0, 0, 0, 0, cents(1)},
			{"2025-03-15", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		}},
		{SpendQuery{By: "provider"}, []row{
			{"anthropic", 2, 1, 0, 2000, 100, 0, 1500, 500, 0, cents(20)},
			{"openai", 2, 0, 0, 1010, 210, 400, 0, 0, 50, cents(4)},
			{"mystery", 1, 0, 1, 5, 5, 0, 0, 0, 0, 0},
		}},
		{SpendQuery{By: "model"}, []row{
			{"claude-opus-4-1", 2, 1, 0, 2000, 100, 0, 1500, 500, 0, cents(20)},
			{"gpt-4o", 2, 0, 0, 1010, 210, 400, 0, 0, 50, cents(4)},
			{"m1", 1, 0, 1, 5, 5, 0, 0, 0, 0, 0},
		}},
		{SpendQuery{By: "token"}, []row{
			{"ci", 3, 1, 0, 3000, 300, 400, 1500, 500, 50, cents(23)},
			{"laptop", 2, 0, 1, 15, 15, 0, 0, 0, 0, cents(1)},
		}},
		{SpendQuery{By: "day", Since: day(14, 0)}, []row{
			{"2025-03-14", 2, 0, 1, 15, 15, 0, 0, 0, 0, cents(1)},
			{"2025-03-15", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		}},
		// Bounds inside a day take in the whole day; Until is exclusive.
		{SpendQuery{By: "day", Since: day(13, 22), Until: day(15, 0)}, []row{
			{"2025-03-13", 2, 0, 0, 3000, 300, 400, 1500, 500, 50, cents(23)},
			{"2025-03-14", 2, 0, 1, 15, 15, 0, 0, 0, 0, cents(1)},
		}},
		{SpendQuery{By: "token", Until: day(14, 1)}, []row{
			{"ci", 2, 0, 0, 3000, 300, 400, 1500, 500, 50, cents(23)},
			{"laptop", 2, 0, 1, 15, 15, 0, 0, 0, 0, cents(1)},
		}},
		{SpendQuery{Since: day(20, 0)}, nil},
	}
	for _, tt := range tests {
		rows, err := db.Spend(tt.q)
		if err != nil {
			t.Errorf("Spend(%+v) = %v", tt.q, err)
			continue
		}
		if got := conv(rows); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Spend(%+v) =\n%v, want\n%v", tt.q, got, tt.want)
		}
	}
	// Day by provider, for stacked charts.
	rows, err := db.Spend(SpendQuery{By: "day", Then: "provider"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s/%s:%d:%v", r.Key, r.Sub, r.Requests, r.Cost))
	}
	want := []string{"2025-03-13/anthropic:1:0.2", "2025-03-13/openai:1:0.03", "2025-03-14/openai:1:0.01", "2025-03-14/mystery:1:0", "2025-03-15/anthropic:1:0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Spend(By: day, Then: provider) = %v, want %v", got, want)
	}
	if _, err := db.Spend(SpendQuery{By: "day", Then: "day"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Spend(Then: day) = %v, want ErrInvalid", err)
	}
	if _, err := db.Spend(SpendQuery{By: "hour"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Spend(By: hour) = %v, want ErrInvalid", err)
	}
}

func TestRollupEncoding(t *testing.T) {
	r := rollup{Requests: 3, Refused: 1, Unpriced: 1, Usage: gateway.Usage{InputTokens: 1 << 40, OutputTokens: 7, CachedInputTokens: 2,
		CacheWriteTokens: 3, CacheWrite1hTokens: 1, ReasoningTokens: 5}, Cost: 9 * gateway.Dollar}
	got, err := decodeRollup(r.encode())
	if err != nil || got != r {
		t.Errorf("decodeRollup(encode(%+v)) = %+v, %v", r, got, err)
	}
	for _, bad := range [][]byte{nil, {9}, {rollupVersion, 2}} {
		if _, err := decodeRollup(bad); err == nil {
			t.Errorf("decodeRollup(%v) = nil error, want one", bad)
		}
	}
}

// TestFoldSumsRollups checks that a fold, which writes each rollup,
// prompt rollup and minute once for all its settlements, leaves what
// folding them one by one leaves.
func TestFoldSumsRollups(t *testing.T) {
	now := time.Now()
	var recs []gateway.Record
	for i := range 60 {
		r := gateway.Record{ID: fmt.Sprintf("r%03d", i), Time: now.Add(time.Duration(i%7-7) * 20 * time.Minute),
			Provider: []string{"openai", "anthropic"}[i%2], Model: []string{"m1", "m2", "m3"}[i%3], Token: []string{"ci", "laptop"}[i%5/4],
			Outcome: gateway.OutcomeOK, Priced: i%4 != 0, Usage: gateway.Usage{InputTokens: int64(i), OutputTokens: 2, ReasoningTokens: int64(i % 3)},
			Cost: cents(int64(i % 6)), LatencyMS: int64(i)}
		if i%3 == 0 {
			r.Prompt = []string{"summarise", "translate"}[i%2]
		}
		if i%11 == 0 {
			r.Outcome = gateway.OutcomeRefused
		}
		recs = append(recs, r)
	}
	dump := func(db *DB) map[string]string {
		out := map[string]string{}
		err := db.view(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketRollups, bucketPromptRollups, bucketMinutes} {
				if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
					out[string(name)+"/"+string(k)] = string(v)
					return nil
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	together, _ := openTest(t, Options{})
	for _, r := range recs {
		mustSettle(t, together, r)
	}
	apart, _ := openTest(t, Options{})
	for _, r := range recs {
		mustSettle(t, apart, r)
		if err := apart.flush(); err != nil {
			t.Fatal(err)
		}
	}
	got, want := dump(together), dump(apart)
	if len(want) == 0 || !maps.Equal(got, want) {
		t.Errorf("rollups folded together = %q\nfolded one by one = %q", got, want)
	}
}
