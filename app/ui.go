package app

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// Status is what the dashboard shows about the running gateway.
type Status struct {
	Addr        string    `json:"addr"`
	DataDir     string    `json:"data_dir"`
	Version     string    `json:"version"`
	Build       Build     `json:"build"` // the gateway's binary
	About       string    `json:"about"` // the line sluice version prints
	Desktop     bool      `json:"desktop"`
	Keyring     KeyList   `json:"keyring"` // Backend and Problem only
	Started     time.Time `json:"started"`
	CloseAction string    `json:"close_action"`
	Running     bool      `json:"running"`
	// Upstreams are the base URLs in force, by provider, and where each
	// comes from: "default", "settings" or "command line".
	Upstreams map[string]Upstream `json:"upstreams"`
	// Pauses are the pauses in force.
	Pauses []gateway.Pause `json:"pauses"`
}

// Upstream is a provider's base URL in force.
type Upstream struct {
	BaseURL string `json:"base_url"`
	From    string `json:"from"`
	// Keyless providers (a local Ollama) send no key anywhere.
	Keyless bool `json:"keyless,omitempty"`
	// Official is true when BaseURL is the provider's official https
	// address.
	Official bool `json:"official,omitempty"`
	// Withheld is true when no key is sent to BaseURL: nobody confirmed
	// it from the command line.
	Withheld bool `json:"withheld,omitempty"`
}

// Summary is the overview's numbers.
type Summary struct {
	Time    time.Time            `json:"time"`
	Today   store.SpendRow       `json:"today"`
	Month   store.SpendRow       `json:"month"`
	RPM     []int                `json:"rpm"` // requests per minute, the last 60 minutes, oldest first
	Budgets []store.BudgetStatus `json:"budgets"`
	Records int64                `json:"records"` // requests ever recorded
}

// RecordDetail is one request with the arithmetic of its cost.
type RecordDetail struct {
	Record      logRow             `json:"record"`
	Price       *gateway.Price     `json:"price"`
	Lines       []gateway.CostLine `json:"lines"`
	Explanation string             `json:"explanation,omitempty"`
}

// logRow is a record as the dashboard shows it. Forwarded says whether
// the request went upstream at all (gateway.Outcome.Forwarded): one that
// did not costs nothing, whatever its price, so the dashboard need not
// know which outcomes those are.
type logRow struct {
	gateway.Record
	Forwarded bool `json:"forwarded"`
}

// logRows are recs as the dashboard shows them.
func logRows(recs []gateway.Record, err error) ([]logRow, error) {
	if recs == nil {
		return nil, err
	}
	rows := make([]logRow, len(recs))
	for i, r := range recs {
		rows[i] = logRow{Record: r, Forwarded: r.Outcome.Forwarded()}
	}
	return rows, err
}

// Notice is something the user should know now: a budget past its
// warning threshold or at its limit, a provider account that cannot pay.
type Notice struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // "soft", "limit", "billing", "loop", "rpm" or "pause"
	Title   string    `json:"title"`
	Message string    `json:"message"`
	// Link is the dashboard route of the requests involved, such as
	// "requests?reason=loop&token=ci"; "" when there are none.
	Link string `json:"link,omitempty"`
}

// Changes is a counter the dashboard polls: it moves whenever a record
// settles or a notice is raised.
type Changes struct {
	Seq int64 `json:"seq"`
}

// Hub counts changes and keeps recent notices. It is safe for concurrent
// use; the zero value is ready. A Hub with a Notify must be closed.
type Hub struct {
	// Notify, when set, shows a notice natively (a desktop notification).
	// It is called on a goroutine of the Hub's own, one notice at a time,
	// never on the caller's: it may be slow or fail without delaying a
	// request. When notices come faster than it shows them, some are not
	// shown natively (see notifier); the Hub's list keeps every one.
	Notify func(Notice)

	mu      sync.Mutex // guards seq, notices, refused and native
	seq     int64
	notices []Notice          // the last maxNotices, oldest first
	native  *notifier[Notice] // started by the first notice when Notify is set
	closed  bool              // Close was called: no notifier starts again
	// refused is when a notice was last raised for refusals by the
	// guard, by reason and token: a runaway refused a thousand times
	// raises one notice, not a thousand.
	refused map[string]time.Time
}

