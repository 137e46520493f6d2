package gateway

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

func TestBudgetWindow(t *testing.T) {
	const layout = "2006-01-02 15:04 MST"
	tests := []struct {
		name       string
		zone       string
		period     Period
		now        string // in zone
		start, end string // in zone; "" for zero
		hours      float64
	}{
		{"day utc", "UTC", PeriodDay, "2025-03-14 13:45 UTC", "2025-03-14 00:00 UTC", "2025-03-15 00:00 UTC", 24},
		{"day at midnight", "UTC", PeriodDay, "2025-03-14 00:00 UTC", "2025-03-14 00:00 UTC", "2025-03-15 00:00 UTC", 24},
		{"day spring forward", "America/New_York", PeriodDay, "2024-03-10 12:00 EDT", "2024-03-10 00:00 EST", "2024-03-11 00:00 EDT", 23},
		{"day fall back", "America/New_York", PeriodDay, "2024-11-03 01:30 EST", "2024-11-03 00:00 EDT", "2024-11-04 00:00 EST", 25},
		{"day midnight skipped", "America/Sao_Paulo", PeriodDay, "2018-11-04 10:00 -02", "2018-11-04 01:00 -02", "2018-11-05 00:00 -02", 23},
		{"day before midnight skipped", "America/Sao_Paulo", PeriodDay, "2018-11-03 23:30 -03", "2018-11-03 00:00 -03", "2018-11-04 01:00 -02", 24},
		{"day half-hour zone", "Asia/Kolkata", PeriodDay, "2025-01-01 03:00 IST", "2025-01-01 00:00 IST", "2025-01-02 00:00 IST", 24},
		{"week from sunday", "Europe/Berlin", PeriodWeek, "2025-03-16 23:59 CET", "2025-03-10 00:00 CET", "2025-03-17 00:00 CET", 168},
		{"week on monday", "Europe/Berlin", PeriodWeek, "2025-03-17 00:00 CET", "2025-03-17 00:00 CET", "2025-03-24 00:00 CET", 168},
		{"week across dst", "Europe/Berlin", PeriodWeek, "2025-03-30 12:00 CEST", "2025-03-24 00:00 CET", "2025-03-31 00:00 CEST", 167},
		{"week across new year", "UTC", PeriodWeek, "2025-01-01 08:00 UTC", "2024-12-30 00:00 UTC", "2025-01-06 00:00 UTC", 168},
		{"month end", "UTC", PeriodMonth, "2025-01-31 23:59 UTC", "2025-01-01 00:00 UTC", "2025-02-01 00:00 UTC", 744},
		{"month leap february", "UTC", PeriodMonth, "2024-02-29 12:00 UTC", "2024-02-01 00:00 UTC", "2024-03-01 00:00 UTC", 696},
		{"month december", "UTC", PeriodMonth, "2025-12-31 23:00 UTC", "2025-12-01 00:00 UTC", "2026-01-01 00:00 UTC", 744},
		{"month across dst", "America/New_York", PeriodMonth, "2024-03-20 09:00 EDT", "2024-03-01 00:00 EST", "2024-04-01 00:00 EDT", 743},
		{"total", "UTC", PeriodTotal, "2025-03-14 13:45 UTC", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustZone(t, tt.zone)
			parse := func(s string) time.Time {
				if s == "" {
					return time.Time{}
				}
				v, err := time.ParseInLocation(layout, s, loc)
				if err != nil {
					t.Fatalf("parse %q: %v", s, err)
				}
				return v
			}
			now, wantStart, wantEnd := parse(tt.now), parse(tt.start), parse(tt.end)
			b := Budget{Period: tt.period}
			start, end := b.Window(now, loc)
			if !start.Equal(wantStart) || !end.Equal(wantEnd) {
				t.Errorf("Window(%s) = [%s, %s), want [%s, %s)", tt.now,
					start.In(loc).Format(layout), end.In(loc).Format(layout),
					wantStart.In(loc).Format(layout), wantEnd.In(loc).Format(layout))
			}
			if got := end.Sub(start).Hours(); got != tt.hours {
				t.Errorf("Window(%s) lasts %vh, want %vh", tt.now, got, tt.hours)
			}
		})
	}
}

