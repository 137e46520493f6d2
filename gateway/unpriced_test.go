package gateway

import (
	"errors"
	"testing"
)

func TestCheckUnpriced(t *testing.T) {
	for _, tt := range []struct {
		policy string
		hold   Money
		ok     bool
	}{
		{"", 0, true},
		{UnpricedRefuse, 0, true},
		{UnpricedEstimate, Dollar / 4, true},
		{UnpricedEstimate, 0, false},
		{UnpricedRefuse, -1, false},
		{"guess", Dollar, false},
	} {
		err := checkUnpriced(tt.policy, tt.hold)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("checkUnpriced(%q, %s) = %v, want ok %v", tt.policy, tt.hold.Format(), err, tt.ok)
		}
	}
}

// The zero policy's hold for what it cannot price is the one default the
// settings start from, never $0.
func TestUnpricedChargeDefault(t *testing.T) {
	if got := (Policy{Unpriced: UnpricedEstimate}).unpricedCharge(); got != DefaultUnpricedHold || got <= 0 {
		t.Errorf("unpricedCharge() of the zero hold = %s, want DefaultUnpricedHold (%s)", got.Format(), DefaultUnpricedHold.Format())
	}
	if got := (Policy{Unpriced: UnpricedEstimate, UnpricedHold: 2 * Dollar}).unpricedCharge(); got != 2*Dollar {
		t.Errorf("unpricedCharge() = %s, want $2", got.Format())
	}
}
