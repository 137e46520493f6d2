package gateway

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
	"time"
)

// Period is how often a budget starts again from zero, or, for a rolling
// period such as "10m", how far back its spend counts.
type Period string

// Periods. Day, week and month windows are calendar windows in the user's
// time zone: a day runs from local midnight to local midnight (23 or 25
// hours across a daylight-saving change), a week from Monday's midnight, a
// month from the first of the month.
const (
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week"
	PeriodMonth Period = "month"
	PeriodTotal Period = "total" // never resets
)

// Rolling periods: a period written as a length, such as "10m", "1h",
// "1h30m" or "7d" (units m, h and d, whole minutes from minRolling to
// MaxRolling), is a window that slides minute by minute: spend counts
// for that long after the minute it settled in, then ages out. "No more
// than $2 in any ten minutes" is a spend-rate limit.
const (
	minRolling = time.Minute
	MaxRolling = 31 * 24 * time.Hour
)

// valid reports whether p is one of the four calendar periods or a
// rolling period.
func (p Period) valid() bool {
	switch p {
	case PeriodDay, PeriodWeek, PeriodMonth, PeriodTotal:
		return true
	}
	_, ok := p.Rolling()
	return ok
}

// Rolling returns the length of a rolling period, and whether p is one.
func (p Period) Rolling() (time.Duration, bool) {
	s := string(p)
	if s == "" {
		return 0, false
	}
	var d time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(s) {
			return 0, false
		}
		var n time.Duration
		for _, c := range s[:i] {
			n = n*10 + time.Duration(c-'0')
		}
		switch s[i] {
		case 'm':
			d += n * time.Minute
		case 'h':
			d += n * time.Hour
		case 'd':
			d += n * 24 * time.Hour
		default:
			return 0, false
		}
		if d > MaxRolling {
			return 0, false
		}
		s = s[i+1:]
	}
	if d < minRolling {
		return 0, false
	}
	return d, true
}

// RollingPeriod returns the rolling period of length d, written in the
// largest whole unit ("10m", "2h", "7d").
func RollingPeriod(d time.Duration) Period {
	switch {
	case d%(24*time.Hour) == 0:
		return Period(fmt.Sprintf("%dd", d/(24*time.Hour)))
	case d%time.Hour == 0:
		return Period(fmt.Sprintf("%dh", d/time.Hour))
	}
	return Period(fmt.Sprintf("%dm", d/time.Minute))
}

// DefaultSoft is the soft threshold, in percent of the limit, of a budget
// that does not set one.
const DefaultSoft = 80

// Budget is a limit on what requests may spend over a period.
//
// A budget covers everything, or exactly one of: one provider, one model
// (an exact name or a path.Match pattern such as "claude-opus-*", matched
// as ModelCovers does: in any case, and covering the model's snapshots, so
// "gpt-4o" covers "gpt-4o-2024-11-20"), one local token, or one saved
// prompt (the calls to POST /p/NAME).
type Budget struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Limit  Money  `json:"limit_usd"`
	Period Period `json:"period"`

	Provider string `json:"provider,omitempty"`
	Model    string `json:"model,omitempty"`
	Token    string `json:"token,omitempty"`
	Prompt   string `json:"prompt,omitempty"`

	// Soft is the threshold, in percent of the limit, past which the
	// budget raises a warning; 0 means DefaultSoft.
	Soft int `json:"soft_pct"`

	// Raise adds to Limit until RaiseUntil, then expires by itself.
	Raise      Money     `json:"raise_usd,omitzero"`
	RaiseUntil time.Time `json:"raise_until,omitzero"`

	Created time.Time `json:"created,omitzero"`
}

// ErrInvalidBudget is wrapped by Budget.Validate's errors.
var ErrInvalidBudget = errors.New("invalid budget")

// Validate reports what is wrong with b, if anything, in words a user can
// act on. The error wraps ErrInvalidBudget.
func (b Budget) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidBudget, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(b.Name) == "" {
		return bad("a budget needs a name")
	}
	if b.Name != strings.TrimSpace(b.Name) || strings.ContainsAny(b.Name, "\x00\n\r\t") {
		return bad("name %q has leading or trailing space or control characters", b.Name)
	}
	if b.Limit < 0 {
		return bad("limit %s is negative", b.Limit)
	}
	if !b.Period.valid() {
		return bad("period %q is not day, week, month, total or a rolling window from 1m to 31d (10m, 1h, 7d)", b.Period)
	}
	scopes := 0
	for _, s := range []string{b.Provider, b.Model, b.Token, b.Prompt} {
		if s != "" {
			scopes++
		}
	}
	if scopes > 1 {
		return bad("a budget covers one provider, one model, one token or one prompt, not several")
	}
	if b.Model != "" {
		if _, err := path.Match(b.Model, ""); err != nil {
			return bad("model pattern %q is malformed", b.Model)
		}
	}
	if b.Soft < 0 || b.Soft > 100 {
		return bad("soft threshold %d%% is not between 0 and 100", b.Soft)
	}
	if b.Raise < 0 {
		return bad("raise %s is negative", b.Raise)
	}
	return nil
}

