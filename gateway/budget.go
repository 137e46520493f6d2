package gateway

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
	"time"
)

// Period is how often a budget starts again from zero.
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

// Valid reports whether p is one of the four periods.
func (p Period) Valid() bool {
	switch p {
	case PeriodDay, PeriodWeek, PeriodMonth, PeriodTotal:
		return true
	}
	return false
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
	if !b.Period.Valid() {
		return bad("period %q is not day, week, month or total", b.Period)
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
// has a zero start and a zero end.
func (b Budget) Window(now time.Time, loc *time.Location) (start, end time.Time) {
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
