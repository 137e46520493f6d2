package gateway

import (
	"fmt"
	"net/url"
	"time"
)

// Bounds of the loop policy a user may set.
const (
	MaxLoopLimit  = 10000
	MaxLoopWindow = 24 * time.Hour
)

// Check reports what is wrong with pol, if anything, in words a user can
// act on: the one rule set for a policy, whichever of the settings page,
// the command line or a saved file it comes from. The error wraps
// ErrInvalidPolicy. Pauses, allowances and Location are the proxy's
// state, not the user's choices, and are not checked.
func (pol Policy) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
	}
	if err := checkUnpriced(pol.Unpriced, pol.UnpricedHold); err != nil {
		return err
	}
	for _, o := range pol.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return bad("allowed origin %q: write it as scheme://host[:port]", o)
		}
	}
	if pol.StreamSlice < 0 {
		return bad("a stream slice of %d tokens is negative: use a number of tokens, or 0 for the default (%d)", pol.StreamSlice, DefaultStreamSlice)
	}
	if pol.BackgroundHold < 0 {
		return bad("a background hold of %v is negative: use a number of hours, or 0 for the default (%d)", pol.BackgroundHold, int(defaultBackgroundHold/time.Hour))
	}
	if pol.Loop.Limit < 0 || pol.Loop.Limit > MaxLoopLimit {
		return bad("loop limit %d: use a number of repeats from 1 to %d (or turn loop detection off)", pol.Loop.Limit, MaxLoopLimit)
	}
	if pol.Loop.Window < 0 || pol.Loop.Window > MaxLoopWindow {
		return bad("loop window of %v: use up to a day", pol.Loop.Window)
	}
	for tok, n := range pol.RPM {
		if n < 0 {
			return bad("requests per minute for token %q is negative", tok)
		}
	}
	return nil
}