// Applies reports whether h counts against b.
func (b Budget) Applies(h Hold) bool {
	if b.Provider != "" && h.Provider != b.Provider {
		return false
	}
	if b.Token != "" && h.Token != b.Token {
		return false
	}
	if b.Prompt != "" && h.Prompt != b.Prompt {
		return false
	}
	if b.Model != "" && !ModelCovers(b.Model, h.Provider, h.Model) {
		return false
	}
	return true
}

// Window returns the period of b that contains now, in loc (nil means
// time.Local): start inclusive, end exclusive. A total budget's window
// has a zero start and a zero end. A rolling window of length d is the d
// of whole minutes that ends with the minute now is in.
func (b Budget) Window(now time.Time, loc *time.Location) (start, end time.Time) {
	if d, ok := b.Period.Rolling(); ok {
		end = now.Truncate(time.Minute).Add(time.Minute)
		return end.Add(-d), end
	}
	if loc == nil {
		loc = time.Local
	}
	t := now.In(loc)
	y, m, d := t.Date()
	switch b.Period {
	case PeriodDay:
		return localMidnight(y, m, d, loc), localMidnight(y, m, d+1, loc)
	case PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return localMidnight(y, m, d-back, loc), localMidnight(y, m, d-back+7, loc)
	case PeriodMonth:
		return localMidnight(y, m, 1, loc), localMidnight(y, m+1, 1, loc)
	}
	return time.Time{}, time.Time{}
}

// localMidnight returns the first instant of the day y-m-d in loc (d may
// overflow the month, as with time.Date). Where a daylight-saving change
// skips midnight, the day starts at the change, not at an instant of the
// day before, which is what time.Date picks in some zones.
func localMidnight(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 12, 0, 0, 0, time.UTC) // normalises d
	wy, wm, wd := want.Date()
	if gy, gm, gd := t.Date(); gy != wy || gm != wm || gd != wd {
		// t fell on the day before: midnight does not exist that day, and
		// the zone that skipped it starts at the end of t's zone.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	}
	return t
}

// LimitAt returns b's limit at now: Limit, plus Raise while now is before
// RaiseUntil.
func (b Budget) LimitAt(now time.Time) Money {
	if b.Raise > 0 && now.Before(b.RaiseUntil) {
		return b.Limit + b.Raise
	}
	return b.Limit
}

// Raised returns b raised by by for d from now; then the raise expires by
// itself. A raise made while another is in force adds to it and lasts
// until the later of the two ends, so raising again always leaves more
// room than before. A raise of $0 or less, or one that lasts no time, is
// an error wrapping ErrInvalidBudget.
func (b Budget) Raised(by Money, d time.Duration, now time.Time) (Budget, error) {
	if by <= 0 {
		return Budget{}, fmt.Errorf("%w: the raise must be more than $0", ErrInvalidBudget)
	}
	if d <= 0 {
		return Budget{}, fmt.Errorf("%w: the raise must last some time", ErrInvalidBudget)
	}
	until := now.Add(d)
	if b.Raise > 0 && now.Before(b.RaiseUntil) {
		b.Raise += by
		if b.RaiseUntil.After(until) {
			until = b.RaiseUntil
		}
	} else {
		b.Raise = by
	}
	b.RaiseUntil = until
	return b, nil
}

// SoftPercent returns b's soft threshold in percent, DefaultSoft when
// unset.
func (b Budget) SoftPercent() int {
	if b.Soft <= 0 {
		return DefaultSoft
	}
	return b.Soft
}

// SoftAt returns the amount past which b is past its soft threshold at now.
func (b Budget) SoftAt(now time.Time) Money {
	l := b.LimitAt(now)
	// l/100*pct would lose the remainder; l*pct can overflow only for
	// limits above ninety thousand dollars, where the remainder is noise.
	if l > math.MaxInt64/100 {
		return l / 100 * Money(b.SoftPercent())
	}
	return l * Money(b.SoftPercent()) / 100
}

