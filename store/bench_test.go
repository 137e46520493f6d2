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
// file's write transactions (two fdatasyncs each) per request, syncs/op
// the journal's fdatasyncs.
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
			before, syncsBefore := db.commits.txs.Load(), db.journal.syncs.Load()
			cpu := processCPU()
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
			b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(float64(db.commits.txs.Load()-before)/float64(b.N), "commits/op")
			b.ReportMetric(float64(db.journal.syncs.Load()-syncsBefore)/float64(b.N), "syncs/op")
			if n := db.OpenHolds(); n != 0 {
				b.Errorf("%d holds open after the run", n)
			}
		})
	}
}

// BenchmarkFold measures folding settlements from the journal into bbolt,
// per settlement, foldBatch to a transaction as under load: the log, the
// record IDs, the rollups and the commit. pages/op counts the pages the
// commits write (one pwrite each).
//
//	go test -run '^$' -bench Fold -benchmem ./store
func BenchmarkFold(b *testing.B) {
	db, _ := openTest(b, Options{})
	db.stopFolder() // the benchmark folds
	loc := db.location()
	start := time.Now()
	pend := func(n, seq int) {
		for i := range n {
			t := start.Add(time.Duration(seq+i) * time.Microsecond)
			pendBench(b, db, foldRecord(t, seq+i, "ci", "gpt-4o-mini"), loc)
		}
	}
	pages := func() int64 { st := db.bolt.Stats(); return st.TxStats.GetWrite() }
	writes := pages()
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += foldBatch {
		b.StopTimer()
		pend(min(foldBatch, b.N-i), i)
		b.StartTimer()
		c := processCPU()
		if err := db.fold(false); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c
	}
	b.StopTimer()
	reportFold(b, db, cpu, pages()-writes)
}

// foldRates is the price row of the fold benchmarks' records.
var foldRates = gateway.Price{Provider: "openai", Model: "gpt-4o-mini", Input: gateway.Dollar * 15 / 100, Output: gateway.Dollar * 60 / 100,
	CachedInput: gateway.Dollar * 75 / 1000, ContextWindow: 128_000, MaxOutput: 16_384, Source: "bench", Updated: "2026-11-30"}

// foldRecord is a settled chat request of the fold benchmarks, the seq'th
// made at t.
func foldRecord(t time.Time, seq int, token, model string) gateway.Record {
	return gateway.Record{ID: fmt.Sprintf("%016x%08x", t.UnixNano(), seq), Time: t, Token: token, Provider: "openai", Model: model,
		Route: "openai.chat", Status: 200, Outcome: gateway.OutcomeOK, Usage: gateway.Usage{InputTokens: 24, OutputTokens: 20},
		Cost: cents(1), Held: cents(3), Priced: true, LatencyMS: 1, UpstreamID: "req_bench", PriceRef: "openai/gpt-4o-mini@2026-11-30", Rates: &foldRates}
}

// pendBench queues r as a settlement on disk in the journal, as the
// journal's leader does.
func pendBench(b *testing.B, db *DB, r gateway.Record, loc *time.Location) {
	data, err := encodeRecord(r)
	if err != nil {
		b.Fatal(err)
	}
	db.pend(&pendingRecord{r: r, data: data, loc: loc})
}

// reportFold reports a fold benchmark's process CPU, pages and bytes
// written per settlement folded.
func reportFold(b *testing.B, db *DB, cpu time.Duration, pages int64) {
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(pages)/float64(b.N), "pages/op")
	b.ReportMetric(float64(pages)*float64(db.bolt.Info().PageSize)/float64(b.N), "written-B/op")
}

// BenchmarkFoldOne measures the fold of a lone developer's ledger: one
// settlement to a transaction, as the folder makes them when requests
// come one at a time (it folds foldDelay after the first settlement, and
// every read folds first), on a file that already holds 20,000 records.
// Each such commit rewrites a few pages whatever their size: written-B/op
// is what reaches the disk per fold (every byte fdatasync'd), the cost of
// larger pages that BenchmarkFold's full batches do not show.
//
//	go test -run '^$' -bench Fold -benchmem ./store
func BenchmarkFoldOne(b *testing.B) {
	db, _ := openTest(b, Options{})
	db.stopFolder() // the benchmark folds
	loc := db.location()
	start := time.Now().Add(-48 * time.Hour)
	seq := 0
	pend := func() {
		t := start.Add(time.Duration(seq) * time.Second)
		pendBench(b, db, foldRecord(t, seq, fmt.Sprintf("tok%d", seq%7), []string{"gpt-4o-mini", "gpt-4o", "o3"}[seq%3]), loc)
		seq++
	}
	for seq < 20_000 {
		for range foldBatch {
			pend()
		}
		if err := db.fold(false); err != nil {
			b.Fatal(err)
		}
	}
	pages := func() int64 { st := db.bolt.Stats(); return st.TxStats.GetWrite() }
	writes := pages()
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		pend()
		c := processCPU()
		if err := db.fold(false); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c
	}
	reportFold(b, db, cpu, pages()-writes)
}

// BenchmarkToken measures finding a request's local token by its secret,
// which every request through the gateway does.
//
//	go test -run '^$' -bench Token -benchmem ./store
func BenchmarkToken(b *testing.B) {
	db, _ := openTest(b, Options{})
	secret, err := db.NewToken("bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if name, err := db.Token(ctx, secret); err != nil || name != "bench" {
			b.Fatalf("Token = %q, %v", name, err)
		}
	}
}
