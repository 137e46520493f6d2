package app

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestRefusalNotices: a guard refusal raises a notice (and a desktop
// notification) linking to the refused requests, once per reason and
// token in a while, not once per refusal.
func TestRefusalNotices(t *testing.T) {
	var shown []Notice
	h := &Hub{Notify: func(n Notice) { shown = append(shown, n) }}
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	refuse := func(reason, token string, at time.Duration) {
		h.record(gateway.Record{ID: "r", Time: t0.Add(at), Token: token, Outcome: gateway.OutcomeRefused, Status: 429, Reason: reason, Error: "Sluice stopped a loop: ..."})
	}
	refuse(gateway.ReasonLoop, "ci", 0)
	refuse(gateway.ReasonLoop, "ci", time.Second)
	refuse(gateway.ReasonLoop, "ci", time.Minute)
	refuse(gateway.ReasonLoop, "dev", time.Minute)
	refuse(gateway.ReasonRPM, "ci", time.Minute)
	refuse(gateway.ReasonPause, "ci", time.Minute)
	refuse(gateway.ReasonLoop, "ci", refusalQuiet+time.Second)
	ns := h.Since(0)
	if len(ns) != 5 || len(shown) != 5 {
		t.Fatalf("%d notices (%d shown natively), want 5: %+v", len(ns), len(shown), ns)
	}
	want := []struct{ kind, link, title string }{
		{"loop", "requests?reason=loop&token=ci", "Sluice stopped a loop"},
		{"loop", "requests?reason=loop&token=dev", "Sluice stopped a loop"},
		{"rpm", "requests?reason=rpm&token=ci", "Token ci hit its requests-per-minute cap"},
		{"pause", "requests?reason=pause&token=ci", "Sluice refused a request: paused"},
		{"loop", "requests?reason=loop&token=ci", "Sluice stopped a loop"},
	}
	for i, w := range want {
		if n := ns[i]; n.Kind != w.kind || n.Link != w.link || n.Title != w.title || !strings.Contains(n.Message, "loop") {
			t.Errorf("notice %d = %+v, want kind %s link %s title %q", i, n, w.kind, w.link, w.title)
		}
	}
	// Every refusal still moves the change counter, so the dashboard
	// refreshes.
	if seq := h.Seq(); seq != 7 {
		t.Errorf("Seq() = %d, want 7 (one per refusal)", seq)
	}
}
