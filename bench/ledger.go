//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// runLedger generates a ledger of -n settled requests spread over the
// last 30 days (or reuses one already generated in -data), then times the
// dashboard's overview summary and one page of the log filtered by model.
func runLedger(args []string) error {
	fs := flag.NewFlagSet("ledger", flag.ExitOnError)
	dir := fs.String("data", "", "data directory (made if empty)")
	n := fs.Int("n", 1_000_000, "records")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("ledger: -data is required")
	}
	db, err := app.OpenData(*dir, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	have, err := db.Spend(store.SpendQuery{})
	if err != nil {
		return err
	}
	if len(have) == 0 || have[0].Requests < int64(*n) {
		t0 := time.Now()
		if err := generate(db, *n); err != nil {
			return err
		}
		fmt.Printf("generated %d records in %.1fs\n", *n, time.Since(t0).Seconds())
	}
	svc := &app.Service{DB: db}
	ctx := context.Background()
	sum, err := timeIt(5, func() error {
		_, err := svc.Summary(ctx)
		return err
	})
	if err != nil {
		return err
	}
	page, err := timeIt(5, func() error {
		recs, err := svc.Records(ctx, store.LogQuery{Model: "claude-sonnet-4-5", Limit: store.DefaultLogLimit})
		if err == nil && len(recs) != store.DefaultLogLimit {
			err = fmt.Errorf("filtered page has %d records, want %d", len(recs), store.DefaultLogLimit)
		}
		return err
	})
	if err != nil {
		return err
	}
	total, _ := db.Spend(store.SpendQuery{})
	size := int64(0)
	if fi, err := os.Stat(filepath.Join(*dir, app.DataFile)); err == nil {
		size = fi.Size()
	}
	fmt.Printf("ledger of %d records (%d MB): overview summary %.1f ms, one filtered log page (model, %d rows) %.1f ms (median of 5)\n",
		total[0].Requests, size>>20, ms(sum), store.DefaultLogLimit, ms(page))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timeIt runs fn n times and returns the median duration.
func timeIt(n int, fn func() error) (time.Duration, error) {
	var ds []time.Duration
	for range n {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// generate settles n records, oldest first, from many goroutines so that
// the store's group commit batches them.
func generate(db *store.DB, n int) error {
	type model struct{ provider, name string }
	models := []model{
		{"openai", "gpt-4o-mini"}, {"openai", "gpt-4.1"}, {"anthropic", "claude-sonnet-4-5"},
		{"anthropic", "claude-haiku-4-5"}, {"gemini", "gemini-2.5-flash"},
	}
	tokens := []string{"laptop", "ci", "agent"}
	prices := gateway.DefaultPrices()
	end := time.Now()
	span := 30 * 24 * time.Hour
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range 512 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				m := models[i%len(models)]
				t := end.Add(-span + time.Duration(int64(span)/int64(n)*int64(i)))
				u := gateway.Usage{InputTokens: int64(200 + i%3000), OutputTokens: int64(50 + i%700)}
				r := gateway.Record{
					ID: gateway.NewID(t), Time: t, Token: tokens[i%len(tokens)], Provider: m.provider, Model: m.name,
					Route: "openai.chat", Stream: i%2 == 0, Status: 200, Outcome: gateway.OutcomeOK, Usage: u,
					LatencyMS: int64(300 + i%2000), TTFBMS: int64(200 + i%500), UpstreamID: fmt.Sprintf("req_%d", i),
				}
				if p, ok := prices.Lookup(m.provider, m.name); ok {
					r.Cost, r.Priced, r.PriceRef = p.Cost(u), true, p.Ref()
					r.Held = r.Cost * 3
				}
				if err := db.Settle(context.Background(), r); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
