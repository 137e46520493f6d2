package app

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/store"
)

// The dashboard in a browser: a one-time sign-in link, printed by `sluice
// serve` (and `sluice login`), trades itself for a session cookie.

const (
	sessionCookie = "sluice_session"
	sessionLife   = 30 * 24 * time.Hour
	loginLife     = 24 * time.Hour
)

// sessions keeps sign-in codes and browser sessions in memory: a restart
// signs every browser out. It is safe for concurrent use.
type sessions struct {
	mu     sync.Mutex           // guards codes and active
	codes  map[string]time.Time // one-time sign-in code → expiry
	active map[string]time.Time // session id → expiry
}

func newSessions() *sessions {
	return &sessions{codes: map[string]time.Time{}, active: map[string]time.Time{}}
}

func (s *sessions) newCode() string {
	code := randomHex(16)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = time.Now().Add(loginLife)
	return code
}

// redeem trades a code for a new session id, once.
func (s *sessions) redeem(code string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for c, exp := range s.codes {
		if now.After(exp) {
			delete(s.codes, c)
		}
	}
	for c := range s.codes {
		if subtle.ConstantTimeCompare([]byte(c), []byte(code)) == 1 {
			delete(s.codes, c)
			id := randomHex(24)
			s.active[id] = now.Add(sessionLife)
			return id, true
		}
	}
	return "", false
}

func (s *sessions) valid(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, exp := range s.active {
		if subtle.ConstantTimeCompare([]byte(id), []byte(c.Value)) == 1 {
			return time.Now().Before(exp)
		}
	}
	return false
}

// LoginLink returns a fresh one-time sign-in link for the dashboard.
func (g *Gateway) LoginLink() string {
	return "http://" + g.Addr + "/login?t=" + g.sessions.newCode()
}

func (g *Gateway) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	id, ok := g.sessions.redeem(r.URL.Query().Get("t"))
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>Sluice</title><body style="font-family:system-ui;max-width:36em;margin:4em auto;line-height:1.5"><h1>This sign-in link has been used or has expired</h1><p>Run <code>sluice login</code> for a new one, then open it here.</p>`))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionLife / time.Second)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
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
		writeAPIError(w, &apiError{http.StatusBadRequest, "invalid", "format is csv or jsonl"})
		return
	}
	lq := store.LogQuery{Limit: 1_000_000, Provider: q.Get("provider"), Model: q.Get("model"), Token: q.Get("token"), Outcome: q.Get("outcome"),
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
			enc.Encode(recs[i])
		}
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "time", "token", "provider", "model", "route", "stream", "status", "outcome",
		"input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
		"cost_usd", "priced", "estimated", "latency_ms", "ttfb_ms", "held_usd", "upstream_request_id", "budget", "error"})
	for i := len(recs) - 1; i >= 0; i-- {
		x := recs[i]
		cw.Write([]string{x.ID, x.Time.Format(time.RFC3339Nano), x.Token, x.Provider, x.Model, x.Route,
			strconv.FormatBool(x.Stream), strconv.Itoa(x.Status), x.Outcome,
			i64(x.InputTokens), i64(x.OutputTokens), i64(x.CachedInputTokens), i64(x.CacheWriteTokens), i64(x.ReasoningTokens),
			x.Cost.String(), strconv.FormatBool(x.Priced), strconv.FormatBool(x.Estimated), i64(x.LatencyMS), i64(x.TTFBMS),
			x.Held.String(), x.UpstreamID, x.Budget, x.Error})
	}
	cw.Flush()
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// ErrNotServing is returned for what only a running gateway can do.
var ErrNotServing = errors.New("no gateway is running on this data: start it with `sluice serve`")

func (s *Service) Login(ctx context.Context) (string, error) {
	if s.LoginLink == nil {
		return "", ErrNotServing
	}
	return s.LoginLink(), nil
}