// refusalQuiet is how long after a refusal notice the same kind of
// refusal of the same token raises none.
const refusalQuiet = 10 * time.Minute

const maxNotices = 200

// bump records that something changed.
func (h *Hub) bump() {
	h.mu.Lock()
	h.seq++
	h.mu.Unlock()
}

// Seq returns the change counter.
func (h *Hub) Seq() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Raise adds a notice and shows it natively when it can.
func (h *Hub) Raise(kind, title, message string) { h.raiseLink(kind, title, message, "") }

// raiseLink adds a notice that links to the requests involved and shows
// it natively when it can.
func (h *Hub) raiseLink(kind, title, message, link string) {
	h.raise(Notice{Time: time.Now(), Kind: kind, Title: title, Message: message, Link: link})
}

// raise adds n, numbered, and shows it natively when it can.
func (h *Hub) raise(n Notice) {
	n.Title, n.Message = gateway.Redact(n.Title), gateway.Redact(n.Message)
	h.mu.Lock()
	h.seq++
	n.Seq = h.seq
	h.notices = append(h.notices, n)
	if len(h.notices) > maxNotices {
		h.notices = append([]Notice(nil), h.notices[len(h.notices)-maxNotices:]...)
	}
	if h.native == nil && h.Notify != nil && !h.closed {
		h.native = startNotifier(notifyQueue, h.Notify, missedNotice)
	}
	native := h.native
	h.mu.Unlock()
	if native != nil {
		native.send(n)
	}
}

// Close shows the notices still waiting for Notify, for up to a few
// seconds, and ends the goroutine that shows them. Notices raised after
// it are kept but not shown natively.
func (h *Hub) Close() {
	h.mu.Lock()
	native := h.native
	h.closed = true
	h.mu.Unlock()
	if native != nil {
		native.close(notifyFlush)
	}
}

// Since returns the notices raised after seq.
func (h *Hub) Since(seq int64) []Notice {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Notice{}
	for _, n := range h.notices {
		if n.Seq > seq {
			out = append(out, n)
		}
	}
	return out
}

// budgetNotice is what a budget event tells the user, and whether it
// tells anything.
func budgetNotice(ev store.BudgetEvent) (Notice, bool) {
	spent := ev.Spent.Format() + " spent of " + ev.Limit.Format() + " (" + ev.Scope + ")."
	switch ev.Kind {
	case store.BudgetSoft:
		return Notice{Time: ev.Time, Kind: "soft", Title: "Budget " + ev.Budget + " passed its warning threshold", Message: spent}, true
	case store.BudgetLimit:
		until := "until it resets or you raise it"
		switch {
		case ev.Rolling > 0:
			until = "until spend ages out of its " + string(gateway.RollingPeriod(ev.Rolling)) + " window or you raise it"
		case !ev.Resets.IsZero():
			until = "until it resets, " + ev.Resets.Local().Format("Mon Jan 2 15:04") + ", or you raise it"
		}
		return Notice{Time: ev.Time, Kind: "limit", Title: "Budget " + ev.Budget + " reached its limit",
			Message: spent + " Requests it covers get 402 " + until + ".", Link: requestsLink(gateway.ReasonBudget, ev.Budget)}, true
	}
	return Notice{}, false
}

// Refused raises a notice for a request the runaway guard refused,
// unless one was raised for the same reason and token lately.
func (h *Hub) Refused(r gateway.Record) {
	var title string
	switch r.Reason {
	case gateway.ReasonLoop:
		title = "Sluice stopped a loop"
	case gateway.ReasonRPM:
		title = "Token " + r.Token + " hit its requests-per-minute cap"
	case gateway.ReasonPause:
		title = "Sluice refused a request: paused"
	default:
		h.bump()
		return
	}
	key := r.Reason + "\x00" + r.Token
	h.mu.Lock()
	last, seen := h.refused[key]
	quiet := seen && r.Time.Sub(last) < refusalQuiet && r.Time.Sub(last) >= 0
	if !quiet {
		if h.refused == nil {
			h.refused = map[string]time.Time{}
		}
		h.refused[key] = r.Time
	}
	h.mu.Unlock()
	if quiet {
		h.bump()
		return
	}
	q := url.Values{}
	q.Set("reason", r.Reason)
	if r.Token != "" {
		q.Set("token", r.Token)
	}
	h.raiseLink(r.Reason, title, r.Error, "requests?"+q.Encode())
}