// TestBudgetWindowZones checks that one instant falls in different days in
// different zones.
func TestBudgetWindowZones(t *testing.T) {
	tokyo, la := mustZone(t, "Asia/Tokyo"), mustZone(t, "America/Los_Angeles")
	now := time.Date(2025, 6, 1, 3, 0, 0, 0, time.UTC) // Sunday
	b := Budget{Period: PeriodDay}
	st, _ := b.Window(now, tokyo)
	sl, _ := b.Window(now, la)
	if got, want := st.In(tokyo).Format("2006-01-02"), "2025-06-01"; got != want {
		t.Errorf("Window(%s, Tokyo) starts %s, want %s", now, got, want)
	}
	if got, want := sl.In(la).Format("2006-01-02"), "2025-05-31"; got != want {
		t.Errorf("Window(%s, Los Angeles) starts %s, want %s", now, got, want)
	}
	b.Period = PeriodWeek
	st, _ = b.Window(now, tokyo) // Sunday noon in Tokyo
	sl, _ = b.Window(now, la)    // Saturday evening in Los Angeles
	if got, want := st.In(tokyo).Format("2006-01-02"), "2025-05-26"; got != want {
		t.Errorf("Window(%s, Tokyo) week starts %s, want %s", now, got, want)
	}
	if got, want := sl.In(la).Format("2006-01-02"), "2025-05-26"; got != want {
		t.Errorf("Window(%s, Los Angeles) week starts %s, want %s", now, got, want)
	}
	b.Period = PeriodMonth
	st, _ = b.Window(time.Date(2025, 5, 31, 20, 0, 0, 0, time.UTC), tokyo)
	if got, want := st.In(tokyo).Format("2006-01-02"), "2025-06-01"; got != want {
		t.Errorf("month window in Tokyo starts %s, want %s", got, want)
	}
	if _, end := b.Window(now, nil); end.IsZero() {
		t.Errorf("Window(%s, nil) has no end; nil should mean time.Local", now)
	}
}

