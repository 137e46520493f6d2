package app

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// The dashboard in a browser. A one-time sign-in link, printed by `sluice
// serve` (and `sluice login`), trades itself for a session: an HttpOnly
// cookie and a per-tab secret. Cookies are not scoped by port, so every
// other server on 127.0.0.1 the browser visits receives the cookie; the
// secret never leaves the page that signed in (it arrives in the redirect's
// fragment, which no server sees, and lives in that tab's sessionStorage),
// and the API wants both: the cookie alone reads nothing and changes
// nothing.

const (
	// loginLife is how long a sign-in code can be redeemed.
	loginLife = 10 * time.Minute
	// defaultSessionIdle is how long a session lasts without use, unless
	// the session_hours setting says otherwise.
	defaultSessionIdle = 24 * time.Hour
	// maxSessionHours is the longest session the session_hours setting
	// may ask for: a year.
	maxSessionHours = 24 * 366
	// tabHeader carries the per-tab secret on every API call.
	tabHeader = "X-Sluice-Tab"
	// tabFragment starts the fragment of the redirect that hands the page
	// its per-tab secret.
	tabFragment = "#sluice-tab="
)

// session is one signed-in browser tab.
type session struct {
	id   string    // the cookie's value
	tab  string    // the per-tab secret
	used time.Time // last authorized request
}

// sessions keeps the sign-in code and browser sessions in memory: a
// restart signs every browser out. It is safe for concurrent use.
type sessions struct {
	// idle returns how long a session lasts without use.
	idle func() time.Duration
	now  func() time.Time

	mu      sync.Mutex // guards the fields below
	code    string     // the one sign-in code that works; "" when none
	codeExp time.Time
	active  []*session
}

func newSessions(idle func() time.Duration) *sessions {
	return &sessions{idle: idle, now: time.Now}
}

// newCode makes a sign-in code; it replaces any earlier one.
func (s *sessions) newCode() string {
	code := randomHex(16)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code, s.codeExp = code, s.now().Add(loginLife)
	return code
}

// redeem trades the sign-in code for a new session, once.
func (s *sessions) redeem(code string) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.code == "" || now.After(s.codeExp) || subtle.ConstantTimeCompare([]byte(s.code), []byte(code)) != 1 {
		return nil, false
	}
	s.code = ""
	s.prune(now)
	ss := &session{id: randomHex(24), tab: randomHex(24), used: now}
	s.active = append(s.active, ss)
	return ss, true
}

// prune drops sessions idle for too long. s.mu must be held.
func (s *sessions) prune(now time.Time) {
	idle := s.idle()
	keep := s.active[:0]
	for _, ss := range s.active {
		if now.Sub(ss.used) <= idle {
			keep = append(keep, ss)
		}
	}
	clear(s.active[len(keep):])
	s.active = keep
}

// find returns the live session r proves, by its cookie and its per-tab
// secret both, and marks it used.
func (s *sessions) find(r *http.Request, cookie string) (*session, bool) {
	c, err := r.Cookie(cookie)
	tab := r.Header.Get(tabHeader)
	if err != nil || c.Value == "" || tab == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	for _, ss := range s.active {
		if subtle.ConstantTimeCompare([]byte(ss.id), []byte(c.Value)) == 1 {
			if subtle.ConstantTimeCompare([]byte(ss.tab), []byte(tab)) != 1 {
				return nil, false
			}
			ss.used = now
			return ss, true
		}
	}
	return nil, false
}

// end signs a session out.
func (s *sessions) end(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.active {
		if o == ss {
			s.active = append(s.active[:i], s.active[i+1:]...)
			return
		}
	}
}

// sessionCookie is the name of the session cookie of a gateway on port:
// two gateways on one machine do not sign each other's browsers out.
func sessionCookie(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "sluice_session_" + port
}

// LoginLink returns a fresh one-time sign-in link for the dashboard; the
// link it returned before stops working.
func (g *Gateway) LoginLink() string {
	return "http://" + g.Addr + "/login?t=" + g.sessions.newCode()
}

// checkSessionHours refuses a session_hours setting out of range.
func checkSessionHours(h int) error {
	if h < 0 || h > maxSessionHours {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid",
			Message: fmt.Sprintf("session of %d hours: use 1 to %d, or 0 for the default", h, maxSessionHours)}
	}
	return nil
}

// sessionIdle is how long a browser session lasts without use.
func (g *Gateway) sessionIdle() time.Duration {
	if set, err := g.db.Settings(); err == nil && set.SessionHours > 0 {
		return time.Duration(set.SessionHours) * time.Hour
	}
	return defaultSessionIdle
}

