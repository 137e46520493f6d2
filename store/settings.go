package store

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// Settings are the user's preferences, kept in the data file.
type Settings struct {
	// Upstreams replaces providers' base URLs: name → the base the
	// provider's own SDK takes.
	Upstreams map[string]string `json:"upstreams,omitempty"`
	// UnpricedPolicy is gateway.UnpricedRefuse or gateway.UnpricedEstimate
	// (gateway.Policy.Unpriced).
	UnpricedPolicy string `json:"unpriced_policy"`
	// UnpricedHold is what a request for an unpriced model holds under
	// gateway.UnpricedEstimate (gateway.Policy.UnpricedHold).
	UnpricedHold gateway.Money `json:"unpriced_hold_usd"`
	// TimeZone is the IANA zone of budget windows and daily spend, such as
	// "Europe/Berlin"; "" means the system's.
	TimeZone string `json:"time_zone,omitempty"`
	// AllowedOrigins are browser origins (scheme://host[:port]) allowed to
	// call provider routes.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// LogBodies keeps request and response bodies in the log.
	LogBodies bool `json:"log_bodies"`
	// CompatEndpoints sends OpenAI-format requests for Anthropic and
	// Gemini models to those providers' OpenAI-compatible endpoints
	// instead of translating them (gateway.Policy.CompatEndpoints).
	CompatEndpoints bool `json:"compat_endpoints,omitempty"`
	// RetentionDays is how many days of log records are kept; 0 keeps
	// them all. Spend rollups are always kept.
	RetentionDays int `json:"retention_days"`
	// CloseAction is what closing the desktop window does: CloseHide keeps
	// the gateway running in the background (run sluice again to bring
	// the window back), CloseQuit stops it.
	CloseAction string `json:"close_action"`
	// AllowKeyTo are hosts (host or host:port) the user confirmed, from
	// the command line, as places provider keys may go besides each
	// provider's official address.
	AllowKeyTo []string `json:"allow_key_to,omitempty"`
	// SessionHours is how long a browser's dashboard session lasts
	// without use; 0 means the app's default. The app checks its range.
	SessionHours int `json:"session_hours,omitempty"`
	// StreamSliceTokens is how many output tokens a stream is held for at
	// a time (gateway.Policy.StreamSlice); 0 means the default.
	StreamSliceTokens int64 `json:"stream_slice_tokens,omitempty"`
	// StrictHolds holds every stream's worst case up front.
	StrictHolds bool `json:"strict_holds,omitempty"`
	// FallbackAfterSeconds is how long an alias's target with a fallback
	// left has to send its first byte before the fallback is tried
	// (gateway.Policy.FallbackAfter); 0 means the default, -1 waits as
	// long as any request.
	FallbackAfterSeconds int `json:"fallback_after_s,omitempty"`
	// BackgroundHoldHours is how long a background response's hold waits
	// for the response to be read back before it is charged
	// (gateway.Policy.BackgroundHold); 0 means 24.
	BackgroundHoldHours int `json:"background_hold_hours,omitempty"`
	// LoopOff turns loop detection off. LoopLimit is how many identical
	// requests a token may send within LoopWindowSeconds before the next
	// is refused; 0 means gateway.DefaultLoopLimit and
	// gateway.DefaultLoopWindow.
	LoopOff           bool `json:"loop_off,omitempty"`
	LoopLimit         int  `json:"loop_limit,omitempty"`
	LoopWindowSeconds int  `json:"loop_window_s,omitempty"`
	// TokenRPM caps requests per minute by local token name.
	TokenRPM map[string]int `json:"token_rpm,omitempty"`
	// StartAtLogin starts Sluice, the window hidden and the gateway
	// running, when the user logs in. The app keeps the OS's entry for it
	// (app.Autostart) in step with this.
	StartAtLogin bool `json:"start_at_login,omitempty"`
}

// Policy returns the gateway policy s sets: without the runaway guard's
// pauses and allowances, which Guard keeps, and in the time zone s names
// (nil, the local one, when it names none or one not known here).
func (s Settings) Policy() gateway.Policy {
	pol := gateway.Policy{Unpriced: s.UnpricedPolicy, UnpricedHold: s.UnpricedHold, AllowedOrigins: s.AllowedOrigins,
		LogBodies: s.LogBodies, CompatEndpoints: s.CompatEndpoints, RPM: s.TokenRPM, StreamSlice: s.StreamSliceTokens, StrictHolds: s.StrictHolds,
		BackgroundHold: duration(s.BackgroundHoldHours, time.Hour), FallbackAfter: duration(s.FallbackAfterSeconds, time.Second),
		Loop: gateway.LoopPolicy{Off: s.LoopOff, Limit: s.LoopLimit, Window: duration(s.LoopWindowSeconds, time.Second)}}
	if s.TimeZone != "" {
		if loc, err := time.LoadLocation(s.TimeZone); err == nil {
			pol.Location = loc
		}
	}
	return pol
}

// duration returns n units, saturating rather than wrapping around, so
// that a number too large to be a duration reads as the longest one.
func duration(n int, unit time.Duration) time.Duration {
	switch {
	case n > int(math.MaxInt64/unit):
		return math.MaxInt64
	case n < int(math.MinInt64/unit):
		return math.MinInt64
	}
	return time.Duration(n) * unit
}

