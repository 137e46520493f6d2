package e2e

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestBlockedRequestsLogged sends a running Sluice requests it blocks
// before admission (no key, an unknown token, a browser page, a path it
// does not forward) and reads the log back through the CLI, as a user
// asking why a call was refused would: each is a row with outcome blocked
// and the reason, in the ledger on disk. A flood of them is logged only in
// part, and the next row logged says how many were not.
func TestBlockedRequestsLogged(t *testing.T) {
	s := startSluice(t, sluiceEnv(t, currentKeyMode()), nil)
	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	send := func(path string, hdr map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(chat))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		path   string
		hdr    map[string]string
		status int
		reason string
		says   string
	}{
		{"/v1/chat/completions", nil, 401, gateway.ReasonAuth, "no API key"},
		{"/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-sluice-notatokenofthisgateway0000"}, 401, gateway.ReasonAuth, "not known"},
		{"/v1/chat/completions", map[string]string{"Origin": "https://evil.example"}, 403, gateway.ReasonGuard, "browser requests from https://evil.example"},
		{"/v1/assistants", nil, 404, gateway.ReasonRoute, "no route POST"},
	}
	for _, c := range cases {
		if got := send(c.path, c.hdr); got != c.status {
			t.Fatalf("POST %s %v = %d, want %d", c.path, c.hdr, got, c.status)
		}
	}
	rows := s.newRows(map[string]bool{}, len(cases))
	if len(rows) != len(cases) {
		t.Fatalf("%d log rows, want %d blocked: %+v", len(rows), len(cases), rows)
	}
	for i, c := range cases {
		r := rows[i]
		if r.Outcome != gateway.OutcomeBlocked || r.Reason != c.reason || r.Status != c.status || !strings.Contains(r.Error, c.says) || r.CostUSD != "0" {
			t.Errorf("row for POST %s %v: outcome %q reason %q status %d error %q cost %s; want blocked, %s, %d, saying %q, $0",
				c.path, c.hdr, r.Outcome, r.Reason, r.Status, r.Error, r.CostUSD, c.reason, c.status, c.says)
		}
	}
	if out := s.mustCLI("", "log", "-n", "10"); !strings.Contains(out, "blocked (auth)") || !strings.Contains(out, "blocked (guard)") {
		t.Errorf("sluice log does not say blocked and why:\n%s", out)
	}

	// A flood is logged in part: the disk does not fill with it.
	const flood = 400
	for range flood {
		if got := send("/v1/chat/completions", nil); got != 401 {
			t.Fatalf("flood request = %d, want 401", got)
		}
	}
	time.Sleep(time.Second) // the limit lets a row through again
	if got := send("/v1/chat/completions", nil); got != 401 {
		t.Fatalf("request after the flood = %d, want 401", got)
	}
	// Each row logged after some were not says how many: together with
	// the rows logged they account for every request.
	all := s.logRows()[len(cases):]
	notLogged := 0
	for _, r := range all {
		if m := notLoggedRE.FindStringSubmatch(r.Error); m != nil {
			n, _ := strconv.Atoi(m[1])
			notLogged += n
		}
	}
	if len(all) >= flood || len(all)+notLogged != flood+1 {
		t.Fatalf("%d of %d blocked requests logged, and the rows say %d were not: want fewer logged, and every one accounted for", len(all), flood+1, notLogged)
	}
	if last := all[len(all)-1]; !notLoggedRE.MatchString(last.Error) {
		t.Errorf("the row after the flood says %q, want it to say how many before it were not logged", last.Error)
	}
}

var notLoggedRE = regexp.MustCompile(`\((\d+) blocked requests before this one were not logged`)