// TestBudgetWindowTiles checks, over random instants in zones with odd
// rules, that each window holds its instant, starts at a local midnight
// (or the change that skipped it) and ends where the next one starts.
func TestBudgetWindowTiles(t *testing.T) {
	zones := []string{"UTC", "America/New_York", "America/Sao_Paulo", "America/Havana", "America/Santiago", "Asia/Beirut", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"}
	r := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, z := range zones {
		loc := mustZone(t, z)
		for _, p := range []Period{PeriodDay, PeriodWeek, PeriodMonth} {
			b := Budget{Period: p}
			for range 400 {
				now := time.Unix(lo+r.Int64N(hi-lo), 0)
				start, end := b.Window(now, loc)
				if now.Before(start) || !now.Before(end) {
					t.Fatalf("%s %s: Window(%s) = [%s, %s), does not hold it", z, p, now.In(loc), start.In(loc), end.In(loc))
				}
				if s2, _ := b.Window(end, loc); !s2.Equal(end) {
					t.Fatalf("%s %s: window after [%s, %s) starts %s", z, p, start.In(loc), end.In(loc), s2.In(loc))
				}
				if prev, _ := b.Window(start.Add(-time.Nanosecond), loc); !prev.Before(start) {
					t.Fatalf("%s %s: window before %s starts %s", z, p, start.In(loc), prev.In(loc))
				}
				ls := start.In(loc)
				if h, m := ls.Hour(), ls.Minute(); h > 1 || (h == 0 && m != 0) {
					t.Fatalf("%s %s: Window(%s) starts at %s, not a day's start", z, p, now.In(loc), ls)
				}
			}
		}
	}
}

func TestBudgetApplies(t *testing.T) {
	h := Hold{Provider: "anthropic", Model: "claude-opus-4-1", Token: "ci"}
	tests := []struct {
		b    Budget
		want bool
	}{
		{Budget{}, true},
		{Budget{Provider: "anthropic"}, true},
		{Budget{Provider: "openai"}, false},
		{Budget{Model: "claude-opus-4-1"}, true},
		{Budget{Model: "claude-opus-*"}, true},
		{Budget{Model: "claude-sonnet-*"}, false},
		{Budget{Model: "claude-opus"}, false},
		{Budget{Model: "*"}, true},
		{Budget{Model: "[bad"}, false},
		{Budget{Token: "ci"}, true},
		{Budget{Token: "laptop"}, false},
	}
	for _, tt := range tests {
		if got := tt.b.Applies(h); got != tt.want {
			t.Errorf("Budget{%s}.Applies(%+v) = %v, want %v", tt.b.Scope(), h, got, tt.want)
		}
	}
	// A pattern does not cross a slash, as with path.Match.
	if (Budget{Model: "*"}).Applies(Hold{Model: "openai/gpt-4o"}) {
		t.Errorf(`Budget{Model: "*"}.Applies(openai/gpt-4o) = true, want false`)
	}
	if !(Budget{Model: "openai/*"}).Applies(Hold{Model: "openai/gpt-4o"}) {
		t.Errorf(`Budget{Model: "openai/*"}.Applies(openai/gpt-4o) = false, want true`)
	}
}

func TestBudgetLimitAt(t *testing.T) {
	until := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	b := Budget{Limit: 10 * Dollar, Raise: 5 * Dollar, RaiseUntil: until}
	tests := []struct {
		now  time.Time
		want Money
	}{
		{until.Add(-time.Hour), 15 * Dollar},
		{until.Add(-time.Nanosecond), 15 * Dollar},
		{until, 10 * Dollar},
		{until.Add(time.Hour), 10 * Dollar},
	}
	for _, tt := range tests {
		if got := b.LimitAt(tt.now); got != tt.want {
			t.Errorf("LimitAt(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
	if got, want := b.SoftAt(until), 8*Dollar; got != want {
		t.Errorf("SoftAt(%s) = %s, want %s", until, got, want)
	}
	b.Soft = 50
	if got, want := b.SoftAt(until.Add(-time.Hour)), 7500*Dollar/1000; got != want {
		t.Errorf("SoftAt with 50%% and raise = %s, want %s", got, want)
	}
}

// TestBudgetRaised: a raise adds to the limit for a while; one made while
// another is in force adds to it and lasts until the later end; one made
// after the last expired starts afresh; $0 or no time is refused.
func TestBudgetRaised(t *testing.T) {
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	base := Budget{Name: "daily", Limit: 10 * Dollar, Period: PeriodDay}
	tests := []struct {
		name      string
		b         Budget
		by        Money
		d         time.Duration
		wantRaise Money
		wantUntil time.Time
	}{
		{"first", base, Dollar, time.Hour, Dollar, now.Add(time.Hour)},
		{"in force, ends later", Budget{Limit: 10 * Dollar, Raise: 2 * Dollar, RaiseUntil: now.Add(3 * time.Hour)}, Dollar, time.Hour, 3 * Dollar, now.Add(3 * time.Hour)},
		{"in force, ends sooner", Budget{Limit: 10 * Dollar, Raise: 2 * Dollar, RaiseUntil: now.Add(time.Minute)}, Dollar, time.Hour, 3 * Dollar, now.Add(time.Hour)},
		{"expired", Budget{Limit: 10 * Dollar, Raise: 2 * Dollar, RaiseUntil: now}, Dollar, time.Hour, Dollar, now.Add(time.Hour)},
	}
	for _, tt := range tests {
		got, err := tt.b.Raised(tt.by, tt.d, now)
		if err != nil || got.Raise != tt.wantRaise || !got.RaiseUntil.Equal(tt.wantUntil) || got.Limit != tt.b.Limit {
			t.Errorf("%s: Raised(%s, %v) = %s until %s, %v; want %s until %s", tt.name, tt.by, tt.d, got.Raise, got.RaiseUntil, err, tt.wantRaise, tt.wantUntil)
		}
		if l := got.LimitAt(now); err == nil && l <= tt.b.LimitAt(now) {
			t.Errorf("%s: LimitAt after the raise = %s, want more than %s", tt.name, l, tt.b.LimitAt(now))
		}
	}
	for _, bad := range []struct {
		by Money
		d  time.Duration
	}{{0, time.Hour}, {-Dollar, time.Hour}, {Dollar, 0}, {Dollar, -time.Minute}} {
		if _, err := base.Raised(bad.by, bad.d, now); !errors.Is(err, ErrInvalidBudget) {
			t.Errorf("Raised(%s, %v) = %v, want ErrInvalidBudget", bad.by, bad.d, err)
		}
	}
}

func TestBudgetScope(t *testing.T) {
	tests := []struct {
		b    Budget
		want string
	}{
		{Budget{}, "all requests"},
		{Budget{Provider: "openai"}, "provider openai"},
		{Budget{Model: "claude-opus-*"}, "model claude-opus-*"},
		{Budget{Token: "ci"}, "token ci"},
	}
	for _, tt := range tests {
		if got := tt.b.Scope(); got != tt.want {
			t.Errorf("Scope(%+v) = %q, want %q", tt.b, got, tt.want)
		}
	}
}

func TestBudgetValidate(t *testing.T) {
	ok := Budget{Name: "daily", Limit: 5 * Dollar, Period: PeriodDay}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v, want nil", ok, err)
	}
	bad := []func(b *Budget){
		func(b *Budget) { b.Name = "" },
		func(b *Budget) { b.Name = " daily" },
		func(b *Budget) { b.Limit = -1 },
		func(b *Budget) { b.Period = "year" },
		func(b *Budget) { b.Provider, b.Model = "openai", "gpt-4o" },
		func(b *Budget) { b.Model = "claude-[" },
		func(b *Budget) { b.Soft = 101 },
		func(b *Budget) { b.Raise = -Dollar },
	}
	for i, mutate := range bad {
		b := ok
		mutate(&b)
		if err := b.Validate(); !errors.Is(err, ErrInvalidBudget) {
			t.Errorf("case %d: Validate(%+v) = %v, want ErrInvalidBudget", i, b, err)
		}
	}
}

// A refusal says apart what is spent and what requests in flight hold: a
// stream cut for its next slice holds its own output so far.
func TestRefusalMessageSaysHeldApart(t *testing.T) {
	b := Budget{Name: "cut", Limit: 30 * Dollar / 100, Period: PeriodTotal}
	ref := b.admit(time.Now(), Standing{Settled: 15 * Dollar / 100, Held: 14 * Dollar / 100}, 5*Dollar/100)
	if ref == nil {
		t.Fatal("admit = nil, want a refusal")
	}
	msg := refusalMessage(ref, "")
	if want := "$0.15 spent and $0.14 held by requests in flight, of $0.30"; !strings.Contains(msg, want) {
		t.Errorf("refusalMessage = %q, want it to contain %q", msg, want)
	}
	ref = b.admit(time.Now(), Standing{Settled: 29 * Dollar / 100}, 5*Dollar/100)
	if msg, want := refusalMessage(ref, ""), "$0.29 spent of $0.30"; !strings.Contains(msg, want) {
		t.Errorf("refusalMessage = %q, want it to contain %q", msg, want)
	}
}

// The answer to a refused request says how to raise the budget, as the
// command line takes it: the name quoted for a shell, the shortfall in
// whole dollars.
func TestRefusalMessageSaysHowToRaise(t *testing.T) {
	b := Budget{Name: "it's openai", Limit: 10 * Dollar / 100, Period: PeriodMonth, Provider: "openai"}
	ref := b.admit(time.Now(), Standing{}, 11*Dollar/100)
	if ref == nil || ref.Raise != Dollar {
		t.Fatalf("admit = %+v, want a refusal suggesting a $1 raise", ref)
	}
	if msg, want := refusalMessage(ref, ""), `Raise it with: sluice budget raise 'it'\''s openai' --by 1 --for 1h`; !strings.Contains(msg, want) {
		t.Errorf("refusalMessage = %q, want it to contain %q", msg, want)
	}
	ref = Budget{Name: "daily", Limit: Dollar, Period: PeriodDay}.admit(time.Now(), Standing{Settled: Dollar / 2}, 3*Dollar)
	if msg, want := refusalMessage(ref, ""), "sluice budget raise daily --by 3 --for 1h"; !strings.Contains(msg, want) {
		t.Errorf("refusalMessage = %q, want it to contain %q", msg, want)
	}
}

// TestAdmissionTieBreak: of several budgets that refuse, the refusal names
// the one with the least remaining, then the first by name, whatever
// order the ledger asks in: a hold and an extension of it answer alike.
func TestAdmissionTieBreak(t *testing.T) {
	now := time.Now()
	budgets := []Budget{
		{Name: "b-day", Limit: Dollar, Period: PeriodDay},
		{Name: "a-total", Limit: Dollar, Period: PeriodTotal},
		{Name: "c-roomy", Limit: 10 * Dollar, Period: PeriodTotal},
		{Name: "d-tight", Limit: 2 * Dollar, Period: PeriodTotal},
	}
	s := Standing{Settled: Dollar / 2}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		adm := Admission{Now: now, Want: Dollar}
		var refused []string
		for _, i := range order {
			if adm.Refuses(budgets[i], s) {
				refused = append(refused, budgets[i].Name)
			}
		}
		ref := adm.Refusal()
		if ref == nil || ref.Budget != "a-total" || ref.Remaining != Dollar/2 || len(refused) != 2 {
			t.Errorf("order %v: Refusal() = %+v, refused %v; want a-total ($0.50 left, first by name of the two that refuse)", order, ref, refused)
		}
	}
	adm := Admission{Now: now, Want: Dollar / 4}
	for _, b := range budgets {
		if adm.Refuses(b, s) {
			t.Errorf("Refuses(%s) for $0.25 with $0.50 left", b.Name)
		}
	}
	if ref := adm.Refusal(); ref != nil {
		t.Errorf("Refusal() = %+v, want nil", ref)
	}
}