// watch bumps the counter for every record db settles and raises a
// notice for provider billing trouble, until ctx ends. Records the feed
// dropped, had it fallen behind, are counted in a notice of their own:
// a billing notice may be among them.
func (h *Hub) watch(ctx context.Context, db *store.DB) {
	feed := db.Subscribe()
	defer feed.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case r, ok := <-feed.C:
			if !ok {
				return
			}
			h.record(r)
			if n := feed.Dropped(); n > 0 {
				h.missedRecords(n)
			}
		}
	}
}

// missedRecords raises a notice that n settled records were not watched.
func (h *Hub) missedRecords(n int64) {
	h.Raise("missed", fmt.Sprintf("%d settled request(s) not watched", n),
		"Requests settled faster than Sluice's notices could follow them: a billing or refusal notice among them may be missing. The Requests page lists every one.")
}

// record takes in one settled record: a notice for billing trouble or a
// guard refusal, a change in any case.
func (h *Hub) record(r gateway.Record) {
	switch {
	case r.Outcome == gateway.OutcomeBilling:
		h.Raise("billing", "The "+r.Provider+" account cannot pay", gateway.BillingAdvice(r.Provider))
	case r.Outcome == gateway.OutcomeRefused && r.Reason != "":
		h.Refused(r)
	default:
		h.bump()
	}
}

func (s *Service) Status(ctx context.Context) (Status, error) {
	b := BuildInfo()
	st := Status{Addr: s.Addr, DataDir: s.DataDir, Version: b.Version, Build: b, About: b.String(), Desktop: s.Desktop, Started: s.Started, Running: true}
	st.Keyring.Backend, st.Keyring.Problem = s.keyringState(ctx)
	set, err := s.DB.Settings()
	if err != nil {
		return st, err
	}
	st.CloseAction = set.CloseAction
	g, err := s.DB.Guard()
	if err != nil {
		return st, err
	}
	st.Pauses = g.Pauses
	ps, err := s.providers()
	if err != nil {
		return st, err
	}
	st.Upstreams = make(map[string]Upstream, len(ps))
	for name, p := range ps {
		from := "default"
		if _, ok := s.Upstreams[name]; ok {
			from = "command line"
		} else if _, ok := set.Upstreams[name]; ok {
			from = "settings"
		}
		st.Upstreams[name] = Upstream{BaseURL: p.BaseURL, From: from, Keyless: p.Keyless,
			Official: gateway.Official(name, p.BaseURL), Withheld: p.UnconfirmedHost != ""}
	}
	return st, nil
}

func (s *Service) Changes(ctx context.Context) (Changes, error) {
	if s.Hub == nil {
		return Changes{}, nil
	}
	return Changes{Seq: s.Hub.Seq()}, nil
}

func (s *Service) Notices(ctx context.Context, since int64) ([]Notice, error) {
	if s.Hub == nil {
		return []Notice{}, nil
	}
	return s.Hub.Since(since), nil
}

func (s *Service) Summary(ctx context.Context) (Summary, error) {
	now := time.Now()
	loc := s.location()
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	month := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
	sum := Summary{Time: now, RPM: make([]int, 60)}
	one := func(since time.Time) (store.SpendRow, error) {
		rows, err := s.DB.Spend(store.SpendQuery{Since: since})
		if err != nil || len(rows) == 0 {
			return store.SpendRow{Key: "total"}, err
		}
		return rows[0], nil
	}
	var err error
	if sum.Today, err = one(today); err != nil {
		return sum, err
	}
	if sum.Month, err = one(month); err != nil {
		return sum, err
	}
	all, err := one(time.Time{})
	if err != nil {
		return sum, err
	}
	sum.Records = all.Requests
	recent, err := s.DB.RecordTimes(now.Add(-time.Hour))
	if err != nil {
		return sum, err
	}
	for _, t := range recent {
		ago := int(now.Sub(t) / time.Minute)
		if ago >= 0 && ago < 60 {
			sum.RPM[59-ago]++
		}
	}
	if sum.Budgets, err = s.DB.Budgets(); err != nil {
		return sum, err
	}
	return sum, nil
}

