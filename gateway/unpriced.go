package gateway

import (
	"errors"
	"fmt"
)

// The unpriced-model policies: what the proxy does with a request it
// cannot price, all or in part, when a budget applies to it (Policy.Unpriced).
const (
	// UnpricedRefuse refuses it with a 402: a budget cannot be promised
	// for a cost nobody knows. It is the default.
	UnpricedRefuse = "refuse"
	// UnpricedEstimate holds Policy.UnpricedHold for what it cannot price
	// and marks the record estimated.
	UnpricedEstimate = "estimate"
)

// DefaultUnpricedHold is what UnpricedEstimate holds, and charges, for
// a model or a part of a request the price table cannot price, unless
// the policy says otherwise.
const DefaultUnpricedHold = Dollar / 2

// ErrInvalidPolicy is wrapped by the errors of Policy.Check.
var ErrInvalidPolicy = errors.New("invalid policy")

// checkUnpriced reports what is wrong with an unpriced-model policy and
// its hold, if anything. An empty policy is UnpricedRefuse. A hold of 0
// with UnpricedEstimate is refused rather than read as the default, so
// that the amount a user sees is the amount held.
func checkUnpriced(policy string, hold Money) error {
	switch policy {
	case "", UnpricedRefuse, UnpricedEstimate:
	default:
		return fmt.Errorf("%w: the unpriced-model policy %q is not %q or %q", ErrInvalidPolicy, policy, UnpricedRefuse, UnpricedEstimate)
	}
	if hold < 0 {
		return fmt.Errorf("%w: the unpriced hold %s is negative", ErrInvalidPolicy, hold.Format())
	}
	if policy == UnpricedEstimate && hold == 0 {
		return fmt.Errorf("%w: the unpriced hold must be more than $0 when unpriced requests are estimated", ErrInvalidPolicy)
	}
	return nil
}

// estimatesUnpriced reports whether pol holds an estimate for what it
// cannot price instead of refusing it.
func (pol Policy) estimatesUnpriced() bool { return pol.Unpriced == UnpricedEstimate }

// unpricedCharge is what the unpriced-model policy holds, and charges,
// for a model or a part of a request the table cannot price.
func (pol Policy) unpricedCharge() Money {
	if pol.UnpricedHold > 0 {
		return pol.UnpricedHold
	}
	return DefaultUnpricedHold
}
