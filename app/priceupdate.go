package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// defaultPricesURL is where `sluice prices update` takes the current
// table from: genai-prices' published data.json.
const defaultPricesURL = "https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/data.json"

// maxPriceTable bounds a fetched table (LiteLLM's runs to a few MB).
const maxPriceTable = 64 << 20

// PriceUpdate says what an update or a rollback changed in the table in
// force.
type PriceUpdate struct {
	Source  string `json:"source"`
	Format  string `json:"format,omitempty"`
	Rows    int    `json:"rows"`
	Skipped int    `json:"skipped,omitempty"`
	// Added are models the table in force did not price before;
	// Changed, models whose rates changed; Removed, models no longer
	// priced (only a rollback removes).
	Added   []string      `json:"added"`
	Changed []PriceChange `json:"changed"`
	Removed []string      `json:"removed"`
	// Date is the date of the table now in force.
	Date string `json:"date"`
}

// PriceChange is one model whose rates changed.
type PriceChange struct {
	Model string `json:"model"` // provider/model
	Was   string `json:"was"`   // "$3 in, $15 out per million"
	Now   string `json:"now"`
}

func (s *Service) UpdatePrices(ctx context.Context, source string, data []byte) (PriceUpdate, error) {
	if data == nil {
		if source == "" {
			source = defaultPricesURL
		}
		b, err := s.fetchPrices(ctx, source)
		if err != nil {
			return PriceUpdate{}, err
		}
		data = b
	}
	imp, err := gateway.ImportPrices(data)
	if err != nil {
		return PriceUpdate{}, fmt.Errorf("%s: %w; the price table in force is unchanged", source, err)
	}
	if imp.Format == gateway.FormatSluice {
		return PriceUpdate{}, fmt.Errorf("%s is a Sluice price file: use sluice prices import for it; the price table in force is unchanged", source)
	}
	if len(imp.Prices) == 0 {
		return PriceUpdate{}, fmt.Errorf("%s has no prices Sluice can use; the price table in force is unchanged", source)
	}
	before, _, err := s.priceTable()
	if err != nil {
		return PriceUpdate{}, err
	}
	now := time.Now().UTC()
	rows := make([]gateway.Price, len(imp.Prices))
	for i, p := range imp.Prices {
		if p.Updated == "" {
			p.Updated = now.Format("2006-01-02")
		}
		rows[i] = p
	}
	if err := s.DB.PutPriceTable(store.PriceTable{Source: source, Format: imp.Format, Fetched: now, Rows: rows}); err != nil {
		return PriceUpdate{}, err
	}
	res, err := s.priceChanges(before)
	if err != nil {
		return PriceUpdate{}, err
	}
	res.Source, res.Format, res.Rows, res.Skipped = source, imp.Format, len(rows), len(imp.Skipped)
	return res, nil
}

func (s *Service) RollbackPrices(ctx context.Context) (PriceUpdate, error) {
	before, _, err := s.priceTable()
	if err != nil {
		return PriceUpdate{}, err
	}
	if err := s.DB.RollbackPriceTable(); err != nil {
		if errors.Is(err, store.ErrNoPriceTable) {
			return PriceUpdate{}, fmt.Errorf("%w: sluice prices update has not replaced a table since the last rollback", errNotFound)
		}
		return PriceUpdate{}, err
	}
	res, err := s.priceChanges(before)
	if err != nil {
		return PriceUpdate{}, err
	}
	res.Source = "embedded table of " + gateway.DefaultPrices().Version()
	if cur, _, _, err := s.DB.PriceTables(); err == nil && cur != nil {
		res.Source, res.Format, res.Rows = cur.Source, cur.Format, len(cur.Rows)
	}
	return res, nil
}

// priceChanges hands the table now in force to the proxy and says how it
// differs from before.
func (s *Service) priceChanges(before *gateway.Prices) (PriceUpdate, error) {
	after, _, err := s.priceTable()
	if err != nil {
		return PriceUpdate{}, err
	}
	if s.Proxy != nil {
		s.Proxy.SetPrices(after)
	}
	var res PriceUpdate
	old := map[string]gateway.Price{}
	for _, p := range before.All() {
		old[p.Key()] = p
	}
	seen := map[string]bool{}
	for _, p := range after.All() {
		k := p.Key()
		seen[k] = true
		o, ok := old[k]
		switch {
		case !ok:
			res.Added = append(res.Added, p.Provider+"/"+p.Model)
		case rates(o) != rates(p):
			res.Changed = append(res.Changed, PriceChange{Model: p.Provider + "/" + p.Model, Was: rates(o), Now: rates(p)})
		}
	}
	for k, p := range old {
		if !seen[k] {
			res.Removed = append(res.Removed, p.Provider+"/"+p.Model)
		}
	}
	sort.Strings(res.Added)
	sort.Strings(res.Removed)
	sort.Slice(res.Changed, func(i, j int) bool { return res.Changed[i].Model < res.Changed[j].Model })
	l, err := s.Prices(context.Background())
	if err != nil {
		return PriceUpdate{}, err
	}
	res.Date = l.Date
	return res, nil
}

// rates says a row's main rates per million tokens.
func rates(p gateway.Price) string {
	m := func(v gateway.Money) string { return (v * 1_000_000).Format() }
	s := m(p.Input) + " in, " + m(p.Output) + " out"
	if p.CachedInput != 0 {
		s += ", " + m(p.CachedInput) + " cached"
	}
	if p.CacheWrite != 0 {
		s += ", " + m(p.CacheWrite) + " cache write"
	}
	return s + " per million"
}

func (s *Service) fetchPrices(ctx context.Context, src string) ([]byte, error) {
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", src)
	}
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 60 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "sluice/"+Version)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch prices: %w; the price table in force is unchanged", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch prices from %s: %s; the price table in force is unchanged", src, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPriceTable+1))
	if err != nil {
		return nil, fmt.Errorf("fetch prices from %s: %w; the price table in force is unchanged", src, err)
	}
	if len(b) > maxPriceTable {
		return nil, fmt.Errorf("fetch prices from %s: larger than %d MiB; the price table in force is unchanged", src, maxPriceTable>>20)
	}
	return b, nil
}