func (s *Service) location() *time.Location {
	if set, err := s.DB.Settings(); err == nil && set.TimeZone != "" {
		if loc, err := time.LoadLocation(set.TimeZone); err == nil {
			return loc
		}
	}
	return time.Local
}

func (s *Service) RecordDetail(ctx context.Context, id string) (RecordDetail, error) {
	r, err := s.DB.Record(id)
	if err != nil {
		return RecordDetail{}, err
	}
	d := RecordDetail{Record: logRow{Record: r, Forwarded: r.Outcome.Forwarded()}, Lines: []gateway.CostLine{}}
	t, _, err := s.priceTable()
	if err != nil {
		return d, err
	}
	switch {
	case r.Rates != nil:
		// The row the request was charged with, whatever prices say now.
		d.Price = r.Rates
		d.Lines = r.Rates.Explain(r.Usage)
	case r.Priced && r.Cost > 0:
		if p, ok := t.Lookup(r.Provider, r.Model); ok {
			if p = p.At(r.Time.In(s.location())); p.Cost(r.Usage) == r.Cost {
				d.Price = &p
				d.Lines = p.Explain(r.Usage)
			}
		}
	}
	if len(r.Unpriced) > 0 && len(d.Lines) > 0 {
		// The part the table could not price was charged by the
		// unpriced-model policy: one line says how much, so the lines
		// add up to the cost.
		var priced gateway.Money
		for _, l := range d.Lines {
			priced += l.Amount
		}
		if rest := r.Cost - priced; rest > 0 {
			d.Lines = append(d.Lines, gateway.CostLine{Kind: gateway.CostUnpricedEstimate, Amount: rest,
				Note: "the unpriced-model policy's estimate for what has no rate: " + strings.Join(r.Unpriced, "; ")})
		}
	}
	switch {
	case !r.Outcome.Forwarded():
		// Refused or blocked: the message says by what (a budget, with
		// its spend, reset and how to raise it; the guard, a missing or
		// unknown key, a route Sluice does not forward) and what to do.
		d.Explanation = r.Error
	case r.Outcome == gateway.OutcomeBilling:
		d.Explanation = r.Error
	case r.Outcome == gateway.OutcomeCrashed:
		d.Explanation = "Sluice stopped while this request was in flight; it was charged at the amount held for it."
	case r.Outcome == gateway.OutcomeCut, r.Outcome == gateway.OutcomeCanceled:
		d.Explanation = r.Error
		if r.Estimated {
			d.Explanation += " The provider had not reported all tokens: the input bound and the bytes relayed stand in for them."
		}
	}
	return d, nil
}

// PutPrice saves one price row as an override.
func (s *Service) PutPrice(ctx context.Context, p gateway.Price) error {
	if p.Updated == "" {
		// A rate set by hand is as of the day it was set.
		p.Updated = time.Now().Format("2006-01-02")
	}
	return s.putOverrides([]gateway.Price{p})
}

// keyringState says which keyring is in use, or why none is. A probe can
// take the keyring's whole timeout (a locked keyring waiting on a
// password), so its answer is kept for a while: the dashboard asks often.
func (s *Service) keyringState(ctx context.Context) (backend, problem string) {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if time.Since(s.probedAt) > 30*time.Second {
		s.probeBackend, s.probeProblem = "", ""
		if b, err := s.Keyring.Probe(ctx); err != nil {
			s.probeProblem = err.Error()
		} else {
			s.probeBackend = b
		}
		s.probedAt = time.Now()
	}
	return s.probeBackend, s.probeProblem
}

// forgetKeyringState makes the next keyringState probe again.
func (s *Service) forgetKeyringState() {
	s.probeMu.Lock()
	s.probedAt = time.Time{}
	s.probeMu.Unlock()
}
