package gateway

import "testing"

// TestOutcomeForwarded: only refused and blocked requests never went
// upstream, and so cost nothing.
func TestOutcomeForwarded(t *testing.T) {
	for o, want := range map[Outcome]bool{
		OutcomeOK: true, OutcomeError: true, OutcomeBilling: true, OutcomeCut: true,
		OutcomeCanceled: true, OutcomeCrashed: true, OutcomeExpired: true,
		OutcomeRefused: false, OutcomeBlocked: false,
	} {
		if got := o.Forwarded(); got != want {
			t.Errorf("Outcome(%q).Forwarded() = %v, want %v", o, got, want)
		}
	}
}
