package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

// goldenCase is one usage block of testdata/golden/usage.json with its
// price worked out by hand.
type goldenCase struct {
	Name       string          `json:"name"`
	Provider   string          `json:"provider"`
	Dialect    string          `json:"dialect"`
	Route      string          `json:"route"`
	At         string          `json:"at"`
	TimeZone   string          `json:"time_zone"`
	Body       json.RawMessage `json:"body"`
	Stream     string          `json:"stream"`
	Arithmetic string          `json:"arithmetic"`
	WantUSD    string          `json:"want_usd"`
	// WantUnpriced are the parts the table must leave unpriced, by the
	// start of what Unpriced says of them: "web_search", "output (audio)".
	WantUnpriced []string `json:"want_unpriced"`
}

// TestGoldenPrices prices real usage blocks of every provider (bodies and
// streams, audio, video and image among them) through the usage readers
// and the built-in table, and compares each with the price computed by
// hand from the published rates. It reports the share within 0.5% and
// fails unless every case is.
func TestGoldenPrices(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden/usage.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("testdata/golden/usage.json: %v", err)
	}
	if len(file.Cases) < 20 {
		t.Fatalf("%d golden cases, want the whole catalogue", len(file.Cases))
	}
	table := DefaultPrices()
	within := 0
	for _, c := range file.Cases {
		ok := t.Run(c.Name, func(t *testing.T) {
			u, model := goldenUsage(t, c)
			at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			if c.At != "" {
				if at, err = time.Parse(time.RFC3339, c.At); err != nil {
					t.Fatal(err)
				}
			}
			if c.TimeZone != "" {
				loc, err := time.LoadLocation(c.TimeZone)
				if err != nil {
					t.Fatal(err)
				}
				at = at.In(loc)
			}
			row, found := table.Lookup(c.Provider, model)
			if !found {
				t.Fatalf("Lookup(%s, %s) found no price", c.Provider, model)
			}
			p := row.At(at)
			got := p.Cost(u)
			want, err := ParseMoney(c.WantUSD)
			if err != nil {
				t.Fatal(err)
			}
			if !closeTo(got, want, 5, 1000) {
				t.Errorf("%s/%s at %s: Cost(%+v) = $%s, want $%s (%s)\nlines: %+v", c.Provider, model, at, u, got, want, c.Arithmetic, p.Explain(u))
			}
			unknown := p.Unpriced(u)
			if len(unknown) != len(c.WantUnpriced) {
				t.Errorf("%s/%s: Unpriced = %q, want %q", c.Provider, model, unknown, c.WantUnpriced)
			} else {
				for i, w := range c.WantUnpriced {
					if !strings.HasPrefix(unknown[i], w) {
						t.Errorf("%s/%s: Unpriced = %q, want %q", c.Provider, model, unknown, c.WantUnpriced)
					}
				}
			}
			var sum Money
			for _, l := range p.Explain(u) {
				sum += l.Amount
			}
			if sum != got {
				t.Errorf("%s/%s: Explain adds up to %s, Cost = %s", c.Provider, model, sum, got)
			}
		})
		if ok {
			within++
		}
	}
	share := 100 * float64(within) / float64(len(file.Cases))
	t.Logf("golden prices: %d of %d usage blocks priced within 0.5%% of the hand-computed price (%.1f%%)", within, len(file.Cases), share)
	if within < len(file.Cases) {
		t.Errorf("golden prices: %.1f%% within 0.5%%, want 100%%", share)
	}
}

// goldenUsage reads c's usage and model as the proxy does: from the body,
// or event by event from the stream.
func goldenUsage(t *testing.T, c goldenCase) (Usage, string) {
	t.Helper()
	if c.Stream != "" {
		m := meterFor(c.Dialect, c.Route, false)
		er := newSSEReader(strings.NewReader(c.Stream))
		for {
			ev, err := er.Next()
			if len(ev.Raw) > 0 {
				m.relay(ev)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
		}
		if !m.Done {
			t.Fatalf("stream did not finish")
		}
		return m.Usage, m.Model
	}
	u, model, ok := usageFor(c.Dialect, c.Route, bytes.TrimSpace(c.Body))
	if !ok {
		t.Fatalf("UsageFromBody found no usage")
	}
	return u, model
}

// closeTo reports whether got is within num/den of want.
func closeTo(got, want Money, num, den int64) bool {
	d := new(big.Int).Sub(big.NewInt(int64(got)), big.NewInt(int64(want)))
	d.Abs(d).Mul(d, big.NewInt(den))
	lim := new(big.Int).Mul(big.NewInt(int64(want)), big.NewInt(num))
	return d.Cmp(lim) <= 0
}
