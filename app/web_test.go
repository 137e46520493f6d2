package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
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
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in link ended at %s with %d, want / with 200", resp.Request.URL, resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Request.Response.Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie = %+v, want HttpOnly and SameSite=Strict", cookie)
	}
	st, res := apiCall(t, c, base, "status", nil, nil)
	var s Status
	json.Unmarshal(res, &s)
	if st != 200 || s.Addr != g.Addr {
		t.Fatalf("status after sign-in = %d %s", st, res)
	}
	// Same-origin fetches carry Origin; other sites are refused.
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{"Origin": base}); st != 200 {
		t.Errorf("same-origin API call = %d, want 200", st)
	}
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{"Origin": "http://evil.example"}); st != 401 {
		t.Errorf("cross-origin API call = %d, want 401", st)
	}
	if st, _ := apiCall(t, c, base, "status", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); st != 401 {
		t.Errorf("cross-site API call = %d, want 401", st)
	}
	// The link works once.
	other := &http.Client{}
	resp, err = other.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("second use of the sign-in link = %d, want 401", resp.StatusCode)
	}
}

func TestDashboardAPI(t *testing.T) {
	g := startTest(t)
	db := g.Service.DB
	now := time.Now()
	recs := []gateway.Record{
		{ID: gateway.NewID(now.Add(-2 * time.Minute)), Time: now.Add(-2 * time.Minute), Token: "ci", Provider: "openai", Model: "gpt-4o-mini",
			Route: "openai.chat", Status: 200, Outcome: gateway.OutcomeOK, Priced: true,
			Usage: gateway.Usage{InputTokens: 1000, OutputTokens: 100}, Cost: 210 * gateway.Microdollar},
		{ID: gateway.NewID(now.Add(-time.Minute)), Time: now.Add(-time.Minute), Token: "ci", Provider: "anthropic", Model: "claude-sonnet-4-5",
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
	if _, err := g.Service.PutSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	st, err := g.Service.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Upstream{
		"openai":    {"http://127.0.0.1:9/v1", "command line"},
		"anthropic": {"https://proxy.example/anthropic", "settings"},
		"gemini":    {"https://generativelanguage.googleapis.com", "default"},
	} {
		if got := st.Upstreams[name]; got != want {
			t.Errorf("Status().Upstreams[%s] = %+v, want %+v", name, got, want)
		}
	}
}