func (g *Gateway) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	// GET only (a HEAD, which link checkers send, must not use the code
	// up), under an allowed Host only (not through a rebinding name).
	if r.Method != http.MethodGet || !containsFold(g.hosts, r.Host) {
		http.Error(w, "sign in with GET on "+g.Addr, http.StatusForbidden)
		return
	}
	ss, ok := g.sessions.redeem(r.URL.Query().Get("t"))
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>Sluice</title><body style="font-family:system-ui;max-width:36em;margin:4em auto;line-height:1.5"><h1>This sign-in link has been used or has expired</h1><p>Each link works once, for 10 minutes, and only the newest one works. Run <code>sluice login</code> for a new one, then open it here.</p>`))
		return
	}
	// A session cookie (no Max-Age): the per-tab secret dies with the tab
	// anyway.
	http.SetCookie(w, &http.Cookie{Name: sessionCookie(g.Addr), Value: ss.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/"+tabFragment+ss.tab, http.StatusSeeOther)
}

// logout ends the session the request proves.
func (g *Gateway) logout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !g.browserOK(r) {
		writeAPIError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "sign in to Sluice first"})
		return
	}
	if ss, ok := g.sessions.find(r, sessionCookie(g.Addr)); ok {
		g.sessions.end(ss)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie(g.Addr), Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"result":null}` + "\n"))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// uiHandler serves the built dashboard, or nil when there is none.
func uiHandler(ui fs.FS) http.Handler {
	if ui == nil {
		return nil
	}
	files := http.FileServerFS(ui)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
		if r.URL.Path == "/" {
			h.Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// isUIPath reports whether r asks for a file of the dashboard: GET of "/"
// or of a file that exists in ui. Provider routes never collide: they
// start with /v1, /v1beta or a provider's name.
func isUIPath(r *http.Request, ui fs.FS) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.URL.Path == "/" {
		return true
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" || strings.HasPrefix(name, "v1") {
		return false
	}
	st, err := fs.Stat(ui, name)
	return err == nil && !st.IsDir()
}

// serveExport writes the request log as CSV or JSON Lines, oldest first.
func serveExport(w http.ResponseWriter, r *http.Request, api API) {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "csv" && format != "jsonl" {
		writeAPIError(w, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "format is csv or jsonl"})
		return
	}
	lq := store.LogQuery{Limit: 1_000_000, Provider: q.Get("provider"), Model: q.Get("model"), Token: q.Get("token"), Outcome: gateway.Outcome(q.Get("outcome")),
		Reason: q.Get("reason"), Budget: q.Get("budget")}
	lq.Estimated = q.Get("estimated") == "1" || q.Get("estimated") == "true"
	if st, err := strconv.Atoi(q.Get("status")); err == nil {
		lq.Status = st
	}
	recs, err := api.Records(r.Context(), lq)
	if err != nil {
		writeAPIError(w, toAPIError(err))
		return
	}
	name := "sluice-requests-" + time.Now().Format("2006-01-02") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "jsonl" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for i := len(recs) - 1; i >= 0; i-- {
			enc.Encode(exported(recs[i]))
		}
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "time", "token", "provider", "model", "route", "stream", "status", "outcome",
		"input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
		"cost_usd", "priced", "estimated", "latency_ms", "ttfb_ms", "held_usd", "upstream_request_id", "budget", "error"})
	for i := len(recs) - 1; i >= 0; i-- {
		x := exported(recs[i])
		cw.Write(csvCells(x.ID, x.Time.Format(time.RFC3339Nano), x.Token, x.Provider, x.Model, x.Route,
			strconv.FormatBool(x.Stream), strconv.Itoa(x.Status), string(x.Outcome),
			i64(x.InputTokens), i64(x.OutputTokens), i64(x.CachedInputTokens), i64(x.CacheWriteTokens), i64(x.ReasoningTokens),
			x.Cost.String(), strconv.FormatBool(x.Priced), strconv.FormatBool(x.Estimated), i64(x.LatencyMS), i64(x.TTFBMS),
			x.Held.String(), x.UpstreamID, x.Budget, x.Error))
	}
	cw.Flush()
}

// exported is a record as an export shows it: its texts redacted once
// more, for records written before the redactor knew a format.
func exported(r gateway.Record) gateway.Record {
	r.Error = gateway.Redact(r.Error)
	r.UpstreamID = gateway.Redact(r.UpstreamID)
	r.RequestBody = gateway.Redact(r.RequestBody)
	r.ResponseBody = gateway.Redact(r.ResponseBody)
	return r
}

// csvCells neutralises cells a spreadsheet would take for a formula (a
// model name such as =HYPERLINK(...) from a caller's request): a cell that
// starts with =, +, -, @, a tab or a carriage return gets a leading '.
func csvCells(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.IndexByte("=+-@\t\r", c[0]) >= 0 {
			cells[i] = "'" + c
		}
	}
	return cells
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// errNotServing is returned for what only a running gateway can do.
var errNotServing = errors.New("no gateway is running on this data: start it with `sluice serve`")

func (s *Service) Login(ctx context.Context) (string, error) {
	if s.LoginLink == nil {
		return "", errNotServing
	}
	return s.LoginLink(), nil
}
