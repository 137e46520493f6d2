package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// BenchmarkHoldSettle measures a request's ledger work: a durable hold
// against a budget, then its settlement, on a real file. "serial" is one
// request at a time (each pays the whole fsync); "parallel-64" keeps 64
// in flight, which group commit lets share fsyncs. commits/op counts the
// file's write transactions (two fdatasyncs each) per request.
//
//	go test -run '^$' -bench HoldSettle -benchmem ./store
func BenchmarkHoldSettle(b *testing.B) {
	for _, par := range []int{1, 64} {
		name := "serial"
		if par > 1 {
			name = fmt.Sprintf("parallel-%d", par)
		}
		b.Run(name, func(b *testing.B) {
			db, _ := openTest(b, Options{})
			for _, bu := range []gateway.Budget{
				{Name: "all", Limit: 1_000_000 * gateway.Dollar, Period: gateway.PeriodMonth},
				{Name: "openai", Limit: 1_000_000 * gateway.Dollar, Period: gateway.PeriodDay, Provider: "openai"},
				{Name: "ci", Limit: 1_000_000 * gateway.Dollar, Period: gateway.PeriodTotal, Token: "ci"},
			} {
				mustPutBudget(b, db, bu)
			}
			ctx := context.Background()
			// The price row a priced record carries, as the proxy sets it.
			rates := gateway.Price{Provider: "openai", Model: "gpt-4o-mini", Input: gateway.Dollar * 15 / 100, Output: gateway.Dollar * 60 / 100,
				CachedInput: gateway.Dollar * 75 / 1000, ContextWindow: 128_000, MaxOutput: 16_384, Source: "bench", Updated: "2026-11-30"}
			var seq atomic.Int64
			one := func() {
				now := time.Now()
				id := fmt.Sprintf("%016x%08x", now.UnixNano(), seq.Add(1))
				h := gateway.Hold{ID: id, Time: now, Token: "ci", Provider: "openai", Model: "gpt-4o-mini", Route: "openai.chat", Amount: cents(3)}
				if err := db.Hold(ctx, h); err != nil {
					b.Error(err)
					return
				}
				r := gateway.Record{ID: id, Time: now, Token: "ci", Provider: "openai", Model: "gpt-4o-mini", Route: "openai.chat",
					Status: 200, Outcome: gateway.OutcomeOK, Usage: gateway.Usage{InputTokens: 24, OutputTokens: 20}, Cost: cents(1), Priced: true,
					LatencyMS: 1, UpstreamID: "req_bench", PriceRef: "openai/gpt-4o-mini@2026-11-30", Rates: &rates}
				if err := db.Settle(ctx, r); err != nil {
					b.Error(err)
				}
			}
			before := db.commits.txs.Load()
			b.ReportAllocs()
			b.SetParallelism(par) // par × GOMAXPROCS goroutines
			if par == 1 {
				for b.Loop() {
					one()
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one()
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(float64(db.commits.txs.Load()-before)/float64(b.N), "commits/op")
			if n := db.OpenHolds(); n != 0 {
				b.Errorf("%d holds open after the run", n)
			}
		})
	}
}