// Close actions of the desktop window.
const (
	CloseHide = "hide"
	CloseQuit = "quit"
)

// defaultSettings are the settings of a new data file.
func defaultSettings() Settings {
	return Settings{
		UnpricedPolicy: gateway.UnpricedRefuse,
		UnpricedHold:   gateway.DefaultUnpricedHold,
		CloseAction:    CloseHide,
	}
}

var (
	keySettings = []byte("settings")
	keyPrices   = []byte("prices")
)

// Settings returns the stored settings; fields never set have their
// defaultSettings values.
func (db *DB) Settings() (Settings, error) {
	var s Settings
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		s, err = readSettings(tx)
		return err
	})
	if err != nil {
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	return s, nil
}

func readSettings(tx *bolt.Tx) (Settings, error) {
	s := defaultSettings()
	_, err := getJSON(tx.Bucket(bucketMeta), keySettings, &s)
	return s, err
}

// settingsLocation returns the zone s names, or time.Local.
func settingsLocation(s Settings) *time.Location {
	if s.TimeZone != "" {
		if loc, err := time.LoadLocation(s.TimeZone); err == nil {
			return loc
		}
	}
	return time.Local
}

// PutSettings validates s and stores it. An empty UnpricedPolicy means
// gateway.UnpricedRefuse. A new TimeZone moves budget windows at once, unless
// Options.Location fixed them; spend already rolled up stays under the
// days it was recorded in.
func (db *DB) PutSettings(s Settings) error {
	if s.UnpricedPolicy == "" {
		s.UnpricedPolicy = gateway.UnpricedRefuse
	}
	if err := s.validate(); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	db.settleMu.Lock()
	defer db.settleMu.Unlock()
	// Settlements waiting in the journal are folded in the zone they were
	// made in, before it can change.
	if err := db.flush(); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	var old Settings
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		if old, err = readSettings(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySettings, data)
	})
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	if !db.fixedLoc && old.TimeZone != s.TimeZone {
		return db.reloadBudgets(settingsLocation(s))
	}
	return nil
}

func (s Settings) validate() error {
	if err := s.Policy().Check(); err != nil {
		return &invalidError{err}
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return invalidf("time zone %q is not known", s.TimeZone)
		}
	}
	for name, base := range s.Upstreams {
		if err := gateway.CheckUpstream(name, base); err != nil {
			return &invalidError{err}
		}
	}
	switch s.CloseAction {
	case "", CloseHide, CloseQuit:
	default:
		return invalidf("close action %q: use hide or quit", s.CloseAction)
	}
	if s.RetentionDays < 0 {
		return invalidf("retention of %d days is negative", s.RetentionDays)
	}
	return nil
}

// Guard is the runaway guard's state that the user sets from the window
// or the command line and that outlives a restart: pauses, and tokens
// whose repeats are allowed for a while.
type Guard struct {
	Pauses      []gateway.Pause      `json:"pauses"`
	LoopAllowed map[string]time.Time `json:"loop_allowed,omitempty"`
}

// active returns g without the pauses and allowances that have ended at
// now.
func (g Guard) active(now time.Time) Guard {
	out := Guard{Pauses: []gateway.Pause{}}
	for _, p := range g.Pauses {
		if p.Active(now) {
			out.Pauses = append(out.Pauses, p)
		}
	}
	for tok, until := range g.LoopAllowed {
		if until.After(now) {
			if out.LoopAllowed == nil {
				out.LoopAllowed = map[string]time.Time{}
			}
			out.LoopAllowed[tok] = until
		}
	}
	return out
}

var keyGuard = []byte("guard")

// Guard returns the pauses and loop allowances in force now.
func (db *DB) Guard() (Guard, error) {
	var g Guard
	err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketMeta), keyGuard, &g)
		return err
	})
	if err != nil {
		return Guard{}, fmt.Errorf("read pauses: %w", err)
	}
	return g.active(db.now()), nil
}

// UpdateGuard changes the guard state with fn, atomically, and returns
// it as saved; what has ended is dropped first.
func (db *DB) UpdateGuard(fn func(*Guard) error) (Guard, error) {
	var g Guard
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var cur Guard
		if _, err := getJSON(tx.Bucket(bucketMeta), keyGuard, &cur); err != nil {
			return err
		}
		g = cur.active(db.now())
		if err := fn(&g); err != nil {
			return err
		}
		data, err := json.Marshal(g)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyGuard, data)
	})
	if err != nil {
		return Guard{}, fmt.Errorf("save pauses: %w", err)
	}
	return g, nil
}

// PriceOverrides returns the user's price rows, which take precedence
// over the built-in table.
func (db *DB) PriceOverrides() ([]gateway.Price, error) {
	prices := []gateway.Price{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketMeta), keyPrices, &prices)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read price overrides: %w", err)
	}
	return prices, nil
}

// PutPriceOverrides replaces the user's price rows with prices, which
// must pass gateway.CheckPrices.
func (db *DB) PutPriceOverrides(prices []gateway.Price) error {
	if err := gateway.CheckPrices(prices); err != nil {
		return &invalidError{err}
	}
	rows := prices
	if rows == nil {
		rows = []gateway.Price{}
	}
	data, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("save price overrides: %w", err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyPrices, data)
	})
	if err != nil {
		return fmt.Errorf("save price overrides: %w", err)
	}
	return nil
}