// Scope describes what b covers: "all requests", "provider openai",
// "model claude-opus-*", "token ci", "prompt summarize".
func (b Budget) Scope() string {
	switch {
	case b.Provider != "":
		return "provider " + b.Provider
	case b.Model != "":
		return "model " + b.Model
	case b.Token != "":
		return "token " + b.Token
	case b.Prompt != "":
		return "prompt " + b.Prompt
	}
	return "all requests"
}

// MinuteSpend is what settled in one minute.
type MinuteSpend struct {
	Minute time.Time // the minute's first instant
	Spent  Money
}

// Standing is where a budget stands at an instant, as the ledger keeps
// it.
type Standing struct {
	// Settled is the settled spend in the budget's current window.
	Settled Money
	// Held is what the holds open against the budget reserve.
	Held Money
	// End is the end of the current window: when it resets. Zero for a
	// total budget.
	End time.Time
	// Minutes is a rolling budget's settled spend by minute, oldest
	// first, from the start of its window at least.
	Minutes []MinuteSpend
}

// Admission decides whether the budgets that apply to a hold can cover
// it: the ledger calls Refuses once for each budget, as it stands, then
// answers Refusal. It is the arithmetic of admission alone; the ledger
// keeps the standings, holds the lock and saves the hold. Set Now and
// Want before the first call; an Admission decides one hold.
type Admission struct {
	Now time.Time
	// Want is what the hold asks for: its amount, or the more an
	// extension of it asks.
	Want Money

	refusal *Refusal
}

// Refuses reports whether b, standing at s, cannot cover a.Want at a.Now.
func (a *Admission) Refuses(b Budget, s Standing) bool {
	ref := b.admit(a.Now, s, a.Want)
	if ref == nil {
		return false
	}
	if a.refusal == nil || ref.Remaining < a.refusal.Remaining ||
		ref.Remaining == a.refusal.Remaining && ref.Budget < a.refusal.Budget {
		a.refusal = ref
	}
	return true
}

// Refusal returns the refusal to answer, or nil when every budget Refuses
// was asked about can cover the hold. Of the budgets that cannot, it names
// the one with the least remaining, and of those the first by name: the
// answer does not depend on the order the budgets were asked about in.
func (a *Admission) Refusal() *Refusal { return a.refusal }

// admit decides whether b, standing at s, can cover want more at now. It
// returns nil when it can, else b's refusal.
func (b Budget) admit(now time.Time, s Standing, want Money) *Refusal {
	limit := b.LimitAt(now)
	spent := s.Settled + s.Held
	if want == 0 || limit-spent >= want {
		return nil
	}
	remaining := max(limit-spent, 0)
	// Suggest a raise of the shortfall in whole dollars, at least one.
	by := (want - remaining + Dollar - 1) / Dollar * Dollar
	by = max(by, Dollar)
	ref := &Refusal{
		Budget:    b.Name,
		Scope:     b.Scope(),
		Limit:     limit,
		Spent:     spent,
		Held:      s.Held,
		Remaining: remaining,
		Resets:    s.End,
		Wanted:    want,
		Raise:     by,
	}
	if d, ok := b.Period.Rolling(); ok {
		ref.Window = d
		ref.Resets = agesOut(s.Minutes, s.End.Add(-d), d, spent+want-limit)
	}
	return ref
}

// agesOut returns when enough of the spend in minutes from start on will
// have aged out of a rolling window of length d to free need, or zero if
// all of it would not.
func agesOut(minutes []MinuteSpend, start time.Time, d time.Duration, need Money) time.Time {
	var freed Money
	for _, m := range minutes {
		if m.Minute.Before(start) {
			continue
		}
		freed += m.Spent
		if freed >= need {
			return m.Minute.Add(d)
		}
	}
	return time.Time{}
}

// RateWindow is how far back Rate looks.
const RateWindow = 5 * time.Minute

// Rate returns the spend per minute over the RateWindow that ends with
// the minute now is in, from spend by minute.
func Rate(minutes []MinuteSpend, now time.Time) Money {
	from := now.Truncate(time.Minute).Add(time.Minute - RateWindow)
	var sum Money
	for _, m := range minutes {
		if !m.Minute.Before(from) && !m.Minute.After(now) {
			sum += m.Spent
		}
	}
	return sum / Money(RateWindow/time.Minute)
}

// shellQuote quotes s for a POSIX shell if it needs quoting.
func shellQuote(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/@+=", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
